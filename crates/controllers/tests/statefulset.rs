//! StatefulSet controller against the in-process API server; the test plays
//! the kubelet (pods/status Ready, force-deleting terminating pods).

#[path = "support_workloads/mod.rs"]
mod support;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use support::{eventually, has_event, live_pods, mark_ready, start};

fn statefulset(name: &str, extra: Value) -> StatefulSet {
    let mut spec = json!({
        "replicas": 3, "serviceName": name,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}},
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec,
    }))
    .expect("statefulset")
}

/// Live pods of the set, by name.
async fn pods_of(client: &kube::Client, app: &str) -> BTreeMap<String, Pod> {
    live_pods(client, "default")
        .await
        .into_iter()
        .filter(|p| p.labels().get("app").map(String::as_str) == Some(app))
        .map(|p| (p.name_any(), p))
        .collect()
}

async fn names_of(client: &kube::Client, app: &str) -> Vec<String> {
    pods_of(client, app).await.into_keys().collect()
}

/// Pods with a deletionTimestamp (bound pods terminate gracefully).
async fn terminating(client: &kube::Client, app: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
        .map(|p| p.name_any())
        .collect()
}

/// The kubelet finishing a graceful deletion.
async fn force_delete(pods: &Api<Pod>, name: &str) {
    let _ = pods
        .delete(name, &DeleteParams::default().grace_period(0))
        .await;
}

