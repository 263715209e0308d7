//! `/status` and `/scale` through kube's subresource methods.

use crate::common::*;
use crate::support::TestServer;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;

#[tokio::test]
async fn status_subresource_changes_status_only() {
    let server = TestServer::sqlite().await;
    let deploys: Api<Deployment> = Api::namespaced(server.client().await, "default");
    let created = deploys
        .create(
            &PostParams::default(),
            &deployment("web", 2, vec![container("app", "nginx:1.27")]),
        )
        .await
        .expect("create");

    // patch_status writes status, ignores the spec it carries, keeps the generation.
    let patch = json!({
        "spec": {"replicas": 9},
        "status": {"replicas": 2, "readyReplicas": 1, "observedGeneration": 1}
    });
    let out = deploys
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch status");
    let status = out.status.clone().expect("status");
    assert_eq!((status.replicas, status.ready_replicas), (Some(2), Some(1)));
    assert_eq!(
        out.spec.as_ref().and_then(|s| s.replicas),
        Some(2),
        "spec untouched"
    );
    assert_eq!(out.metadata.generation, created.metadata.generation);
    let read = deploys.get_status("web").await.expect("get status");
    assert_eq!(read.status.and_then(|s| s.ready_replicas), Some(1));

    // A write to the main resource cannot change status.
    let mut main = deploys.get("web").await.expect("get");
    main.status.as_mut().expect("status").ready_replicas = Some(7);
    main.labels_mut().insert("edited".into(), "yes".into());
    let replaced = deploys
        .replace("web", &PostParams::default(), &main)
        .await
        .expect("replace main resource");
    assert_eq!(replaced.status.and_then(|s| s.ready_replicas), Some(1));
    let patched = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 5}})),
        )
        .await
        .expect("patch main resource");
    assert_eq!(patched.status.and_then(|s| s.ready_replicas), Some(1));
    let stored = deploys.get("web").await.expect("get");
    assert_eq!(stored.status.and_then(|s| s.ready_replicas), Some(1));
    assert_eq!(
        stored
            .metadata
            .labels
            .and_then(|l| l.get("edited").cloned())
            .as_deref(),
        Some("yes")
    );

    // replace_status likewise leaves the spec alone.
    let mut whole = deploys.get("web").await.expect("get");
    whole.spec.as_mut().expect("spec").replicas = Some(4);
    whole.status.as_mut().expect("status").replicas = Some(3);
    let out = deploys
        .replace_status("web", &PostParams::default(), &whole)
        .await
        .expect("replace status");
    assert_eq!(out.status.and_then(|s| s.replicas), Some(3));
    assert_eq!(out.spec.and_then(|s| s.replicas), Some(2));
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_replicas() {
    let server = TestServer::memory().await;
    let deploys: Api<Deployment> = Api::namespaced(server.client().await, "default");
    deploys
        .create(
            &PostParams::default(),
            &deployment("web", 2, vec![container("app", "nginx:1.27")]),
        )
        .await
        .expect("create");

    let scale = deploys.get_scale("web").await.expect("get scale");
    assert_eq!(scale.metadata.name.as_deref(), Some("web"));
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(2));
    assert_eq!(
        scale
            .status
            .as_ref()
            .and_then(|s| s.selector.clone())
            .as_deref(),
        Some("app=web")
    );

    let scaled = deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(5));
    let d = deploys.get("web").await.expect("get");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(5));
    assert_eq!(d.metadata.generation, Some(2), "scaling changes the spec");

    let bad = api_error(
        deploys
            .patch_scale(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": -1}})),
            )
            .await,
    );
    assert_eq!((bad.code, bad.reason.as_str()), (422, "Invalid"));
    let missing = api_error(deploys.get_scale("nope").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
}
