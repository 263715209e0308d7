//! Per-kind rules the generic REST path consults: what `/status` may change,
//! when `metadata.generation` moves, what create resets, which fields a field
//! selector may name. Everything else about a kind lives in the strategy
//! crates (defaults, validation, printers).

use berth_api::ResourceInfo;
use serde_json::{json, Map, Value};

/// Kinds whose writes to the main resource ignore `status` (it has its own subresource).
pub fn has_status_subresource(info: &ResourceInfo) -> bool {
    info.subresource("status").is_some()
}

/// Kinds that track `metadata.generation` (spec changes bump it).
pub fn tracks_generation(info: &ResourceInfo) -> bool {
    !matches!(
        info.kind,
        "ConfigMap"
            | "Secret"
            | "Event"
            | "Endpoints"
            | "EndpointSlice"
            | "Lease"
            | "ServiceAccount"
            | "ControllerRevision"
    )
}

/// Reset what a client may not set on create (before defaulting, which
/// then fills in the initial status, e.g. a pod's phase and QoS class).
pub fn prepare_for_create(info: &ResourceInfo, obj: &mut Value) {
    if has_status_subresource(info) {
        let status = match (info.group, info.kind) {
            // Nodes register with their status; Services start with an empty load balancer.
            ("", "Node") => obj.get("status").cloned().unwrap_or_else(|| json!({})),
            ("", "Service") => json!({"loadBalancer": {}}),
            ("", "PersistentVolume") | ("", "PersistentVolumeClaim") => json!({"phase": "Pending"}),
            _ => json!({}),
        };
        if let Some(m) = obj.as_object_mut() {
            m.insert("status".into(), status);
        }
    }
    if tracks_generation(info) {
        obj["metadata"]["generation"] = json!(1);
    }
}

/// Compute the object an update should store. `status_only` for `/status`.
pub fn prepare_for_update(info: &ResourceInfo, old: &Value, new: &mut Value, status_only: bool) {
    if status_only {
        // Everything but status comes from the stored object.
        let status = new.get("status").cloned();
        let mut merged = old.clone();
        match status {
            Some(s) => merged["status"] = s,
            None => {
                if let Some(m) = merged.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        *new = merged;
        return;
    }
    if has_status_subresource(info) {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    keep_system_metadata(old, new);
}

/// Bump `metadata.generation` when the spec changed. Call after defaulting,
/// so fields a client left out (and the server fills in) are no change.
pub fn bump_generation(info: &ResourceInfo, old: &Value, new: &mut Value) {
    if !tracks_generation(info) {
        return;
    }
    let old_gen = old
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let spec_changed = strip_meta_status(old) != strip_meta_status(new);
    let deleting = new.pointer("/metadata/deletionTimestamp").is_some()
        && old.pointer("/metadata/deletionTimestamp").is_none();
    new["metadata"]["generation"] = json!(if spec_changed || deleting {
        old_gen + 1
    } else {
        old_gen
    });
}

/// Secret `stringData` is write-only: merged into `data` (base64) and dropped.
pub fn fold_string_data(info: &ResourceInfo, obj: &mut Value) {
    if !(info.group.is_empty() && info.kind == "Secret") {
        return;
    }
    use base64::Engine;
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = map.remove("stringData") else {
        return;
    };
    if !map.get("data").is_some_and(Value::is_object) {
        map.insert("data".into(), json!({}));
    }
    if let Some(data) = map.get_mut("data").and_then(Value::as_object_mut) {
        for (k, v) in string_data {
            if let Some(text) = v.as_str() {
                data.insert(
                    k,
                    json!(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
        }
    }
}

/// Fields only the server sets survive client updates.
pub fn keep_system_metadata(old: &Value, new: &mut Value) {
    let Some(new_meta) = new.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for k in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
    ] {
        match old.pointer(&format!("/metadata/{k}")) {
            Some(v) => {
                new_meta.insert(k.into(), v.clone());
            }
            None => {
                new_meta.remove(k);
            }
        }
    }
    new_meta.remove("selfLink");
}

fn strip_meta_status(v: &Value) -> Map<String, Value> {
    let mut m = v.as_object().cloned().unwrap_or_default();
    m.remove("metadata");
    m.remove("status");
    m.remove("apiVersion");
    m.remove("kind");
    m
}

/// Field selectors each kind supports beyond metadata.name and metadata.namespace.
pub fn selectable_fields(info: &ResourceInfo) -> &'static [&'static str] {
    match (info.group, info.kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "Event") => &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "reason",
            "type",
            "reportingController",
        ],
        ("", "Secret") => &["type"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Namespace") => &["status.phase"],
        ("", "ReplicationController") | ("apps", "ReplicaSet") => &["status.replicas"],
        ("batch", "Job") => &["status.successful"],
        ("", "Service") => &["spec.clusterIP", "spec.type"],
        _ => &[],
    }
}

/// The value of a selectable field, as a string.
pub fn field_value(obj: &Value, field: &str) -> Option<String> {
    let v = match field {
        "source" => obj.pointer("/source/component"),
        "spec.unschedulable" | "spec.hostNetwork" => {
            return Some(
                obj.pointer(&format!("/{}", field.replace('.', "/")))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string(),
            )
        }
        _ => obj.pointer(&format!("/{}", field.replace('.', "/"))),
    };
    v.map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
    .or_else(|| Some(String::new()))
}

/// Default garbage-collection policy for a delete without one.
pub fn default_propagation(_info: &ResourceInfo) -> &'static str {
    "Background"
}
