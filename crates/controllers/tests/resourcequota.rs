//! Resource-quota controller against the in-process API server: status.hard
//! mirrors spec.hard, status.used follows pods, services, deployments and
//! (after a spec change) configmaps and a LISTed kind.

#[path = "support_cluster/mod.rs"]
mod support;

use berth_controllers::resourcequota::run_resource_quota_controller;
use berth_controllers::runner::Context;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ResourceQuota, Service};
use k8s_openapi::api::rbac::v1::Role;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use support::*;

const NS: &str = "team";

async fn create<K>(client: &kube::Client, v: Value) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), NS);
    let obj: K = serde_json::from_value(v).expect("object");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create")
}

/// A fresh namespace (default holds the `kubernetes` Service).
async fn create_namespace(client: &kube::Client) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": NS}}))
    .expect("namespace");
    api.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

async fn create_pod(client: &kube::Client, name: &str, cpu: Option<&str>) -> Pod {
    let resources = cpu.map(|c| json!({"requests": {"cpu": c}}));
    create(
        client,
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"containers": [{"name": "c", "image": "nginx", "resources": resources}]},
        }),
    )
    .await
}

fn strings(
    list: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> BTreeMap<String, String> {
    list.into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> BTreeMap<String, String> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Wait until the quota's status is exactly `hard` / `used`.
async fn wait_status(
    client: &kube::Client,
    name: &str,
    hard: &[(&str, &str)],
    used: &[(&str, &str)],
) {
    let api: Api<ResourceQuota> = Api::namespaced(client.clone(), NS);
    let (hard, used) = (pairs(hard), pairs(used));
    let what = format!("{name} status hard={hard:?} used={used:?}");
    let mut last = None;
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let Ok(q) = api.get(name).await {
                let status = q.status.unwrap_or_default();
                let now = (strings(status.hard.as_ref()), strings(status.used.as_ref()));
                if now == (hard.clone(), used.clone()) {
                    return;
                }
                last = Some(now);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "timed out waiting for {what}; last seen {last:?}"
    );
}

async fn delete_now<K>(client: &kube::Client, name: &str)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), NS);
    api.delete(name, &DeleteParams::default().grace_period(0))
        .await
        .expect("delete");
}

