//! Starting the node agent: CNI config, node registration, heartbeats, and
//! the pod manager.
//!
//! ```text
//! start ─▶ CRI Version ─▶ register Node ─▶ podCIDR (spec or default) ─▶ CNI conflist
//!       ─▶ spawn NodeReporter (lease 10 s, status 60 s) ─▶ spawn PodManager (watch → workers)
//! ```

use crate::config::KubeletConfig;
use crate::context::Context;
use crate::events::Recorder;
use crate::node::NodeReporter;
use crate::pod::manager::PodManager;
use crate::pod::runtime::Runtime;
use crate::sources::{ApiSources, CriExec};
use crate::stats::StatsProvider;
use crate::{cni, host};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("container runtime: {0}")]
    Runtime(#[from] berth_cri::CriError),
    #[error("registering node {node}: {source}")]
    Register { node: String, source: kube::Error },
    #[error("node server: {0}")]
    Server(#[from] crate::server::ServerError),
    #[error("writing the CNI config in {dir}: {source}")]
    Cni { dir: String, source: std::io::Error },
}

/// A running agent; dropping it does not stop its tasks.
pub struct Agent {
    pub node_name: String,
    pub pod_cidr: String,
    /// Port of the node server (0 when it was not started).
    pub server_port: u16,
}

pub async fn start(
    mut cfg: KubeletConfig,
    client: kube::Client,
    runtime: Arc<dyn Runtime>,
) -> Result<Agent, AgentError> {
    let version = runtime
        .version(berth_cri::api::VersionRequest {
            version: "v1".into(),
        })
        .await?;
    let stats = StatsProvider::new(runtime.clone(), &cfg);
    tokio::spawn(stats.clone().run());
    // The node server first: the Node object advertises the port it got.
    if let Some(tls) = cfg.serving_tls.clone() {
        let addr = crate::server::start(&cfg, &tls, runtime.clone(), stats.clone()).await?;
        cfg.server_port = addr.port();
    }
    let runtime_version = format!("{}://{}", version.runtime_name, version.runtime_version);
    let reporter = NodeReporter::new(cfg.clone(), client.clone(), runtime_version, stats.clone());
    let node = reporter
        .register()
        .await
        .map_err(|source| AgentError::Register {
            node: cfg.node_name.clone(),
            source,
        })?;
    if let Err(e) = reporter.renew_lease().await {
        tracing::warn!("first node lease: {e}");
    }
    let pod_cidr = node
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.clone())
        .unwrap_or_else(|| cfg.default_pod_cidr.clone());
    cni::write(&cfg.cni_conf_dir(), &pod_cidr).map_err(|source| AgentError::Cni {
        dir: cfg.cni_conf_dir().display().to_string(),
        source,
    })?;
    tokio::spawn(reporter.run());

    let sources = Arc::new(ApiSources {
        client: client.clone(),
    });
    let allocatable = berth_podspec::Allocatable {
        cpu_millis: host::cpu_count() as i64 * 1000,
        memory_bytes: host::memory_bytes() as i64,
        ephemeral_storage_bytes: host::disk_bytes(&cfg.root).0 as i64,
    };
    let ctx = Arc::new(Context {
        volumes: berth_volumes::VolumeManager::new(cfg.pods_dir(), sources.clone()),
        recorder: Recorder::new(client.clone(), cfg.node_name.clone()),
        env_source: sources,
        exec: Arc::new(CriExec {
            runtime: runtime.clone(),
        }),
        allocatable,
        runtime,
        client,
        cfg: cfg.clone(),
    });
    tokio::spawn(PodManager::new(ctx).run());
    Ok(Agent {
        server_port: if cfg.serving_tls.is_some() {
            cfg.server_port
        } else {
            0
        },
        node_name: cfg.node_name,
        pod_cidr,
    })
}
