//! What the upstream registry strategies set on create only (never on
//! update, where they would fight controllers): a namespace's `kubernetes`
//! finalizer and initial phase, a pod's initial status with its QoS class.

use serde_json::{json, Map, Value};

use crate::json::{each_obj, obj, obj_or_insert};
use crate::qos::qos_class;

/// The finalizer the namespace controller removes once a namespace is empty.
const NAMESPACE_FINALIZER: &str = "kubernetes";

/// Create-only strategy changes. Call after [`crate::apply_defaults`] and
/// only for a create, never for an update: e.g. the namespace controller
/// removes the `kubernetes` finalizer by an update that must stick.
/// A pod's status is replaced as upstream does (clients cannot set it on create).
pub fn prepare_for_create(group: &str, _version: &str, kind: &str, obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    match (group, kind) {
        ("", "Namespace") => prepare_namespace(o),
        ("", "Pod") => prepare_pod(o),
        _ => {}
    }
}

fn prepare_namespace(ns: &mut Map<String, Value>) {
    ns.insert("status".into(), json!({"phase": "Active"}));
    let Some(spec) = obj_or_insert(ns, "spec") else {
        return;
    };
    match spec.get_mut("finalizers") {
        None | Some(Value::Null) => {
            spec.insert("finalizers".into(), json!([NAMESPACE_FINALIZER]));
        }
        Some(Value::Array(finalizers)) => {
            if !finalizers.iter().any(|f| f == NAMESPACE_FINALIZER) {
                finalizers.push(json!(NAMESPACE_FINALIZER));
            }
        }
        // Wrong type: validation reports it.
        Some(_) => {}
    }
}

fn prepare_pod(pod: &mut Map<String, Value>) {
    let class = obj(pod, "spec").map_or("BestEffort", |spec| qos_class(spec));
    let gated =
        obj(pod, "spec").is_some_and(|spec| each_obj(spec, "schedulingGates").next().is_some());
    let mut status = json!({"phase": "Pending", "qosClass": class});
    if gated {
        // Upstream also stamps lastTransitionTime; the registry adds the clock.
        status["conditions"] = json!([{"type": "PodScheduled", "status": "False",
            "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates"}]);
    }
    pod.insert("status".into(), status);
}
