//! ReplicaSet controller against the in-process API server.

mod support;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::{eventually, live_pods, start};

fn replicaset(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }))
    .expect("replicaset")
}

fn owned_by<'a>(pods: &'a [Pod], rs: &ReplicaSet) -> Vec<&'a Pod> {
    pods.iter()
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|r| Some(&r.uid) == rs.uid().as_ref() && r.controller == Some(true))
        })
        .collect()
}

#[tokio::test]
async fn creates_scales_down_and_replaces_pods() {
    let (_server, client) = start().await;
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rs = api
        .create(&PostParams::default(), &replicaset("web", 3))
        .await
        .expect("create");

    let created = eventually("3 pods", || async {
        let live = live_pods(&client, "default").await;
        (owned_by(&live, &rs).len() == 3).then_some(live)
    })
    .await;
    for pod in &created {
        assert!(pod.name_any().starts_with("web-"), "{}", pod.name_any());
        assert_eq!(pod.labels().get("app").map(String::as_str), Some("web"));
        let owner = &pod.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.api_version.as_str()),
            ("ReplicaSet", "apps/v1")
        );
        assert_eq!(owner.block_owner_deletion, Some(true));
    }
    eventually("status.replicas 3", || async {
        let rs = api.get("web").await.ok()?;
        let s = rs.status?;
        (s.replicas == 3
            && s.observed_generation == rs.metadata.generation
            && s.fully_labeled_replicas == Some(3))
        .then_some(())
    })
    .await;
    eventually("SuccessfulCreate events", || async {
        let events: Api<Event> = Api::namespaced(client.clone(), "default");
        let list = events.list(&ListParams::default()).await.ok()?;
        (list
            .items
            .iter()
            .filter(|e| {
                e.reason.as_deref() == Some("SuccessfulCreate")
                    && e.message
                        .as_deref()
                        .is_some_and(|m| m.starts_with("Created pod: web-"))
            })
            .count()
            >= 3)
            .then_some(())
    })
    .await;

    // A deleted pod is replaced.
    let victim = created[0].name_any();
    pods.delete(&victim, &DeleteParams::default())
        .await
        .expect("delete");
    eventually("replacement", || async {
        let live = live_pods(&client, "default").await;
        let owned = owned_by(&live, &rs);
        (owned.len() == 3 && owned.iter().all(|p| p.name_any() != victim)).then_some(())
    })
    .await;

    // Scale down to 1.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale");
    eventually("1 pod", || async {
        let live = live_pods(&client, "default").await;
        (owned_by(&live, &rs).len() == 1).then_some(())
    })
    .await;
    eventually("status.replicas 1", || async {
        let s = api.get("web").await.ok()?.status?;
        (s.replicas == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn adopts_matching_orphan_and_counts_it() {
    let (_server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let orphan: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "stray", "labels": {"app": "adopt"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &orphan)
        .await
        .expect("orphan");
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs = api
        .create(&PostParams::default(), &replicaset("adopt", 2))
        .await
        .expect("create");

    eventually("orphan adopted and one more created", || async {
        let live = live_pods(&client, "default").await;
        let owned = owned_by(&live, &rs);
        (owned.len() == 2 && owned.iter().any(|p| p.name_any() == "stray")).then_some(())
    })
    .await;
    // Stays at 2: the adopted pod counts.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(owned_by(&live_pods(&client, "default").await, &rs).len(), 2);
}
