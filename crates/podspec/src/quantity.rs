//! Exact reading of Kubernetes quantities ("500m", "128Mi", "1e3").
//!
//! The kubelet uses `Quantity.Value()` / `MilliValue()`, which round up to the
//! next integer. Float arithmetic gets that wrong ("0.1" * 1000 is not 100), so
//! this module keeps the mantissa as an integer and scales exactly.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// `sign * digits / 10^frac * 10^exp10 * 2^exp2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    negative: bool,
    digits: u128,
    frac: u32,
    exp10: i32,
    exp2: u32,
}

/// Most significant decimal digits kept; u128 holds 38 safely.
const MAX_DIGITS: u32 = 38;

fn parse(s: &str) -> Option<Parsed> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if let Some(&c) = bytes.first() {
        if c == b'+' || c == b'-' {
            negative = c == b'-';
            i = 1;
        }
    }
    let mut digits: u128 = 0;
    let mut kept: u32 = 0;
    let mut frac: u32 = 0;
    let mut dropped_int: i32 = 0;
    let mut seen_digit = false;
    let mut seen_dot = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            seen_digit = true;
            let d = u128::from(c - b'0');
            if kept < MAX_DIGITS {
                if digits != 0 || d != 0 {
                    kept += 1;
                }
                digits = digits * 10 + d;
                if seen_dot {
                    frac += 1;
                }
            } else if !seen_dot {
                // Precision beyond 38 digits is dropped, magnitude kept.
                dropped_int += 1;
            }
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    let (exp10, exp2) = match &s[i..] {
        "" => (0, 0),
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
        rest => {
            let exp = rest.strip_prefix('e').or_else(|| rest.strip_prefix('E'))?;
            let body = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (exp.parse::<i32>().ok()?, 0)
        }
    };
    Some(Parsed {
        negative,
        digits,
        frac,
        exp10: exp10.checked_add(dropped_int)?,
        exp2,
    })
}

/// `ceil(|value| * 10^scale)` with the sign put back (rounding away from zero,
/// as the apimachinery `Quantity` does). Saturates at the i64 range.
fn scaled(p: Parsed, scale: i32) -> i64 {
    let magnitude = scaled_magnitude(p, scale);
    let clamped = i64::try_from(magnitude).unwrap_or(i64::MAX);
    if p.negative {
        -clamped
    } else {
        clamped
    }
}

fn scaled_magnitude(p: Parsed, scale: i32) -> u128 {
    if p.digits == 0 {
        return 0;
    }
    let Some(n) = p.digits.checked_mul(1u128 << p.exp2.min(100)) else {
        return u128::MAX;
    };
    let t = i64::from(p.exp10) + i64::from(scale) - i64::from(p.frac);
    if t >= 0 {
        let Some(factor) = u32::try_from(t).ok().and_then(|t| 10u128.checked_pow(t)) else {
            return u128::MAX;
        };
        n.saturating_mul(factor)
    } else {
        let Some(d) = u32::try_from(-t).ok().and_then(|t| 10u128.checked_pow(t)) else {
            // The value is a positive fraction below one unit.
            return 1;
        };
        n / d + u128::from(n % d != 0)
    }
}

/// Go's `Quantity.Value()`: the value rounded up to an integer. Unparseable
/// quantities (the API server rejects them) read as zero.
pub(crate) fn value(q: &Quantity) -> i64 {
    parse(&q.0).map(|p| scaled(p, 0)).unwrap_or(0)
}

/// Go's `Quantity.MilliValue()`.
pub(crate) fn milli_value(q: &Quantity) -> i64 {
    parse(&q.0).map(|p| scaled(p, 3)).unwrap_or(0)
}

/// Value in nano-units, for exact comparisons and sums (QoS).
pub(crate) fn nano_value(q: &Quantity) -> i64 {
    parse(&q.0).map(|p| scaled(p, 9)).unwrap_or(0)
}

/// Whether the string is a quantity at all.
#[cfg(test)]
pub(crate) fn is_valid(s: &str) -> bool {
    parse(s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.to_string())
    }

    #[test]
    fn values_round_up_like_apimachinery() {
        let cases: &[(&str, i64, i64)] = &[
            // (quantity, Value(), MilliValue())
            ("0", 0, 0),
            ("1", 1, 1000),
            ("500m", 1, 500),
            ("250m", 1, 250),
            ("0.1", 1, 100),
            ("1.5", 2, 1500),
            ("100m", 1, 100),
            ("1m", 1, 1),
            ("0.0001", 1, 1),
            ("128Mi", 134_217_728, 134_217_728_000),
            ("1Gi", 1_073_741_824, 1_073_741_824_000),
            ("1.5Gi", 1_610_612_736, 1_610_612_736_000),
            ("64M", 64_000_000, 64_000_000_000),
            ("1k", 1000, 1_000_000),
            ("1e3", 1000, 1_000_000),
            ("1E3", 1000, 1_000_000),
            ("2E", 2_000_000_000_000_000_000, i64::MAX),
            ("+2", 2, 2000),
            ("-500m", -1, -500),
            ("12.", 12, 12_000),
            (".5", 1, 500),
        ];
        for (s, v, m) in cases {
            assert_eq!(value(&q(s)), *v, "Value({s})");
            assert_eq!(milli_value(&q(s)), *m, "MilliValue({s})");
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "abc", "1Q", "1e", "1e+", "m", "1.2.3", "1 Gi"] {
            assert!(!is_valid(s), "{s:?} should be invalid");
            assert_eq!(value(&q(s)), 0);
        }
    }
}
