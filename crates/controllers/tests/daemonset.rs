//! DaemonSet controller against the in-process API server (no scheduler:
//! daemon pods stay pinned by node affinity, unbound).

#[path = "support_workloads/mod.rs"]
mod support;

use berth_controllers::daemonset::target_node;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use std::collections::BTreeSet;
use support::{eventually, has_event, live_pods, start};

async fn add_node(client: &kube::Client, name: &str, labels: serde_json::Value) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
    }))
    .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
}

fn daemonset(name: &str, image: &str) -> DaemonSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"nodeSelector": {"role": "worker"},
                                       "containers": [{"name": "c", "image": image}]}}},
    }))
    .expect("daemonset")
}

async fn pods_by_node(client: &kube::Client, ds: &DaemonSet) -> Vec<(String, Pod)> {
    let mut out: Vec<(String, Pod)> = live_pods(client, "default")
        .await
        .into_iter()
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|r| Some(&r.uid) == ds.uid().as_ref())
        })
        .filter_map(|p| Some((target_node(&p)?, p)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn nodes_of(pods: &[(String, Pod)]) -> Vec<String> {
    pods.iter().map(|(n, _)| n.clone()).collect()
}

#[tokio::test]
async fn one_pod_per_eligible_node_replaced_when_deleted() {
    let h = start().await;
    add_node(&h.client, "w1", json!({"role": "worker"})).await;
    add_node(&h.client, "w2", json!({"role": "worker"})).await;
    add_node(&h.client, "infra", json!({"role": "infra"})).await;
    let api: Api<DaemonSet> = Api::namespaced(h.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
    let ds = api
        .create(&PostParams::default(), &daemonset("agent", "agent:1"))
        .await
        .expect("create");

    let placed = eventually("a pod on w1 and w2", || async {
        let p = pods_by_node(&h.client, &ds).await;
        (nodes_of(&p) == ["w1", "w2"]).then_some(p)
    })
    .await;
    let (_, pod) = &placed[0];
    assert!(pod.name_any().starts_with("agent-"));
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    assert!(tolerations
        .iter()
        .any(|t| t.key.as_deref() == Some("node.kubernetes.io/not-ready")));
    let hash = pod
        .labels()
        .get("controller-revision-hash")
        .cloned()
        .expect("hash label");

    let status = eventually("status", || async {
        let s = api.get("agent").await.ok()?.status?;
        (s.desired_number_scheduled == 2 && s.current_number_scheduled == 2).then_some(s)
    })
    .await;
    assert_eq!(status.number_misscheduled, 0);
    assert_eq!(status.updated_number_scheduled, Some(2));
    assert_eq!(status.observed_generation, Some(1));

    // The ControllerRevision kubectl rollout history reads.
    let revisions: Api<ControllerRevision> = Api::namespaced(h.client.clone(), "default");
    let revs = revisions
        .list(&ListParams::default().labels("app=agent"))
        .await
        .expect("list")
        .items;
    assert_eq!(revs.len(), 1);
    assert_eq!(revs[0].name_any(), format!("agent-{hash}"));
    assert_eq!(revs[0].revision, 1);
    assert_eq!(revs[0].owner_references()[0].kind, "DaemonSet");

    // A deleted pod is replaced on the same node.
    let victim = placed[0].1.name_any();
    pods.delete(&victim, &DeleteParams::default())
        .await
        .expect("delete");
    eventually("replacement on w1", || async {
        let p = pods_by_node(&h.client, &ds).await;
        (nodes_of(&p) == ["w1", "w2"] && p.iter().all(|(_, pod)| pod.name_any() != victim))
            .then_some(())
    })
    .await;
    assert!(
        has_event(
            &h.client,
            "default",
            "SuccessfulCreate",
            "Created pod: agent-"
        )
        .await
    );

    // A new matching node gets a pod; relabelling a node away removes its pod.
    add_node(&h.client, "w3", json!({"role": "worker"})).await;
    eventually("pod on w3", || async {
        (nodes_of(&pods_by_node(&h.client, &ds).await) == ["w1", "w2", "w3"]).then_some(())
    })
    .await;
    let nodes: Api<Node> = Api::all(h.client.clone());
    nodes
        .patch(
            "w2",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"role": "infra"}}})),
        )
        .await
        .expect("relabel");
    eventually("pod gone from w2", || async {
        (nodes_of(&pods_by_node(&h.client, &ds).await) == ["w1", "w3"]).then_some(())
    })
    .await;
}

#[tokio::test]
async fn template_change_rolls_pods_and_records_revisions() {
    let h = start().await;
    add_node(&h.client, "w1", json!({"role": "worker"})).await;
    add_node(&h.client, "w2", json!({"role": "worker"})).await;
    let api: Api<DaemonSet> = Api::namespaced(h.client.clone(), "default");
    let ds = api
        .create(&PostParams::default(), &daemonset("roll", "agent:1"))
        .await
        .expect("create");
    let first = eventually("two pods", || async {
        let p = pods_by_node(&h.client, &ds).await;
        (p.len() == 2).then_some(p)
    })
    .await;
    let old_hash = first[0]
        .1
        .labels()
        .get("controller-revision-hash")
        .cloned()
        .expect("hash");

    api.patch(
        "roll",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "agent:2"}]}}}})),
    )
    .await
    .expect("update image");
    // No kubelet: pods never become available, so each old (unavailable)
    // pod is replaced right away.
    eventually("all pods on the new template", || async {
        let p = pods_by_node(&h.client, &ds).await;
        let hashes: BTreeSet<String> = p
            .iter()
            .filter_map(|(_, pod)| pod.labels().get("controller-revision-hash").cloned())
            .collect();
        (p.len() == 2 && !hashes.contains(&old_hash) && hashes.len() == 1).then_some(())
    })
    .await;
    let revisions: Api<ControllerRevision> = Api::namespaced(h.client.clone(), "default");
    let mut revs: Vec<i64> = revisions
        .list(&ListParams::default().labels("app=roll"))
        .await
        .expect("list")
        .items
        .iter()
        .map(|r| r.revision)
        .collect();
    revs.sort();
    assert_eq!(revs, [1, 2]);

    // Undo: back to the first template reuses revision 1's object as revision 3.
    api.patch(
        "roll",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "agent:1"}]}}}})),
    )
    .await
    .expect("undo");
    eventually("old revision renumbered to 3", || async {
        let list = revisions
            .list(&ListParams::default().labels("app=roll"))
            .await
            .ok()?
            .items;
        let r = list
            .iter()
            .find(|r| r.name_any() == format!("roll-{old_hash}"))?;
        (list.len() == 2 && r.revision == 3).then_some(())
    })
    .await;
}
