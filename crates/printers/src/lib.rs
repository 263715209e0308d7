//! Server-side Table columns and rows per kind, as `kubectl get` prints them.
//!
//! `kubectl get` asks for a `meta.k8s.io/v1 Table`; kube-apiserver answers with the
//! column definitions and cells of its built-in printers (pkg/printers/internalversion),
//! always generated in wide mode (kubectl hides priority-1 columns without `-o wide`).
//! This crate reproduces those columns and cells from the object JSON; the API server
//! builds the Table envelope and `rows[].object` around them.

mod column;
mod descriptions;
mod duration;
mod json;
mod kinds;
mod labels;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use column::Column;
pub use duration::human_duration;

/// Upstream writes the core group as ""; accept the "core" spelling too.
fn normalize_group(group: &str) -> &str {
    if group == "core" {
        ""
    } else {
        group
    }
}

/// Columns for a kind; unknown kinds get the default NAME + "Created At" columns like
/// kube-apiserver's default table convertor.
pub fn columns(group: &str, kind: &str) -> Vec<Column> {
    kinds::lookup(normalize_group(group), kind)
        .map_or(kinds::default_table::COLUMNS, |p| p.columns)
        .to_vec()
}

/// One row's cells for an object (the JSON as stored/served), `now` for AGE-like cells.
/// Always as many cells as [`columns`] returns for the same kind, wide ones included.
pub fn cells(group: &str, kind: &str, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    match kinds::lookup(normalize_group(group), kind) {
        Some(p) => (p.cells)(obj, now),
        None => kinds::default_table::cells(obj, now),
    }
}

/// Whether the kind has a dedicated printer (otherwise the default NAME/CREATED AT table).
pub fn has_printer(group: &str, kind: &str) -> bool {
    kinds::lookup(normalize_group(group), kind).is_some()
}

/// `rows[].conditions` upstream attaches to a row, if any: only finished Pods carry one
/// (`[{"type":"Completed","status":"True","reason":"Succeeded"|"Failed",...}]`).
pub fn row_conditions(group: &str, kind: &str, obj: &Value) -> Option<Value> {
    match (normalize_group(group), kind) {
        ("", "Pod") => kinds::pod::row_conditions(obj),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    const PRINTED_KINDS: &[(&str, &str)] = &[
        ("", "Pod"),
        ("", "Node"),
        ("", "Namespace"),
        ("", "Service"),
        ("", "Endpoints"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "ResourceQuota"),
        ("", "ReplicationController"),
        ("", "PodTemplate"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "DaemonSet"),
        ("apps", "StatefulSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("policy", "PodDisruptionBudget"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("coordination.k8s.io", "Lease"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("node.k8s.io", "RuntimeClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
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
    ];

    #[test]
    fn every_printer_has_one_cell_per_column_even_for_junk() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let junk = [
            json!(null),
            json!({}),
            json!([1, 2]),
            json!({"metadata": "x", "spec": 5, "status": [], "data": "y"}),
            json!({"metadata": {"name": 7, "creationTimestamp": "not a time"},
                   "spec": {"replicas": "three", "containers": {"a": 1}, "ports": [null]},
                   "status": {"conditions": [null, "x"], "containerStatuses": [{"state": "x"}]}}),
        ];
        for (group, kind) in PRINTED_KINDS {
            assert!(has_printer(group, kind), "{group}/{kind}");
            let cols = columns(group, kind);
            let name_columns = cols
                .iter()
                .filter(|c| c.name == "Name" && c.format == "name")
                .count();
            assert_eq!(name_columns, 1, "{kind}");
            for obj in &junk {
                assert_eq!(
                    cells(group, kind, obj, now).len(),
                    cols.len(),
                    "{group}/{kind}"
                );
            }
        }
    }

    #[test]
    fn column_types_are_openapi_types() {
        for (group, kind) in PRINTED_KINDS {
            for col in columns(group, kind) {
                assert!(
                    ["string", "integer", "number", "boolean", "date"].contains(&col.type_),
                    "{kind}.{}",
                    col.name
                );
                assert!(col.priority == 0 || col.priority == 1);
                assert!(!col.description.is_empty());
            }
        }
    }

    #[test]
    fn pod_columns_match_upstream_order_and_priority() {
        let names: Vec<(&str, i32)> = columns("", "Pod")
            .iter()
            .map(|c| (c.name, c.priority))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Name", 0),
                ("Ready", 0),
                ("Status", 0),
                ("Restarts", 0),
                ("Age", 0),
                ("IP", 1),
                ("Node", 1),
                ("Nominated Node", 1),
                ("Readiness Gates", 1),
            ]
        );
    }

    #[test]
    fn kinds_without_printer_use_default_table() {
        for (group, kind) in [
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
            ("", "LimitRange"),
            ("example.com", "Widget"),
        ] {
            assert!(!has_printer(group, kind));
            let cols = columns(group, kind);
            assert_eq!(cols.len(), 2);
            assert_eq!((cols[0].name, cols[0].format), ("Name", "name"));
            assert_eq!((cols[1].name, cols[1].type_), ("Created At", "date"));
        }
        let lr = json!({"metadata": {"name": "limits", "creationTimestamp": "2025-01-01T00:00:00Z"},
                        "spec": {"limits": [{"type": "Container"}]}});
        assert_eq!(
            cells("", "LimitRange", &lr, Utc::now()),
            vec![json!("limits"), json!("2025-01-01T00:00:00Z")]
        );
    }

    #[test]
    fn core_group_may_be_spelled_core() {
        assert_eq!(columns("core", "Pod"), columns("", "Pod"));
        let ok = json!({"status": {"phase": "Succeeded"}});
        assert!(row_conditions("", "Pod", &ok).is_some());
        assert!(row_conditions("apps", "Deployment", &ok).is_none());
    }
}
