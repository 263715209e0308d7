//! Shared test harness: in-process API server, this crate's controllers with
//! a shifted clock and short back-offs, polling with deadlines, and
//! stand-in kubelet helpers that patch pod status.

#![allow(dead_code)] // each test binary uses a different subset
use berth_controllers::clock::Clock;
use berth_controllers::runner::Context;
use berth_controllers::{job::JobOptions, workloads::Options};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use std::future::Future;
use std::time::Duration;

pub use berth_apiserver::testing::TestServer;

pub struct Harness {
    pub server: TestServer,
    pub client: kube::Client,
    pub clock: Clock,
}

/// Server + controllers; the clock starts at real time and tests may advance it.
pub async fn start() -> Harness {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let clock = Clock::shifted(k8s_openapi::jiff::SignedDuration::ZERO);
    let ctx = Context::new(client.clone(), Duration::from_secs(30));
    let options = Options {
        clock: clock.clone(),
        job: JobOptions {
            pod_failure_backoff: Duration::from_secs(1),
            max_pod_failure_backoff: Duration::from_secs(4),
            clock: clock.clone(),
        },
    };
    tokio::spawn(berth_controllers::workloads::run_all_with(
        client.clone(),
        ctx,
        options,
    ));
    Harness {
        server,
        client,
        clock,
    }
}

pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pods in `ns` not being deleted.
pub async fn live_pods(client: &kube::Client, ns: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

pub fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

/// Patch pods/status as a kubelet would when the container exits.
pub async fn finish_pod(pods: &Api<Pod>, name: &str, succeeded: bool) {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let code = if succeeded { 0 } else { 1 };
    let status = json!({"status": {
        "phase": if succeeded { "Succeeded" } else { "Failed" },
        "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
        "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"terminated": {"exitCode": code, "finishedAt": now,
            "reason": if succeeded { "Completed" } else { "Error" }}}}],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patch pod status");
}

/// Patch pods/status to Running + Ready.
pub async fn mark_ready(pods: &Api<Pod>, name: &str) {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = json!({"status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
    }});
    let _ = pods
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await;
}

/// Whether an event with `reason` (and message prefix) exists in `ns`.
pub async fn has_event(
    client: &kube::Client,
    ns: &str,
    reason: &str,
    message_prefix: &str,
) -> bool {
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    events
        .list(&ListParams::default())
        .await
        .map(|l| {
            l.items.iter().any(|e| {
                e.reason.as_deref() == Some(reason)
                    && e.message
                        .as_deref()
                        .is_some_and(|m| m.starts_with(message_prefix))
            })
        })
        .unwrap_or(false)
}
