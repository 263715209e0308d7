//! PodDisruptionBudget.

use berth_api::status::FieldError;
use serde_json::Value;

use crate::apps::{not_more_than_100_percent, spec_of, validate_positive_int_or_percent};
use crate::json::{Errors, Obj};
use crate::selector::validate_label_selector;

pub fn validate_pdb(root: &Obj, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    if spec.has("minAvailable") && spec.has("maxUnavailable") {
        errs.push(FieldError::invalid(
            spec.path(),
            Value::Object(spec.map.clone()),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for f in ["minAvailable", "maxUnavailable"] {
        if spec.has(f) {
            validate_positive_int_or_percent(spec.raw(f), &spec.at(f), errs);
            not_more_than_100_percent(spec.raw(f), &spec.at(f), errs);
        }
    }
    if let Some(sel) = spec.obj("selector", errs) {
        validate_label_selector(&sel, errs);
    }
    if let Some(p) = spec.str("unhealthyPodEvictionPolicy", errs) {
        if !matches!(p, "AlwaysAllow" | "IfHealthyBudget") {
            errs.push(FieldError::not_supported(
                spec.at("unhealthyPodEvictionPolicy"),
                p,
                &["AlwaysAllow", "IfHealthyBudget"],
            ));
        }
    }
}
