//! Deployment controller against the in-process API server, with a
//! stand-in kubelet marking pods Ready.

mod support;

use berth_controllers::deployment::{DESIRED_REPLICAS, MAX_REPLICAS, REVISION};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::{eventually, fake_kubelet, live_pods, start};

fn deployment(name: &str, image: &str, strategy: serde_json::Value) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}}, "strategy": strategy,
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}},
    }))
    .expect("deployment")
}

async fn replicasets(client: &kube::Client) -> Vec<ReplicaSet> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

fn revision(rs: &ReplicaSet) -> Option<&str> {
    rs.annotations().get(REVISION).map(String::as_str)
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn image_of(rs: &ReplicaSet) -> Option<String> {
    rs.spec
        .as_ref()?
        .template
        .as_ref()?
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .clone()
}

/// Wait until the deployment has fully rolled out to `image` (as
/// `kubectl rollout status` judges it) and return its ReplicaSets.
async fn wait_rolled_out(client: &kube::Client, name: &str, image: &str) -> Vec<ReplicaSet> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    eventually(&format!("rollout of {image}"), || async {
        let d = api.get(name).await.ok()?;
        let s = d.status.as_ref()?;
        let done = s.observed_generation >= d.metadata.generation
            && s.updated_replicas == Some(3)
            && s.replicas == Some(3)
            && s.available_replicas == Some(3)
            && s.unavailable_replicas.unwrap_or(0) == 0;
        let rss = replicasets(client).await;
        let current = rss
            .iter()
            .any(|rs| image_of(rs).as_deref() == Some(image) && spec_replicas(rs) == 3);
        let old_gone = rss
            .iter()
            .all(|rs| image_of(rs).as_deref() == Some(image) || spec_replicas(rs) == 0);
        if std::env::var_os("DEBUG_ROLLOUT").is_some() {
            eprintln!("status {:?}", d.status);
            for rs in &rss {
                eprintln!(
                    "rs {} image {:?} spec {} status {:?} ann {:?}",
                    rs.name_any(),
                    image_of(rs),
                    spec_replicas(rs),
                    rs.status,
                    rs.annotations()
                );
            }
        }
        (done && current && old_gone).then_some(rss)
    })
    .await
}

#[tokio::test]
async fn rolling_update_and_undo() {
    let (_server, client) = start().await;
    let _kubelet = fake_kubelet(client.clone(), "default");
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    api.create(
        &PostParams::default(),
        &deployment("web", "nginx:1", strategy),
    )
    .await
    .expect("create");

    let rss = wait_rolled_out(&client, "web", "nginx:1").await;
    assert_eq!(rss.len(), 1);
    let first = &rss[0];
    let hash = first
        .labels()
        .get("pod-template-hash")
        .cloned()
        .expect("hash label");
    assert_eq!(first.name_any(), format!("web-{hash}"));
    assert_eq!(revision(first), Some("1"));
    assert_eq!(
        first
            .annotations()
            .get(DESIRED_REPLICAS)
            .map(String::as_str),
        Some("3")
    );
    assert_eq!(
        first.annotations().get(MAX_REPLICAS).map(String::as_str),
        Some("4")
    );
    let spec = first.spec.as_ref().expect("spec");
    assert_eq!(
        spec.selector
            .match_labels
            .as_ref()
            .and_then(|m| m.get("pod-template-hash")),
        Some(&hash)
    );
    let pods = live_pods(&client, "default").await;
    assert_eq!(pods.len(), 3);
    assert!(pods
        .iter()
        .all(|p| p.labels().get("pod-template-hash") == Some(&hash)));
    let d = api.get("web").await.expect("get");
    let conds = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let reason = |t: &str| {
        conds
            .iter()
            .find(|c| c.type_ == t)
            .and_then(|c| c.reason.clone())
    };
    assert_eq!(
        reason("Available").as_deref(),
        Some("MinimumReplicasAvailable")
    );
    assert_eq!(
        reason("Progressing").as_deref(),
        Some("NewReplicaSetAvailable")
    );

    // Change the image: a second ReplicaSet, surge never exceeded.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "nginx:2"}]}}}})),
    )
    .await
    .expect("patch");
    let watcher = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut max_seen = 0;
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
            while tokio::time::Instant::now() < deadline {
                max_seen = max_seen.max(live_pods(&client, "default").await.len());
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            max_seen
        })
    };
    let rss = wait_rolled_out(&client, "web", "nginx:2").await;
    assert_eq!(rss.len(), 2);
    let new = rss
        .iter()
        .find(|rs| image_of(rs).as_deref() == Some("nginx:2"))
        .expect("new rs");
    assert_eq!(revision(new), Some("2"));
    let max_seen = watcher.await.expect("watcher");
    assert!(
        max_seen <= 4,
        "saw {max_seen} pods, more than replicas + maxSurge"
    );
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let scaled = events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items;
    assert!(scaled
        .iter()
        .any(|e| e.reason.as_deref() == Some("ScalingReplicaSet")
            && e.message.as_deref()
                == Some(&format!("Scaled down replica set web-{hash} to 0 from 1"))));

    // rollout undo: put the first template back; the old RS is reused at revision 3.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "nginx:1"}]}}}})),
    )
    .await
    .expect("undo");
    let rss = wait_rolled_out(&client, "web", "nginx:1").await;
    assert_eq!(rss.len(), 2, "no third ReplicaSet");
    let back = rss
        .iter()
        .find(|rs| rs.name_any() == format!("web-{hash}"))
        .expect("reused rs");
    assert_eq!(revision(back), Some("3"));
    assert_eq!(spec_replicas(back), 3);
}

