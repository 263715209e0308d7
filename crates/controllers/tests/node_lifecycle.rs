//! Node lifecycle + taint eviction against the in-process API server: a
//! node whose lease goes stale turns Unknown, is tainted unreachable, and
//! its pods are evicted according to their tolerations.

#[path = "support_cluster/mod.rs"]
mod support;

use berth_controllers::node_lifecycle::{
    run_node_lifecycle_controller, NodeLifecycleConfig, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE,
};
use berth_controllers::taint_eviction::run_taint_eviction_controller;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

fn has_taint(node: &Node, key: &str, effect: &str) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.key == key && t.effect == effect))
}

fn gone_or_deleting(pod: Option<Pod>) -> bool {
    pod.is_none_or(|p| p.metadata.deletion_timestamp.is_some())
}

fn config() -> NodeLifecycleConfig {
    NodeLifecycleConfig {
        monitor_period: Duration::from_millis(200),
        grace_period: Duration::from_secs(2),
        startup_grace_period: Duration::from_secs(2),
        ..Default::default()
    }
}

#[tokio::test]
async fn stale_lease_taints_node_and_evicts_by_toleration() {
    let (_server, client, ctx) = start().await;
    let zone = json!({"topology.kubernetes.io/zone": "z1"});
    create_node(&client, "n1", zone.clone()).await;
    create_node(&client, "n2", zone).await;
    let n1_kubelet = keep_renewing(client.clone(), "n1");
    renew_lease(&client, "n2").await;

    let tolerate = |secs: Option<i64>| {
        let mut t = json!({"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute"});
        if let Some(s) = secs {
            t["tolerationSeconds"] = json!(s);
        }
        json!({"spec": {"tolerations": [t]}})
    };
    for (name, node, extra) in [
        // The API server gives every pod a 300 s default toleration; 0 s
        // is what a pod without one would get from upstream's taint manager.
        ("plain", "n2", tolerate(Some(0))),
        ("tolerant", "n2", tolerate(Some(3))),
        ("forever", "n2", tolerate(None)),
        ("safe", "n1", json!({})),
    ] {
        create_pod(&client, "default", name, node, extra).await;
        set_pod_status(&client, "default", name, "10.42.0.5", true).await;
    }
    tokio::spawn(run_node_lifecycle_controller(
        client.clone(),
        ctx.clone(),
        config(),
    ));
    tokio::spawn(run_taint_eviction_controller(client.clone(), ctx));

    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let n2 = eventually("n2 Unknown + unreachable taint", || async {
        let n = nodes.get("n2").await.ok()?;
        has_taint(&n, TAINT_UNREACHABLE, "NoExecute").then_some(n)
    })
    .await;
    let tainted_at = Instant::now();
    let ready = n2
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .cloned()
        .expect("Ready");
    assert_eq!(ready.status, "Unknown");
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(
        ready.message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    let taint = n2
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .and_then(|t| {
            t.iter()
                .find(|t| t.key == TAINT_UNREACHABLE && t.effect == "NoExecute")
        })
        .expect("taint");
    assert!(taint.time_added.is_some());

    // The pod without a toleration goes at once, marked as a disruption.
    eventually("plain evicted", || async {
        gone_or_deleting(pods.get_opt("plain").await.ok()?).then_some(())
    })
    .await;
    assert!(
        !gone_or_deleting(pods.get_opt("tolerant").await.expect("get")),
        "tolerant evicted too early"
    );
    if let Some(p) = pods.get_opt("plain").await.expect("get") {
        let conds = p.status.and_then(|s| s.conditions).unwrap_or_default();
        let dt = conds
            .iter()
            .find(|c| c.type_ == "DisruptionTarget")
            .expect("DisruptionTarget");
        assert_eq!(dt.reason.as_deref(), Some("DeletionByTaintManager"));
    }
    // The one tolerating for 3 s goes after about 3 s (timeAdded has 1 s precision).
    eventually("tolerant evicted", || async {
        gone_or_deleting(pods.get_opt("tolerant").await.ok()?).then_some(())
    })
    .await;
    let waited = tainted_at.elapsed();
    assert!(
        waited > Duration::from_millis(1500) && waited < Duration::from_secs(6),
        "{waited:?}"
    );

    // Forever-tolerating pod stays but is marked not ready; n1's pod is untouched.
    let forever = pods.get("forever").await.expect("forever");
    assert!(forever.metadata.deletion_timestamp.is_none());
    eventually("forever Ready=False", || async {
        (pod_ready(&pods.get("forever").await.ok()?).as_deref() == Some("False")).then_some(())
    })
    .await;
    assert_eq!(
        pod_ready(&pods.get("safe").await.expect("safe")).as_deref(),
        Some("True")
    );
    let n1 = nodes.get("n1").await.expect("n1");
    assert!(!has_taint(&n1, TAINT_UNREACHABLE, "NoExecute"));
    assert!(has_taint(
        &nodes.get("n2").await.expect("n2"),
        TAINT_UNREACHABLE,
        "NoSchedule"
    ));

    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let list = events.list(&ListParams::default()).await.expect("events");
    assert!(list
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some("NodeNotReady")
            && e.message.as_deref() == Some("Node n2 status is now: NodeNotReady")));
    assert!(list
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some("TaintManagerEviction")
            && e.message.as_deref() == Some("Marking for deletion Pod default/plain")));

    // The kubelet comes back: taints are lifted.
    let n2_kubelet = keep_renewing(client.clone(), "n2");
    set_node_ready(&client, "n2", "True").await;
    eventually("n2 taints removed", || async {
        let n = nodes.get("n2").await.ok()?;
        (!has_taint(&n, TAINT_UNREACHABLE, "NoExecute")
            && !has_taint(&n, TAINT_UNREACHABLE, "NoSchedule"))
        .then_some(())
    })
    .await;
    n1_kubelet.abort();
    n2_kubelet.abort();
}

