//! apiextensions.k8s.io/v1 defaults: CustomResourceDefinition names,
//! conversion strategy, webhook port and the first stored version.

use serde_json::{json, Map, Value};

use crate::admission::default_service_reference;
use crate::json::{
    default_ptr, default_str, each_obj, is_empty, is_unset_str, obj, obj_or_insert, str_of,
};

pub fn default_crd(crd: &mut Map<String, Value>) {
    let mut storage_version = None;
    if let Some(spec) = obj(crd, "spec") {
        if let Some(names) = obj(spec, "names") {
            let kind = str_of(names, "kind").to_owned();
            default_str(names, "singular", &kind.to_lowercase());
            if !kind.is_empty() && is_unset_str(names.get("listKind")) {
                names.insert("listKind".into(), Value::String(format!("{kind}List")));
            }
        }
        default_ptr(spec, "conversion", json!({"strategy": "None"}));
        if let Some(service) = obj(spec, "conversion")
            .and_then(|c| obj(c, "webhook"))
            .and_then(|w| obj(w, "clientConfig"))
            .and_then(|c| obj(c, "service"))
        {
            default_service_reference(service);
        }
        storage_version = each_obj(spec, "versions")
            .find(|v| v.get("storage") == Some(&Value::Bool(true)))
            .map(|v| str_of(v, "name").to_owned());
    }
    if let Some(version) = storage_version {
        if let Some(status) = obj_or_insert(crd, "status") {
            if is_empty(status.get("storedVersions")) {
                status.insert("storedVersions".into(), json!([version]));
            }
        }
    }
}