#[tokio::test]
async fn recreate_scales_old_to_zero_before_new() {
    let (_server, client) = start().await;
    let _kubelet = fake_kubelet(client.clone(), "default");
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    api.create(
        &PostParams::default(),
        &deployment("db", "pg:1", json!({"type": "Recreate"})),
    )
    .await
    .expect("create");
    wait_rolled_out(&client, "db", "pg:1").await;
    api.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "pg:2"}]}}}})),
    )
    .await
    .expect("patch");
    // Never old and new pods at the same time.
    let mixed = {
        let client = client.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            let mut mixed = false;
            while tokio::time::Instant::now() < deadline {
                let pods = live_pods(&client, "default").await;
                let hashes: std::collections::BTreeSet<_> = pods
                    .iter()
                    .filter_map(|p| p.labels().get("pod-template-hash").cloned())
                    .collect();
                mixed |= hashes.len() > 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            mixed
        })
    };
    let rss = wait_rolled_out(&client, "db", "pg:2").await;
    let new = rss
        .iter()
        .find(|rs| image_of(rs).as_deref() == Some("pg:2"))
        .expect("new rs");
    assert_eq!(revision(new), Some("2"));
    assert!(
        !mixed.await.expect("sampler"),
        "old and new pods ran together"
    );
}

/// A stand-in kubelet for rollback tests: pods whose image contains
/// "broken" fail to pull, pods whose image contains "stuck" run but never
/// turn Ready, every other pod becomes Ready.
fn picky_kubelet(client: kube::Client) -> tokio::task::JoinHandle<()> {
    use k8s_openapi::api::core::v1::Pod;
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        loop {
            for pod in live_pods(&client, "default").await {
                let name = pod.name_any();
                let image = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.containers.first())
                    .and_then(|c| c.image.clone())
                    .unwrap_or_default();
                // Already handled: it has conditions or container statuses.
                let handled = pod.status.as_ref().is_some_and(|s| {
                    s.conditions.as_ref().is_some_and(|c| !c.is_empty())
                        || s.container_statuses.as_ref().is_some_and(|c| !c.is_empty())
                });
                if handled {
                    continue;
                }
                let now = k8s_openapi::jiff::Timestamp::now().to_string();
                let status = if image.contains("broken") {
                    json!({"status": {"phase": "Pending", "containerStatuses": [{
                        "name": "c", "image": image, "imageID": "", "ready": false, "restartCount": 0,
                        "state": {"waiting": {"reason": "ImagePullBackOff",
                            "message": format!("Back-off pulling image \"{image}\"")}}}]}})
                } else if image.contains("stuck") {
                    json!({"status": {"phase": "Running", "startTime": now,
                        "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}]}})
                } else {
                    json!({"status": {"phase": "Running", "startTime": now,
                        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}})
                };
                let _ = pods
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                    .await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
}

fn condition(d: &Deployment, type_: &str) -> Option<(String, String, String)> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| {
            (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

#[tokio::test]
async fn a_broken_image_is_rolled_back_automatically() {
    let (_server, client) = start().await;
    let _kubelet = picky_kubelet(client.clone());
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut d = deployment("auto", "echo:1", json!({"type": "RollingUpdate"}));
    d.metadata.annotations = Some(
        [(
            berth_controllers::auto_rollback::ANNOTATION.to_string(),
            "true".to_string(),
        )]
        .into(),
    );
    api.create(&PostParams::default(), &d)
        .await
        .expect("create");
    let rss = wait_rolled_out(&client, "auto", "echo:1").await;
    assert!(
        rss[0]
            .annotations()
            .contains_key(berth_controllers::auto_rollback::AVAILABLE_AT),
        "a completed rollout marks its ReplicaSet as known-good"
    );
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "echo:broken"}]}}}});
    api.patch("auto", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("set image");
    // Back on echo:1, with the reason recorded.
    wait_rolled_out(&client, "auto", "echo:1").await;
    let d = api.get("auto").await.expect("get");
    let (status, reason, message) = condition(&d, "RolledBack").expect("RolledBack condition");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "NewPodsFailing")
    );
    assert!(
        message.contains("Rolled back from revision 2 to revision 1"),
        "{message}"
    );
    assert!(message.contains("ImagePullBackOff"), "{message}");
    assert_eq!(d.annotations().get(REVISION).map(String::as_str), Some("3"));
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let evs = eventually("AutoRollback event", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        let found: Vec<Event> = list
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("AutoRollback"))
            .collect();
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert_eq!(evs[0].type_.as_deref(), Some("Warning"));
}

