//! Namespace, Node, Event, Lease, PriorityClass.

use std::collections::HashSet;

use berth_api::status::FieldError;
use serde_json::Value;

use crate::apps::spec_of;
use crate::json::{duplicate_with, Errors, Obj};
use crate::meta::{non_negative, validate_kube_finalizer_name};
use crate::names::{is_dns1123_subdomain, is_qualified_name, is_valid_label_value};
use crate::path::Path;
use crate::pod::validate_taint_effect;
use crate::quantity;

pub fn validate_namespace(root: &Obj, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    let path = spec.at("finalizers");
    for (_, f) in spec.strs("finalizers", errs) {
        for msg in is_qualified_name(f) {
            errs.push(FieldError::invalid(&path, f, msg));
        }
        validate_kube_finalizer_name(f, &path, errs);
    }
}

/// Parses `a.b.c.d/n` or `x::/n`.
pub fn is_valid_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

pub const CIDR_ERR: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

pub fn validate_node(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    let cidrs = spec.strs("podCIDRs", errs);
    for (p, c) in &cidrs {
        if !is_valid_cidr(c) {
            errs.push(FieldError::invalid(p, *c, CIDR_ERR));
        }
    }
    if cidrs.len() > 1 {
        let v4 = cidrs.iter().filter(|(_, c)| !c.contains(':')).count();
        if cidrs.len() > 2 || v4 != 1 {
            errs.push(FieldError::invalid(
                spec.at("podCIDRs"),
                spec.raw("podCIDRs").cloned().unwrap_or(Value::Null),
                "may specify no more than one CIDR for each IP family",
            ));
        }
    }
    let pod_cidr = spec.str_or_empty("podCIDR", errs);
    if !pod_cidr.is_empty() && !is_valid_cidr(pod_cidr) {
        errs.push(FieldError::invalid(spec.at("podCIDR"), pod_cidr, CIDR_ERR));
    }
    validate_taints(&spec, errs);

    let Some(old) = old else { return };
    let old_spec = spec_of(old, &mut Vec::new());
    let old_cidrs: Vec<&str> = old_spec
        .strs("podCIDRs", &mut Vec::new())
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    let new_cidrs: Vec<&str> = cidrs.iter().map(|(_, c)| *c).collect();
    if !old_cidrs.is_empty()
        && (new_cidrs.len() < old_cidrs.len()
            || old_cidrs.iter().zip(&new_cidrs).any(|(a, b)| a != b))
    {
        errs.push(FieldError::forbidden(
            spec.at("podCIDRs"),
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    let old_provider = old_spec.str_or_empty("providerID", &mut Vec::new());
    let new_provider = spec.str_or_empty("providerID", errs);
    if !old_provider.is_empty() && old_provider != new_provider {
        errs.push(FieldError::forbidden(
            spec.at("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
}

fn validate_taints(spec: &Obj, errs: &mut Errors) {
    let mut seen = HashSet::new();
    for taint in spec.objs("taints", errs) {
        let key = taint.str_or_empty("key", errs);
        for msg in is_qualified_name(key) {
            errs.push(FieldError::invalid(taint.at("key"), key, msg));
        }
        let value = taint.str_or_empty("value", errs);
        let msgs = is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                taint.at("value"),
                value,
                msgs.join(";"),
            ));
        }
        let effect = taint.str_or_empty("effect", errs);
        validate_taint_effect(effect, false, &taint.at("effect"), errs);
        if !seen.insert((key, effect)) {
            errs.push(duplicate_with(
                taint.path(),
                Value::Object(taint.map.clone()),
                "taints must be unique by key and effect pair",
            ));
        }
    }
}

pub fn validate_node_status(status: &Obj, errs: &mut Errors) {
    for f in ["capacity", "allocatable"] {
        if let Some(m) = status.obj(f, errs) {
            for (k, v) in m.map {
                quantity::read_non_negative(v, &m.path.key(k), errs);
            }
        }
    }
    for addr in status.objs("addresses", errs) {
        if addr.str_or_empty("type", errs).is_empty() {
            errs.push(FieldError::required(addr.at("type"), ""));
        }
    }
}

/// core/v1 Event and events.k8s.io/v1 Event (which names `regarding` what
/// core calls `involvedObject`; upstream reports core's names for both).
pub fn validate_event(root: &Obj, events_group: bool, errs: &mut Errors) {
    let namespace = root
        .obj("metadata", &mut Vec::new())
        .map(|m| m.str_or_empty("namespace", &mut Vec::new()).to_string())
        .unwrap_or_default();
    let involved_key = if events_group {
        "regarding"
    } else {
        "involvedObject"
    };
    let involved_ns = root
        .obj(involved_key, errs)
        .map(|o| o.str_or_empty("namespace", errs).to_string())
        .unwrap_or_default();
    let has_event_time = root.str("eventTime", errs).is_some_and(|t| !t.is_empty());
    let mismatch = if !has_event_time {
        if involved_ns.is_empty() {
            !namespace.is_empty() && namespace != "default"
        } else {
            namespace != involved_ns
        }
    } else {
        involved_ns.is_empty() && namespace != "default" && namespace != "kube-system"
    };
    if mismatch {
        errs.push(FieldError::invalid(
            Path::root("involvedObject").child("namespace"),
            involved_ns.as_str(),
            "does not match event.namespace",
        ));
    }
    if has_event_time {
        let controller_key = if events_group {
            "reportingController"
        } else {
            "reportingComponent"
        };
        let controller = root.str_or_empty(controller_key, errs);
        if controller.is_empty() {
            errs.push(FieldError::required(root.at(controller_key), ""));
        }
        for msg in is_qualified_name(controller) {
            errs.push(FieldError::invalid(
                root.at(controller_key),
                controller,
                msg,
            ));
        }
        let limits = [("reportingInstance", 128), ("action", 128), ("reason", 128)];
        for (f, limit) in limits {
            let v = root.str_or_empty(f, errs);
            if v.is_empty() {
                errs.push(FieldError::required(root.at(f), ""));
            } else if v.len() > limit {
                errs.push(FieldError::invalid(
                    root.at(f),
                    "",
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        let note_key = if events_group { "note" } else { "message" };
        if root.str_or_empty(note_key, errs).len() > 1024 {
            errs.push(FieldError::invalid(
                root.at(note_key),
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    if events_group {
        // events.k8s.io/v1 adds rules the legacy core API never had.
        if !has_event_time {
            errs.push(FieldError::required(root.at("eventTime"), ""));
        }
        let t = root.str_or_empty("type", errs);
        if !matches!(t, "Normal" | "Warning") {
            errs.push(FieldError::invalid(
                root.at("type"),
                "",
                format!("has invalid value: {t}"),
            ));
        }
    }
    if !namespace.is_empty() {
        for msg in is_dns1123_subdomain(&namespace) {
            errs.push(FieldError::invalid(
                Path::root("namespace"),
                namespace.as_str(),
                msg,
            ));
        }
    }
}

pub fn validate_lease(root: &Obj, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    if let Some(d) = spec.int("leaseDurationSeconds", errs) {
        if d <= 0 {
            errs.push(FieldError::invalid(
                spec.at("leaseDurationSeconds"),
                d,
                "must be greater than 0",
            ));
        }
    }
    if let Some(t) = spec.int("leaseTransitions", errs) {
        non_negative(t, &spec.at("leaseTransitions"), errs);
    }
}

const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;
const SYSTEM_CLASSES: &[(&str, i64)] = &[
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

pub fn validate_priority_class(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let name = root
        .obj("metadata", &mut Vec::new())
        .map(|m| m.str_or_empty("name", &mut Vec::new()).to_string())
        .unwrap_or_default();
    let value = root.int("value", errs).unwrap_or(0);
    let global_default = root.bool("globalDefault", errs).unwrap_or(false);
    if name.starts_with("system-") {
        let problem = match SYSTEM_CLASSES.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((n, v)) if *v != value => Some(format!("value of {n} PriorityClass must be {v}")),
            Some((n, _)) if global_default => {
                Some(format!("globalDefault of {n} PriorityClass must be false"))
            }
            Some(_) => None,
        };
        if let Some(p) = problem {
            errs.push(FieldError::forbidden(
                Path::root("metadata").child("name"),
                format!("priority class names with 'system-' prefix are reserved for system use only. error: {p}"),
            ));
        }
    } else if value > HIGHEST_USER_PRIORITY {
        errs.push(FieldError::forbidden(
            root.at("value"),
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        ));
    }
    if let Some(p) = root.str("preemptionPolicy", errs) {
        if !matches!(p, "PreemptLowerPriority" | "Never") {
            errs.push(FieldError::not_supported(
                root.at("preemptionPolicy"),
                p,
                &["Never", "PreemptLowerPriority"],
            ));
        }
    }
    if let Some(old) = old {
        if old.int("value", &mut Vec::new()).unwrap_or(0) != value {
            errs.push(FieldError::forbidden(
                root.at("value"),
                "may not be changed in an update.",
            ));
        }
        crate::meta::immutable(
            root.raw("preemptionPolicy"),
            old.raw("preemptionPolicy"),
            &root.at("preemptionPolicy"),
            errs,
        );
    }
}
