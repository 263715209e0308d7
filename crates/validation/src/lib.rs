//! Per-kind validation with Kubernetes field paths and messages.
//!
//! The API server calls [`validate`] on every create and update and
//! [`validate_status`] on status updates; a non-empty result becomes a 422
//! `Status` (`The Deployment "web" is invalid: spec.replicas: ...`). Rules and
//! texts follow kube-apiserver's validation packages.

mod apps;
mod autoscaling;
mod batch;
mod cluster;
mod config;
mod container;
mod crd;
mod cron;
mod json;
mod meta;
mod names;
mod networking;
mod path;
mod pod;
mod policy;
mod quantity;
mod quota;
mod rbac;
mod selector;
mod service;
mod status;
mod storage;
mod volume;

use berth_api::status::FieldError;
use serde_json::Value;

use crate::apps::section;
use crate::json::{as_obj, Errors, Obj};
use crate::meta::{metadata, validate_object_meta, validate_object_meta_update, Scope};
use crate::names::NameRule;
use crate::path::Path;

pub use crate::names::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
};

/// Validate an object on create (`old = None`) or update (`old = Some(previous stored object)`).
/// `obj` is the JSON object after defaulting (apiVersion/kind/metadata/spec/status as Kubernetes JSON).
pub fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(root) = root_of(obj, &mut errs) else {
        return errs;
    };
    let old_root = old.and_then(|o| as_obj(o, Path::default(), &mut Vec::new()));
    let (scope, rule) = kind_rules(group, kind);
    let meta = metadata(&root, &mut errs);
    match &old_root {
        None => validate_object_meta(&meta, scope, rule, &mut errs),
        Some(old) => validate_object_meta_update(&meta, &metadata(old, &mut Vec::new()), &mut errs),
    }
    validate_kind(group, kind, &root, old_root.as_ref(), &mut errs);
    errs
}

/// Only the status subresource changed (update of /status): validates status, and that's all.
pub fn validate_status(group: &str, kind: &str, obj: &Value, old: &Value) -> Vec<FieldError> {
    // The stored object is not needed yet: status rules look at the new status only.
    let _ = old;
    let mut errs = Vec::new();
    let Some(root) = root_of(obj, &mut errs) else {
        return errs;
    };
    if let Some(status) = root.obj("status", &mut errs) {
        status::validate_status_of(group, kind, &status, &mut errs);
    }
    errs
}

fn root_of<'a>(obj: &'a Value, errs: &mut Errors) -> Option<Obj<'a>> {
    match obj {
        Value::Object(map) => Some(Obj {
            map,
            path: Path::default(),
        }),
        other => {
            errs.push(FieldError::invalid(
                "",
                other.clone(),
                "must be a JSON object",
            ));
            None
        }
    }
}

/// Cluster-scoped built-in kinds; every other known kind is namespaced.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
    ),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "ResourceSlice"),
];

/// Namespaced built-in kinds this crate knows.
const NAMESPACED: &[(&str, &str)] = &[
    ("", "Pod"),
    ("", "PodTemplate"),
    ("", "ReplicationController"),
    ("", "Service"),
    ("", "Endpoints"),
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "Event"),
    ("", "PersistentVolumeClaim"),
    ("", "ServiceAccount"),
    ("", "LimitRange"),
    ("", "ResourceQuota"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ControllerRevision"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
    ("coordination.k8s.io", "Lease"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("events.k8s.io", "Event"),
];

/// Scope and `metadata.name` rule of a kind.
fn kind_rules(group: &str, kind: &str) -> (Scope, NameRule) {
    let scope = if CLUSTER_SCOPED.contains(&(group, kind)) {
        Scope::Cluster
    } else if NAMESPACED.contains(&(group, kind)) {
        Scope::Namespaced
    } else {
        Scope::Unknown
    };
    let rule = match (group, kind) {
        ("", "Namespace") | ("apps", "StatefulSet") => NameRule::Label,
        ("", "Service") => NameRule::Dns1035,
        ("rbac.authorization.k8s.io", _) | ("apiregistration.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    };
    (scope, rule)
}

fn validate_kind(group: &str, kind: &str, root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    match (group, kind) {
        ("", "Pod") => {
            let spec = apps::spec_of(root, errs);
            match old {
                None => pod::validate_pod_create(&spec, errs),
                Some(old) => {
                    pod::validate_pod_spec(&spec, errs);
                    let new_spec = root.raw("spec").cloned().unwrap_or(Value::Null);
                    let old_spec = old.raw("spec").cloned().unwrap_or(Value::Null);
                    pod::validate_pod_update(&new_spec, &old_spec, errs);
                }
            }
        }
        ("", "PodTemplate") => {
            pod::validate_pod_template_spec(&section(root, "template", errs), errs)
        }
        ("", "ReplicationController") => apps::validate_replication_controller(root, errs),
        ("", "Service") => service::validate_service(root, old, errs),
        ("", "Endpoints") => service::validate_endpoints(root, errs),
        ("discovery.k8s.io", "EndpointSlice") => service::validate_endpoint_slice(root, old, errs),
        ("", "ConfigMap") => config::validate_config_map(root, old, errs),
        ("", "Secret") => config::validate_secret(root, old, errs),
        ("", "Namespace") => cluster::validate_namespace(root, errs),
        ("", "Node") => cluster::validate_node(root, old, errs),
        ("", "Event") => cluster::validate_event(root, false, errs),
        ("events.k8s.io", "Event") => cluster::validate_event(root, true, errs),
        ("", "PersistentVolume") => storage::validate_persistent_volume(root, old, errs),
        ("", "PersistentVolumeClaim") => storage::validate_persistent_volume_claim(root, old, errs),
        ("", "LimitRange") => quota::validate_limit_range(root, errs),
        ("", "ResourceQuota") => quota::validate_resource_quota(root, errs),
        ("apps" | "extensions", "Deployment") => apps::validate_deployment(root, old, group, errs),
        ("apps" | "extensions", "ReplicaSet") => apps::validate_replica_set(root, old, group, errs),
        ("apps" | "extensions", "DaemonSet") => apps::validate_daemon_set(root, old, group, errs),
        ("apps", "StatefulSet") => apps::validate_stateful_set(root, old, errs),
        ("apps", "ControllerRevision") => apps::validate_controller_revision(root, old, errs),
        ("batch", "Job") => batch::validate_job(root, old, errs),
        ("batch", "CronJob") => batch::validate_cron_job(root, old, errs),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::validate_hpa(root, errs),
        ("policy", "PodDisruptionBudget") => policy::validate_pdb(root, errs),
        ("coordination.k8s.io", "Lease") => cluster::validate_lease(root, errs),
        ("scheduling.k8s.io", "PriorityClass") => cluster::validate_priority_class(root, old, errs),
        ("storage.k8s.io", "StorageClass") => storage::validate_storage_class(root, old, errs),
        ("networking.k8s.io", "Ingress") => networking::validate_ingress(root, errs),
        ("networking.k8s.io", "IngressClass") => networking::validate_ingress_class(root, errs),
        ("networking.k8s.io", "NetworkPolicy") => networking::validate_network_policy(root, errs),
        ("rbac.authorization.k8s.io", "Role") => rbac::validate_role(root, true, errs),
        ("rbac.authorization.k8s.io", "ClusterRole") => rbac::validate_role(root, false, errs),
        ("rbac.authorization.k8s.io", "RoleBinding") => {
            rbac::validate_binding(root, old, false, errs)
        }
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            rbac::validate_binding(root, old, true, errs)
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd::validate_crd(root, old, errs),
        _ => {}
    }
}
