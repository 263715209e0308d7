//! Disruption controller: PodDisruptionBudget status numbers.

#[path = "support_cluster/mod.rs"]
mod support;

use berth_controllers::disruption::run_disruption_controller;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::*;

async fn create_pdb(client: &kube::Client, name: &str, spec: serde_json::Value) {
    let api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec,
    }))
    .expect("pdb");
    api.create(&PostParams::default(), &pdb)
        .await
        .expect("create pdb");
}

/// (expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed, condition reason)
fn numbers(s: &PodDisruptionBudgetStatus) -> (i32, i32, i32, i32, String) {
    let reason = s
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionAllowed")
        .map(|c| c.reason.clone())
        .unwrap_or_default();
    (
        s.expected_pods,
        s.desired_healthy,
        s.current_healthy,
        s.disruptions_allowed,
        reason,
    )
}

async fn wait_for(
    client: &kube::Client,
    name: &str,
    want: (i32, i32, i32, i32, &str),
) -> PodDisruptionBudget {
    let api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let want = (want.0, want.1, want.2, want.3, want.4.to_string());
    let mut last = None;
    let what = format!("{name} status {want:?}");
    let found = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        loop {
            if let Ok(pdb) = api.get(name).await {
                if let Some(s) = &pdb.status {
                    let got = numbers(s);
                    if got == want {
                        return pdb;
                    }
                    last = Some(got);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    match found {
        Ok(pdb) => pdb,
        Err(_) => panic!("timed out waiting for {what}; last {last:?}"),
    }
}

#[tokio::test]
async fn pdb_status_follows_pods_and_scale() {
    let (_server, client, ctx) = start().await;
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }))
    .expect("rs");
    let rs = rs_api
        .create(&PostParams::default(), &rs)
        .await
        .expect("create rs");
    let owner = json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "name": "web", "uid": rs.uid().expect("uid"), "controller": true}]}});
    for (i, ready) in [true, true, false].into_iter().enumerate() {
        let name = format!("web-{i}");
        create_pod(&client, "default", &name, "n1", owner.clone()).await;
        set_pod_status(
            &client,
            "default",
            &name,
            &format!("10.42.0.{}", i + 2),
            ready,
        )
        .await;
    }
    // A pod whose controller does not exist.
    let ghost = json!({"metadata": {"labels": {"app": "ghost"}, "ownerReferences": [{"apiVersion": "apps/v1",
        "kind": "ReplicaSet", "name": "nope", "uid": "0000", "controller": true}]}});
    create_pod(&client, "default", "ghost-0", "n1", ghost).await;

    tokio::spawn(run_disruption_controller(client.clone(), ctx));
    create_pdb(
        &client,
        "min1",
        json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}),
    )
    .await;
    create_pdb(
        &client,
        "max50",
        json!({"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}),
    )
    .await;
    create_pdb(
        &client,
        "none",
        json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "nothing"}}}),
    )
    .await;
    create_pdb(
        &client,
        "ghost",
        json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "ghost"}}}),
    )
    .await;

    // minAvailable int: expected = pods (3), desired 1, healthy 2 → 1 allowed.
    let pdb = wait_for(&client, "min1", (3, 1, 2, 1, "SufficientPods")).await;
    let status = pdb.status.expect("status");
    assert_eq!(status.observed_generation, pdb.metadata.generation);
    let cond = status
        .conditions
        .expect("conditions")
        .into_iter()
        .find(|c| c.type_ == "DisruptionAllowed")
        .expect("cond");
    assert_eq!(cond.status, "True");
    // maxUnavailable 50% of the RS scale 4 → 2 may be down: desired 2, healthy 2 → 0.
    wait_for(&client, "max50", (4, 2, 2, 0, "InsufficientPods")).await;
    wait_for(&client, "none", (0, 1, 0, 0, "InsufficientPods")).await;
    let ghost = wait_for(&client, "ghost", (0, 0, 0, 0, "SyncFailed")).await;
    let msg = ghost
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.message)
        .collect::<String>();
    assert!(msg.contains("found no controllers for pod"), "{msg}");

    // The third pod becomes ready.
    set_pod_status(&client, "default", "web-2", "10.42.0.4", true).await;
    wait_for(&client, "min1", (3, 1, 3, 2, "SufficientPods")).await;
    wait_for(&client, "max50", (4, 2, 3, 1, "SufficientPods")).await;

    // The ReplicaSet is scaled to 2: 50% of 2 → desired 1.
    rs_api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .expect("scale");
    wait_for(&client, "max50", (2, 1, 3, 2, "SufficientPods")).await;
}
