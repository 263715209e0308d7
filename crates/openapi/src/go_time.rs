//! The error Go's `time.Parse` gives for a `metav1.Time` (layout RFC3339) or
//! `metav1.MicroTime` (RFC3339 with exactly six fractional digits) string,
//! character for character, because kube-apiserver returns it verbatim:
//! `parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`.
//!
//! Follows the generic layout parser of Go's time/format.go for the fixed
//! chunk sequence of these two layouts (Go tries a strict RFC3339 fast path
//! first, but only falls back to, and reports errors from, this one).

const RFC3339: &str = "2006-01-02T15:04:05Z07:00";
const RFC3339_MICRO: &str = "2006-01-02T15:04:05.000000Z07:00";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Std {
    LongYear,
    ZeroMonth,
    ZeroDay,
    Hour,
    ZeroMinute,
    ZeroSecond,
    /// ".000000": exactly six digits after a period or comma.
    FracSecond6,
    Iso8601ColonTz,
}

/// (literal prefix, element, element text in the layout).
type Chunk = (&'static str, Std, &'static str);

const RFC3339_CHUNKS: &[Chunk] = &[
    ("", Std::LongYear, "2006"),
    ("-", Std::ZeroMonth, "01"),
    ("-", Std::ZeroDay, "02"),
    ("T", Std::Hour, "15"),
    (":", Std::ZeroMinute, "04"),
    (":", Std::ZeroSecond, "05"),
    ("", Std::Iso8601ColonTz, "Z07:00"),
];

const MICRO_CHUNKS: &[Chunk] = &[
    ("", Std::LongYear, "2006"),
    ("-", Std::ZeroMonth, "01"),
    ("-", Std::ZeroDay, "02"),
    ("T", Std::Hour, "15"),
    (":", Std::ZeroMinute, "04"),
    (":", Std::ZeroSecond, "05"),
    ("", Std::FracSecond6, ".000000"),
    ("", Std::Iso8601ColonTz, "Z07:00"),
];

/// Why `value` is not a `metav1.Time`, or None when it is.
pub(crate) fn time_error(value: &str) -> Option<String> {
    parse_error(value.as_bytes(), RFC3339, RFC3339_CHUNKS)
}

/// Why `value` is not a `metav1.MicroTime`, or None when it is.
pub(crate) fn micro_time_error(value: &str) -> Option<String> {
    parse_error(value.as_bytes(), RFC3339_MICRO, MICRO_CHUNKS)
}

fn parse_error(full: &[u8], layout: &str, chunks: &[Chunk]) -> Option<String> {
    let cannot_parse = |element: &[u8], layout_element: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            quote(full),
            quote(layout.as_bytes()),
            quote(element),
            quote(layout_element.as_bytes())
        )
    };
    let with_message = |message: &str| format!("parsing time {}{message}", quote(full));

    let (mut year, mut month, mut day) = (0i64, 1i64, 1i64);
    let mut value = full;
    for (i, &(prefix, std, std_text)) in chunks.iter().enumerate() {
        for &expected in prefix.as_bytes() {
            match value.split_first() {
                Some((&c, rest)) if c == expected => value = rest,
                _ => return Some(cannot_parse(value, prefix)),
            }
        }
        let hold = value;
        let mut range_error = None;
        let mut bad = false;
        match std {
            Std::LongYear => {
                if value.len() < 4 || !is_digit(value, 0) {
                    bad = true;
                } else {
                    match atoi(&value[..4]) {
                        Some(y) => year = y,
                        None => bad = true,
                    }
                    value = &value[4..];
                }
            }
            Std::ZeroMonth => match getnum(value, true) {
                Some((m, rest)) => {
                    month = m;
                    value = rest;
                    if !(1..=12).contains(&m) {
                        range_error = Some("month");
                    }
                }
                None => bad = true,
            },
            Std::ZeroDay => match getnum(value, true) {
                Some((d, rest)) => {
                    day = d;
                    value = rest;
                }
                None => bad = true,
            },
            Std::Hour => match getnum(value, false) {
                Some((h, rest)) => {
                    value = rest;
                    if h >= 24 {
                        range_error = Some("hour");
                    }
                }
                None => bad = true,
            },
            Std::ZeroMinute => match getnum(value, true) {
                Some((m, rest)) => {
                    value = rest;
                    if m >= 60 {
                        range_error = Some("minute");
                    }
                }
                None => bad = true,
            },
            Std::ZeroSecond => match getnum(value, true) {
                Some((s, rest)) => {
                    value = rest;
                    if s >= 60 {
                        range_error = Some("second");
                    } else if value.len() >= 2 && is_comma_or_period(value[0]) && is_digit(value, 1)
                    {
                        // A fraction the layout does not ask for is allowed;
                        // one it does ask for is parsed by the next element.
                        let next_is_fraction =
                            matches!(chunks.get(i + 1), Some((_, Std::FracSecond6, _)));
                        if !next_is_fraction {
                            let mut n = 2;
                            while is_digit(value, n) {
                                n += 1;
                            }
                            value = &value[n..];
                        }
                    }
                }
                None => bad = true,
            },
            Std::FracSecond6 => {
                const DIGITS: usize = 1 + 6;
                if value.len() < DIGITS {
                    bad = true;
                } else {
                    if !is_comma_or_period(value[0]) {
                        bad = true;
                    } else {
                        match atoi(&value[1..DIGITS]) {
                            Some(ns) if ns < 0 => range_error = Some("fractional second"),
                            Some(_) => {}
                            None => bad = true,
                        }
                    }
                    value = &value[DIGITS..];
                }
            }
            Std::Iso8601ColonTz => {
                if value.first() == Some(&b'Z') {
                    value = &value[1..];
                } else if value.len() < 6 || value[3] != b':' {
                    bad = true;
                } else {
                    let (sign, hours, minutes) = (value[0], &value[1..3], &value[4..6]);
                    value = &value[6..];
                    match getnum(hours, true) {
                        Some((h, _)) => {
                            if h > 24 {
                                range_error = Some("time zone offset hour");
                            }
                            match getnum(minutes, true) {
                                Some((m, _)) if m > 60 => {
                                    range_error = Some("time zone offset minute")
                                }
                                Some(_) => {}
                                None => bad = true,
                            }
                        }
                        None => bad = true,
                    }
                    if sign != b'+' && sign != b'-' {
                        bad = true;
                    }
                }
            }
        }
        if let Some(what) = range_error {
            return Some(with_message(&format!(": {what} out of range")));
        }
        if bad {
            return Some(cannot_parse(hold, std_text));
        }
    }
    if !value.is_empty() {
        return Some(with_message(&format!(": extra text: {}", quote(value))));
    }
    if day < 1 || day > days_in(month, year) {
        return Some(with_message(": day out of range"));
    }
    None
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

