//! PodSpec, PodTemplateSpec and Pod (create and update) rules.

use std::collections::HashSet;

use berth_api::status::FieldError;
use serde_json::Value;

use crate::container::{validate_container, validate_seccomp, ContainerKind, PodContext};
use crate::json::{diff_paths, empty_map, semantic_eq, Errors, Obj};
use crate::meta::{validate_annotations, validate_labels};
use crate::names::{
    inclusive_range_error, is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_id,
    is_valid_label_value,
};
use crate::path::Path;
use crate::volume::validate_volumes;

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

pub fn validate_pod_spec(spec: &Obj, errs: &mut Errors) {
    validate_pod_spec_with_claims(spec, &[], errs);
}

/// PodSpec rules; `claim_volumes` are extra volume names mounts may use
/// (a StatefulSet's volumeClaimTemplates).
pub fn validate_pod_spec_with_claims(spec: &Obj, claim_volumes: &[&str], errs: &mut Errors) {
    let mut volume_names = validate_volumes(spec, errs);
    volume_names.extend(claim_volumes.iter().copied());
    let grace_period = spec.int("terminationGracePeriodSeconds", errs);
    let host_network = spec.bool("hostNetwork", errs) == Some(true);
    let ctx = PodContext {
        volume_names,
        grace_period,
        host_network,
    };

    let containers = spec.objs("containers", errs);
    if containers.is_empty() {
        errs.push(FieldError::required(spec.at("containers"), ""));
    }
    let init = spec.objs("initContainers", errs);
    let ephemeral = spec.objs("ephemeralContainers", errs);
    let mut names: HashSet<&str> = HashSet::new();
    for (list, kind) in [
        (&init, ContainerKind::Init),
        (&containers, ContainerKind::Regular),
        (&ephemeral, ContainerKind::Ephemeral),
    ] {
        for c in list {
            validate_container(c, kind, &ctx, errs);
            let name = c.str_or_empty("name", &mut Vec::new());
            if !name.is_empty() && !names.insert(name) {
                errs.push(FieldError::duplicate(c.at("name"), name));
            }
        }
    }
    check_host_port_conflicts(&containers, errs);

    if let Some(p) = spec.str("restartPolicy", errs).filter(|p| !p.is_empty()) {
        if !RESTART_POLICIES.contains(&p) {
            errs.push(FieldError::not_supported(
                spec.at("restartPolicy"),
                p,
                RESTART_POLICIES,
            ));
        }
    }
    let dns_policy = spec.str("dnsPolicy", errs).unwrap_or("");
    if !dns_policy.is_empty() && !DNS_POLICIES.contains(&dns_policy) {
        errs.push(FieldError::not_supported(
            spec.at("dnsPolicy"),
            dns_policy,
            DNS_POLICIES,
        ));
    }
    if dns_policy == "None" && !spec.has("dnsConfig") {
        errs.push(FieldError::required(
            spec.at("dnsConfig"),
            "must provide `dnsConfig` when `dnsPolicy` is None",
        ));
    }
    let node_selector = spec.str_map("nodeSelector", errs);
    validate_labels(&node_selector, &spec.at("nodeSelector"), errs);
    if let Some(sc) = spec.obj("securityContext", errs) {
        validate_pod_security_context(&sc, errs);
    }
    for (field, check) in [
        (
            "serviceAccountName",
            is_dns1123_subdomain as fn(&str) -> Vec<String>,
        ),
        ("nodeName", is_dns1123_subdomain),
        ("priorityClassName", is_dns1123_subdomain),
        ("hostname", is_dns1123_label),
        ("subdomain", is_dns1123_label),
    ] {
        let v = spec.str_or_empty(field, errs);
        if !v.is_empty() {
            for msg in check(v) {
                errs.push(FieldError::invalid(spec.at(field), v, msg));
            }
        }
    }
    if let Some(n) = spec.int("activeDeadlineSeconds", errs) {
        if !(1..=i64::from(i32::MAX)).contains(&n) {
            errs.push(FieldError::invalid(
                spec.at("activeDeadlineSeconds"),
                n,
                inclusive_range_error(1, i64::from(i32::MAX)),
            ));
        }
    }
    if let Some(n) = grace_period.filter(|n| *n < 0) {
        errs.push(FieldError::invalid(
            spec.at("terminationGracePeriodSeconds"),
            n,
            "must be greater than or equal to 0",
        ));
    }
    validate_tolerations(spec, errs);
    if let Some(p) = spec.str("preemptionPolicy", errs) {
        if !matches!(p, "PreemptLowerPriority" | "Never") {
            errs.push(FieldError::not_supported(
                spec.at("preemptionPolicy"),
                p,
                &["Never", "PreemptLowerPriority"],
            ));
        }
    }
    validate_topology_spread(spec, errs);
    for gate in spec.objs("schedulingGates", errs) {
        let name = gate.str_or_empty("name", errs);
        for msg in is_qualified_name(name) {
            errs.push(FieldError::invalid(gate.at("name"), name, msg));
        }
    }
    if let Some(os) = spec.obj("os", errs) {
        let name = os.str_or_empty("name", errs);
        if name.is_empty() {
            errs.push(FieldError::required(os.at("name"), ""));
        } else if !matches!(name, "linux" | "windows") {
            errs.push(FieldError::not_supported(
                os.at("name"),
                name,
                &["linux", "windows"],
            ));
        }
    }
}

