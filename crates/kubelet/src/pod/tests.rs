//! Workers over a FakeRuntime and a fake API: what a restarted agent does
//! with the pods it finds in the runtime.

use super::manager::clean_orphans;
use super::worker::Worker;
use crate::testutil::{container, context, fake_runtime, sandbox, seen, SeenRequest};
use berth_cri::{api, RuntimeService};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use std::time::Duration;
use tokio::sync::watch;

fn pod(name: &str, uid: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "ns", "uid": uid},
        "spec": {"restartPolicy": "Always", "containers": [{"name": "app", "image": "busybox:1.36"}]},
    }))
    .unwrap_or_default()
}

async fn wait_for(
    s: &crate::testutil::Seen,
    pred: impl Fn(&SeenRequest) -> bool,
) -> Option<SeenRequest> {
    for _ in 0..100 {
        if let Some(r) = seen(s).into_iter().rev().find(|r| pred(r)) {
            return Some(r);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn a_restarted_agent_adopts_running_containers_without_restarting_them() {
    let rt = fake_runtime();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sb = sandbox(&rt, "ns", "web", "u1", 0).await;
    let old = container(&rt, &sb, "u1", "app", 1, true).await;
    let _ = rt.exit_container(&old, 1);
    let current = container(&rt, &sb, "u1", "app", 2, true).await;
    rt.clear_calls();

    let (ctx, api) = context(&rt, dir.path());
    let (tx, rx) = watch::channel(Some(pod("web", "u1")));
    let task = tokio::spawn(Worker::new(ctx, "u1".into()).run(rx));
    let patch = wait_for(&api, |r| {
        r.method == "PATCH" && r.path.ends_with("/pods/web/status")
    })
    .await;
    let status = patch.map(|r| r.body["status"].clone()).unwrap_or_default();
    let cs = &status["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 2, "{status:#}");
    assert!(cs["state"]["running"].is_object(), "{status:#}");
    assert_eq!(cs["containerID"], format!("containerd://{current}"));
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1, "{status:#}");
    assert_eq!(status["phase"], "Running");
    let calls = rt.calls();
    for verb in [
        "RunPodSandbox",
        "StopPodSandbox",
        "CreateContainer",
        "StartContainer",
        "StopContainer",
    ] {
        assert!(
            !calls.contains(&verb),
            "{verb} called while adopting: {calls:?}"
        );
    }
    drop(tx);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

#[tokio::test]
async fn pods_deleted_while_the_agent_was_down_are_removed() {
    let rt = fake_runtime();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let gone = sandbox(&rt, "ns", "gone", "u-gone", 0).await;
    container(&rt, &gone, "u-gone", "app", 0, true).await;
    let kept = sandbox(&rt, "ns", "kept", "u-kept", 0).await;
    let kept_c = container(&rt, &kept, "u-kept", "app", 0, true).await;
    let (ctx, _api) = context(&rt, dir.path());
    let known = ["u-kept".to_string()].into();
    for t in clean_orphans(&ctx, &known).await {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    let sandboxes = rt
        .list_pod_sandbox(api::ListPodSandboxRequest { filter: None })
        .await
        .map(|r| r.items)
        .unwrap_or_default();
    let ids: Vec<&str> = sandboxes.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [kept.as_str()]);
    let containers = rt
        .list_containers(api::ListContainersRequest { filter: None })
        .await
        .map(|r| r.containers)
        .unwrap_or_default();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0].id, kept_c);
    assert_eq!(
        containers[0].state,
        api::ContainerState::ContainerRunning as i32
    );
}