fn is_comma_or_period(c: u8) -> bool {
    c == b'.' || c == b','
}

/// Go's `getnum`: one or two leading digits (`fixed` demands two).
fn getnum(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    if !is_digit(s, 0) {
        return None;
    }
    let first = i64::from(s[0] - b'0');
    if !is_digit(s, 1) {
        return (!fixed).then_some((first, &s[1..]));
    }
    Some((first * 10 + i64::from(s[1] - b'0'), &s[2..]))
}

/// Go's `time.atoi`: an optional sign, then only digits.
fn atoi(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let mut x: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        x = x.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    Some(if negative { -x } else { x })
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `time.quote`: double quotes, `\"` and `\\` escaped, every byte of
/// a non-ASCII or control character as `\xNN`.
pub(crate) fn quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7f => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_times_pass() {
        for ok in [
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05+01:00",
            "2024-01-02T03:04:05.123456789Z",
            "2024-01-02T3:04:05Z",
            "2024-02-29T00:00:00Z",
            "2024-01-02T03:04:05,5-07:30",
        ] {
            assert_eq!(time_error(ok), None, "{ok}");
        }
        assert_eq!(micro_time_error("2024-01-02T03:04:05.123456Z"), None);
    }

    #[test]
    fn errors_read_like_go() {
        let cases = [
            (
                "yesterday",
                r#"parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006""#,
            ),
            (
                "2024-01-02",
                r#"parsing time "2024-01-02" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T""#,
            ),
            (
                "2024-1-02T00:00:00Z",
                r#"parsing time "2024-1-02T00:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse "1-02T00:00:00Z" as "01""#,
            ),
            (
                "2024-01-02T03:04:05",
                r#"parsing time "2024-01-02T03:04:05" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00""#,
            ),
            (
                "2024-13-02T03:04:05Z",
                r#"parsing time "2024-13-02T03:04:05Z": month out of range"#,
            ),
            (
                "2023-02-29T03:04:05Z",
                r#"parsing time "2023-02-29T03:04:05Z": day out of range"#,
            ),
            (
                "2024-01-02T03:04:05Zjunk",
                r#"parsing time "2024-01-02T03:04:05Zjunk": extra text: "junk""#,
            ),
            (
                "2024-01-02T25:04:05Z",
                r#"parsing time "2024-01-02T25:04:05Z": hour out of range"#,
            ),
            (
                "\"é\"",
                r#"parsing time "\"\xc3\xa9\"" as "2006-01-02T15:04:05Z07:00": cannot parse "\"\xc3\xa9\"" as "2006""#,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(time_error(input).as_deref(), Some(want), "{input}");
        }
        assert_eq!(
            micro_time_error("2024-01-02T03:04:05Z").as_deref(),
            Some(
                r#"parsing time "2024-01-02T03:04:05Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000""#
            )
        );
    }
}
