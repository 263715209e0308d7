//! HorizontalPodAutoscaler (autoscaling/v1 and v2).

use berth_api::status::FieldError;

use crate::apps::spec_of;
use crate::json::{Errors, Obj};
use crate::names::is_valid_path_segment_name;

const METRIC_TYPES: &[&str] = &[
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];

pub fn validate_hpa(root: &Obj, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    let min = spec.int("minReplicas", errs);
    if let Some(m) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            spec.at("minReplicas"),
            m,
            "must be greater than or equal to 1",
        ));
    }
    let max = spec.int("maxReplicas", errs).unwrap_or(0);
    if max < 1 {
        errs.push(FieldError::invalid(
            spec.at("maxReplicas"),
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        errs.push(FieldError::invalid(
            spec.at("maxReplicas"),
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let before = errs.len();
    match spec.obj("scaleTargetRef", errs) {
        Some(r) => {
            for f in ["kind", "name"] {
                let v = r.str_or_empty(f, errs);
                if v.is_empty() {
                    errs.push(FieldError::required(r.at(f), ""));
                } else {
                    for msg in is_valid_path_segment_name(v) {
                        errs.push(FieldError::invalid(r.at(f), v, msg));
                    }
                }
            }
        }
        None => {
            let r = spec.at("scaleTargetRef");
            errs.push(FieldError::required(r.child("kind"), ""));
            errs.push(FieldError::required(r.child("name"), ""));
        }
    }
    if errs.len() != before {
        return;
    }
    if let Some(t) = spec.int("targetCPUUtilizationPercentage", errs) {
        if t < 1 {
            errs.push(FieldError::invalid(
                spec.at("targetCPUUtilizationPercentage"),
                t,
                "must be greater than 0",
            ));
        }
    }
    for metric in spec.objs("metrics", errs) {
        let t = metric.str_or_empty("type", errs);
        if !METRIC_TYPES.contains(&t) {
            errs.push(FieldError::not_supported(
                metric.at("type"),
                t,
                METRIC_TYPES,
            ));
            continue;
        }
        let source_key = match t {
            "ContainerResource" => "containerResource",
            "External" => "external",
            "Object" => "object",
            "Pods" => "pods",
            _ => "resource",
        };
        let Some(source) = metric.obj(source_key, errs) else {
            errs.push(FieldError::required(
                metric.at(source_key),
                "must populate information for the given metric source",
            ));
            continue;
        };
        if let Some(target) = source.obj("target", errs) {
            if let Some(u) = target.int("averageUtilization", errs) {
                if u < 1 {
                    errs.push(FieldError::invalid(
                        target.at("averageUtilization"),
                        u,
                        "must be greater than 0",
                    ));
                }
            }
            let tt = target.str_or_empty("type", errs);
            if !matches!(tt, "Utilization" | "Value" | "AverageValue") {
                errs.push(FieldError::not_supported(
                    target.at("type"),
                    tt,
                    &["AverageValue", "Utilization", "Value"],
                ));
            }
        }
        if matches!(t, "Resource" | "ContainerResource")
            && source.str_or_empty("name", errs).is_empty()
        {
            errs.push(FieldError::required(
                source.at("name"),
                "must specify a resource name",
            ));
        }
    }
}
