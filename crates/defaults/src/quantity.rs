//! Just enough of Kubernetes' resource.Quantity to sum and compare values:
//! a quantity string (or JSON number) becomes an exact count of nano-units.

use serde_json::Value;

/// Decimal digits below one unit that a nano-unit count keeps.
const NANO_DIGITS: i32 = 9;

/// The value of a quantity in nano-units (rounded up below a nano-unit),
/// or `None` when it does not parse or does not fit.
pub fn nanos(value: &Value) -> Option<i128> {
    match value {
        Value::String(s) => parse(s),
        Value::Number(n) => parse(&n.to_string()),
        _ => None,
    }
}

fn parse(s: &str) -> Option<i128> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let mantissa: i128 = digits.parse().ok()?;
    let fraction_len = i32::try_from(fraction.len()).ok()?;
    let (exp10, binary_power) = suffix_scale(suffix)?;
    let exp10 = exp10.checked_sub(fraction_len)?.checked_add(NANO_DIGITS)?;
    let mut value = mantissa.checked_mul(1024i128.checked_pow(binary_power)?)?;
    if exp10 >= 0 {
        value = value.checked_mul(10i128.checked_pow(u32::try_from(exp10).ok()?)?)?;
    } else {
        let divisor = 10i128.checked_pow(u32::try_from(-exp10).ok()?)?;
        // Kubernetes rounds sub-precision values up, never down to zero.
        value = (value + divisor - 1) / divisor;
    }
    Some(if negative { -value } else { value })
}

/// (power of ten, power of 1024) that a suffix stands for.
fn suffix_scale(suffix: &str) -> Option<(i32, u32)> {
    Some(match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 1),
        "Mi" => (0, 2),
        "Gi" => (0, 3),
        "Ti" => (0, 4),
        "Pi" => (0, 5),
        "Ei" => (0, 6),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            (exponent.parse().ok()?, 0)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NANO: i128 = 1_000_000_000;

    #[test]
    fn parses_every_suffix_family() {
        assert_eq!(nanos(&json!("500m")), Some(NANO / 2));
        assert_eq!(nanos(&json!("0.5")), Some(NANO / 2));
        assert_eq!(nanos(&json!(2)), Some(2 * NANO));
        assert_eq!(nanos(&json!("1Ki")), Some(1024 * NANO));
        assert_eq!(nanos(&json!("128Mi")), Some(128 * 1024 * 1024 * NANO));
        assert_eq!(nanos(&json!("1G")), Some(1_000_000_000 * NANO));
        assert_eq!(nanos(&json!("1e3")), Some(1000 * NANO));
        assert_eq!(nanos(&json!("-1")), Some(-NANO));
        assert_eq!(nanos(&json!("1.5n")), Some(2));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "1Zi", ".", "1..2", "--1"] {
            assert_eq!(nanos(&json!(bad)), None, "{bad}");
        }
        assert_eq!(nanos(&json!({"x": 1})), None);
    }
}
