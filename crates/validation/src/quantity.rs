//! Resource quantities ("500m", "1Gi"): parse, sign and comparison, with
//! upstream's error texts.

use std::cmp::Ordering;
use std::sync::OnceLock;

use berth_api::status::FieldError;
use kube_quantity::ParsedQuantity;
use regex::Regex;
use serde_json::Value;

use crate::json::Errors;
use crate::path::Path;

const QUANTITY_ERR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
pub const NEGATIVE_ERR: &str = "must be greater than or equal to 0";

fn shape() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
            .expect("constant pattern compiles")
    })
}

/// A parsed quantity plus the text the user wrote (used in messages).
#[derive(Clone, Debug)]
pub struct Quantity {
    pub text: String,
    parsed: ParsedQuantity,
}

impl Quantity {
    pub fn parse(text: &str) -> Option<Quantity> {
        if !shape().is_match(text) {
            return None;
        }
        let parsed = ParsedQuantity::try_from(text).ok()?;
        Some(Quantity {
            text: text.to_string(),
            parsed,
        })
    }

    pub fn cmp_q(&self, other: &Quantity) -> Ordering {
        self.parsed.cmp(&other.parsed)
    }

    pub fn sign(&self) -> Ordering {
        self.parsed.cmp(&ParsedQuantity::default())
    }

    /// Whether the value is a whole number (extended resources must be).
    pub fn is_integer(&self) -> bool {
        self.parsed.to_bytes_f64().is_some_and(|f| f.fract() == 0.0)
    }
}

/// Reads a quantity JSON value (a string, or a bare number as JSON allows).
pub fn read(v: &Value, path: &Path, errs: &mut Errors) -> Option<Quantity> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            errs.push(FieldError::invalid(path, other.clone(), QUANTITY_ERR));
            return None;
        }
    };
    match Quantity::parse(&text) {
        Some(q) => Some(q),
        None => {
            errs.push(FieldError::invalid(path, text, QUANTITY_ERR));
            None
        }
    }
}

/// Reads a quantity and requires it to be ≥ 0.
pub fn read_non_negative(v: &Value, path: &Path, errs: &mut Errors) -> Option<Quantity> {
    let q = read(v, path, errs)?;
    if q.sign() == Ordering::Less {
        errs.push(FieldError::invalid(path, q.text.clone(), NEGATIVE_ERR));
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_compares() {
        let a = Quantity::parse("500m").unwrap();
        let b = Quantity::parse("1").unwrap();
        assert_eq!(a.cmp_q(&b), Ordering::Less);
        assert_eq!(
            Quantity::parse("1Gi")
                .unwrap()
                .cmp_q(&Quantity::parse("1024Mi").unwrap()),
            Ordering::Equal
        );
        assert_eq!(Quantity::parse("-1").unwrap().sign(), Ordering::Less);
        assert!(Quantity::parse("1x").is_none());
        assert!(Quantity::parse("").is_none());
        assert!(Quantity::parse("inf").is_none());
        assert!(!Quantity::parse("1500m").unwrap().is_integer());
        assert!(Quantity::parse("2").unwrap().is_integer());
    }

    #[test]
    fn bad_quantity_reports_path() {
        let mut errs = Vec::new();
        read(
            &Value::from("lots"),
            &Path::root("spec").child("cpu"),
            &mut errs,
        );
        assert_eq!(errs[0].field, "spec.cpu");
        assert!(errs[0].detail.starts_with("quantities must match"));
    }
}
