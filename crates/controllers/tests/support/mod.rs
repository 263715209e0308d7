//! Shared test harness: in-process API server, the controllers, polling
//! with deadlines, and a stand-in kubelet that marks pods Ready.

#![allow(dead_code)] // each test binary uses a different subset
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use std::future::Future;
use std::time::Duration;

pub use berth_apiserver::testing::TestServer;

pub async fn start() -> (TestServer, kube::Client) {
    let server = TestServer::memory().await;
    let client = server.client().await;
    tokio::spawn(berth_controllers::run_all_with_resync(
        client.clone(),
        Duration::from_secs(30),
    ));
    (server, client)
}

pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
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

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Patch pods/status to Running + Ready, as a kubelet would.
pub async fn mark_ready(pods: &Api<Pod>, name: &str) {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = json!({"status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
    }});
    // The pod may be gone already (scaled down); that is fine.
    let _ = pods
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await;
}

/// Pods in `ns` that count: not being deleted.
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

/// A stand-in kubelet: every pod in `ns` becomes Ready shortly after creation.
pub fn fake_kubelet(client: kube::Client, ns: &str) -> tokio::task::JoinHandle<()> {
    let ns = ns.to_string();
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        loop {
            for pod in live_pods(&client, &ns).await {
                if !is_ready(&pod) {
                    if let Some(name) = pod.metadata.name.as_deref() {
                        mark_ready(&pods, name).await;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}
