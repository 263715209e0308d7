//! Exact Kubernetes quantities with apimachinery's arithmetic and canonical
//! text ("1500m", "1Gi", "2e3").
//!
//! The workspace's other readers (podspec, scheduler, defaults, validation
//! via `kube_quantity`) parse and compare, but none adds with Go's format
//! rules or prints Go's canonical form, which the quota and LimitRanger
//! messages quote. A value is kept as an integer count of nano-units (Go
//! rounds anything finer up to 1n when parsing) plus the format that decides
//! how it prints.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::cmp::Ordering;
use std::fmt;

const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// More significant digits than this cannot be held exactly; such strings
/// are rejected (the API server never stores them for resources).
const MAX_DIGITS: usize = 36;

/// How a quantity prints, taken from its suffix (Go's `resource.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// "", "m", "k", "M", …
    DecimalSI,
    /// "Ki", "Mi", "Gi", …
    BinarySI,
    /// "e3", "E-2"
    DecimalExponent,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Format,
    #[error("quantity {0:?} is too large or too precise")]
    OutOfRange(String),
}

/// A parsed quantity. Equality and ordering compare values only.
#[derive(Debug, Clone, Copy)]
pub struct Amount {
    nanos: i128,
    format: Format,
}

impl PartialEq for Amount {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Amount {}
impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Amount {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Default for Amount {
    fn default() -> Self {
        Amount::zero()
    }
}

impl Amount {
    /// Zero in DecimalSI, as Go's `Quantity{Format: DecimalSI}`.
    pub fn zero() -> Amount {
        Amount {
            nanos: 0,
            format: Format::DecimalSI,
        }
    }

    /// A whole number of units in DecimalSI (`resource.NewQuantity(n, DecimalSI)`).
    pub fn from_int(n: i64) -> Amount {
        Amount {
            nanos: i128::from(n) * NANOS_PER_UNIT,
            format: Format::DecimalSI,
        }
    }

    /// Thousandths in DecimalSI (`resource.NewMilliQuantity`).
    pub fn from_milli(n: i64) -> Amount {
        Amount {
            nanos: i128::from(n) * 1_000_000,
            format: Format::DecimalSI,
        }
    }

    pub fn parse(text: &str) -> Result<Amount, QuantityError> {
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(QuantityError::Format);
        }
        let (exp10, exp2, format) = suffix_scale(suffix).ok_or(QuantityError::Format)?;
        let out_of_range = || QuantityError::OutOfRange(text.to_string());

        let digits = format!("{whole}{fraction}");
        let significant = digits.trim_start_matches('0');
        if significant.len() > MAX_DIGITS {
            return Err(out_of_range());
        }
        let mantissa: i128 = if significant.is_empty() {
            0
        } else {
            significant.parse().map_err(|_| out_of_range())?
        };
        let mantissa = mantissa
            .checked_mul(1i128.checked_shl(exp2).ok_or_else(out_of_range)?)
            .ok_or_else(out_of_range)?;
        let fraction_len = i32::try_from(fraction.len()).map_err(|_| out_of_range())?;
        // nanos = mantissa * 10^(exp10 + 9 - fraction_len), rounded up.
        let shift = exp10
            .checked_add(9)
            .and_then(|s| s.checked_sub(fraction_len))
            .ok_or_else(out_of_range)?;
        let magnitude = if shift >= 0 {
            let factor = 10i128
                .checked_pow(u32::try_from(shift).map_err(|_| out_of_range())?)
                .ok_or_else(out_of_range)?;
            mantissa.checked_mul(factor).ok_or_else(out_of_range)?
        } else {
            match u32::try_from(-shift)
                .ok()
                .and_then(|s| 10i128.checked_pow(s))
            {
                Some(divisor) => mantissa / divisor + i128::from(mantissa % divisor != 0),
                // Far below a nano-unit: rounds up to 1n (or stays 0).
                None => i128::from(mantissa != 0),
            }
        };
        Ok(Amount {
            nanos: if negative { -magnitude } else { magnitude },
            format,
        })
    }

    /// Parses a k8s-openapi Quantity.
    pub fn from_quantity(q: &Quantity) -> Result<Amount, QuantityError> {
        Amount::parse(&q.0)
    }

    /// Unparseable text reads as zero: the API server rejects such
    /// quantities before they can reach quota or LimitRange checks.
    pub(crate) fn lossy(q: &Quantity) -> Amount {
        Amount::from_quantity(q).unwrap_or_default()
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// -1, 0 or 1 (Go's `Sign`).
    pub fn signum(&self) -> i32 {
        match self.nanos.cmp(&0) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }
    }

    /// Go's `q.Add(y)`: keeps this format unless this is zero.
    pub fn plus(self, other: Amount) -> Amount {
        Amount {
            nanos: self.nanos.saturating_add(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    /// Go's `q.Sub(y)`, same format rule as `add`.
    pub fn minus(self, other: Amount) -> Amount {
        Amount {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    /// Go's `Value()`: whole units, rounded away from zero, saturating.
    pub fn value(&self) -> i64 {
        scaled_away_from_zero(self.nanos, NANOS_PER_UNIT)
    }

    /// Go's `MilliValue()`.
    pub fn milli_value(&self) -> i64 {
        scaled_away_from_zero(self.nanos, 1_000_000)
    }

    /// Go's `RoundUp(0)`: the value rounded up to whole units, and whether it
    /// already was whole.
    pub fn round_up_to_units(self) -> (Amount, bool) {
        let rem = self.nanos.rem_euclid(NANOS_PER_UNIT);
        if rem == 0 {
            return (self, true);
        }
        let nanos = self.nanos.saturating_add(NANOS_PER_UNIT - rem);
        (Amount { nanos, ..self }, false)
    }

    pub fn to_quantity(&self) -> Quantity {
        Quantity(self.to_string())
    }
}

fn scaled_away_from_zero(nanos: i128, unit: i128) -> i64 {
    let magnitude = nanos.unsigned_abs();
    let unit = unit.unsigned_abs();
    let scaled = magnitude / unit + u128::from(!magnitude.is_multiple_of(unit));
    let clamped = i64::try_from(scaled).unwrap_or(i64::MAX);
    if nanos < 0 {
        -clamped
    } else {
        clamped
    }
}

/// (power of ten, power of two, format) of a suffix.
fn suffix_scale(suffix: &str) -> Option<(i32, u32, Format)> {
    let decimal = |e| Some((e, 0, Format::DecimalSI));
    let binary = |p| Some((0, p, Format::BinarySI));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        other => {
            let exponent = other.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((exponent.parse().ok()?, 0, Format::DecimalExponent))
        }
    }
}

fn decimal_suffix(exponent: i32) -> Option<&'static str> {
    Some(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// Go's `Quantity.String()` (CanonicalizeBytes).
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == Format::BinarySI
            && (self.nanos.abs() < 1024 * NANOS_PER_UNIT || self.nanos % NANOS_PER_UNIT != 0)
        {
            // Small or fractional binary values print in decimal (no rounding).
            format = Format::DecimalSI;
        }
        if format == Format::BinarySI {
            let mut units = self.nanos / NANOS_PER_UNIT;
            let mut power = 0;
            while power < BINARY_SUFFIXES.len() - 1 && units % 1024 == 0 {
                units /= 1024;
                power += 1;
            }
            return write!(f, "{units}{}", BINARY_SUFFIXES[power]);
        }
        let mut mantissa = self.nanos;
        let mut exponent: i32 = -9;
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        // Lower the exponent to a multiple of three.
        match exponent.rem_euclid(3) {
            1 => {
                mantissa *= 10;
                exponent -= 1;
            }
            2 => {
                mantissa *= 100;
                exponent -= 2;
            }
            _ => {}
        }
        let suffix = match (format, decimal_suffix(exponent)) {
            (Format::DecimalSI, Some(s)) => s.to_string(),
            (_, _) if exponent == 0 => String::new(),
            _ => format!("e{exponent}"),
        };
        write!(f, "{mantissa}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Amount {
        Amount::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn prints_canonical_forms_like_apimachinery() {
        let cases = [
            ("0", "0"),
            ("0Gi", "0"),
            ("1", "1"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("1.5", "1500m"),
            ("0.1", "100m"),
            ("100m", "100m"),
            ("2000", "2k"),
            ("12000", "12k"),
            ("1k", "1k"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("1.5e3", "1500"),
            ("10", "10"),
            ("100", "100"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1.5Ki", "1536"),
            ("1023", "1023"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("129M", "129M"),
            ("1n", "1n"),
            ("1u", "1u"),
            ("0.0000000001", "1n"),
            ("-1", "-1"),
            ("-1500m", "-1500m"),
            ("+2", "2"),
            (".5", "500m"),
            ("2E", "2E"),
        ];
        for (input, want) in cases {
            assert_eq!(p(input).to_string(), want, "String({input})");
        }
    }

    #[test]
    fn rejects_malformed_text() {
        for s in [
            "", "abc", "1Q", "1e", "1e+", "m", "1.2.3", "1 Gi", "1Kii", "--1", ".",
        ] {
            assert!(Amount::parse(s).is_err(), "{s:?} should be rejected");
        }
        assert!(matches!(
            Amount::parse("1e100"),
            Err(QuantityError::OutOfRange(_))
        ));
    }

    #[test]
    fn adds_with_go_format_rules() {
        // The left side's format wins…
        assert_eq!(p("1Gi").plus(p("512Mi")).to_string(), "1536Mi");
        assert_eq!(p("500m").plus(p("1")).to_string(), "1500m");
        assert_eq!(p("1").plus(p("1Gi")).to_string(), "1073741825");
        // …unless the left side is zero.
        assert_eq!(Amount::zero().plus(p("1Gi")).to_string(), "1Gi");
        assert_eq!(p("1536").plus(p("512")).to_string(), "2048");
        assert_eq!(p("2").minus(p("500m")).to_string(), "1500m");
        assert_eq!(p("1").minus(p("2")).to_string(), "-1");
    }

    #[test]
    fn compares_across_units() {
        assert!(p("1Gi") > p("1G"));
        assert!(p("1000m") == p("1"));
        assert!(p("1e3") == p("1k"));
        assert!(p("999m") < p("1"));
        assert!(p("-1") < Amount::zero());
    }

    #[test]
    fn value_and_milli_value_round_away_from_zero() {
        assert_eq!(p("500m").value(), 1);
        assert_eq!(p("1.5").milli_value(), 1500);
        assert_eq!(p("1n").milli_value(), 1);
        assert_eq!(p("-500m").value(), -1);
        assert_eq!(p("1Gi").value(), 1 << 30);
        assert_eq!(p("10E").milli_value(), i64::MAX, "saturates");
    }

    #[test]
    fn round_up_to_units() {
        let (rounded, exact) = p("1500m").round_up_to_units();
        assert_eq!((rounded.to_string(), exact), ("2".to_string(), false));
        let (rounded, exact) = p("1Gi").round_up_to_units();
        assert_eq!((rounded.to_string(), exact), ("1Gi".to_string(), true));
    }
}
