//! The LimitRanger admission plugin: pods being created get the defaults of
//! their namespace's LimitRanges, then pods and PersistentVolumeClaims are
//! checked against min/max/ratio. The rules live in berth-quota; this module
//! reads the LimitRanges from the watch cache and maps the answer onto the
//! request (403 Forbidden, `pods "x" is forbidden: …`).

use crate::Server;
use berth_api::status::ApiError;
use k8s_openapi::api::core::v1::{LimitRange, PersistentVolumeClaim, Pod};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Every object of a core kind in `ns`, typed, from the watch cache.
/// Objects that do not decode are skipped: they cannot be enforced anyway.
pub fn cached_in_namespace<T: DeserializeOwned>(srv: &Server, plural: &str, ns: &str) -> Vec<T> {
    srv.cache
        .under(&format!("/registry/core/{plural}/{ns}/"))
        .iter()
        .filter_map(|c| match serde_json::from_slice::<T>(&c.json) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!("admission: cached {plural} in {ns} does not decode: {e}");
                None
            }
        })
        .collect()
}

fn namespace_and_name(obj: &Value) -> (&str, &str) {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("");
    (s("/metadata/namespace"), s("/metadata/name"))
}

fn typed<T: DeserializeOwned>(obj: &Value, kind: &str) -> Result<T, ApiError> {
    serde_json::from_value(obj.clone())
        .map_err(|e| ApiError::internal(format!("{kind} does not decode for admission: {e}")))
}

/// Mutating LimitRanger for a pod being created: unset requests/limits come
/// from the LimitRanges' defaults (and the `kubernetes.io/limit-ranger`
/// annotation says so).
pub fn default_pod(srv: &Server, pod: &mut Value) -> Result<(), ApiError> {
    let (ns, _) = namespace_and_name(pod);
    let ranges: Vec<LimitRange> = cached_in_namespace(srv, "limitranges", ns);
    if ranges.is_empty() {
        return Ok(());
    }
    let mut typed_pod: Pod = typed(pod, "Pod")?;
    berth_quota::apply_pod_defaults(&mut typed_pod, &ranges);
    copy_defaults(&typed_pod, pod)
}

/// Validating LimitRanger for a pod being created (after the object's own
/// validation, as upstream's validating phase): min, max and
/// limit/request ratio per container and per pod.
pub fn validate_pod(srv: &Server, pod: &Value) -> Result<(), ApiError> {
    let (ns, name) = namespace_and_name(pod);
    let ranges: Vec<LimitRange> = cached_in_namespace(srv, "limitranges", ns);
    if ranges.is_empty() {
        return Ok(());
    }
    let typed_pod: Pod = typed(pod, "Pod")?;
    berth_quota::validate_pod(&typed_pod, &ranges)
        .map_err(|e| ApiError::forbidden_on("", "pods", name, &e.to_string()))
}

/// Writes what LimitRanger may have changed (container resources, the
/// annotation) back into the JSON, leaving every other field as sent.
fn copy_defaults(from: &Pod, to: &mut Value) -> Result<(), ApiError> {
    if let Some(spec) = &from.spec {
        for (field, containers) in [
            ("containers", Some(&spec.containers)),
            ("initContainers", spec.init_containers.as_ref()),
        ] {
            for (i, c) in containers.into_iter().flatten().enumerate() {
                let Some(resources) = &c.resources else {
                    continue;
                };
                let value = to_json(resources)?;
                if let Some(slot) = to.pointer_mut(&format!("/spec/{field}/{i}")) {
                    if slot.get("resources") != Some(&value) {
                        slot["resources"] = value;
                    }
                }
            }
        }
    }
    if let Some(annotations) = &from.metadata.annotations {
        let value = to_json(annotations)?;
        if to.pointer("/metadata/annotations") != Some(&value) {
            to["metadata"]["annotations"] = value;
        }
    }
    Ok(())
}

/// Validating LimitRanger for a claim (create and update; claims are never
/// defaulted): min/max on `spec.resources.requests`.
pub fn validate_pvc(srv: &Server, pvc: &Value) -> Result<(), ApiError> {
    let (ns, name) = namespace_and_name(pvc);
    let ranges: Vec<LimitRange> = cached_in_namespace(srv, "limitranges", ns);
    if ranges.is_empty() {
        return Ok(());
    }
    let claim: PersistentVolumeClaim = typed(pvc, "PersistentVolumeClaim")?;
    berth_quota::validate_pvc(&claim, &ranges)
        .map_err(|e| ApiError::forbidden_on("", "persistentvolumeclaims", name, &e.to_string()))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v)
        .map_err(|e| ApiError::internal(format!("pod defaults do not encode: {e}")))
}
