//! Per-kind defaulting as Kubernetes applies it on create/update.
//!
//! Works directly on the JSON of an object so unknown fields and key order
//! survive. Mirrors the upstream `SetDefaults_*` functions and the generated
//! call graph that decides which nested types get defaulted (for example a
//! pod template gets PodSpec defaults but not the Pod-only ones).

mod admission;
mod apiextensions;
mod apps;
mod autoscaling;
mod batch;
mod core;
mod create;
mod flowcontrol;
mod go_zero_values;
mod image;
mod json;
#[cfg(test)]
mod kind_tests;
mod networking;
mod persistent_volume;
mod pod;
mod pod_spec;
mod qos;
mod quantity;
mod rbac;
mod scheduling;
mod service;
mod storage;

use serde_json::{Map, Value};

pub use create::prepare_for_create;
pub use image::default_pull_policy;
pub use qos::qos_class;

use crate::json::obj_or_insert;

/// Apply Kubernetes defaults in place. `obj` is Kubernetes JSON (apiVersion, kind, metadata, spec, status).
/// Idempotent: applying twice equals applying once. Never panics on odd input (wrong types are left alone for validation to report).
///
/// `group` is "" for the core group. A `...List` kind defaults each of its
/// `items`. Kinds without upstream defaults are left untouched.
pub fn apply_defaults(group: &str, version: &str, kind: &str, obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    if let Some(item_kind) = kind.strip_suffix("List") {
        if map.get("items").is_some_and(Value::is_array) {
            for item in map
                .get_mut("items")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                apply_defaults(group, version, item_kind, item);
            }
            return;
        }
    }
    default_object(group, version, kind, map);
}

fn default_object(group: &str, version: &str, kind: &str, o: &mut Map<String, Value>) {
    match (group, kind) {
        ("", "Pod") => pod::default_pod(o),
        ("", "PodTemplate") => core::default_pod_template(o),
        ("", "ReplicationController") => core::default_replication_controller(o),
        ("", "Service") => service::default_service(o),
        ("", "Namespace") => core::default_namespace(o),
        ("", "Node") => core::default_node(o),
        ("", "Secret") => core::default_secret(o),
        ("", "Endpoints") => core::default_endpoints(o),
        ("", "PersistentVolume") => persistent_volume::default_volume(o),
        ("", "PersistentVolumeClaim") => persistent_volume::default_claim(o),
        ("", "LimitRange") => core::default_limit_range(o),
        ("apps", "Deployment") => with_spec(o, apps::default_deployment),
        ("apps", "ReplicaSet") => with_spec(o, apps::default_replica_set),
        ("apps", "DaemonSet") => with_spec(o, apps::default_daemon_set),
        ("apps", "StatefulSet") => with_spec(o, apps::default_stateful_set),
        ("batch", "Job") => batch::default_job(o),
        ("batch", "CronJob") => with_spec(o, batch::default_cron_job),
        ("autoscaling", "HorizontalPodAutoscaler") if version == "v1" => {
            with_spec(o, autoscaling::default_hpa_v1)
        }
        ("autoscaling", "HorizontalPodAutoscaler") => with_spec(o, autoscaling::default_hpa_v2),
        ("networking.k8s.io", "NetworkPolicy") => with_spec(o, networking::default_network_policy),
        ("networking.k8s.io", "IngressClass") => with_spec(o, networking::default_ingress_class),
        ("discovery.k8s.io", "EndpointSlice") => networking::default_endpoint_slice(o),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            rbac::default_binding(o)
        }
        ("storage.k8s.io", "StorageClass") => storage::default_storage_class(o),
        ("storage.k8s.io", "CSIDriver") => with_spec(o, storage::default_csi_driver),
        ("scheduling.k8s.io", "PriorityClass") => scheduling::default_priority_class(o),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            admission::default_webhook_configuration(o, false)
        }
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            admission::default_webhook_configuration(o, true)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            with_spec(o, admission::default_validating_admission_policy)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            with_spec(o, admission::default_validating_admission_policy_binding)
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => apiextensions::default_crd(o),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => {
            with_spec(o, flowcontrol::default_flow_schema)
        }
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => {
            with_spec(o, flowcontrol::default_priority_level)
        }
        // ConfigMap, ServiceAccount, Event, Lease, Ingress, PodDisruptionBudget,
        // Role, ClusterRole, ResourceQuota, ...: no defaults that show.
        _ => {}
    }
}

/// Runs `f` on `spec`, created as `{}` when missing (Go's spec structs are
/// never nil); a spec of the wrong type is left alone.
fn with_spec(o: &mut Map<String, Value>, f: fn(&mut Map<String, Value>)) {
    if let Some(spec) = obj_or_insert(o, "spec") {
        f(spec);
    }
}
