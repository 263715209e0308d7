//! Builders for hand-made Nodes and Pods, for unit tests and benchmarks that
//! drive the scheduler without an API server.

use k8s_openapi::api::core::v1::{
    Container, Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodSpec, ResourceRequirements, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// A Ready node with `cpu`, `memory` and 110 pods allocatable.
pub fn node(name: &str, cpu: &str, memory: &str) -> Node {
    let resources: BTreeMap<String, Quantity> = [
        ("cpu", cpu),
        ("memory", memory),
        ("pods", "110"),
        ("ephemeral-storage", "100Gi"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
    .collect();
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some([("kubernetes.io/hostname".to_string(), name.to_string())].into()),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: Some("KubeletReady".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

/// `node` with a taint added.
pub fn tainted(mut n: Node, key: &str, value: &str, effect: &str) -> Node {
    let taint = Taint {
        key: key.to_string(),
        value: (!value.is_empty()).then(|| value.to_string()),
        effect: effect.to_string(),
        ..Default::default()
    };
    n.spec
        .get_or_insert_with(Default::default)
        .taints
        .get_or_insert_with(Vec::new)
        .push(taint);
    n
}

/// `node` with a label added.
pub fn labeled(mut n: Node, key: &str, value: &str) -> Node {
    n.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(key.to_string(), value.to_string());
    n
}

/// `node` with one allocatable (and capacity) amount set.
pub fn with_allocatable(mut n: Node, resource: &str, amount: &str) -> Node {
    if let Some(status) = n.status.as_mut() {
        for list in [status.allocatable.as_mut(), status.capacity.as_mut()]
            .into_iter()
            .flatten()
        {
            list.insert(resource.to_string(), Quantity(amount.to_string()));
        }
    }
    n
}

/// A pending pod in `default` (UID `uid-<name>`) with one container
/// requesting `requests`.
pub fn pod(name: &str, requests: &[(&str, &str)]) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("busybox".into()),
                resources: Some(ResourceRequirements {
                    requests: Some(
                        requests
                            .iter()
                            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                            .collect(),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    }
}

/// `pod` already bound to `node`.
pub fn bound(mut p: Pod, node: &str) -> Pod {
    if let Some(spec) = p.spec.as_mut() {
        spec.node_name = Some(node.to_string());
    }
    p
}
