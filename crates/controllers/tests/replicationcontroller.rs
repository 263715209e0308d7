//! ReplicationController controller against the in-process API server.

#[path = "support_workloads/mod.rs"]
mod support;

use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::{eventually, has_event, live_pods, mark_ready, start};

fn rc(name: &str, replicas: i32) -> ReplicationController {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"app": name},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }))
    .expect("rc")
}

async fn owned(client: &kube::Client, rc: &ReplicationController) -> Vec<Pod> {
    live_pods(client, "default")
        .await
        .into_iter()
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|r| Some(&r.uid) == rc.uid().as_ref() && r.controller == Some(true))
        })
        .collect()
}

#[tokio::test]
async fn keeps_replicas_replaces_deleted_and_scales() {
    let h = start().await;
    let api: Api<ReplicationController> = Api::namespaced(h.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &rc("web", 3))
        .await
        .expect("create");

    let first = eventually("3 pods", || async {
        let p = owned(&h.client, &created).await;
        (p.len() == 3).then_some(p)
    })
    .await;
    for pod in &first {
        assert!(pod.name_any().starts_with("web-"), "{}", pod.name_any());
        let owner = &pod.owner_references()[0];
        assert_eq!(
            (owner.api_version.as_str(), owner.kind.as_str()),
            ("v1", "ReplicationController")
        );
    }
    mark_ready(&pods, &first[0].name_any()).await;
    eventually("status", || async {
        let s = api.get("web").await.ok()?.status?;
        (s.replicas == 3
            && s.ready_replicas == Some(1)
            && s.available_replicas == Some(1)
            && s.fully_labeled_replicas == Some(3)
            && s.observed_generation == Some(1))
        .then_some(())
    })
    .await;
    assert!(
        has_event(
            &h.client,
            "default",
            "SuccessfulCreate",
            "Created pod: web-"
        )
        .await
    );

    // A deleted pod is replaced.
    let victim = first[1].name_any();
    pods.delete(&victim, &DeleteParams::default())
        .await
        .expect("delete");
    eventually("replacement", || async {
        let p = owned(&h.client, &created).await;
        (p.len() == 3 && p.iter().all(|x| x.name_any() != victim)).then_some(())
    })
    .await;

    // Scale down keeps the ready pod (unready ones go first).
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale");
    let left = eventually("1 pod", || async {
        let p = owned(&h.client, &created).await;
        (p.len() == 1).then_some(p)
    })
    .await;
    assert_eq!(left[0].name_any(), first[0].name_any());
    assert!(
        has_event(
            &h.client,
            "default",
            "SuccessfulDelete",
            "Deleted pod: web-"
        )
        .await
    );
}

#[tokio::test]
async fn adopts_matching_orphans_and_releases_relabelled_pods() {
    let h = start().await;
    let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
    let orphan: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "stray", "labels": {"app": "adopt"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &orphan)
        .await
        .expect("orphan");
    let api: Api<ReplicationController> = Api::namespaced(h.client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &rc("adopt", 2))
        .await
        .expect("create");
    eventually("orphan adopted and one more created", || async {
        let p = owned(&h.client, &created).await;
        (p.len() == 2 && p.iter().any(|x| x.name_any() == "stray")).then_some(())
    })
    .await;

    // Relabelled out of the selector: released, and replaced.
    pods.patch(
        "stray",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
    )
    .await
    .expect("relabel");
    eventually("released and replaced", || async {
        let p = owned(&h.client, &created).await;
        let stray = pods.get("stray").await.ok()?;
        (p.len() == 2 && stray.owner_references().is_empty()).then_some(())
    })
    .await;
}