#[tokio::test]
async fn progress_deadline_marks_the_rollout_failed_and_rolls_back_when_asked() {
    let (_server, client) = start().await;
    let _kubelet = picky_kubelet(client.clone());
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    // Without auto-rollback: Progressing=False ProgressDeadlineExceeded, nothing undone.
    let mut d = deployment("slow", "echo:1", json!({"type": "RollingUpdate"}));
    d.spec.as_mut().expect("spec").progress_deadline_seconds = Some(2);
    api.create(&PostParams::default(), &d)
        .await
        .expect("create");
    wait_rolled_out(&client, "slow", "echo:1").await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "echo:stuck"}]}}}});
    api.patch(
        "slow",
        &PatchParams::default(),
        &Patch::Strategic(patch.clone()),
    )
    .await
    .expect("set image");
    let (_, _, message) = eventually("ProgressDeadlineExceeded", || async {
        let d = api.get("slow").await.ok()?;
        condition(&d, "Progressing")
            .filter(|(s, r, _)| s == "False" && r == "ProgressDeadlineExceeded")
    })
    .await;
    assert!(message.ends_with("has timed out progressing."), "{message}");
    let d = api.get("slow").await.expect("get");
    assert!(condition(&d, "RolledBack").is_none());

    // Opting in afterwards rolls it back to the last good revision.
    let opt_in = json!({"metadata": {"annotations": {berth_controllers::auto_rollback::ANNOTATION: "true"}}});
    api.patch("slow", &PatchParams::default(), &Patch::Merge(opt_in))
        .await
        .expect("annotate");
    wait_rolled_out(&client, "slow", "echo:1").await;
    let d = api.get("slow").await.expect("get");
    let (_, reason, _) = condition(&d, "RolledBack").expect("RolledBack");
    assert_eq!(reason, "ProgressDeadlineExceeded");
}
