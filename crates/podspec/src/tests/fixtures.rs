//! Pods as the API server stores them (defaults applied), built from JSON.

use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::{json, Value};

pub const UID: &str = "7f3c1e1a-2b7d-4c55-9d3e-0a1b2c3d4e5f";

/// Merges `patch` into `base` (objects merge, everything else replaces).
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

/// A defaulted single-container pod; `container` and `spec` patch the defaults.
pub fn pod_json(name: &str, ns: &str, container: Value, spec: Value) -> Value {
    let mut c = json!({
        "name": "app",
        "image": "busybox:1.36",
        "imagePullPolicy": "IfNotPresent",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    });
    merge(&mut c, container);
    let mut s = json!({
        "containers": [c],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": true,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "nodeName": "node-1",
        "priority": 0,
    });
    merge(&mut s, spec);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "namespace": ns, "uid": UID },
        "spec": s,
    })
}

pub fn pod(v: Value) -> Pod {
    match serde_json::from_value(v) {
        Ok(p) => p,
        Err(e) => panic!("fixture is not a Pod: {e}"),
    }
}

/// The nginx pod from the Kubernetes docs ("Pods" concept page), defaulted.
pub fn nginx() -> Pod {
    pod(pod_json(
        "nginx",
        "default",
        json!({
            "name": "nginx",
            "image": "nginx:1.14.2",
            "ports": [{ "containerPort": 80, "protocol": "TCP" }],
        }),
        json!({}),
    ))
}

pub fn first_container(p: &Pod) -> Container {
    match p.spec.as_ref().and_then(|s| s.containers.first()) {
        Some(c) => c.clone(),
        None => panic!("fixture pod has no container"),
    }
}
