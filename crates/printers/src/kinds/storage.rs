//! Storage: PersistentVolume and PersistentVolumeClaim (core/v1), StorageClass (storage.k8s.io/v1).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, at, created, has, name, opt_bool, opt_str, quantity, str_at};

/// The pre-GA annotation that still wins over `spec.storageClassName`.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";
const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_DEFAULT_CLASS_ANNOTATION: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// Upstream `GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order, de-duplicated.
fn access_modes(modes: &[Value]) -> String {
    let has_mode = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has_mode(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

fn beta_class_annotation(obj: &Value) -> Option<&str> {
    opt_str(
        obj,
        &["metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION],
    )
}

pub(crate) const PV_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Capacity", "string", desc::PV_CAPACITY),
    Column::new("Access Modes", "string", desc::PV_ACCESS_MODES),
    Column::new("Reclaim Policy", "string", desc::PV_RECLAIM_POLICY),
    Column::new("Status", "string", desc::PV_PHASE),
    Column::new("Claim", "string", desc::PV_CLAIM),
    Column::new("StorageClass", "string", desc::PV_STORAGE_CLASS),
    Column::new(
        "VolumeAttributesClass",
        "string",
        desc::PV_VOLUME_ATTRIBUTES_CLASS,
    ),
    Column::new("Reason", "string", desc::PV_REASON),
    AGE,
    Column::new("VolumeMode", "string", desc::PV_VOLUME_MODE).wide(),
];

pub(crate) fn pv_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let claim = match at(obj, &["spec", "claimRef"]) {
        Some(c) => format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"])),
        None => String::new(),
    };
    let phase = if has(obj, &["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else {
        str_at(obj, &["status", "phase"])
    };
    let class =
        beta_class_annotation(obj).unwrap_or_else(|| str_at(obj, &["spec", "storageClassName"]));
    vec![
        json!(name(obj)),
        json!(quantity(at(obj, &["spec", "capacity", "storage"]))),
        json!(access_modes(arr_at(obj, &["spec", "accessModes"]))),
        json!(str_at(obj, &["spec", "persistentVolumeReclaimPolicy"])),
        json!(phase),
        json!(claim),
        json!(class),
        json!(opt_str(obj, &["spec", "volumeAttributesClassName"]).unwrap_or("<unset>")),
        json!(str_at(obj, &["status", "reason"])),
        json!(since(created(obj), now)),
        json!(opt_str(obj, &["spec", "volumeMode"]).unwrap_or("<unset>")),
    ]
}

pub(crate) const PVC_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Status", "string", desc::PVC_PHASE),
    Column::new("Volume", "string", desc::PVC_VOLUME),
    Column::new("Capacity", "string", desc::PVC_CAPACITY),
    Column::new("Access Modes", "string", desc::PVC_ACCESS_MODES),
    Column::new("StorageClass", "string", desc::PVC_STORAGE_CLASS),
    Column::new(
        "VolumeAttributesClass",
        "string",
        desc::PVC_VOLUME_ATTRIBUTES_CLASS,
    ),
    AGE,
    Column::new("VolumeMode", "string", desc::PVC_VOLUME_MODE).wide(),
];

pub(crate) fn pvc_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let phase = if has(obj, &["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else {
        str_at(obj, &["status", "phase"])
    };
    let volume = str_at(obj, &["spec", "volumeName"]);
    // Capacity and access modes are those of the bound volume, so blank until bound.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(obj, &["status", "capacity", "storage"])),
            access_modes(arr_at(obj, &["status", "accessModes"])),
        )
    };
    let class = beta_class_annotation(obj)
        .or_else(|| opt_str(obj, &["spec", "storageClassName"]))
        .unwrap_or("");
    vec![
        json!(name(obj)),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(opt_str(obj, &["spec", "volumeAttributesClassName"]).unwrap_or("<unset>")),
        json!(since(created(obj), now)),
        json!(opt_str(obj, &["spec", "volumeMode"]).unwrap_or("<unset>")),
    ]
}

