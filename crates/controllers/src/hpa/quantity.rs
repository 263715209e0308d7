//! The two number formats the autoscaler reads: resource quantities as
//! milli-units (`resource.Quantity.MilliValue()`, rounded up) and Go
//! duration strings (`metav1.Duration`, e.g. a PodMetrics `window`).

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::time::Duration;

/// The quantity in thousandths of its unit, rounded up as Go's
/// `MilliValue` does ("12345678n" → 13, "250m" → 250, "1Ki" → 1024000).
/// `None` when the text is not a quantity; saturates at the i64 range.
pub fn milli_value(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_len = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    // Beyond 36 significant digits the value no longer fits; quantities that
    // long do not occur in practice.
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 36 {
        return None;
    }
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let (binary_power, decimal_exponent) = suffix_scale(suffix)?;
    // value·1000 = mantissa · 1024^binary_power · 10^(decimal_exponent + 3 − fraction digits)
    let mut numerator = mantissa.checked_mul(1024i128.checked_pow(binary_power)?);
    let mut denominator: i128 = 1;
    let exponent = decimal_exponent + 3 - fraction.len() as i32;
    if exponent >= 0 {
        numerator = numerator.and_then(|n| n.checked_mul(10i128.checked_pow(exponent as u32)?));
    } else {
        denominator = 10i128.checked_pow(exponent.unsigned_abs())?;
    }
    let milli = match numerator {
        Some(n) => {
            // Round toward +infinity: up for positives, toward zero for negatives.
            let q = n / denominator;
            if n % denominator != 0 && !negative {
                q + 1
            } else {
                q
            }
        }
        None => i128::MAX,
    };
    let milli = if negative { -milli } else { milli };
    Some(milli.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// (power of 1024, power of 10) a suffix multiplies by.
fn suffix_scale(suffix: &str) -> Option<(u32, i32)> {
    Some(match suffix {
        "Ki" => (1, 0),
        "Mi" => (2, 0),
        "Gi" => (3, 0),
        "Ti" => (4, 0),
        "Pi" => (5, 0),
        "Ei" => (6, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "" => (0, 0),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        _ => {
            // Decimal exponent form: "1e3", "5E-2".
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (0, exp.parse().ok()?)
        }
    })
}

/// A DecimalSI quantity of `milli` thousandths, in canonical form
/// (`resource.NewMilliQuantity(v, DecimalSI).String()`): "250m", "1", "2k".
pub fn milli_quantity(milli: i64) -> Quantity {
    if milli % 1000 != 0 {
        return Quantity(format!("{milli}m"));
    }
    let mut value = milli / 1000;
    let mut suffix = 0;
    const SUFFIXES: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    while value != 0 && value % 1000 == 0 && suffix + 1 < SUFFIXES.len() {
        value /= 1000;
        suffix += 1;
    }
    Quantity(format!("{value}{}", SUFFIXES[suffix]))
}

/// A Go duration string ("30s", "1m0s", "10.5s", "1h2m", "250ms").
pub fn go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let value: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milli_values_round_up_like_go() {
        let cases: &[(&str, Option<i64>)] = &[
            ("250m", Some(250)),
            ("1", Some(1000)),
            ("0.5", Some(500)),
            ("100m", Some(100)),
            ("12345678n", Some(13)),
            ("1n", Some(1)),
            ("0", Some(0)),
            ("64Mi", Some(64 * 1024 * 1024 * 1000)),
            ("1234Ki", Some(1234 * 1024 * 1000)),
            ("1.5Gi", Some(1536 * 1024 * 1024 * 1000)),
            ("2k", Some(2_000_000)),
            ("1e3", Some(1_000_000)),
            ("5E-2", Some(50)),
            ("1E", Some(i64::MAX)),
            ("", None),
            ("abc", None),
            ("1.2.3", None),
            ("5X", None),
        ];
        for (text, want) in cases {
            assert_eq!(milli_value(text), *want, "{text}");
        }
    }

    #[test]
    fn milli_quantities_are_canonical() {
        assert_eq!(milli_quantity(250).0, "250m");
        assert_eq!(milli_quantity(1500).0, "1500m");
        assert_eq!(milli_quantity(1000).0, "1");
        assert_eq!(milli_quantity(0).0, "0");
        assert_eq!(milli_quantity(2_000_000).0, "2k");
        assert_eq!(milli_quantity(67_108_864_000).0, "67108864");
        assert_eq!(milli_quantity(-3000).0, "-3");
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(go_duration("1m0s"), Some(Duration::from_secs(60)));
        assert_eq!(go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(go_duration("10.5s"), Some(Duration::from_millis(10_500)));
        assert_eq!(go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(go_duration("0"), Some(Duration::ZERO));
        assert_eq!(go_duration("10"), None);
        assert_eq!(go_duration("s"), None);
        assert_eq!(go_duration(""), None);
    }
}
