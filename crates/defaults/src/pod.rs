//! Defaults that only a Pod gets, not a pod template: requests copied from
//! limits, `enableServiceLinks`, and host ports under host networking.

use serde_json::{json, Map, Value};

use crate::json::{default_ptr, each_obj, is_unset_int, obj, obj_or_insert};
use crate::pod_spec::default_pod_spec;

/// Only regular and init containers: ephemeral containers have no resources.
const RESOURCE_CONTAINER_LISTS: [&str; 2] = ["containers", "initContainers"];

pub fn default_pod(pod: &mut Map<String, Value>) {
    let Some(spec) = obj_or_insert(pod, "spec") else {
        return;
    };
    for list in RESOURCE_CONTAINER_LISTS {
        for container in each_obj(spec, list) {
            if let Some(resources) = obj(container, "resources") {
                default_requests_from_limits(resources);
            }
        }
    }
    default_ptr(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork") == Some(&Value::Bool(true)) {
        for list in RESOURCE_CONTAINER_LISTS {
            for container in each_obj(spec, list) {
                default_host_ports(container);
            }
        }
    }
    default_pod_spec(spec);
}

/// A resource with a limit but no request gets a request equal to the limit.
fn default_requests_from_limits(resources: &mut Map<String, Value>) {
    let limits = match resources.get("limits") {
        Some(Value::Object(l)) if !l.is_empty() => l.clone(),
        _ => return,
    };
    let Some(requests) = obj_or_insert(resources, "requests") else {
        return;
    };
    for (name, quantity) in limits {
        requests.entry(name).or_insert(quantity);
    }
}

/// With host networking a container port is also the host port.
fn default_host_ports(container: &mut Map<String, Value>) {
    for port in each_obj(container, "ports") {
        if is_unset_int(port.get("hostPort")) {
            if let Some(container_port) = port.get("containerPort").cloned() {
                port.insert("hostPort".into(), container_port);
            }
        }
    }
}