pub(crate) const STORAGE_CLASS_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Provisioner", "string", desc::SC_PROVISIONER),
    Column::new("ReclaimPolicy", "string", desc::SC_RECLAIM),
    Column::new("VolumeBindingMode", "string", desc::SC_BINDING_MODE),
    Column::new("AllowVolumeExpansion", "string", desc::SC_EXPANSION),
    AGE,
];

pub(crate) fn storage_class_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let is_default = [DEFAULT_CLASS_ANNOTATION, BETA_DEFAULT_CLASS_ANNOTATION]
        .iter()
        .any(|a| opt_str(obj, &["metadata", "annotations", a]) == Some("true"));
    let mut class_name = name(obj).to_string();
    if is_default {
        class_name.push_str(" (default)");
    }
    vec![
        json!(class_name),
        json!(str_at(obj, &["provisioner"])),
        json!(opt_str(obj, &["reclaimPolicy"]).unwrap_or("Delete")),
        json!(opt_str(obj, &["volumeBindingMode"]).unwrap_or("Immediate")),
        json!(opt_bool(obj, &["allowVolumeExpansion"]).unwrap_or(false)),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const CSI_DRIVER_COLUMNS: &[Column] = &[
    NAME,
    Column::new("AttachRequired", "boolean", desc::CSI_ATTACH_REQUIRED),
    Column::new("PodInfoOnMount", "boolean", desc::CSI_POD_INFO),
    Column::new("StorageCapacity", "boolean", desc::CSI_STORAGE_CAPACITY),
    Column::new("TokenRequests", "string", desc::CSI_TOKEN_REQUESTS),
    Column::new("RequiresRepublish", "boolean", desc::CSI_REQUIRES_REPUBLISH),
    Column::new("Modes", "string", desc::CSI_MODES),
    AGE,
];

pub(crate) fn csi_driver_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let modes: Vec<&str> = arr_at(obj, &["spec", "volumeLifecycleModes"])
        .iter()
        .map(|m| m.as_str().unwrap_or(""))
        .collect();
    let token_requests = match at(obj, &["spec", "tokenRequests"]) {
        Some(t) => t
            .as_array()
            .map(|reqs| {
                reqs.iter()
                    .map(|r| str_at(r, &["audience"]))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
        None => "<unset>".to_string(),
    };
    vec![
        json!(name(obj)),
        json!(opt_bool(obj, &["spec", "attachRequired"]).unwrap_or(true)),
        json!(opt_bool(obj, &["spec", "podInfoOnMount"]).unwrap_or(false)),
        json!(opt_bool(obj, &["spec", "storageCapacity"]).unwrap_or(false)),
        json!(token_requests),
        json!(opt_bool(obj, &["spec", "requiresRepublish"]).unwrap_or(false)),
        json!(if modes.is_empty() {
            "<none>".to_string()
        } else {
            modes.join(",")
        }),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const CSI_NODE_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Drivers", "integer", desc::CSI_NODE_DRIVERS),
    AGE,
];

pub(crate) fn csi_node_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(arr_at(obj, &["spec", "drivers"]).len()),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const VOLUME_ATTACHMENT_COLUMNS: &[Column] = &[
    NAME,
    // Upstream marks this column with the "name" format too.
    Column::new("Attacher", "string", desc::VA_ATTACHER).formatted("name"),
    Column::new("PV", "string", desc::VA_PV),
    Column::new("Node", "string", desc::VA_NODE),
    Column::new("Attached", "boolean", desc::VA_ATTACHED),
    AGE,
];

pub(crate) fn volume_attachment_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(str_at(obj, &["spec", "attacher"])),
        json!(str_at(obj, &["spec", "source", "persistentVolumeName"])),
        json!(str_at(obj, &["spec", "nodeName"])),
        json!(crate::json::bool_at(obj, &["status", "attached"])),
        json!(since(created(obj), now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": "2025-01-01T11:58:00Z"})
    }

    #[test]
    fn bound_persistent_volume() {
        let pv = json!({"metadata": meta("pvc-1234"),
            "spec": {"capacity": {"storage": "10Gi"},
                     "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard",
                     "volumeMode": "Filesystem",
                     "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data"}},
            "status": {"phase": "Bound"}});
        assert_eq!(
            pv_cells(&pv, now()),
            vec![
                json!("pvc-1234"),
                json!("10Gi"),
                json!("RWO,RWX"),
                json!("Delete"),
                json!("Bound"),
                json!("default/data"),
                json!("standard"),
                json!("<unset>"),
                json!(""),
                json!("2m"),
                json!("Filesystem"),
            ]
        );
    }

    #[test]
    fn terminating_volume_with_beta_class_annotation() {
        let pv = json!({"metadata": {"name": "old", "deletionTimestamp": "2025-01-01T11:59:00Z",
                                     "annotations": {"volume.beta.kubernetes.io/storage-class": "slow"}},
            "spec": {"storageClassName": "fast"}, "status": {"phase": "Released", "reason": "Failed"}});
        let c = pv_cells(&pv, now());
        assert_eq!(c[1], json!("0"));
        assert_eq!(c[4], json!("Terminating"));
        assert_eq!(c[5], json!(""));
        assert_eq!(c[6], json!("slow"));
        assert_eq!(c[8], json!("Failed"));
    }

    #[test]
    fn pending_and_bound_claims() {
        let pending = json!({"metadata": meta("data"),
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "storageClassName": "standard"},
            "status": {"phase": "Pending"}});
        assert_eq!(
            pvc_cells(&pending, now()),
            vec![
                json!("data"),
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("standard"),
                json!("<unset>"),
                json!("2m"),
                json!("<unset>"),
            ]
        );
        let bound = json!({"metadata": meta("data"),
            "spec": {"volumeName": "pvc-1234", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}});
        let c = pvc_cells(&bound, now());
        assert_eq!(
            c[2..6],
            [json!("pvc-1234"), json!("1Gi"), json!("RWO"), json!("")]
        );
        assert_eq!(c[8], json!("Filesystem"));
    }

    #[test]
    fn storage_class_row() {
        let sc = json!({"metadata": {"name": "standard", "creationTimestamp": "2025-01-01T11:58:00Z",
                                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
        assert_eq!(
            storage_class_cells(&sc, now()),
            vec![
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false),
                json!("2m"),
            ]
        );
    }

    #[test]
    fn csi_and_attachment_rows() {
        let drv = json!({"metadata": meta("csi.example.com"),
            "spec": {"attachRequired": false, "volumeLifecycleModes": ["Persistent", "Ephemeral"],
                     "tokenRequests": [{"audience": "vault"}]}});
        assert_eq!(
            csi_driver_cells(&drv, now()),
            vec![
                json!("csi.example.com"),
                json!(false),
                json!(false),
                json!(false),
                json!("vault"),
                json!(false),
                json!("Persistent,Ephemeral"),
                json!("2m"),
            ]
        );
        let bare = json!({"metadata": meta("d"), "spec": {}});
        let c = csi_driver_cells(&bare, now());
        assert_eq!(
            (c[1].clone(), c[4].clone(), c[6].clone()),
            (json!(true), json!("<unset>"), json!("<none>"))
        );
        let node =
            json!({"metadata": meta("n1"), "spec": {"drivers": [{"name": "a", "nodeID": "n1"}]}});
        assert_eq!(csi_node_cells(&node, now())[1], json!(1));
        let va = json!({"metadata": meta("csi-123"),
            "spec": {"attacher": "csi.example.com", "nodeName": "n1",
                     "source": {"persistentVolumeName": "pv-1"}},
            "status": {"attached": true}});
        assert_eq!(
            volume_attachment_cells(&va, now()),
            vec![
                json!("csi-123"),
                json!("csi.example.com"),
                json!("pv-1"),
                json!("n1"),
                json!(true),
                json!("2m")
            ]
        );
    }
}
