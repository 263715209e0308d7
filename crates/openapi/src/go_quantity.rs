//! Which error `resource.ParseQuantity` (k8s.io/apimachinery) gives for a
//! string, as `Quantity.UnmarshalJSON` returns it verbatim. Only the
//! accept/reject decision and the error are reproduced, not the value.

pub(crate) const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
pub(crate) const NUMERIC: &str = "unable to parse numeric part of quantity";
pub(crate) const SUFFIX: &str = "unable to parse quantity's suffix";

const DECIMAL_SUFFIXES: &[(&str, i32)] = &[
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];
const BINARY_SUFFIXES: &[(&str, i32)] = &[
    ("Ki", 10),
    ("Mi", 20),
    ("Gi", 30),
    ("Ti", 40),
    ("Pi", 50),
    ("Ei", 60),
];

/// The error for the raw text between a JSON string's quotes (or of a JSON
/// literal), or None when it parses. `UnmarshalJSON` trims white space
/// first; the JSON text cannot hold unescaped control characters, so only
/// spaces and non-ASCII white space can be trimmed there.
pub(crate) fn quantity_error(raw: &str) -> Option<&'static str> {
    let trimmed = raw.trim_matches(|c: char| c == ' ' || (!c.is_ascii() && c.is_whitespace()));
    // Characters a JSON encoder must escape appear as `\x` in the raw text,
    // which the parser below rejects as it rejects the character itself.
    parse_error(trimmed.as_bytes())
}

fn parse_error(s: &[u8]) -> Option<&'static str> {
    if s.is_empty() {
        return Some(FORMAT_WRONG);
    }
    if s == b"0" {
        return None;
    }
    let Some(parts) = split(s) else {
        return Some(FORMAT_WRONG);
    };
    let (binary, exponent) = match interpret(parts.suffix) {
        Some(suffix) => suffix,
        None => return Some(SUFFIX),
    };
    let digits = parts.numerator.len() + parts.denominator.len();
    // Fast path: the value fits an int64 at nano scale, and cannot fail.
    let precision: i64 = if !binary {
        18 - digits as i64
    } else if parts.denominator.is_empty() {
        15 - parts.numerator.len() as i64 - (exponent as f32 * 3.0 / 10.0) as i64 - 1
    } else {
        -1
    };
    let scale = if binary { 0 } else { i64::from(exponent) } - parts.denominator.len() as i64;
    if precision >= 0 && scale >= -9 {
        return None;
    }
    // Slow path: inf.Dec must read at least one digit.
    if parts.value.iter().any(u8::is_ascii_digit) {
        None
    } else {
        Some(NUMERIC)
    }
}

struct Parts<'a> {
    /// Sign, digits and fraction as written (what inf.Dec parses).
    value: &'a [u8],
    numerator: &'a [u8],
    denominator: &'a [u8],
    suffix: &'a [u8],
}

/// `parseQuantityString`: the parts, or None where it fails with
/// `ErrFormatWrong`.
fn split(s: &[u8]) -> Option<Parts<'_>> {
    let end = s.len();
    let mut pos = usize::from(matches!(s.first(), Some(b'-' | b'+')));
    let zero_parts = Parts {
        value: b"0",
        numerator: b"0",
        denominator: b"",
        suffix: b"",
    };
    while pos < end && s[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Some(zero_parts);
    }
    let start = pos;
    while pos < end && s[pos].is_ascii_digit() {
        pos += 1;
    }
    let numerator: &[u8] = if pos == start { b"0" } else { &s[start..pos] };
    if pos >= end {
        return Some(Parts {
            value: s,
            numerator,
            denominator: b"",
            suffix: b"",
        });
    }
    let mut denominator: &[u8] = b"";
    if s[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < end && s[pos].is_ascii_digit() {
            pos += 1;
        }
        denominator = &s[start..pos];
        if pos >= end {
            return Some(Parts {
                value: s,
                numerator,
                denominator,
                suffix: b"",
            });
        }
    }
    let value = &s[..pos];
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&s[pos]) {
        pos += 1;
    }
    if pos < end && matches!(s[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < end && s[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        // A character no part of a quantity may hold.
        return None;
    }
    Some(Parts {
        value,
        numerator,
        denominator,
        suffix: &s[suffix_start..],
    })
}

/// (is binary, exponent) of a suffix, or None when it is not one.
fn interpret(suffix: &[u8]) -> Option<(bool, i32)> {
    if let Some((_, e)) = DECIMAL_SUFFIXES
        .iter()
        .find(|(s, _)| s.as_bytes() == suffix)
    {
        return Some((false, *e));
    }
    if let Some((_, e)) = BINARY_SUFFIXES.iter().find(|(s, _)| s.as_bytes() == suffix) {
        return Some((true, *e));
    }
    match suffix.split_first() {
        Some((b'e' | b'E', exponent)) if !exponent.is_empty() => {
            // strconv.ParseInt(…, 10, 64): optional sign, digits, fits i64;
            // Go then keeps the low 32 bits.
            let parsed: i64 = std::str::from_utf8(exponent).ok()?.parse().ok()?;
            Some((false, parsed as i32))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_parse_quantity_accepts() {
        for ok in [
            "0",
            "1",
            "100m",
            "1.5",
            "1Gi",
            "128Mi",
            "-2",
            "+3k",
            "1e3",
            "1E-3",
            "2.5e+6",
            ".5",
            "1.",
            "000",
            " 1Gi ",
            "5n",
            "0.1n",
            "12345678901234567890",
        ] {
            assert_eq!(quantity_error(ok), None, "{ok}");
        }
    }

    #[test]
    fn rejects_like_parse_quantity() {
        for (bad, want) in [
            ("", FORMAT_WRONG),
            ("yesterday", FORMAT_WRONG),
            ("1.2.3", FORMAT_WRONG),
            ("1 Gi", FORMAT_WRONG),
            ("1Gx", FORMAT_WRONG),
            ("\t1", FORMAT_WRONG),
            ("true", FORMAT_WRONG),
            ("{}", FORMAT_WRONG),
            ("1GiGi", SUFFIX),
            ("1e", SUFFIX),
            ("1e+", SUFFIX),
            ("1e1x", FORMAT_WRONG),
            ("1ki", SUFFIX),
            ("1e99999999999999999999", SUFFIX),
        ] {
            assert_eq!(quantity_error(bad), Some(want), "{bad:?}");
        }
    }
}
