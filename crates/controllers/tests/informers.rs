//! Shared informers against the in-process API server: one watch per kind
//! for the whole controller manager, reconciles that read caches instead of
//! listing, and ReplicaSet expectations while the pod cache lags.

#[path = "support/mod.rs"]
mod support;

use berth_controllers::runner::Context;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::{eventually, TestServer};

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

/// The API server's /metrics, as text.
async fn metrics(client: &kube::Client) -> String {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    client.request_text(req).await.expect("GET /metrics")
}

/// Sum of the samples of `name` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn rs_replicas(api: &Api<ReplicaSet>, name: &str) -> Option<i32> {
    Some(api.get(name).await.ok()?.status?.replicas)
}

#[tokio::test]
async fn all_controllers_share_one_watch_per_kind_and_reconciles_do_not_list() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let ctx = Context::new(client.clone(), Duration::from_secs(30));
    tokio::spawn(berth_controllers::run_all_with_config(
        client.clone(),
        ctx.clone(),
        berth_controllers::cluster::ClusterControllersConfig::default(),
    ));
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1"}})).expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node");
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &replicaset("web", 3))
        .await
        .expect("rs");
    eventually("3 replicas", || async {
        (rs_replicas(&api, "web").await == Some(3)).then_some(())
    })
    .await;

    // Every controller is up; pods, nodes, ReplicaSets and Services are
    // each watched exactly once although many controllers read them.
    let text = metrics(&client).await;
    for resource in [
        "pods",
        "nodes",
        "replicasets",
        "deployments",
        "services",
        "jobs",
    ] {
        let watches = sample(
            &text,
            "apiserver_registered_watchers",
            &[("resource", resource)],
        );
        assert_eq!(watches, 1.0, "open watches on {resource}:\n{text}");
    }
    let informers = &ctx.informers;
    assert!(
        informers.pods().subscriber_count() >= 8,
        "pod cache feeds the controllers: {}",
        informers.pods().subscriber_count()
    );

    // Scaling reconciles (and every pod event they cause) read the cache:
    // the pods are not listed from the API server again.
    let pod_lists = |t: &str| {
        sample(
            t,
            "apiserver_request",
            &[("verb", "list"), ("resource", "pods")],
        )
    };
    let before = pod_lists(&text);
    // The pod informer's one initial LIST (proves the metric is read).
    assert!(before >= 1.0, "no pod LIST counted:\n{text}");
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 8}})),
    )
    .await
    .expect("scale");
    eventually("8 replicas", || async {
        (rs_replicas(&api, "web").await == Some(8)).then_some(())
    })
    .await;
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await
    .expect("scale down");
    eventually("2 replicas", || async {
        (rs_replicas(&api, "web").await == Some(2)).then_some(())
    })
    .await;
    let after = pod_lists(&metrics(&client).await);
    assert_eq!(after, before, "pods were listed by a reconcile");
    assert_eq!(
        sample(
            &metrics(&client).await,
            "apiserver_registered_watchers",
            &[("resource", "pods")]
        ),
        1.0
    );
}

/// Pods of `rs` that count (not being deleted), straight from the API.
async fn api_pods(client: &kube::Client, uid: &str) -> usize {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.owner_references().iter().any(|o| o.uid == uid))
        .count()
}

#[tokio::test]
async fn replicaset_does_not_over_create_or_over_delete_while_the_cache_lags() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let ctx = Context::new(client.clone(), Duration::from_secs(30));
    let cache = ctx.informers.pods();
    cache.ready().await;
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs = api
        .create(&PostParams::default(), &replicaset("big", 40))
        .await
        .expect("rs");
    let uid = rs.uid().expect("uid");

    // The pod cache stops applying events: it lags the API server.
    let lag = cache.pause().await;
    berth_controllers::replicaset::reconcile(Arc::new(rs.clone()), ctx.clone())
        .await
        .expect("first reconcile");
    assert_eq!(api_pods(&client, &uid).await, 40);
    assert!(cache.controlled_by(&uid).is_empty(), "cache is lagging");
    // Reconciles on the lagging cache (which shows no pods) create nothing.
    for _ in 0..3 {
        berth_controllers::replicaset::reconcile(Arc::new(rs.clone()), ctx.clone())
            .await
            .expect("reconcile while lagging");
    }
    assert_eq!(api_pods(&client, &uid).await, 40, "over-created");

    // The cache catches up; expectations are met and nothing more happens.
    drop(lag);
    eventually("cache shows 40 pods", || async {
        (cache.controlled_by(&uid).len() == 40).then_some(())
    })
    .await;
    assert!(cache.caught_up(&uid));
    berth_controllers::replicaset::reconcile(Arc::new(rs.clone()), ctx.clone())
        .await
        .expect("reconcile caught up");
    assert_eq!(api_pods(&client, &uid).await, 40);

    // Scale down to 10 with the cache lagging again: 30 deleted once.
    let scaled = api
        .patch(
            "big",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 10}})),
        )
        .await
        .expect("scale");
    let lag = cache.pause().await;
    for _ in 0..3 {
        berth_controllers::replicaset::reconcile(Arc::new(scaled.clone()), ctx.clone())
            .await
            .expect("scale-down reconcile");
    }
    assert_eq!(api_pods(&client, &uid).await, 10, "over-deleted");
    drop(lag);
    eventually("expectations met", || async {
        cache.caught_up(&uid).then_some(())
    })
    .await;
    berth_controllers::replicaset::reconcile(Arc::new(scaled), ctx.clone())
        .await
        .expect("reconcile caught up");
    assert_eq!(api_pods(&client, &uid).await, 10);
}