#[tokio::test]
async fn cordon_taints_unschedulable_and_lone_dead_node_is_not_evicted() {
    let (_server, client, ctx) = start().await;
    create_node(&client, "solo", json!({})).await;
    renew_lease(&client, "solo").await;
    create_pod(&client, "default", "p", "solo", json!({})).await;
    tokio::spawn(run_node_lifecycle_controller(
        client.clone(),
        ctx.clone(),
        config(),
    ));
    tokio::spawn(run_taint_eviction_controller(client.clone(), ctx));
    let nodes: Api<Node> = Api::all(client.clone());

    nodes
        .patch(
            "solo",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .expect("cordon");
    eventually("unschedulable taint", || async {
        has_taint(
            &nodes.get("solo").await.ok()?,
            TAINT_UNSCHEDULABLE,
            "NoSchedule",
        )
        .then_some(())
    })
    .await;
    nodes
        .patch(
            "solo",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": false}})),
        )
        .await
        .expect("uncordon");
    eventually("unschedulable taint removed", || async {
        (!has_taint(
            &nodes.get("solo").await.ok()?,
            TAINT_UNSCHEDULABLE,
            "NoSchedule",
        ))
        .then_some(())
    })
    .await;

    // The only node goes silent: Unknown, but every zone is fully disrupted,
    // so (as upstream) no NoExecute taint and no eviction.
    eventually("solo Unknown", || async {
        let n = nodes.get("solo").await.ok()?;
        let s = n
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "Ready")?
            .status;
        (s == "Unknown").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let n = nodes.get("solo").await.expect("solo");
    assert!(!has_taint(&n, TAINT_UNREACHABLE, "NoExecute"));
    assert!(has_taint(&n, TAINT_UNREACHABLE, "NoSchedule"));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    assert!(!gone_or_deleting(pods.get_opt("p").await.expect("get")));
}