/// Two containers may not claim the same hostPort/protocol/hostIP.
fn check_host_port_conflicts(containers: &[Obj], errs: &mut Errors) {
    let mut seen = HashSet::new();
    for c in containers {
        for port in c.objs("ports", &mut Vec::new()) {
            let host_port = port.int("hostPort", &mut Vec::new()).unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let proto = port.str("protocol", &mut Vec::new()).unwrap_or("TCP");
            let ip = port.str("hostIP", &mut Vec::new()).unwrap_or("");
            let key = format!("{ip}/{host_port}/{proto}");
            if !seen.insert(key) {
                errs.push(FieldError::duplicate(
                    port.at("hostPort"),
                    format!("{host_port}/{proto}"),
                ));
            }
        }
    }
}

fn validate_pod_security_context(sc: &Obj, errs: &mut Errors) {
    for f in ["runAsUser", "runAsGroup", "fsGroup"] {
        if let Some(id) = sc.int(f, errs) {
            for msg in is_valid_id(id) {
                errs.push(FieldError::invalid(sc.at(f), id, msg));
            }
        }
    }
    if let Some(groups) = sc.arr("supplementalGroups", errs) {
        for (i, g) in groups.iter().enumerate() {
            let p = sc.at("supplementalGroups").index(i);
            match g.as_i64() {
                Some(id) => {
                    for msg in is_valid_id(id) {
                        errs.push(FieldError::invalid(&p, id, msg));
                    }
                }
                None => errs.push(FieldError::invalid(&p, g.clone(), "must be an integer")),
            }
        }
    }
    if let Some(p) = sc.str("fsGroupChangePolicy", errs) {
        if !matches!(p, "OnRootMismatch" | "Always") {
            errs.push(FieldError::not_supported(
                sc.at("fsGroupChangePolicy"),
                p,
                &["OnRootMismatch", "Always"],
            ));
        }
    }
    validate_seccomp(sc, errs);
    for s in sc.objs("sysctls", errs) {
        if s.str_or_empty("name", errs).is_empty() {
            errs.push(FieldError::required(s.at("name"), ""));
        }
    }
}

pub fn validate_taint_effect(effect: &str, allow_empty: bool, path: &Path, errs: &mut Errors) {
    if effect.is_empty() {
        if !allow_empty {
            errs.push(FieldError::required(path, ""));
        }
    } else if !TAINT_EFFECTS.contains(&effect) {
        errs.push(FieldError::not_supported(path, effect, TAINT_EFFECTS));
    }
}

