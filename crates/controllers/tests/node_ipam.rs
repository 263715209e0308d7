//! Node IPAM: distinct pod CIDRs, existing ones respected, freed on delete.

#[path = "support_cluster/mod.rs"]
mod support;

use berth_controllers::node_ipam::{run_node_ipam_controller, NodeIpamConfig};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use std::collections::HashSet;
use support::*;

async fn cidr_of(nodes: &Api<Node>, name: &str) -> String {
    eventually(&format!("{name} podCIDR"), || async {
        let spec = nodes.get(name).await.ok()?.spec?;
        let cidr = spec.pod_cidr?;
        (spec.pod_cidrs? == vec![cidr.clone()]).then_some(cidr)
    })
    .await
}

#[tokio::test]
async fn nodes_get_distinct_pod_cidrs() {
    let (_server, client, ctx) = start().await;
    let nodes: Api<Node> = Api::all(client.clone());
    // A node that already has a CIDR before the controller starts.
    let pre: Node = serde_json::from_value(json!({"metadata": {"name": "pre"},
        "spec": {"podCIDR": "10.99.0.0/24", "podCIDRs": ["10.99.0.0/24"]}}))
    .expect("node");
    nodes
        .create(&PostParams::default(), &pre)
        .await
        .expect("create");
    let config = NodeIpamConfig {
        cluster_cidr: "10.99.0.0/16".into(),
        node_mask: 24,
    };
    tokio::spawn(run_node_ipam_controller(client.clone(), ctx, config));
    create_node(&client, "a", json!({})).await;
    create_node(&client, "b", json!({})).await;
    let a = cidr_of(&nodes, "a").await;
    let b = cidr_of(&nodes, "b").await;
    let all: HashSet<_> = ["10.99.0.0/24".to_string(), a.clone(), b.clone()].into();
    assert_eq!(all.len(), 3, "{a} {b}");
    assert!(a.starts_with("10.99.") && a.ends_with(".0/24"), "{a}");

    nodes
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("a gone", || async {
        nodes.get_opt("a").await.ok()?.is_none().then_some(())
    })
    .await;
    create_node(&client, "c", json!({})).await;
    let c = cidr_of(&nodes, "c").await;
    assert!(c != b && c != "10.99.0.0/24", "{c}");
    assert_eq!(
        nodes
            .get("pre")
            .await
            .expect("pre")
            .spec
            .and_then(|s| s.pod_cidr)
            .as_deref(),
        Some("10.99.0.0/24")
    );
}
