use super::*;
use crate::testutil::{container, fake_runtime, sandbox};
use berth_cri::fake::FakeUsage;

#[test]
fn nano_cores_is_the_cpu_time_rate() {
    // 0.5 s of CPU over 2 s: a quarter of a core.
    assert_eq!(
        nano_cores((0, 0), (2_000_000_000, 500_000_000)),
        Some(250_000_000)
    );
    assert_eq!(nano_cores((5, 10), (5, 20)), None, "no time passed");
    assert_eq!(
        nano_cores((0, 10), (1, 5)),
        None,
        "counter went back (restart)"
    );
}

#[tokio::test]
async fn summary_has_pods_with_container_rates_from_two_samples() {
    let rt = fake_runtime();
    let sb = sandbox(&rt, "ns1", "web", "uid-web", 0).await;
    let a = container(&rt, &sb, "uid-web", "app", 0, true).await;
    let b = container(&rt, &sb, "uid-web", "side", 0, true).await;
    let _stopped = container(&rt, &sb, "uid-web", "old", 0, false).await;
    rt.set_usage(
        &a,
        FakeUsage {
            cpu_nano_cores: 200_000_000,
            memory_working_set_bytes: 10 << 20,
        },
    );
    rt.set_usage(
        &b,
        FakeUsage {
            cpu_nano_cores: 50_000_000,
            memory_working_set_bytes: 2 << 20,
        },
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = KubeletConfig::new("node1", dir.path().to_path_buf(), "192.0.2.1");
    let stats = StatsProvider::new(Arc::new(rt.clone()), &cfg);
    let first = stats.sample().await;
    assert_eq!(first.node.node_name, "node1");
    assert_eq!(first.pods.len(), 1);
    let pod = &first.pods[0];
    assert_eq!(pod.pod_ref.name, "web");
    assert_eq!(pod.pod_ref.namespace, "ns1");
    assert_eq!(pod.pod_ref.uid, "uid-web");
    let names: Vec<&str> = pod.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["app", "side"], "only running containers");

    rt.advance_clock(Duration::from_secs(10));
    let second = stats.sample().await;
    let pod = &second.pods[0];
    let app = &pod.containers[0];
    let cores = app.cpu.as_ref().and_then(|c| c.usage_nano_cores);
    // The fake's own rate is 0.2 cores; we derive it from two cumulative readings.
    assert!(
        cores.is_some_and(|c| c.abs_diff(200_000_000) < 2_000_000),
        "{cores:?}"
    );
    assert_eq!(
        app.memory.as_ref().and_then(|m| m.working_set_bytes),
        Some(10 << 20)
    );
    let pod_ws = pod.memory.as_ref().and_then(|m| m.working_set_bytes);
    assert_eq!(pod_ws, Some(12 << 20));
    let pod_cores = pod
        .cpu
        .as_ref()
        .and_then(|c| c.usage_nano_cores)
        .unwrap_or(0);
    assert!(pod_cores.abs_diff(250_000_000) < 3_000_000, "{pod_cores}");

    // Node figures are real ones from this machine.
    let node = &second.node;
    let mem = node.memory.clone().unwrap_or_default();
    assert!(mem.working_set_bytes.is_some_and(|w| w > 0));
    assert!(mem.available_bytes.is_some());
    assert!(node
        .cpu
        .as_ref()
        .and_then(|c| c.usage_core_nano_seconds)
        .is_some());
    assert!(node.cpu.as_ref().and_then(|c| c.usage_nano_cores).is_some());
    assert!(node
        .fs
        .as_ref()
        .and_then(|f| f.capacity_bytes)
        .is_some_and(|c| c > 0));
    assert!(node
        .runtime
        .as_ref()
        .and_then(|r| r.image_fs.as_ref())
        .is_some());

    // A cached summary is returned while fresh.
    let cached = stats.summary().await;
    assert!(Arc::ptr_eq(&cached, &second));
}
