//! TTL-after-finished against the in-process API server.

#[path = "support_workloads/mod.rs"]
mod support;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::{eventually, finish_pod, live_pods, start};

#[tokio::test]
async fn finished_job_is_deleted_after_its_ttl() {
    let h = start().await;
    let jobs: Api<Job> = Api::namespaced(h.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "short", "namespace": "default"},
        "spec": {"ttlSecondsAfterFinished": 2,
                 "template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}},
    }))
    .expect("job");
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let pod = eventually("pod", || async {
        live_pods(&h.client, "default").await.into_iter().next()
    })
    .await;
    finish_pod(&pods, &pod.name_any(), true).await;
    eventually("Complete", || async {
        let j = jobs.get("short").await.ok()?;
        crate::is_complete(&j).then_some(())
    })
    .await;
    // Still there right after finishing.
    assert!(jobs.get_opt("short").await.expect("get").is_some());
    eventually("job deleted after ttl", || async {
        jobs.get_opt("short").await.ok()?.is_none().then_some(())
    })
    .await;
    eventually("its pod collected too", || async {
        pods.get_opt(&pod.name_any())
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
}

fn is_complete(j: &Job) -> bool {
    berth_controllers::job::condition(j, "Complete").is_some()
}
