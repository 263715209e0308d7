//! Fields a 1.33 API server always prints because Go's JSON encoder does not
//! omit empty structs: a container's `resources: {}` and an embedded
//! template's `metadata.creationTimestamp: null` (dropped upstream in 1.34).
//! They carry no meaning; they are here so `kubectl get -o yaml` reads the
//! same as against a real 1.33 cluster.

use serde_json::{json, Map, Value};

use crate::json::{default_ptr, obj_or_insert};

/// A container's resource requirements struct, shown even when empty.
pub fn container_resources(container: &mut Map<String, Value>) {
    default_ptr(container, "resources", json!({}));
}

/// An embedded template's ObjectMeta, shown with its zero creation time.
pub fn template_metadata(template: &mut Map<String, Value>) {
    if let Some(meta) = obj_or_insert(template, "metadata") {
        if !meta.contains_key("creationTimestamp") {
            meta.insert("creationTimestamp".into(), Value::Null);
        }
    }
}
