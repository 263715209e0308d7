//! core/v1 defaults other than Pod, PodSpec, Service and volumes:
//! Namespace, Node, Secret, Endpoints, ReplicationController, PodTemplate,
//! LimitRange.

use serde_json::{json, Map, Value};

use crate::json::{
    default_ptr, default_str, each_obj, is_empty, is_unset, obj, obj_or_insert, str_of,
};
use crate::pod_spec::default_template;

/// The label every namespace carries with its own name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub fn default_namespace(ns: &mut Map<String, Value>) {
    let name = obj(ns, "metadata").map(|m| str_of(m, "name").to_owned());
    // Namespaces created with generateName have no name yet: nothing to label.
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        if let Some(meta) = obj_or_insert(ns, "metadata") {
            if let Some(labels) = obj_or_insert(meta, "labels") {
                labels.insert(NAMESPACE_NAME_LABEL.into(), Value::String(name));
            }
        }
    }
    if let Some(status) = obj_or_insert(ns, "status") {
        default_str(status, "phase", "Active");
    }
}

pub fn default_node(node: &mut Map<String, Value>) {
    let Some(status) = obj(node, "status") else {
        return;
    };
    if is_unset(status.get("allocatable")) {
        if let Some(capacity) = status.get("capacity").filter(|c| c.is_object()).cloned() {
            status.insert("allocatable".into(), capacity);
        }
    }
}

pub fn default_secret(secret: &mut Map<String, Value>) {
    default_str(secret, "type", "Opaque");
}

pub fn default_endpoints(endpoints: &mut Map<String, Value>) {
    for subset in each_obj(endpoints, "subsets") {
        for port in each_obj(subset, "ports") {
            default_str(port, "protocol", "TCP");
        }
    }
}

pub fn default_replication_controller(rc: &mut Map<String, Value>) {
    let template_labels = obj(rc, "spec")
        .and_then(|s| obj(s, "template"))
        .and_then(|t| obj(t, "metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.as_object().is_some_and(|o| !o.is_empty()))
        .cloned();
    if let Some(labels) = template_labels {
        if let Some(spec) = obj(rc, "spec") {
            if is_empty(spec.get("selector")) {
                spec.insert("selector".into(), labels.clone());
            }
        }
        if let Some(meta) = obj_or_insert(rc, "metadata") {
            if is_empty(meta.get("labels")) {
                meta.insert("labels".into(), labels);
            }
        }
    }
    if let Some(spec) = obj(rc, "spec") {
        default_ptr(spec, "replicas", json!(1));
        default_template(spec);
    }
}

pub fn default_pod_template(pt: &mut Map<String, Value>) {
    default_template(pt);
}

/// Container limit ranges: default limit from max, default request from the
/// default limit, then from min.
pub fn default_limit_range(lr: &mut Map<String, Value>) {
    let Some(spec) = obj(lr, "spec") else {
        return;
    };
    for item in each_obj(spec, "limits") {
        if str_of(item, "type") != "Container" {
            continue;
        }
        let max = item.get("max").and_then(Value::as_object).cloned();
        let min = item.get("min").and_then(Value::as_object).cloned();
        if let Some(default) = obj_or_insert(item, "default") {
            for (name, q) in max.into_iter().flatten() {
                default.entry(name).or_insert(q);
            }
        }
        let default = item.get("default").and_then(Value::as_object).cloned();
        if let Some(request) = obj_or_insert(item, "defaultRequest") {
            for (name, q) in default
                .into_iter()
                .flatten()
                .chain(min.into_iter().flatten())
            {
                request.entry(name).or_insert(q);
            }
        }
        // Go omits the maps it created but left empty.
        for key in ["default", "defaultRequest"] {
            if item
                .get(key)
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
            {
                item.remove(key);
            }
        }
    }
}