fn validate_tolerations(spec: &Obj, errs: &mut Errors) {
    for t in spec.objs("tolerations", errs) {
        let key = t.str_or_empty("key", errs);
        let op = t.str_or_empty("operator", errs);
        let value = t.str_or_empty("value", errs);
        let effect = t.str_or_empty("effect", errs);
        if !key.is_empty() {
            for msg in is_qualified_name(key) {
                errs.push(FieldError::invalid(t.at("key"), key, msg));
            }
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                t.at("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.has("tolerationSeconds") && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                t.at("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "" | "Equal" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(t.at("operator"), value, msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        t.at("operator"),
                        Value::Object(t.map.clone()),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                t.at("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        validate_taint_effect(effect, true, &t.at("effect"), errs);
    }
}

fn validate_topology_spread(spec: &Obj, errs: &mut Errors) {
    for c in spec.objs("topologySpreadConstraints", errs) {
        let skew = c.int("maxSkew", errs).unwrap_or(0);
        if skew <= 0 {
            errs.push(FieldError::invalid(
                c.at("maxSkew"),
                skew,
                "must be greater than zero",
            ));
        }
        if c.str_or_empty("topologyKey", errs).is_empty() {
            errs.push(FieldError::required(
                c.at("topologyKey"),
                "can not be empty",
            ));
        }
        let w = c.str_or_empty("whenUnsatisfiable", errs);
        if !matches!(w, "DoNotSchedule" | "ScheduleAnyway") {
            errs.push(FieldError::not_supported(
                c.at("whenUnsatisfiable"),
                w,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if let Some(min) = c.int("minDomains", errs) {
            if min <= 0 {
                errs.push(FieldError::invalid(
                    c.at("minDomains"),
                    min,
                    "must be greater than 0",
                ));
            }
        }
    }
}

/// `ValidatePodTemplateSpec`: note upstream checks template labels at
/// `<template>.labels`, not `<template>.metadata.labels`.
pub fn validate_pod_template_spec(template: &Obj, errs: &mut Errors) {
    validate_pod_template_spec_with_claims(template, &[], errs);
}

pub fn validate_pod_template_spec_with_claims(
    template: &Obj,
    claim_volumes: &[&str],
    errs: &mut Errors,
) {
    let meta = template.obj("metadata", errs).unwrap_or_else(|| Obj {
        map: empty_map(),
        path: template.at("metadata"),
    });
    let labels = meta.str_map("labels", errs);
    validate_labels(&labels, &template.at("labels"), errs);
    let annotations = meta.str_map("annotations", errs);
    validate_annotations(&annotations, &template.at("annotations"), errs);
    let spec = template.obj("spec", errs).unwrap_or_else(|| Obj {
        map: empty_map(),
        path: template.at("spec"),
    });
    validate_pod_spec_with_claims(&spec, claim_volumes, errs);
    if spec.has("ephemeralContainers") {
        errs.push(FieldError::forbidden(
            spec.at("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// Labels of a template (`metadata.labels`), for selector matching.
pub fn template_labels<'a>(template: &Obj<'a>) -> Vec<(&'a str, &'a str)> {
    template
        .obj("metadata", &mut Vec::new())
        .map(|m| m.str_map("labels", &mut Vec::new()))
        .unwrap_or_default()
}

/// Pod-only checks on create.
pub fn validate_pod_create(spec: &Obj, errs: &mut Errors) {
    validate_pod_spec(spec, errs);
    if spec.has("ephemeralContainers") {
        errs.push(FieldError::forbidden(
            spec.at("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !spec.str_or_empty("nodeName", errs).is_empty() && spec.has("schedulingGates") {
        errs.push(FieldError::forbidden(
            spec.at("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    for list in ["containers", "initContainers"] {
        for c in spec.objs(list, &mut Vec::new()) {
            let image = c.str_or_empty("image", &mut Vec::new());
            if image.trim() != image {
                errs.push(FieldError::invalid(
                    c.at("image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
}

const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodUpdate`: only images, activeDeadlineSeconds, added
/// tolerations, a negative grace period turned to 1, and removed scheduling
/// gates may change.
pub fn validate_pod_update(new_spec: &Value, old_spec: &Value, errs: &mut Errors) {
    let spec_path = Path::root("spec");
    let (Some(new), Some(old)) = (new_spec.as_object(), old_spec.as_object()) else {
        return;
    };
    for list in ["containers", "initContainers"] {
        if let Some(cs) = new.get(list).and_then(Value::as_array) {
            for (i, c) in cs.iter().enumerate() {
                if c.get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    errs.push(FieldError::required(
                        spec_path.child(list).index(i).child("image"),
                        "",
                    ));
                }
            }
        }
    }
    let new_deadline = new.get("activeDeadlineSeconds").and_then(Value::as_i64);
    let old_deadline = old.get("activeDeadlineSeconds").and_then(Value::as_i64);
    if let Some(old_d) = old_deadline {
        match new_deadline {
            None => errs.push(FieldError::invalid(
                spec_path.child("activeDeadlineSeconds"),
                Value::Null,
                "must not update from a positive integer to nil value",
            )),
            Some(n) if n > old_d => errs.push(FieldError::invalid(
                spec_path.child("activeDeadlineSeconds"),
                n,
                "must be less than or equal to previous value",
            )),
            _ => {}
        }
    }

    // Munge the allowed changes into a copy of the new spec, then compare.
    let mut munged = new.clone();
    for list in ["containers", "initContainers"] {
        if let (Some(Value::Array(nc)), Some(Value::Array(oc))) =
            (munged.get_mut(list), old.get(list))
        {
            if nc.len() == oc.len() {
                for (n, o) in nc.iter_mut().zip(oc) {
                    if let (Some(n), Some(img)) = (n.as_object_mut(), o.get("image")) {
                        n.insert("image".into(), img.clone());
                    }
                }
            }
        }
    }
    copy_field(&mut munged, old, "activeDeadlineSeconds");
    let old_tol = old
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let new_tol = new
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if old_tol
        .iter()
        .all(|t| new_tol.iter().any(|n| semantic_eq(Some(n), Some(t))))
    {
        copy_field(&mut munged, old, "tolerations");
    }
    let old_grace = old
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    let new_grace = new
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    if old_grace.is_some_and(|g| g < 0) && new_grace == Some(1) {
        copy_field(&mut munged, old, "terminationGracePeriodSeconds");
    }
    // Scheduling gates may only be removed.
    let old_gates = old
        .get("schedulingGates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let new_gates = new
        .get("schedulingGates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if new_gates.iter().all(|g| old_gates.contains(g)) {
        copy_field(&mut munged, old, "schedulingGates");
    } else {
        errs.push(FieldError::forbidden(
            spec_path.child("schedulingGates"),
            "only deletion is allowed, but found new scheduling gate",
        ));
        copy_field(&mut munged, old, "schedulingGates");
    }
    let munged = Value::Object(munged);
    if !semantic_eq(Some(&munged), Some(old_spec)) {
        let mut changed = Vec::new();
        diff_paths(Some(old_spec), Some(&munged), "spec", &mut changed);
        errs.push(FieldError::forbidden(
            &spec_path,
            format!("{POD_UPDATE_FORBIDDEN}\n  changed: {}", changed.join(", ")),
        ));
    }
}

fn copy_field(
    dst: &mut serde_json::Map<String, Value>,
    src: &serde_json::Map<String, Value>,
    key: &str,
) {
    match src.get(key) {
        Some(v) => {
            dst.insert(key.to_string(), v.clone());
        }
        None => {
            dst.remove(key);
        }
    }
}
