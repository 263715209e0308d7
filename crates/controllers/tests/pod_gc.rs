//! Pod GC: orphans on deleted nodes and the terminated-pod threshold.

#[path = "support_cluster/mod.rs"]
mod support;

use berth_controllers::pod_gc::{run_pod_gc_controller, PodGcConfig};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

#[tokio::test]
async fn collects_orphans_and_old_terminated_pods() {
    let (_server, client, ctx) = start().await;
    create_node(&client, "n1", json!({})).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    create_pod(&client, "default", "orphan", "ghost", json!({})).await;
    set_pod_status(&client, "default", "orphan", "10.42.0.9", true).await;
    create_pod(&client, "default", "running", "n1", json!({})).await;
    for name in ["t1", "t2", "t3"] {
        create_pod(&client, "default", name, "n1", json!({})).await;
        pods.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Succeeded"}})),
        )
        .await
        .expect("terminate");
    }
    let started = Instant::now();
    let config = PodGcConfig {
        period: Duration::from_millis(200),
        terminated_pod_gc_threshold: 2,
        quarantine: Duration::from_secs(1),
    };
    tokio::spawn(run_pod_gc_controller(client.clone(), ctx, config));

    eventually("t1 collected", || async {
        pods.get_opt("t1").await.ok()?.is_none().then_some(())
    })
    .await;
    eventually("orphan collected", || async {
        pods.get_opt("orphan").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "orphan collected before quarantine"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    for name in ["t2", "t3", "running"] {
        assert!(
            pods.get_opt(name).await.expect("get").is_some(),
            "{name} was collected"
        );
    }
}
