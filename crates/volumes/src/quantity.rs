//! Just enough of resource.Quantity for volumes: tmpfs sizes and downward API resource values.
//! Quantities are held exactly as nano-units in an i128 (Ei * 10^9 still fits).

/// A parsed quantity in units of 10^-9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Nanos(pub i128);

const NANO: i128 = 1_000_000_000;

impl Nanos {
    /// `Quantity.Value()`: whole units, rounded up.
    pub fn value(self) -> i128 {
        ceil_div(self.0, NANO)
    }

    /// `Quantity.MilliValue()`: thousandths, rounded up.
    pub fn milli_value(self) -> i128 {
        ceil_div(self.0, 1_000_000)
    }
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && ((a > 0) == (b > 0)) {
        q + 1
    } else {
        q
    }
}

/// Parses the Kubernetes quantity syntax: `<number><suffix>` where the suffix is a binary SI
/// one (Ki..Ei), a decimal SI one (n, u, m, "", k, M, G, T, P, E) or an exponent (`e3`).
pub fn parse(text: &str) -> Result<Nanos, String> {
    let invalid = || format!("quantities must match the regular expression: {text:?}");
    let text = text.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let number_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(invalid());
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = format!("{whole}{fraction}");
    let mut mantissa: i128 = 0;
    for d in digits.bytes() {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    // value = mantissa * 10^(exp10 - fraction digits) * 2^exp2, expressed in nanos.
    let (exp10, exp2): (i32, u32) = match suffix {
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
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        s if s.starts_with(['e', 'E']) => (s[1..].parse::<i32>().map_err(|_| invalid())?, 0),
        _ => return Err(invalid()),
    };
    let scale = exp10 + 9 - i32::try_from(fraction.len()).map_err(|_| invalid())?;
    let mut value = mantissa.checked_mul(1i128 << exp2).ok_or_else(invalid)?;
    if scale >= 0 {
        value = 10i128
            .checked_pow(scale.unsigned_abs())
            .and_then(|p| value.checked_mul(p))
            .ok_or_else(invalid)?;
    } else {
        // Below a nano-unit: round up like Quantity does when it cannot represent a value.
        let divisor = 10i128
            .checked_pow(scale.unsigned_abs())
            .ok_or_else(invalid)?;
        value = ceil_div(value, divisor);
    }
    Ok(Nanos(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse("1").unwrap().value(), 1);
        assert_eq!(parse("250m").unwrap().milli_value(), 250);
        assert_eq!(parse("1.5").unwrap().milli_value(), 1500);
        assert_eq!(parse("64Mi").unwrap().value(), 64 * 1024 * 1024);
        assert_eq!(parse("1G").unwrap().value(), 1_000_000_000);
        assert_eq!(parse("2e3").unwrap().value(), 2000);
        assert_eq!(parse("1Ei").unwrap().value(), 1i128 << 60);
        assert_eq!(parse("1n").unwrap().0, 1);
        assert_eq!(parse("100n").unwrap().milli_value(), 1, "rounds up");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("").is_err());
        assert!(parse("abc").is_err());
        assert!(parse("1.2.3").is_err());
        assert!(parse("5Xi").is_err());
    }
}
