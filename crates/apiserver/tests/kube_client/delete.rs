//! Deletion semantics: finalizers, propagation policies on ownerReferences
//! (garbage collection is asynchronous: polled with a deadline), namespace
//! deletion, and collection deletes.

use crate::common::*;
use crate::support::TestServer;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::ResourceExt;
use serde_json::json;

const HOLD: &str = "example.com/hold";

fn held_config_map(name: &str) -> ConfigMap {
    let mut cm = config_map(name, &[("a", "1")]);
    cm.metadata.finalizers = Some(vec![HOLD.into()]);
    cm
}

async fn release(cms: &Api<ConfigMap>, name: &str) {
    cms.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("remove finalizers");
}

#[tokio::test]
async fn finalizer_keeps_object_until_removed() {
    let server = TestServer::sqlite().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    cms.create(&PostParams::default(), &held_config_map("held"))
        .await
        .expect("create");

    let res = cms
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    let pending = res
        .left()
        .expect("an object held by a finalizer is returned");
    assert!(pending.metadata.deletion_timestamp.is_some());
    let stored = cms.get("held").await.expect("still readable");
    assert!(stored.metadata.deletion_timestamp.is_some());
    assert_eq!(stored.finalizers(), &[HOLD.to_string()]);

    // Deleting again changes nothing; new finalizers may not be added now.
    cms.delete("held", &DeleteParams::default())
        .await
        .expect("second delete");
    assert_eq!(
        cms.get("held")
            .await
            .expect("get")
            .metadata
            .deletion_timestamp,
        stored.metadata.deletion_timestamp
    );
    let more = api_error(
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": [HOLD, "example.com/other"]}})),
        )
        .await,
    );
    assert_eq!(
        (more.code, more.reason.as_str()),
        (422, "Invalid"),
        "{more:?}"
    );

    release(&cms, "held").await;
    assert!(
        cms.get_opt("held").await.expect("get_opt").is_none(),
        "removing the last finalizer completes the delete"
    );
}

/// An owner plus two ConfigMap dependents (blockOwnerDeletion set).
async fn family(cms: &Api<ConfigMap>, owner: &str) -> ConfigMap {
    let parent = cms
        .create(&PostParams::default(), &config_map(owner, &[]))
        .await
        .expect("create owner");
    for i in 1..=2 {
        let mut dep = config_map(&format!("{owner}-dep-{i}"), &[]);
        dep.metadata.owner_references = Some(vec![owner_ref(&parent, true)]);
        cms.create(&PostParams::default(), &dep)
            .await
            .expect("create dependent");
    }
    parent
}

#[tokio::test]
async fn background_propagation_deletes_dependents_after_owner() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let owner = deploys
        .create(
            &PostParams::default(),
            &deployment("web", 1, vec![container("app", "nginx:1.27")]),
        )
        .await
        .expect("create owner");
    let mut p = pod("web-pod");
    p.metadata.owner_references = Some(vec![owner_ref(&owner, false)]);
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create pod");
    let mut c = config_map("web-cfg", &[]);
    c.metadata.owner_references = Some(vec![owner_ref(&owner, false)]);
    cms.create(&PostParams::default(), &c)
        .await
        .expect("create cm");

    deploys
        .delete("web", &DeleteParams::background())
        .await
        .expect("delete owner");
    assert!(
        deploys.get_opt("web").await.expect("get_opt").is_none(),
        "with Background the owner goes at once"
    );
    eventually_gone(&pods, "web-pod").await;
    eventually_gone(&cms, "web-cfg").await;
}

