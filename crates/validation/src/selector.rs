//! Label selectors: `ValidateLabelSelector` and matching against a label set
//! (for "selector does not match template labels").

use berth_api::status::FieldError;

use crate::json::{Errors, Obj};
use crate::meta::validate_labels;
use crate::names::{is_qualified_name, is_valid_label_value};

/// A selector as read from JSON (only the parts needed for matching).
#[derive(Debug, Default)]
pub struct Selector {
    pub match_labels: Vec<(String, String)>,
    pub expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.expressions.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &[(&str, &str)]) -> bool {
        let get = |k: &str| labels.iter().find(|(lk, _)| *lk == k).map(|(_, v)| *v);
        self.match_labels
            .iter()
            .all(|(k, v)| get(k) == Some(v.as_str()))
            && self
                .expressions
                .iter()
                .all(|(k, op, values)| match op.as_str() {
                    "In" => get(k).is_some_and(|v| values.iter().any(|x| x == v)),
                    "NotIn" => get(k).is_none_or(|v| !values.iter().any(|x| x == v)),
                    "Exists" => get(k).is_some(),
                    "DoesNotExist" => get(k).is_none(),
                    _ => false,
                })
    }
}

/// Validates a `metav1.LabelSelector` and returns it when it is usable for matching.
pub fn validate_label_selector(sel: &Obj, errs: &mut Errors) -> Option<Selector> {
    let before = errs.len();
    let labels = sel.str_map("matchLabels", errs);
    validate_labels(&labels, &sel.at("matchLabels"), errs);
    let mut out = Selector {
        match_labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        expressions: Vec::new(),
    };
    for expr in sel.objs("matchExpressions", errs) {
        let op = expr.str_or_empty("operator", errs);
        let values = expr.strs("values", errs);
        match op {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
                expr.at("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                expr.at("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::invalid(
                expr.at("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        let key = expr.str_or_empty("key", errs);
        for msg in is_qualified_name(key) {
            errs.push(FieldError::invalid(expr.at("key"), key, msg));
        }
        for (p, v) in &values {
            for msg in is_valid_label_value(v) {
                errs.push(FieldError::invalid(p, *v, msg));
            }
        }
        out.expressions.push((
            key.to_string(),
            op.to_string(),
            values.iter().map(|(_, v)| v.to_string()).collect(),
        ));
    }
    (errs.len() == before).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::as_obj;
    use crate::path::Path;
    use serde_json::json;

    #[test]
    fn matches_labels_and_expressions() {
        let v = json!({"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "legacy", "operator": "DoesNotExist"}]});
        let mut errs = Vec::new();
        let o = as_obj(&v, Path::root("spec").child("selector"), &mut errs).unwrap();
        let s = validate_label_selector(&o, &mut errs).unwrap();
        assert!(s.matches(&[("app", "web"), ("tier", "a")]));
        assert!(!s.matches(&[("app", "web"), ("tier", "c")]));
        assert!(!s.matches(&[("app", "web"), ("tier", "a"), ("legacy", "")]));
    }

    #[test]
    fn bad_operator_and_missing_values() {
        let v = json!({"matchExpressions": [{"key": "a", "operator": "Eq"}, {"key": "b", "operator": "In"}]});
        let mut errs = Vec::new();
        let o = as_obj(&v, Path::root("spec").child("selector"), &mut errs).unwrap();
        assert!(validate_label_selector(&o, &mut errs).is_none());
        assert_eq!(errs[0].message(), "spec.selector.matchExpressions[0].operator: Invalid value: \"Eq\": not a valid selector operator");
        assert_eq!(errs[1].field, "spec.selector.matchExpressions[1].values");
    }
}
