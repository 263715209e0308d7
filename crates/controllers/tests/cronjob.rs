//! CronJob controller against the in-process API server. The controllers'
//! clock is moved forward instead of waiting for the minute to turn.

#[path = "support_workloads/mod.rs"]
mod support;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::jiff::SignedDuration;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::{eventually, has_event, start};

fn cronjob(name: &str) -> CronJob {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"schedule": "* * * * *",
                 "jobTemplate": {"metadata": {"labels": {"from": name}},
                                 "spec": {"template": {"spec": {"restartPolicy": "Never",
                                     "containers": [{"name": "c", "image": "busybox"}]}}}}},
    }))
    .expect("cronjob")
}

async fn owned_jobs(jobs: &Api<Job>, cj: &CronJob) -> Vec<Job> {
    jobs.list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|j| {
            j.owner_references()
                .iter()
                .any(|r| Some(&r.uid) == cj.uid().as_ref())
        })
        .collect()
}

#[tokio::test]
async fn every_minute_cronjob_creates_a_job_per_schedule_time() {
    let h = start().await;
    let cronjobs: Api<CronJob> = Api::namespaced(h.client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(h.client.clone(), "default");
    // Two minutes ahead: the first schedule time after creation has passed.
    h.clock.advance(SignedDuration::from_secs(120));
    let cj = cronjobs
        .create(&PostParams::default(), &cronjob("tick"))
        .await
        .expect("create");

    let first = eventually("first job", || async {
        owned_jobs(&jobs, &cj).await.into_iter().next()
    })
    .await;
    let stamp = first
        .annotations()
        .get("batch.kubernetes.io/cronjob-scheduled-timestamp")
        .cloned()
        .expect("scheduled-timestamp annotation");
    let scheduled: k8s_openapi::jiff::Timestamp = stamp.parse().expect("RFC 3339");
    assert_eq!(scheduled.as_second() % 60, 0);
    assert_eq!(
        first.name_any(),
        format!("tick-{}", scheduled.as_second() / 60)
    );
    assert_eq!(first.labels().get("from").map(String::as_str), Some("tick"));
    assert_eq!(first.owner_references()[0].kind, "CronJob");

    let status = eventually("status.active + lastScheduleTime", || async {
        let s = cronjobs.get("tick").await.ok()?.status?;
        (s.active.as_ref().is_some_and(|a| a.len() == 1) && s.last_schedule_time.is_some())
            .then_some(s)
    })
    .await;
    assert_eq!(status.last_schedule_time.map(|t| t.0), Some(scheduled));
    assert!(
        has_event(
            &h.client,
            "default",
            "SuccessfulCreate",
            &format!("Created job {}", first.name_any())
        )
        .await
    );

    // A minute later (and a nudge so the controller looks now rather than
    // at its real-time requeue) the next Job appears.
    h.clock.advance(SignedDuration::from_secs(60));
    cronjobs
        .patch(
            "tick",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"nudge": "1"}}})),
        )
        .await
        .expect("nudge");
    eventually("second job", || async {
        let all = owned_jobs(&jobs, &cj).await;
        (all.len() == 2).then_some(())
    })
    .await;
}

#[tokio::test]
async fn forbid_skips_while_a_job_runs() {
    let h = start().await;
    let cronjobs: Api<CronJob> = Api::namespaced(h.client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(h.client.clone(), "default");
    h.clock.advance(SignedDuration::from_secs(120));
    let mut spec = cronjob("solo");
    if let Some(s) = spec.spec.as_mut() {
        s.concurrency_policy = Some("Forbid".into());
    }
    let cj = cronjobs
        .create(&PostParams::default(), &spec)
        .await
        .expect("create");
    eventually("first job", || async {
        owned_jobs(&jobs, &cj).await.into_iter().next()
    })
    .await;
    h.clock.advance(SignedDuration::from_secs(60));
    cronjobs
        .patch(
            "solo",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"nudge": "1"}}})),
        )
        .await
        .expect("nudge");
    eventually("JobAlreadyActive event", || async {
        has_event(&h.client, "default", "JobAlreadyActive", "Not starting job")
            .await
            .then_some(())
    })
    .await;
    assert_eq!(owned_jobs(&jobs, &cj).await.len(), 1);
}
