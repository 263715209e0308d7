//! Helpers for unit tests: pods in a FakeRuntime labelled as the kubelet
//! labels them, and a kube::Client backed by an in-process fake API.

use crate::pod::runtime::{
    CONTAINER_NAME_LABEL, POD_NAMESPACE_LABEL, POD_NAME_LABEL, POD_UID_LABEL,
};
use berth_cri::api;
use berth_cri::{FakeRuntime, RuntimeService};
use std::collections::HashMap;

pub const PAUSE: &str = "registry.k8s.io/pause:3.10";
pub const BUSYBOX: &str = "docker.io/library/busybox:1.36";

pub fn fake_runtime() -> FakeRuntime {
    let rt = FakeRuntime::new();
    rt.add_image(PAUSE, 700_000);
    rt.add_image(BUSYBOX, 4_000_000);
    rt
}

/// A ready sandbox for pod `ns/name` with uid `uid`; returns its id.
pub async fn sandbox(rt: &FakeRuntime, ns: &str, name: &str, uid: &str, attempt: u32) -> String {
    sandbox_logging_to(rt, ns, name, uid, attempt, "").await
}

/// The same, with container logs under `log_dir`.
pub async fn sandbox_logging_to(
    rt: &FakeRuntime,
    ns: &str,
    name: &str,
    uid: &str,
    attempt: u32,
    log_dir: &str,
) -> String {
    let labels: HashMap<String, String> = [
        (POD_UID_LABEL.to_string(), uid.to_string()),
        (POD_NAME_LABEL.to_string(), name.to_string()),
        (POD_NAMESPACE_LABEL.to_string(), ns.to_string()),
    ]
    .into();
    rt.run_pod_sandbox(api::RunPodSandboxRequest {
        config: Some(api::PodSandboxConfig {
            metadata: Some(api::PodSandboxMetadata {
                name: name.into(),
                uid: uid.into(),
                namespace: ns.into(),
                attempt,
            }),
            labels,
            log_directory: log_dir.into(),
            ..Default::default()
        }),
        runtime_handler: String::new(),
    })
    .await
    .map(|r| r.pod_sandbox_id)
    .unwrap_or_default()
}

/// Create (and start, when `start`) container `name` attempt `attempt` in a sandbox.
pub async fn container(
    rt: &FakeRuntime,
    sandbox_id: &str,
    uid: &str,
    name: &str,
    attempt: u32,
    start: bool,
) -> String {
    let labels: HashMap<String, String> = [
        (POD_UID_LABEL.to_string(), uid.to_string()),
        (CONTAINER_NAME_LABEL.to_string(), name.to_string()),
    ]
    .into();
    let id = rt
        .create_container(api::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.into(),
            config: Some(api::ContainerConfig {
                metadata: Some(api::ContainerMetadata {
                    name: name.into(),
                    attempt,
                }),
                image: Some(api::ImageSpec {
                    image: BUSYBOX.into(),
                    ..Default::default()
                }),
                log_path: format!("{name}/{attempt}.log"),
                labels,
                ..Default::default()
            }),
            sandbox_config: None,
        })
        .await
        .map(|r| r.container_id)
        .unwrap_or_default();
    if start {
        let _ = rt
            .start_container(api::StartContainerRequest {
                container_id: id.clone(),
            })
            .await;
    }
    id
}

/// One request the fake API server got.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub body: serde_json::Value,
}

pub type Seen = std::sync::Arc<std::sync::Mutex<Vec<SeenRequest>>>;

/// A kube::Client whose API answers in-process: GETs are 404, writes echo
/// their body back. Every request is recorded.
pub fn fake_client() -> (kube::Client, Seen) {
    use http_body_util::BodyExt;
    let seen: Seen = Default::default();
    let record = seen.clone();
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let record = record.clone();
        async move {
            let method = req.method().to_string();
            let path = req.uri().path().to_string();
            let bytes = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            record
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(SeenRequest {
                    method: method.clone(),
                    path,
                    body: body.clone(),
                });
            let (code, answer) = if method == "GET" {
                (
                    404,
                    serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                       "reason": "NotFound", "code": 404, "message": "not found"}),
                )
            } else {
                let mut b = body;
                if b.get("metadata").is_none() {
                    b = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}});
                }
                (200, b)
            };
            let resp = http::Response::builder()
                .status(code)
                .header("content-type", "application/json")
                .body(http_body_util::Full::new(bytes::Bytes::from(
                    serde_json::to_vec(&answer).unwrap_or_default(),
                )))
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(resp)
        }
    });
    (kube::Client::new(service, "default"), seen)
}

/// A Context for workers over a FakeRuntime and the fake API, rooted in `root`.
pub fn context(
    rt: &FakeRuntime,
    root: &std::path::Path,
) -> (std::sync::Arc<crate::context::Context>, Seen) {
    use std::sync::Arc;
    let (client, seen) = fake_client();
    let cfg = crate::KubeletConfig::new("node1", root.to_path_buf(), "192.0.2.1");
    let runtime: Arc<dyn crate::pod::runtime::Runtime> = Arc::new(rt.clone());
    let sources = Arc::new(crate::sources::ApiSources::new(client.clone(), None));
    let ctx = crate::context::Context {
        volumes: berth_volumes::VolumeManager::new(cfg.pods_dir(), sources.clone()),
        recorder: crate::events::Recorder::new(client.clone(), cfg.node_name.clone()),
        env_source: sources,
        exec: Arc::new(crate::sources::CriExec {
            runtime: runtime.clone(),
        }),
        allocatable: berth_podspec::Allocatable {
            cpu_millis: 2000,
            memory_bytes: 4 << 30,
            ephemeral_storage_bytes: 10 << 30,
        },
        runtime,
        client,
        cfg,
    };
    (Arc::new(ctx), seen)
}

/// Requests seen so far.
pub fn seen(s: &Seen) -> Vec<SeenRequest> {
    s.lock().unwrap_or_else(|p| p.into_inner()).clone()
}