#[tokio::test]
async fn foreground_propagation_waits_for_dependents() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    family(&cms, "fg").await;
    // A finalizer on one dependent holds the owner in its foreground wait.
    cms.patch(
        "fg-dep-2",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": [HOLD]}})),
    )
    .await
    .expect("hold dependent");

    let res = cms
        .delete("fg", &DeleteParams::foreground())
        .await
        .expect("delete owner");
    let owner = res.left().expect("the owner stays while dependents go");
    assert!(owner.metadata.deletion_timestamp.is_some());
    assert!(owner
        .finalizers()
        .contains(&"foregroundDeletion".to_string()));

    eventually_gone(&cms, "fg-dep-1").await;
    eventually("the held dependent to be marked for deletion", || async {
        cms.get("fg-dep-2")
            .await
            .expect("held dependent")
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    let waiting = cms.get("fg").await.expect("owner still waiting");
    assert!(waiting
        .finalizers()
        .contains(&"foregroundDeletion".to_string()));

    release(&cms, "fg-dep-2").await;
    eventually_gone(&cms, "fg-dep-2").await;
    eventually_gone(&cms, "fg").await;
}

#[tokio::test]
async fn orphan_propagation_keeps_dependents_without_owner_reference() {
    let server = TestServer::sqlite().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    family(&cms, "orph").await;
    cms.delete("orph", &DeleteParams::orphan())
        .await
        .expect("delete owner");
    eventually_gone(&cms, "orph").await;
    // The orphan finalizer is removed only after the references are gone.
    for dep in ["orph-dep-1", "orph-dep-2"] {
        let d = cms.get(dep).await.expect("dependent survives");
        assert!(d.metadata.deletion_timestamp.is_none());
        assert!(
            d.owner_references().is_empty(),
            "{dep} still points at the deleted owner"
        );
    }
}

#[tokio::test]
async fn namespace_deletion_removes_its_content() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "doomed").await;
    let nss: Api<Namespace> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "doomed");
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "doomed");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "doomed");
    cms.create(&PostParams::default(), &config_map("plain", &[]))
        .await
        .expect("cm");
    cms.create(&PostParams::default(), &held_config_map("held"))
        .await
        .expect("held cm");
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: meta("s"),
                ..Default::default()
            },
        )
        .await
        .expect("secret");
    deploys
        .create(
            &PostParams::default(),
            &deployment("d", 1, vec![container("app", "nginx:1.27")]),
        )
        .await
        .expect("deployment");
    pods.create(&PostParams::default(), &pod("p"))
        .await
        .expect("pod");

    nss.delete("doomed", &DeleteParams::default())
        .await
        .expect("delete namespace");
    // The held ConfigMap keeps the namespace in Terminating.
    eventually("the held ConfigMap to be marked for deletion", || async {
        cms.get("held")
            .await
            .expect("held cm")
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    let ns = nss.get("doomed").await.expect("namespace still there");
    assert_eq!(
        ns.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let refused = api_error(
        cms.create(&PostParams::default(), &config_map("late", &[]))
            .await,
    );
    assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
    assert!(
        refused.message.contains("because it is being terminated"),
        "{}",
        refused.message
    );
    eventually_gone(&cms, "plain").await;
    eventually_gone(&secrets, "s").await;
    eventually_gone(&deploys, "d").await;
    eventually_gone(&pods, "p").await;

    release(&cms, "held").await;
    eventually_gone(&nss, "doomed").await;
    assert!(cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .is_empty());
}

#[tokio::test]
async fn delete_collection_honours_the_selector() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "coll").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "coll");
    for (name, batch) in [("a", "1"), ("b", "1"), ("c", "2")] {
        cms.create(
            &PostParams::default(),
            &labeled_config_map(name, &[("batch", batch)]),
        )
        .await
        .expect("create");
    }
    let res = cms
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("batch=1"),
        )
        .await
        .expect("delete collection");
    let deleted = res.left().expect("the deleted items are listed");
    assert_eq!(sorted_names(&deleted.items), vec!["a", "b"]);
    assert_eq!(
        sorted_names(&cms.list(&ListParams::default()).await.expect("list").items),
        vec!["c"]
    );
}

#[tokio::test]
async fn delete_preconditions_must_match() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let created = cms
        .create(&PostParams::default(), &config_map("pre", &[]))
        .await
        .expect("create");
    let wrong_uid = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("00000000-0000-0000-0000-000000000000".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let status = api_error(cms.delete("pre", &wrong_uid).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(
        status
            .message
            .contains("Precondition failed: UID in precondition"),
        "{}",
        status.message
    );

    let stale_rv = DeleteParams {
        preconditions: Some(Preconditions {
            uid: None,
            resource_version: Some("1".into()),
        }),
        ..Default::default()
    };
    let status = api_error(cms.delete("pre", &stale_rv).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(cms.get_opt("pre").await.expect("get_opt").is_some());

    let matching = DeleteParams {
        preconditions: Some(Preconditions {
            uid: created.uid(),
            resource_version: created.resource_version(),
        }),
        ..Default::default()
    };
    cms.delete("pre", &matching).await.expect("delete");
    assert!(cms.get_opt("pre").await.expect("get_opt").is_none());
}

#[tokio::test]
async fn bound_pod_deletes_gracefully_until_forced() {
    let server = TestServer::memory().await;
    let pods: Api<Pod> = Api::namespaced(server.client().await, "default");
    let mut p = pod("bound");
    if let Some(spec) = p.spec.as_mut() {
        spec.node_name = Some("node-a".into());
    }
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create");
    let res = pods
        .delete("bound", &DeleteParams::default())
        .await
        .expect("graceful delete");
    let terminating = res.left().expect("the pod is returned");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(30));
    assert!(
        pods.get_opt("bound").await.expect("get_opt").is_some(),
        "a pod on a node waits for its kubelet"
    );
    pods.delete("bound", &DeleteParams::default().grace_period(0))
        .await
        .expect("force delete");
    assert!(pods.get_opt("bound").await.expect("get_opt").is_none());
}