/// A stand-in kubelet: marks every live pod of `app` Ready once it has
/// existed for 200 ms (so each step of a rollout is observable).
fn kubelet(client: kube::Client, app: &'static str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let mut first_seen: std::collections::HashMap<String, tokio::time::Instant> =
            std::collections::HashMap::new();
        loop {
            for (name, pod) in pods_of(&client, app).await {
                let seen = *first_seen
                    .entry(pod.uid().unwrap_or_default())
                    .or_insert_with(tokio::time::Instant::now);
                if !berth_controllers::pod_state::is_ready(&pod)
                    && seen.elapsed() >= Duration::from_millis(200)
                {
                    mark_ready(&pods, &name).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

#[tokio::test]
async fn ordered_ready_creation_claims_and_scale_down() {
    let h = start().await;
    let api: Api<StatefulSet> = Api::namespaced(h.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(h.client.clone(), "default");
    // Bound pods (nodeName) are deleted gracefully, so scale-down order shows.
    let set = statefulset(
        "web",
        json!({
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"nodeName": "node-1",
                                  "containers": [{"name": "c", "image": "nginx:1"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}}}],
        }),
    );
    api.create(&PostParams::default(), &set)
        .await
        .expect("create");

    eventually("web-0", || async {
        (names_of(&h.client, "web").await == ["web-0"]).then_some(())
    })
    .await;
    let claim = pvcs
        .get("www-web-0")
        .await
        .expect("claim created with web-0");
    assert_eq!(claim.labels().get("app").map(String::as_str), Some("web"));
    // web-1 waits for web-0 to be Running and Ready.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(names_of(&h.client, "web").await, ["web-0"]);

    let web0 = pods.get("web-0").await.expect("web-0");
    let labels = web0.labels();
    assert_eq!(
        labels
            .get("statefulset.kubernetes.io/pod-name")
            .map(String::as_str),
        Some("web-0")
    );
    assert_eq!(
        labels
            .get("apps.kubernetes.io/pod-index")
            .map(String::as_str),
        Some("0")
    );
    let spec = web0.spec.clone().expect("spec");
    assert_eq!(
        (spec.hostname.as_deref(), spec.subdomain.as_deref()),
        (Some("web-0"), Some("web"))
    );
    let volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "www")
        .and_then(|v| v.persistent_volume_claim.clone())
        .expect("claim volume");
    assert_eq!(volume.claim_name, "www-web-0");
    let owner = &web0.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("StatefulSet", Some(true))
    );

    mark_ready(&pods, "web-0").await;
    eventually("web-1 after web-0 is ready", || async {
        (names_of(&h.client, "web").await == ["web-0", "web-1"]).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(names_of(&h.client, "web").await, ["web-0", "web-1"]);
    mark_ready(&pods, "web-1").await;
    eventually("web-2", || async {
        (names_of(&h.client, "web").await.len() == 3).then_some(())
    })
    .await;
    mark_ready(&pods, "web-2").await;

    let status = eventually("status: 3 ready, one revision", || async {
        let s = api.get("web").await.ok()?.status?;
        (s.replicas == 3 && s.ready_replicas == Some(3) && s.current_replicas == Some(3))
            .then_some(s)
    })
    .await;
    assert_eq!(status.current_revision, status.update_revision);
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.available_replicas, Some(3));
    let revision = status.update_revision.clone().unwrap_or_default();
    assert_eq!(
        web0.labels().get("controller-revision-hash"),
        Some(&revision),
        "pods carry their ControllerRevision's name"
    );
    let revisions: Api<ControllerRevision> = Api::namespaced(h.client.clone(), "default");
    let rev = revisions.get(&revision).await.expect("revision");
    assert_eq!(rev.revision, 1);
    assert!(
        has_event(
            &h.client,
            "default",
            "SuccessfulCreate",
            "create Pod web-0 in StatefulSet web successful"
        )
        .await
    );
    assert!(
        has_event(
            &h.client,
            "default",
            "SuccessfulCreate",
            "create Claim www-web-0 Pod web-0 in StatefulSet web success"
        )
        .await
    );

    // Scale to 1: web-2 terminates first; web-1 waits until it is gone.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale");
    eventually("web-2 terminating", || async {
        (terminating(&h.client, "web").await == ["web-2"]).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(terminating(&h.client, "web").await, ["web-2"]);
    force_delete(&pods, "web-2").await;
    eventually("web-1 terminating", || async {
        (terminating(&h.client, "web").await == ["web-1"]).then_some(())
    })
    .await;
    force_delete(&pods, "web-1").await;
    eventually("only web-0", || async {
        let s = api.get("web").await.ok()?.status?;
        (names_of(&h.client, "web").await == ["web-0"] && s.replicas == 1).then_some(())
    })
    .await;
    // Claims are retained (default policy Retain).
    for claim in ["www-web-0", "www-web-1", "www-web-2"] {
        assert!(pvcs.get(claim).await.is_ok(), "{claim} kept");
    }

    // Scaling up again reuses the retained claim.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await
    .expect("scale up");
    let web1 = eventually("web-1 again", || async {
        pods_of(&h.client, "web").await.remove("web-1")
    })
    .await;
    let claim_name = web1
        .spec
        .and_then(|s| s.volumes)
        .and_then(|v| v.into_iter().find(|v| v.name == "www"))
        .and_then(|v| v.persistent_volume_claim)
        .map(|c| c.claim_name);
    assert_eq!(claim_name.as_deref(), Some("www-web-1"));
}

#[tokio::test]
async fn template_change_rolls_from_the_highest_ordinal() {
    let h = start().await;
    let _kubelet = kubelet(h.client.clone(), "roll");
    let api: Api<StatefulSet> = Api::namespaced(h.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
    api.create(&PostParams::default(), &statefulset("roll", json!({})))
        .await
        .expect("create");
    let first = eventually("3 ready pods", || async {
        let s = api.get("roll").await.ok()?.status?;
        (s.ready_replicas == Some(3) && s.current_replicas == Some(3)).then_some(s)
    })
    .await;
    let old_revision = first.current_revision.clone().expect("current revision");

    // A deleted pod comes back with the same name.
    let old_uid = pods.get("roll-1").await.expect("roll-1").uid();
    pods.delete("roll-1", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("roll-1 recreated", || async {
        let p = pods_of(&h.client, "roll").await.remove("roll-1")?;
        (p.uid() != old_uid).then_some(())
    })
    .await;

    api.patch(
        "roll",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}})),
    )
    .await
    .expect("new image");
    let new_revision = eventually("update revision", || async {
        let s = api.get("roll").await.ok()?.status?;
        s.update_revision.filter(|r| *r != old_revision)
    })
    .await;

    // Record the order in which pods reach the new revision.
    let mut order: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while order.len() < 3 && tokio::time::Instant::now() < deadline {
        for (name, pod) in pods_of(&h.client, "roll").await {
            let updated = pod.labels().get("controller-revision-hash") == Some(&new_revision);
            if updated && !order.contains(&name) {
                order.push(name);
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(order, ["roll-2", "roll-1", "roll-0"]);
    let image = pods
        .get("roll-0")
        .await
        .ok()
        .and_then(|p| p.spec)
        .and_then(|s| s.containers.first().and_then(|c| c.image.clone()));
    assert_eq!(image.as_deref(), Some("nginx:2"));

    let done = eventually("rollout complete", || async {
        let s = api.get("roll").await.ok()?.status?;
        (s.current_revision.as_ref() == Some(&new_revision)
            && s.updated_replicas == Some(3)
            && s.ready_replicas == Some(3))
        .then_some(s)
    })
    .await;
    assert_eq!(done.observed_generation, Some(2));
    let revisions: Api<ControllerRevision> = Api::namespaced(h.client.clone(), "default");
    let mut numbers: Vec<(String, i64)> = revisions
        .list(&ListParams::default().labels("app=roll"))
        .await
        .expect("revisions")
        .items
        .iter()
        .map(|r| (r.name_any(), r.revision))
        .collect();
    numbers.sort_by_key(|(_, n)| *n);
    assert_eq!(
        numbers,
        [(old_revision.clone(), 1), (new_revision.clone(), 2)]
    );
}

#[tokio::test]
async fn parallel_creates_at_once_and_recreates_failed_pods() {
    let h = start().await;
    let api: Api<StatefulSet> = Api::namespaced(h.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
    api.create(
        &PostParams::default(),
        &statefulset("par", json!({"podManagementPolicy": "Parallel"})),
    )
    .await
    .expect("create");
    // No pod is ever ready, yet all three exist.
    eventually("3 pods without readiness", || async {
        (names_of(&h.client, "par").await == ["par-0", "par-1", "par-2"]).then_some(())
    })
    .await;

    let old_uid = pods.get("par-1").await.expect("par-1").uid();
    let failed = json!({"status": {"phase": "Failed"}});
    pods.patch_status("par-1", &PatchParams::default(), &Patch::Merge(&failed))
        .await
        .expect("fail par-1");
    eventually("failed par-1 replaced", || async {
        let p = pods_of(&h.client, "par").await.remove("par-1")?;
        (p.uid() != old_uid && support::phase(&p) != Some("Failed")).then_some(())
    })
    .await;
    assert!(
        has_event(
            &h.client,
            "default",
            "SuccessfulDelete",
            "delete Pod par-1 in StatefulSet par successful"
        )
        .await
    );

    // Parallel scale-down removes every condemned pod at once.
    api.patch(
        "par",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 0}})),
    )
    .await
    .expect("scale");
    eventually("no pods", || async {
        names_of(&h.client, "par").await.is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn retention_policy_delete_removes_claims() {
    let h = start().await;
    let api: Api<StatefulSet> = Api::namespaced(h.client.clone(), "default");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(h.client.clone(), "default");
    let set = statefulset(
        "ret",
        json!({
            "replicas": 2, "podManagementPolicy": "Parallel",
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}}}],
        }),
    );
    api.create(&PostParams::default(), &set)
        .await
        .expect("create");
    eventually("2 pods and claims", || async {
        let ok = names_of(&h.client, "ret").await.len() == 2
            && pvcs.get("data-ret-0").await.is_ok()
            && pvcs.get("data-ret-1").await.is_ok();
        ok.then_some(())
    })
    .await;
    let claim = pvcs.get("data-ret-0").await.expect("claim");
    assert_eq!(
        claim.owner_references().first().map(|r| r.kind.as_str()),
        Some("StatefulSet"),
        "whenDeleted=Delete: owned by the set"
    );

    // whenScaled=Delete: the condemned pod's claim goes with it.
    api.patch(
        "ret",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale");
    eventually("data-ret-1 collected", || async {
        let gone = pvcs.get_opt("data-ret-1").await.ok()?.is_none();
        (gone && names_of(&h.client, "ret").await == ["ret-0"]).then_some(())
    })
    .await;
    assert!(pvcs.get("data-ret-0").await.is_ok());

    // whenDeleted=Delete: deleting the set collects the remaining claim.
    api.delete("ret", &DeleteParams::default())
        .await
        .expect("delete set");
    eventually("data-ret-0 collected", || async {
        pvcs.get_opt("data-ret-0")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
}
