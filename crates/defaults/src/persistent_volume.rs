//! PersistentVolume and PersistentVolumeClaim defaults (also used for
//! StatefulSet volumeClaimTemplates and ephemeral volume claim templates).

use serde_json::{json, Map, Value};

use crate::json::{default_ptr, default_str, obj, obj_or_insert};
use crate::pod_spec::{
    default_azure_disk, default_host_path, default_iscsi, default_rbd, default_scale_io,
};

/// `volumeMode` defaults to Filesystem on every claim spec.
pub fn default_claim_spec(spec: &mut Map<String, Value>) {
    default_ptr(spec, "volumeMode", json!("Filesystem"));
}

/// A whole PersistentVolumeClaim: spec defaults plus `status.phase: Pending`.
pub fn default_claim(claim: &mut Map<String, Value>) {
    if let Some(spec) = obj_or_insert(claim, "spec") {
        default_claim_spec(spec);
    }
    if let Some(status) = obj_or_insert(claim, "status") {
        default_str(status, "phase", "Pending");
    }
}

pub fn default_volume(pv: &mut Map<String, Value>) {
    if let Some(status) = obj_or_insert(pv, "status") {
        default_str(status, "phase", "Pending");
    }
    let Some(spec) = obj_or_insert(pv, "spec") else {
        return;
    };
    default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
    default_ptr(spec, "volumeMode", json!("Filesystem"));
    if let Some(s) = obj(spec, "hostPath") {
        default_host_path(s);
    }
    if let Some(s) = obj(spec, "rbd") {
        default_rbd(s);
    }
    if let Some(s) = obj(spec, "iscsi") {
        default_iscsi(s);
    }
    if let Some(s) = obj(spec, "azureDisk") {
        default_azure_disk(s);
    }
    if let Some(s) = obj(spec, "scaleIO") {
        default_scale_io(s);
    }
}
