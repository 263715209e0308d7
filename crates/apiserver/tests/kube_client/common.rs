//! Builders and waiting helpers shared by the kube-rs tests.

use crate::support::TestServer;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, Pod, PodSpec, PodTemplateSpec, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};
use kube::core::Status;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long asynchronous server work (GC, namespace cleanup, watch delivery) may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

pub fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        ..Default::default()
    }
}

pub fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: meta(name),
        data: labels(data),
        ..Default::default()
    }
}

pub fn labeled_config_map(name: &str, label_pairs: &[(&str, &str)]) -> ConfigMap {
    let mut cm = config_map(name, &[("k", "v")]);
    cm.metadata.labels = labels(label_pairs);
    cm
}

pub fn container(name: &str, image: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(image.into()),
        ..Default::default()
    }
}

pub fn pod(name: &str) -> Pod {
    Pod {
        metadata: meta(name),
        spec: Some(PodSpec {
            containers: vec![container("app", "nginx:1.27")],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A Deployment selecting `app=<name>` with the given containers.
pub fn deployment(name: &str, replicas: i32, containers: Vec<Container>) -> Deployment {
    let app = labels(&[("app", name)]);
    Deployment {
        metadata: meta(name),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: app.clone(),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: app,
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers,
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An ownerReference pointing at `owner` (which must have been created: it needs a uid).
pub fn owner_ref<K: Resource<DynamicType = ()>>(owner: &K, block: bool) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        uid: owner.uid().expect("owner has a uid"),
        block_owner_deletion: block.then_some(true),
        controller: None,
    }
}

/// The Status of a request that must have failed with an API error.
pub fn api_error<T: std::fmt::Debug>(res: Result<T, kube::Error>) -> Status {
    match res {
        Err(kube::Error::Api(status)) => *status,
        Err(other) => panic!("expected an API error, got client error {other:?}"),
        Ok(v) => panic!("expected an API error, got success {v:?}"),
    }
}

/// Poll `check` until it returns true, or panic after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until `name` is gone from `api`.
pub async fn eventually_gone<K>(api: &Api<K>, name: &str)
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let what = format!("{name} to be deleted");
    eventually(&what, || async {
        api.get_opt(name).await.expect("get_opt").is_none()
    })
    .await;
}

/// The next item of a stream, or panic after [`DEADLINE`].
pub async fn next_item<S: Stream + Unpin>(stream: &mut S, what: &str) -> S::Item {
    match tokio::time::timeout(DEADLINE, stream.next()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("stream ended while waiting for {what}"),
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// A new namespace for one test, so lists and watches see only that test's objects.
pub async fn namespace(client: &kube::Client, name: &str) {
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: meta(name),
        ..Default::default()
    };
    nss.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

/// Wait for the server's own start-up writes (the `default` ServiceAccount of
/// every namespace) so a store snapshot taken next stays stable.
pub async fn settle(server: &TestServer, client: &kube::Client) {
    let nss: Api<Namespace> = Api::all(client.clone());
    eventually("a default ServiceAccount in every namespace", || async {
        let list = nss
            .list(&Default::default())
            .await
            .expect("list namespaces");
        for ns in list.items {
            let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns.name_any());
            if sas.get_opt("default").await.expect("get sa").is_none() {
                return false;
            }
        }
        true
    })
    .await;
    // The housekeeping loop may still be finishing a pass: wait for two equal dumps in a row.
    let deadline = Instant::now() + DEADLINE;
    let mut last = server.store_dump().await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = server.store_dump().await;
        if now == last {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the store never stopped changing"
        );
        last = now;
    }
}

pub fn sorted_names<K: ResourceExt>(items: &[K]) -> Vec<String> {
    let mut names: Vec<String> = items.iter().map(ResourceExt::name_any).collect();
    names.sort();
    names
}

/// A typed object from its JSON form (shorter than nested struct literals).
pub fn typed<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("JSON matches the k8s-openapi type")
}

/// Two store dumps hold the same keys, values and revisions (failures name the keys).
pub fn assert_same_store(before: &[(String, Vec<u8>, i64)], after: &[(String, Vec<u8>, i64)]) {
    let keys = |d: &[(String, Vec<u8>, i64)]| -> BTreeMap<String, (Vec<u8>, i64)> {
        d.iter()
            .map(|(k, v, r)| (k.clone(), (v.clone(), *r)))
            .collect()
    };
    let (b, a) = (keys(before), keys(after));
    let removed: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    let added: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let changed: Vec<&String> = b
        .iter()
        .filter(|(k, v)| a.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        removed.is_empty() && added.is_empty() && changed.is_empty(),
        "store changed: removed {removed:?}, added {added:?}, changed {changed:?}"
    );
}
