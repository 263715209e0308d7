//! Job controller against the in-process API server, with pods finished by
//! patching their status (no kubelet).

#[path = "support_workloads/mod.rs"]
mod support;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::{eventually, finish_pod, has_event, live_pods, phase, start};

fn job(name: &str, backoff_limit: i32) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"backoffLimit": backoff_limit,
                 "template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}},
    }))
    .expect("job")
}

/// The one running pod of the job, once it exists.
async fn running_pod(client: &kube::Client, job: &str, not: &[String]) -> Pod {
    eventually("a new running pod", || async {
        live_pods(client, "default").await.into_iter().find(|p| {
            p.labels()
                .get("batch.kubernetes.io/job-name")
                .map(String::as_str)
                == Some(job)
                && phase(p).is_none_or(|ph| ph == "Pending")
                && !not.contains(&p.name_any())
        })
    })
    .await
}

fn condition(job: &Job, type_: &str) -> Option<(String, Option<String>)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .map(|c| (c.type_.clone(), c.reason.clone()))
}

#[tokio::test]
async fn job_retries_a_failed_pod_and_completes() {
    let h = start().await;
    let jobs: Api<Job> = Api::namespaced(h.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
    jobs.create(&PostParams::default(), &job("retry", 3))
        .await
        .expect("create");

    let first = running_pod(&h.client, "retry", &[]).await;
    assert!(first.name_any().starts_with("retry-"));
    assert_eq!(first.name_any().len(), "retry-".len() + 5);
    assert!(first
        .finalizers()
        .iter()
        .any(|f| f == "batch.kubernetes.io/job-tracking"));
    let owner = &first.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.controller), ("Job", Some(true)));
    eventually("status.active 1", || async {
        let s = jobs.get("retry").await.ok()?.status?;
        (s.active == Some(1) && s.start_time.is_some()).then_some(())
    })
    .await;

    finish_pod(&pods, &first.name_any(), false).await;
    let second = running_pod(&h.client, "retry", &[first.name_any()]).await;
    let counted = eventually("failed 1, finalizer removed", || async {
        let s = jobs.get("retry").await.ok()?.status?;
        let p = pods.get(&first.name_any()).await.ok()?;
        (s.failed == Some(1) && p.finalizers().is_empty()).then_some(s)
    })
    .await;
    assert_eq!(counted.succeeded, None);

    finish_pod(&pods, &second.name_any(), true).await;
    let done = eventually("Complete", || async {
        let j = jobs.get("retry").await.ok()?;
        condition(&j, "Complete").map(|_| j)
    })
    .await;
    let s = done.status.clone().expect("status");
    assert_eq!((s.succeeded, s.failed, s.active), (Some(1), Some(1), None));
    assert!(s.completion_time.is_some());
    assert_eq!(
        condition(&done, "SuccessCriteriaMet")
            .and_then(|c| c.1)
            .as_deref(),
        Some("CompletionsReached")
    );
    eventually("Completed event", || async {
        has_event(&h.client, "default", "Completed", "Job completed")
            .await
            .then_some(())
    })
    .await;
    assert!(
        has_event(
            &h.client,
            "default",
            "SuccessfulCreate",
            "Created pod: retry-"
        )
        .await
    );
    // No pod is created after completion.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let live = live_pods(&h.client, "default").await;
    assert_eq!(
        live.len(),
        2,
        "{:?}",
        live.iter().map(|p| p.name_any()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn job_that_always_fails_stops_at_backoff_limit() {
    let h = start().await;
    let jobs: Api<Job> = Api::namespaced(h.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
    jobs.create(&PostParams::default(), &job("doomed", 2))
        .await
        .expect("create");

    let mut seen = Vec::new();
    for _ in 0..3 {
        let pod = running_pod(&h.client, "doomed", &seen).await;
        finish_pod(&pods, &pod.name_any(), false).await;
        seen.push(pod.name_any());
    }
    let failed = eventually("Failed", || async {
        let j = jobs.get("doomed").await.ok()?;
        condition(&j, "Failed").map(|c| (j, c))
    })
    .await;
    assert_eq!(failed.1 .1.as_deref(), Some("BackoffLimitExceeded"));
    let s = failed.0.status.clone().expect("status");
    assert_eq!(s.failed, Some(3));
    assert!(condition(&failed.0, "FailureTarget").is_some());
    eventually("BackoffLimitExceeded event", || async {
        has_event(
            &h.client,
            "default",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        )
        .await
        .then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(live_pods(&h.client, "default").await.len(), 3, "no 4th pod");
}
