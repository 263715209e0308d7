//! storage.k8s.io/v1 defaults: StorageClass and CSIDriver.

use serde_json::{json, Map, Value};

use crate::json::{default_ptr, is_empty};

pub fn default_storage_class(class: &mut Map<String, Value>) {
    default_ptr(class, "reclaimPolicy", json!("Delete"));
    default_ptr(class, "volumeBindingMode", json!("Immediate"));
}

/// CSIDriver spec, with the feature gates on by default in 1.33.
pub fn default_csi_driver(spec: &mut Map<String, Value>) {
    default_ptr(spec, "attachRequired", json!(true));
    default_ptr(spec, "podInfoOnMount", json!(false));
    default_ptr(spec, "storageCapacity", json!(false));
    default_ptr(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    if is_empty(spec.get("volumeLifecycleModes")) {
        spec.insert("volumeLifecycleModes".into(), json!(["Persistent"]));
    }
    default_ptr(spec, "requiresRepublish", json!(false));
    default_ptr(spec, "seLinuxMount", json!(false));
}
