//! Exact reading of resource quantities ("500m", "1.5Gi", "2e3").
//!
//! The scheduler compares integers as kube-scheduler does: CPU in millicores
//! (`MilliValue`), everything else in units (`Value`), both rounded up. Floats
//! would get "0.1" * 1000 wrong, so the mantissa stays an integer.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// `sign * mantissa * 10^exp10 * 2^exp2`, plus whether non-zero digits were
/// dropped (so rounding up still rounds up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    negative: bool,
    mantissa: u128,
    exp10: i32,
    exp2: u32,
    dropped: bool,
}

/// Significant digits kept; u128 holds 38, leave room for scaling.
const MAX_DIGITS: u32 = 30;

fn parse(text: &str) -> Option<Parsed> {
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let number_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let mut mantissa: u128 = 0;
    let mut kept = 0u32;
    let mut exp10 = 0i32;
    let mut dropped = false;
    let mut after_dot = false;
    for c in number.chars() {
        if c == '.' {
            after_dot = true;
            continue;
        }
        let digit = u128::from(c as u8 - b'0');
        if kept < MAX_DIGITS {
            if mantissa != 0 || digit != 0 {
                kept += 1;
            }
            mantissa = mantissa * 10 + digit;
            if after_dot {
                exp10 -= 1;
            }
        } else if after_dot {
            dropped |= digit != 0;
        } else {
            // An integer digit we cannot keep still scales the value.
            exp10 += 1;
            dropped |= digit != 0;
        }
    }
    let (extra10, exp2) = match suffix {
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
        other => {
            let exponent = other.strip_prefix(['e', 'E'])?;
            (exponent.parse::<i32>().ok()?, 0)
        }
    };
    Some(Parsed {
        negative,
        mantissa,
        exp10: exp10.checked_add(extra10)?,
        exp2,
        dropped,
    })
}

/// `ceil(|value| * 10^scale)` with the sign put back, saturating at i64.
fn scaled(text: &str, scale: i32) -> Option<i64> {
    let p = parse(text)?;
    let mut n = if p.mantissa.leading_zeros() < p.exp2 {
        u128::MAX
    } else {
        p.mantissa << p.exp2
    };
    let exp = p.exp10.saturating_add(scale);
    let mut inexact = p.dropped;
    if exp >= 0 {
        for _ in 0..exp.min(40) {
            n = n.saturating_mul(10);
        }
    } else {
        let shift = exp.unsigned_abs();
        if shift > 38 {
            inexact |= n != 0;
            n = 0;
        } else {
            let d = 10u128.pow(shift);
            inexact |= n % d != 0;
            n /= d;
        }
    }
    if inexact {
        n = n.saturating_add(1);
    }
    let magnitude = i64::try_from(n).unwrap_or(i64::MAX);
    Some(if p.negative { -magnitude } else { magnitude })
}

/// `Quantity.MilliValue()`: thousandths, rounded up. Unparsable → 0.
pub fn milli_value(q: &Quantity) -> i64 {
    scaled(&q.0, 3).unwrap_or(0)
}

/// `Quantity.Value()`: whole units, rounded up. Unparsable → 0.
pub fn value(q: &Quantity) -> i64 {
    scaled(&q.0, 0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.to_string())
    }

    #[test]
    fn cpu_in_millicores() {
        assert_eq!(milli_value(&q("500m")), 500);
        assert_eq!(milli_value(&q("1")), 1000);
        assert_eq!(milli_value(&q("0.1")), 100);
        assert_eq!(milli_value(&q("2.5")), 2500);
        assert_eq!(milli_value(&q("1u")), 1, "rounds up like MilliValue");
        assert_eq!(milli_value(&q("100n")), 1);
    }

    #[test]
    fn memory_in_bytes() {
        assert_eq!(value(&q("128Mi")), 128 * 1024 * 1024);
        assert_eq!(value(&q("1Gi")), 1 << 30);
        assert_eq!(value(&q("1G")), 1_000_000_000);
        assert_eq!(value(&q("1.5Ki")), 1536);
        assert_eq!(value(&q("2e3")), 2000);
        assert_eq!(value(&q("1E3")), 1000);
        assert_eq!(value(&q("500m")), 1, "Value rounds up");
        assert_eq!(value(&q("110")), 110);
    }

    #[test]
    fn garbage_and_extremes() {
        assert_eq!(value(&q("")), 0);
        assert_eq!(value(&q("abc")), 0);
        assert_eq!(value(&q("1.2.3")), 0);
        assert_eq!(value(&q("1Xi")), 0);
        assert_eq!(value(&q("9Ei")), i64::MAX, "saturates instead of wrapping");
        assert_eq!(value(&q("-1")), -1);
    }
}
