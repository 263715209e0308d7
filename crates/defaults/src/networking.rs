//! networking.k8s.io/v1 and discovery.k8s.io/v1 defaults: NetworkPolicy,
//! IngressClass, EndpointSlice. Ingress has none.

use serde_json::{json, Map, Value};

use crate::json::{default_ptr, each_obj, is_empty, len_of, obj};

pub fn default_network_policy(spec: &mut Map<String, Value>) {
    for direction in ["ingress", "egress"] {
        for rule in each_obj(spec, direction) {
            for port in each_obj(rule, "ports") {
                default_ptr(port, "protocol", json!("TCP"));
            }
        }
    }
    if is_empty(spec.get("policyTypes")) {
        // A policy naming no types always isolates ingress, and egress too
        // once it has egress rules.
        let mut types = vec![json!("Ingress")];
        if len_of(spec, "egress") > 0 {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
}

pub fn default_ingress_class(spec: &mut Map<String, Value>) {
    if let Some(parameters) = obj(spec, "parameters") {
        default_ptr(parameters, "scope", json!("Cluster"));
    }
}

pub fn default_endpoint_slice(slice: &mut Map<String, Value>) {
    for port in each_obj(slice, "ports") {
        default_ptr(port, "name", json!(""));
        default_ptr(port, "protocol", json!("TCP"));
    }
}
