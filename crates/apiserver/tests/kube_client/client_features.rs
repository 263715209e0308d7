//! kube-rs features built on top of the plain verbs: discovery (legacy and
//! aggregated) with dynamic objects, the version endpoint, the entry API,
//! metadata-only reads and `await_condition`.

use crate::common::*;
use crate::support::TestServer;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use kube::runtime::wait::{await_condition, conditions};
use kube::ResourceExt;
use serde_json::json;

fn check_discovery(discovery: &Discovery, how: &str) {
    let (deploy, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .unwrap_or_else(|| panic!("{how}: apps/v1 Deployment discovered"));
    assert_eq!(deploy.plural, "deployments");
    assert_eq!(caps.scope, Scope::Namespaced);
    let subs: Vec<String> = caps
        .subresources
        .iter()
        .map(|(r, _)| r.plural.clone())
        .collect();
    assert!(
        subs.contains(&"scale".to_string()) && subs.contains(&"status".to_string()),
        "{how}: deployment subresources {subs:?}"
    );
    let (_, ns_caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
        .unwrap_or_else(|| panic!("{how}: v1 Namespace discovered"));
    assert_eq!(ns_caps.scope, Scope::Cluster);
    for (group, version, kind) in [
        ("batch", "v1", "Job"),
        ("coordination.k8s.io", "v1", "Lease"),
        ("autoscaling", "v2", "HorizontalPodAutoscaler"),
        ("autoscaling", "v1", "HorizontalPodAutoscaler"),
    ] {
        assert!(
            discovery
                .resolve_gvk(&GroupVersionKind::gvk(group, version, kind))
                .is_some(),
            "{how}: {group}/{version} {kind} discovered"
        );
    }
    let autoscaling = discovery.get("autoscaling").expect("autoscaling group");
    assert_eq!(autoscaling.preferred_version_or_latest(), "v2");
}

#[tokio::test]
async fn discovery_and_dynamic_objects() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let legacy = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    check_discovery(&legacy, "legacy discovery");
    let aggregated = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("aggregated discovery");
    check_discovery(&aggregated, "aggregated discovery");

    // A dynamic Api built from what discovery returned.
    let (cm_res, _) = legacy
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"))
        .expect("configmaps discovered");
    let dyn_api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &cm_res);
    let obj: DynamicObject = typed(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "dyn"}, "data": {"k": "v"}
    }));
    let created = dyn_api
        .create(&PostParams::default(), &obj)
        .await
        .expect("dynamic create");
    assert_eq!(created.data["data"]["k"], "v");
    let typed_view: Api<ConfigMap> = Api::namespaced(client, "default");
    assert_eq!(
        typed_view.get("dyn").await.expect("typed get").data,
        labels(&[("k", "v")])
    );
    let listed = dyn_api
        .list(&ListParams::default())
        .await
        .expect("dynamic list");
    assert!(listed.items.iter().any(|o| o.name_any() == "dyn"));
    dyn_api
        .delete("dyn", &DeleteParams::default())
        .await
        .expect("dynamic delete");
    assert!(typed_view.get_opt("dyn").await.expect("get_opt").is_none());
}

#[tokio::test]
async fn version_endpoint() {
    let server = TestServer::memory().await;
    let info = server
        .client()
        .await
        .apiserver_version()
        .await
        .expect("/version");
    assert_eq!(info.major, "1");
    assert!(info.git_version.starts_with("v1."), "{}", info.git_version);
}

#[tokio::test]
async fn entry_api_inserts_then_modifies() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let mut entry = cms
        .entry("ent")
        .await
        .expect("entry")
        .or_insert(|| config_map("ent", &[("n", "1")]));
    entry.commit(&PostParams::default()).await.expect("insert");
    let mut entry = cms.entry("ent").await.expect("entry").and_modify(|cm| {
        cm.data = labels(&[("n", "2")]);
    });
    if let kube::api::entry::Entry::Occupied(occupied) = &mut entry {
        occupied
            .commit(&PostParams::default())
            .await
            .expect("modify");
    } else {
        panic!("entry should exist after insert");
    }
    assert_eq!(
        cms.get("ent").await.expect("get").data,
        labels(&[("n", "2")])
    );
}

#[tokio::test]
async fn metadata_only_get_and_list() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "md").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "md");
    let created = cms
        .create(
            &PostParams::default(),
            &labeled_config_map("a", &[("x", "1")]),
        )
        .await
        .expect("create");
    let meta = cms.get_metadata("a").await.expect("get_metadata");
    assert_eq!(meta.metadata.uid, created.metadata.uid);
    assert_eq!(
        meta.types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    let list = cms
        .list_metadata(&ListParams::default().labels("x=1"))
        .await
        .expect("list_metadata");
    assert_eq!(
        list.items.iter().map(|m| m.name_any()).collect::<Vec<_>>(),
        vec!["a"]
    );
    assert!(list.metadata.resource_version.is_some());
}

#[tokio::test]
async fn await_condition_sees_a_finalized_delete() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let mut cm = config_map("slow", &[]);
    cm.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    let created = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect("create");
    let uid = created.uid().expect("uid");
    cms.delete("slow", &DeleteParams::default())
        .await
        .expect("delete");
    let release = async {
        cms.patch(
            "slow",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("release")
    };
    let wait = tokio::time::timeout(
        DEADLINE,
        await_condition(cms.clone(), "slow", conditions::is_deleted(&uid)),
    );
    let (done, _) = tokio::join!(wait, release);
    let done = done
        .expect("await_condition returns in time")
        .expect("watch");
    assert!(done.is_none(), "the object is gone");
}
