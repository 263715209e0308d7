//! Workload controllers: Deployment, ReplicaSet, StatefulSet, DaemonSet
//! (apps/validation) and ReplicationController (core).

use berth_api::status::FieldError;
use serde_json::Value;

use crate::json::{empty_map, semantic_eq, Errors, Obj};
use crate::meta::{immutable, non_negative, validate_labels};
use crate::names::is_valid_percent;
use crate::path::Path;
use crate::pod::{template_labels, validate_pod_template_spec_with_claims};
use crate::selector::{validate_label_selector, Selector};

/// `spec` of an object, or an empty one at `spec` when missing.
pub fn spec_of<'a>(root: &Obj<'a>, errs: &mut Errors) -> Obj<'a> {
    section(root, "spec", errs)
}

pub fn section<'a>(o: &Obj<'a>, key: &str, errs: &mut Errors) -> Obj<'a> {
    o.obj(key, errs).unwrap_or_else(|| Obj {
        map: empty_map(),
        path: o.at(key),
    })
}

/// The selector of an apps/v1 controller: required, valid and non-empty.
fn required_selector(spec: &Obj, kind_word: &str, errs: &mut Errors) -> Option<Selector> {
    let Some(sel) = spec.obj("selector", errs) else {
        errs.push(FieldError::required(spec.at("selector"), ""));
        return None;
    };
    let parsed = validate_label_selector(&sel, errs)?;
    if parsed.is_empty() {
        errs.push(FieldError::invalid(
            sel.path(),
            Value::Object(sel.map.clone()),
            format!("empty selector is invalid for {kind_word}"),
        ));
        return None;
    }
    Some(parsed)
}

