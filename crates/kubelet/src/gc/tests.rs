use super::*;
use crate::testutil::{container, context, fake_runtime, sandbox, sandbox_logging_to};
use berth_cri::{ImageService, RuntimeService};

async fn container_ids(rt: &berth_cri::FakeRuntime) -> Vec<String> {
    let mut ids: Vec<String> = rt
        .list_containers(api::ListContainersRequest { filter: None })
        .await
        .map(|r| r.containers.into_iter().map(|c| c.id).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn dead_containers_beyond_the_last_one_go_with_their_logs() {
    let rt = fake_runtime();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let logs = dir.path().join("pod-logs/ns_web_u1");
    let sb = sandbox_logging_to(&rt, "ns", "web", "u1", 0, &logs.display().to_string()).await;
    let mut dead = Vec::new();
    for attempt in 0..3 {
        let id = container(&rt, &sb, "u1", "app", attempt, true).await;
        let _ = rt.exit_container(&id, 1);
        dead.push(id);
    }
    let live = container(&rt, &sb, "u1", "app", 3, true).await;
    std::fs::create_dir_all(logs.join("app")).unwrap_or_default();
    for n in 0..4 {
        std::fs::write(logs.join(format!("app/{n}.log")), "x").unwrap_or_default();
    }
    let (ctx, _api) = context(&rt, dir.path());
    let gc = GarbageCollector::new(ctx, Arc::new(|| None));
    let active: HashSet<String> = ["u1".to_string()].into();
    let mut removed = gc.collect_containers(&active).await;
    removed.sort();
    let mut expect = vec![dead[0].clone(), dead[1].clone()];
    expect.sort();
    assert_eq!(removed, expect);
    let mut left = vec![dead[2].clone(), live.clone()];
    left.sort();
    assert_eq!(container_ids(&rt).await, left);
    assert!(!logs.join("app/0.log").exists() && !logs.join("app/1.log").exists());
    assert!(
        logs.join("app/2.log").exists(),
        "the previous instance's log stays for --previous"
    );

    // The pod is gone: its last dead container, its stopped sandbox and its log dir go too.
    let _ = rt
        .stop_pod_sandbox(api::StopPodSandboxRequest {
            pod_sandbox_id: sb.clone(),
        })
        .await;
    let none = HashSet::new();
    gc.collect(&none).await;
    assert!(container_ids(&rt).await.is_empty());
    let sandboxes = rt
        .list_pod_sandbox(api::ListPodSandboxRequest { filter: None })
        .await
        .map(|r| r.items.len())
        .unwrap_or(99);
    assert_eq!(sandboxes, 0);
    assert!(!logs.exists());
}

#[tokio::test]
async fn live_pods_keep_their_sandbox_and_logs_dir() {
    let rt = fake_runtime();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sb = sandbox(&rt, "ns", "web", "u1", 0).await;
    container(&rt, &sb, "u1", "app", 0, true).await;
    let logs = dir.path().join("pod-logs/ns_web_u1");
    std::fs::create_dir_all(&logs).unwrap_or_default();
    let (ctx, _api) = context(&rt, dir.path());
    let gc = GarbageCollector::new(ctx, Arc::new(|| None));
    gc.collect(&["u1".to_string()].into()).await;
    assert_eq!(container_ids(&rt).await.len(), 1);
    assert!(logs.exists());
    // The images in use and the pause image are never candidates, whatever the disk says.
    let images = rt
        .list_images(api::ListImagesRequest { filter: None })
        .await
        .map(|r| r.images.len())
        .unwrap_or(0);
    assert_eq!(images, 2);
}
