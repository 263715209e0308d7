//! The CRI floor: the same pod start the agent does (sandbox on the CNI
//! bridge + one container created and started), sent straight to the
//! cluster's containerd, so the agent's overhead can be read off beside it.

use crate::stats::median;
use anyhow::{Context, Result};
use berth_cri::{api, CriClient, CriClientOptions, RuntimeService};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

pub const ECHO_IMAGE: &str = "localhost/berth/echo:1";

pub struct CriFloor {
    /// RunPodSandbox + CreateContainer + StartContainer, median of `runs`.
    pub pod_start: Duration,
    pub sandbox: Duration,
    pub container: Duration,
    pub runs: usize,
}

fn sandbox_config(i: usize, log_dir: &Path) -> api::PodSandboxConfig {
    let name = format!("cri-floor-{i}");
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: name.clone(),
            uid: format!("berth-bench-{name}"),
            namespace: "berth-bench".into(),
            attempt: 0,
        }),
        hostname: name.clone(),
        log_directory: log_dir.display().to_string(),
        labels: HashMap::from([("berth.bench/cri-floor".to_string(), name)]),
        linux: Some(api::LinuxPodSandboxConfig {
            security_context: Some(api::LinuxSandboxSecurityContext {
                // Pod network namespace: the sandbox goes through CNI, as a pod does.
                namespace_options: Some(api::NamespaceOption {
                    network: api::NamespaceMode::Pod as i32,
                    pid: api::NamespaceMode::Container as i32,
                    ipc: api::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `runs` sequential pod starts; each sandbox is stopped and removed before the next.
pub async fn measure(socket: &Path, log_root: &Path, runs: usize) -> Result<CriFloor> {
    let client = CriClient::connect(&socket.display().to_string(), CriClientOptions::default())
        .await
        .with_context(|| format!("connecting to containerd at {}", socket.display()))?;
    let (mut total, mut sandbox, mut container) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        let log_dir = log_root.join(format!("cri-floor-{i}"));
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("creating {}", log_dir.display()))?;
        let config = sandbox_config(i, &log_dir);
        let started = Instant::now();
        let id = client
            .run_pod_sandbox(api::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .context("RunPodSandbox")?
            .pod_sandbox_id;
        let sandbox_ready = Instant::now();
        let started_container = start_container(&client, &id, config).await;
        let done = Instant::now();
        // Clean up even when the container failed.
        let _ = client
            .stop_pod_sandbox(api::StopPodSandboxRequest {
                pod_sandbox_id: id.clone(),
            })
            .await;
        let _ = client
            .remove_pod_sandbox(api::RemovePodSandboxRequest { pod_sandbox_id: id })
            .await;
        started_container?;
        total.push(done - started);
        sandbox.push(sandbox_ready - started);
        container.push(done - sandbox_ready);
    }
    Ok(CriFloor {
        pod_start: median(total),
        sandbox: median(sandbox),
        container: median(container),
        runs,
    })
}

async fn start_container(
    client: &CriClient,
    sandbox_id: &str,
    sandbox_config: api::PodSandboxConfig,
) -> Result<()> {
    let container_id = client
        .create_container(api::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.to_string(),
            config: Some(api::ContainerConfig {
                metadata: Some(api::ContainerMetadata {
                    name: "echo".into(),
                    attempt: 0,
                }),
                image: Some(api::ImageSpec {
                    image: ECHO_IMAGE.into(),
                    ..Default::default()
                }),
                log_path: "echo/0.log".into(),
                ..Default::default()
            }),
            sandbox_config: Some(sandbox_config),
        })
        .await
        .context("CreateContainer")?
        .container_id;
    client
        .start_container(api::StartContainerRequest { container_id })
        .await
        .context("StartContainer")?;
    Ok(())
}