#[tokio::test]
async fn status_follows_spec_and_namespace_usage() {
    let (_server, client, _) = start().await;
    create_namespace(&client).await;
    // Short resync: kinds counted by LIST (roles) are seen on resync only.
    let ctx = Context::new(client.clone(), Duration::from_secs(2));
    // A pod without requests before the quota exists (quota admission, when
    // on, would refuse it under a requests.cpu limit).
    create_pod(&client, "plain", None).await;
    tokio::spawn(run_resource_quota_controller(client.clone(), ctx.clone()));

    let hard = [
        ("count/deployments.apps", "1"),
        ("pods", "2"),
        ("requests.cpu", "1"),
        ("services", "1"),
    ];
    let _: ResourceQuota = create(
        &client,
        json!({"apiVersion": "v1", "kind": "ResourceQuota",
               "metadata": {"name": "compute", "namespace": NS},
               "spec": {"hard": {"pods": "2", "requests.cpu": "1",
                                 "count/deployments.apps": "1", "services": "1"}}}),
    )
    .await;
    // A scoped quota beside it: only the BestEffort pod counts there.
    let _: ResourceQuota = create(
        &client,
        json!({"apiVersion": "v1", "kind": "ResourceQuota",
               "metadata": {"name": "best-effort", "namespace": NS},
               "spec": {"hard": {"pods": "5"}, "scopes": ["BestEffort"]}}),
    )
    .await;
    wait_status(
        &client,
        "compute",
        &hard,
        &[
            ("count/deployments.apps", "0"),
            ("pods", "1"),
            ("requests.cpu", "0"),
            ("services", "0"),
        ],
    )
    .await;
    wait_status(&client, "best-effort", &[("pods", "5")], &[("pods", "1")]).await;

    // A pod with requests is charged.
    create_pod(&client, "small", Some("500m")).await;
    wait_status(
        &client,
        "compute",
        &hard,
        &[
            ("count/deployments.apps", "0"),
            ("pods", "2"),
            ("requests.cpu", "500m"),
            ("services", "0"),
        ],
    )
    .await;
    wait_status(&client, "best-effort", &[("pods", "5")], &[("pods", "1")]).await;

    // Succeeded: no longer charged.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    pods.patch_status(
        "small",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Succeeded"}})),
    )
    .await
    .expect("succeed");
    wait_status(
        &client,
        "compute",
        &hard,
        &[
            ("count/deployments.apps", "0"),
            ("pods", "1"),
            ("requests.cpu", "0"),
            ("services", "0"),
        ],
    )
    .await;

    // Deleting the plain pod; a service and a deployment appear.
    delete_now::<Pod>(&client, "plain").await;
    let _: Service = create(
        &client,
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": NS},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    )
    .await;
    let _: Deployment = create(
        &client,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": NS},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
    )
    .await;
    wait_status(
        &client,
        "compute",
        &hard,
        &[
            ("count/deployments.apps", "1"),
            ("pods", "0"),
            ("requests.cpu", "0"),
            ("services", "1"),
        ],
    )
    .await;
    wait_status(&client, "best-effort", &[("pods", "5")], &[("pods", "0")]).await;
    // Only what the quotas track is watched: quotas, pods, services, deployments.
    assert_eq!(ctx.informers.kinds(), 4);

    // Spec change: hard follows, new names are counted (configmaps by a
    // newly started informer, roles by LIST), dropped names disappear.
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), NS);
    quotas
        .patch(
            "compute",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"hard": {
                "pods": "5", "requests.cpu": null, "services": null,
                "configmaps": "3", "count/roles.rbac.authorization.k8s.io": "2"}}})),
        )
        .await
        .expect("patch spec");
    let hard = [
        ("configmaps", "3"),
        ("count/deployments.apps", "1"),
        ("count/roles.rbac.authorization.k8s.io", "2"),
        ("pods", "5"),
    ];
    // The API server may publish a root CA configmap in every namespace:
    // count what is there.
    let baseline = Api::<ConfigMap>::namespaced(client.clone(), NS)
        .list(&Default::default())
        .await
        .expect("list configmaps")
        .items
        .len();
    let cms = |n: usize| (n + baseline).to_string();
    wait_status(
        &client,
        "compute",
        &hard,
        &[
            ("configmaps", &cms(0)),
            ("count/deployments.apps", "1"),
            ("count/roles.rbac.authorization.k8s.io", "0"),
            ("pods", "0"),
        ],
    )
    .await;
    let _: ConfigMap = create(
        &client,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings", "namespace": NS}, "data": {"a": "b"}}),
    )
    .await;
    let _: Role = create(
        &client,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "reader", "namespace": NS}, "rules": []}),
    )
    .await;
    wait_status(
        &client,
        "compute",
        &hard,
        &[
            ("configmaps", &cms(1)),
            ("count/deployments.apps", "1"),
            ("count/roles.rbac.authorization.k8s.io", "1"),
            ("pods", "0"),
        ],
    )
    .await;
    // Deleting the deployment gives its count back.
    delete_now::<Deployment>(&client, "web").await;
    wait_status(
        &client,
        "compute",
        &hard,
        &[
            ("configmaps", &cms(1)),
            ("count/deployments.apps", "0"),
            ("count/roles.rbac.authorization.k8s.io", "1"),
            ("pods", "0"),
        ],
    )
    .await;
}

#[tokio::test]
async fn wrong_status_is_corrected_and_conflicts_are_retried() {
    let (_server, client, _) = start().await;
    create_namespace(&client).await;
    let ctx = Context::new(client.clone(), Duration::from_secs(30));
    let _: ResourceQuota = create(
        &client,
        json!({"apiVersion": "v1", "kind": "ResourceQuota",
               "metadata": {"name": "q", "namespace": NS},
               "spec": {"hard": {"pods": "3"}}}),
    )
    .await;
    // Someone else wrote a wrong status before the controller started.
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), NS);
    let wrong = json!({"status": {"hard": {"pods": "3"}, "used": {"pods": "7"}}});
    quotas
        .patch_status("q", &PatchParams::default(), &Patch::Merge(&wrong))
        .await
        .expect("status");
    tokio::spawn(run_resource_quota_controller(client.clone(), ctx.clone()));
    wait_status(&client, "q", &[("pods", "3")], &[("pods", "0")]).await;

    // The quota cache lags while another writer changes the status: the
    // controller's PUT (stale resourceVersion) gets 409, re-reads, retries.
    // (Below the hard limit: quota admission charges the pod against it.)
    let lag = ctx.informers.get::<ResourceQuota>().pause().await;
    let wrong_but_admitting = json!({"status": {"hard": {"pods": "3"}, "used": {"pods": "2"}}});
    quotas
        .patch_status(
            "q",
            &PatchParams::default(),
            &Patch::Merge(&wrong_but_admitting),
        )
        .await
        .expect("status");
    create_pod(&client, "a", None).await;
    wait_status(&client, "q", &[("pods", "3")], &[("pods", "1")]).await;
    drop(lag);
}