/// Template rules shared by controllers whose pods run forever.
fn validate_template_for_controller(
    spec: &Obj,
    selector: Option<&Selector>,
    kind: &str,
    errs: &mut Errors,
) {
    let template = section(spec, "template", errs);
    // StatefulSet pods also mount the volumes of their claim templates.
    let claims: Vec<&str> = spec
        .objs("volumeClaimTemplates", errs)
        .iter()
        .filter_map(|c| {
            c.map
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
        })
        .collect();
    if let Some(sel) = selector {
        let labels = template_labels(&template);
        if !sel.matches(&labels) {
            errs.push(labels_mismatch(&template));
        }
    }
    validate_pod_template_spec_with_claims(&template, &claims, errs);
    let pod_spec = section(&template, "spec", &mut Vec::new());
    if let Some(p) = pod_spec
        .str("restartPolicy", &mut Vec::new())
        .filter(|p| *p != "Always")
    {
        errs.push(FieldError::not_supported(
            pod_spec.at("restartPolicy"),
            p,
            &["Always"],
        ));
    }
    if pod_spec.has("activeDeadlineSeconds") {
        errs.push(FieldError::forbidden(
            pod_spec.at("activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
}

pub fn labels_mismatch(template: &Obj) -> FieldError {
    let labels = template
        .obj("metadata", &mut Vec::new())
        .and_then(|m| m.raw("labels").cloned())
        .unwrap_or(Value::Null);
    FieldError::invalid(
        template.at("metadata").child("labels"),
        labels,
        "`selector` does not match template `labels`",
    )
}

fn int_field(o: &Obj, key: &str, errs: &mut Errors) {
    if let Some(n) = o.int(key, errs) {
        non_negative(n, &o.at(key), errs);
    }
}

/// IntOrString as a count or a percentage: returns its numeric value.
fn int_or_percent_value(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim_end_matches('%').parse().unwrap_or(0),
        _ => 0,
    }
}

pub fn validate_positive_int_or_percent(v: Option<&Value>, path: &Path, errs: &mut Errors) {
    match v {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            for msg in is_valid_percent(s) {
                errs.push(FieldError::invalid(path, s.as_str(), msg));
            }
        }
        Some(Value::Number(n)) => non_negative(n.as_i64().unwrap_or(-1), path, errs),
        Some(other) => errs.push(FieldError::invalid(
            path,
            other.clone(),
            "must be an integer or percentage (e.g '5%')",
        )),
    }
}

pub fn not_more_than_100_percent(v: Option<&Value>, path: &Path, errs: &mut Errors) {
    if let Some(Value::String(s)) = v {
        if is_valid_percent(s).is_empty() && int_or_percent_value(v) > 100 {
            errs.push(FieldError::invalid(
                path,
                s.as_str(),
                "must not be greater than 100%",
            ));
        }
    }
}

pub fn validate_deployment(root: &Obj, old: Option<&Obj>, group: &str, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    int_field(&spec, "replicas", errs);
    let selector = required_selector(&spec, "deployment", errs);
    validate_template_for_controller(&spec, selector.as_ref(), "ReplicaSet", errs);
    if let Some(strategy) = spec.obj("strategy", errs) {
        match strategy.str("type", errs).unwrap_or("RollingUpdate") {
            "Recreate" => {
                if strategy.has("rollingUpdate") {
                    errs.push(FieldError::forbidden(
                        strategy.at("rollingUpdate"),
                        "may not be specified when strategy `type` is 'Recreate'",
                    ));
                }
            }
            "RollingUpdate" => {
                if let Some(ru) = strategy.obj("rollingUpdate", errs) {
                    let unavailable = ru.raw("maxUnavailable");
                    let surge = ru.raw("maxSurge");
                    validate_positive_int_or_percent(unavailable, &ru.at("maxUnavailable"), errs);
                    validate_positive_int_or_percent(surge, &ru.at("maxSurge"), errs);
                    if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
                        errs.push(FieldError::invalid(
                            ru.at("maxUnavailable"),
                            unavailable.cloned().unwrap_or(Value::from(0)),
                            "may not be 0 when `maxSurge` is 0",
                        ));
                    }
                    not_more_than_100_percent(unavailable, &ru.at("maxUnavailable"), errs);
                }
            }
            _ => errs.push(FieldError::not_supported(
                strategy.path(),
                Value::Object(strategy.map.clone()),
                &["Recreate", "RollingUpdate"],
            )),
        }
    }
    let min_ready = spec.int("minReadySeconds", errs).unwrap_or(0);
    non_negative(min_ready, &spec.at("minReadySeconds"), errs);
    int_field(&spec, "revisionHistoryLimit", errs);
    if let Some(deadline) = spec.int("progressDeadlineSeconds", errs) {
        non_negative(deadline, &spec.at("progressDeadlineSeconds"), errs);
        if deadline <= min_ready {
            errs.push(FieldError::invalid(
                spec.at("progressDeadlineSeconds"),
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    selector_immutable(&spec, old, group, errs);
}

/// apps/v1 made selectors immutable (extensions/v1beta1 did not).
fn selector_immutable(spec: &Obj, old: Option<&Obj>, group: &str, errs: &mut Errors) {
    if group != "apps" {
        return;
    }
    if let Some(old) = old {
        let old_spec = spec_of(old, &mut Vec::new());
        immutable(
            spec.raw("selector"),
            old_spec.raw("selector"),
            &spec.at("selector"),
            errs,
        );
    }
}

pub fn validate_replica_set(root: &Obj, old: Option<&Obj>, group: &str, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    int_field(&spec, "replicas", errs);
    int_field(&spec, "minReadySeconds", errs);
    let selector = required_selector(&spec, "deployment", errs);
    validate_template_for_controller(&spec, selector.as_ref(), "ReplicaSet", errs);
    selector_immutable(&spec, old, group, errs);
}

pub fn validate_replication_controller(root: &Obj, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    int_field(&spec, "minReadySeconds", errs);
    int_field(&spec, "replicas", errs);
    let selector = spec.str_map("selector", errs);
    if selector.is_empty() {
        errs.push(FieldError::required(spec.at("selector"), ""));
    }
    validate_labels(&selector, &spec.at("selector"), errs);
    if !spec.has("template") {
        errs.push(FieldError::required(spec.at("template"), ""));
        return;
    }
    let sel = Selector {
        match_labels: selector
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        expressions: Vec::new(),
    };
    let sel = (!sel.is_empty()).then_some(sel);
    validate_template_for_controller(&spec, sel.as_ref(), "ReplicationController", errs);
}

pub fn validate_daemon_set(root: &Obj, old: Option<&Obj>, group: &str, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    let selector = match spec.obj("selector", errs) {
        Some(sel) => {
            let parsed = validate_label_selector(&sel, errs);
            if parsed.as_ref().is_some_and(Selector::is_empty) {
                errs.push(FieldError::invalid(
                    sel.path(),
                    Value::Object(sel.map.clone()),
                    "empty selector is invalid for daemonset",
                ));
            }
            parsed.filter(|p| !p.is_empty())
        }
        None => {
            errs.push(FieldError::required(spec.at("selector"), ""));
            None
        }
    };
    validate_template_for_controller(&spec, selector.as_ref(), "DaemonSet", errs);
    int_field(&spec, "minReadySeconds", errs);
    int_field(&spec, "templateGeneration", errs);
    int_field(&spec, "revisionHistoryLimit", errs);
    if let Some(strategy) = spec.obj("updateStrategy", errs) {
        match strategy.str("type", errs).unwrap_or("RollingUpdate") {
            "OnDelete" => {}
            "RollingUpdate" => {
                if let Some(ru) = strategy.obj("rollingUpdate", errs) {
                    let unavailable = ru.raw("maxUnavailable");
                    let surge = ru.raw("maxSurge");
                    validate_positive_int_or_percent(unavailable, &ru.at("maxUnavailable"), errs);
                    validate_positive_int_or_percent(surge, &ru.at("maxSurge"), errs);
                    not_more_than_100_percent(unavailable, &ru.at("maxUnavailable"), errs);
                    not_more_than_100_percent(surge, &ru.at("maxSurge"), errs);
                    let has_unavailable = int_or_percent_value(unavailable) != 0;
                    let has_surge = int_or_percent_value(surge) != 0;
                    if has_unavailable && has_surge {
                        errs.push(FieldError::invalid(
                            ru.at("maxSurge"),
                            surge.cloned().unwrap_or(Value::Null),
                            "may not be set when maxUnavailable is non-zero",
                        ));
                    } else if !has_unavailable && !has_surge {
                        errs.push(FieldError::required(
                            ru.at("maxUnavailable"),
                            "cannot be 0 when maxSurge is 0",
                        ));
                    }
                }
            }
            _ => errs.push(FieldError::not_supported(
                strategy.path(),
                Value::Object(strategy.map.clone()),
                &["RollingUpdate", "OnDelete"],
            )),
        }
    }
    selector_immutable(&spec, old, group, errs);
}

pub fn validate_stateful_set(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    if let Some(p) = spec.str("podManagementPolicy", errs) {
        if !matches!(p, "OrderedReady" | "Parallel") {
            errs.push(FieldError::invalid(
                spec.at("podManagementPolicy"),
                p,
                "must be 'OrderedReady' or 'Parallel'",
            ));
        }
    }
    if let Some(strategy) = spec.obj("updateStrategy", errs) {
        match strategy.str("type", errs).unwrap_or("RollingUpdate") {
            "OnDelete" => {
                if let Some(ru) = strategy.raw("rollingUpdate") {
                    errs.push(FieldError::invalid(
                        strategy.at("rollingUpdate"),
                        ru.clone(),
                        "only allowed for updateStrategy 'RollingUpdate'",
                    ));
                }
            }
            "RollingUpdate" => {
                if let Some(ru) = strategy.obj("rollingUpdate", errs) {
                    int_field(&ru, "partition", errs);
                    if ru.has("maxUnavailable") {
                        let v = ru.raw("maxUnavailable");
                        validate_positive_int_or_percent(v, &ru.at("maxUnavailable"), errs);
                        not_more_than_100_percent(v, &ru.at("maxUnavailable"), errs);
                        if int_or_percent_value(v) == 0 {
                            errs.push(FieldError::invalid(
                                ru.at("maxUnavailable"),
                                v.cloned().unwrap_or(Value::Null),
                                "must be greater than 0",
                            ));
                        }
                    }
                }
            }
            _ => errs.push(FieldError::invalid(
                strategy.path(),
                Value::Object(strategy.map.clone()),
                "must be 'RollingUpdate' or 'OnDelete'",
            )),
        }
    }
    if let Some(policy) = spec.obj("persistentVolumeClaimRetentionPolicy", errs) {
        for f in ["whenDeleted", "whenScaled"] {
            if let Some(v) = policy.str(f, errs) {
                if !matches!(v, "Retain" | "Delete") {
                    errs.push(FieldError::not_supported(
                        policy.at(f),
                        v,
                        &["Retain", "Delete"],
                    ));
                }
            }
        }
    }
    if let Some(ord) = spec.obj("ordinals", errs) {
        if let Some(start) = ord.int("start", errs) {
            non_negative(start, &spec.at("ordinals.start"), errs);
        }
    }
    int_field(&spec, "replicas", errs);
    int_field(&spec, "minReadySeconds", errs);
    let selector = required_selector(&spec, "statefulset", errs);
    validate_template_for_controller(&spec, selector.as_ref(), "StatefulSet", errs);

    if let Some(old) = old {
        let old_spec = spec_of(old, &mut Vec::new());
        let mutable = [
            "replicas",
            "template",
            "updateStrategy",
            "minReadySeconds",
            "ordinals",
            "revisionHistoryLimit",
            "persistentVolumeClaimRetentionPolicy",
        ];
        let strip = |m: &serde_json::Map<String, Value>| {
            let mut m = m.clone();
            for f in mutable {
                m.remove(f);
            }
            Value::Object(m)
        };
        if !semantic_eq(Some(&strip(spec.map)), Some(&strip(old_spec.map))) {
            errs.push(FieldError::forbidden(
                spec.path(),
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
}

pub fn validate_controller_revision(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let revision = root.int("revision", errs).unwrap_or(0);
    non_negative(revision, &root.at("revision"), errs);
    if let Some(old) = old {
        immutable(root.raw("data"), old.raw("data"), &root.at("data"), errs);
    }
}
