//! Starting the node agent: CNI config, node registration, heartbeats, and
//! the pod manager.
//!
//! ```text
//! start ─▶ CRI Version ─▶ register Node ─▶ podCIDR (spec or default) ─▶ CNI conflist
//!       ─▶ spawn NodeReporter (lease 10 s, status 60 s) ─▶ Service cache (watch)
//!       ─▶ spawn PodManager (watch → workers)
//! ```

use crate::cni;
use crate::config::KubeletConfig;
use crate::context::Context;
use crate::events::Recorder;
use crate::node::NodeReporter;
use crate::pod::manager::{PodEvents, PodManager};
use crate::pod::runtime::Runtime;
use crate::service_cache::ServiceCache;
use crate::sources::{ApiSources, CriExec};
use crate::stats::StatsProvider;
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
    cfg: KubeletConfig,
    client: kube::Client,
    runtime: Arc<dyn Runtime>,
) -> Result<Agent, AgentError> {
    start_with(cfg, client, runtime, SharedSources::default()).await
}

/// What agents in one process can share instead of each opening its own
/// watches (the hollow-node simulator runs thousands of agents).
#[derive(Default)]
pub struct SharedSources {
    /// This node's pod events, instead of the node's own pod watch.
    pub pod_events: Option<PodEvents>,
    /// The cluster's Services, instead of the node's own Service watch.
    pub services: Option<ServiceCache>,
}

/// Like [`start`], with the watches in `shared` instead of the node's own.
pub async fn start_with(
    mut cfg: KubeletConfig,
    client: kube::Client,
    runtime: Arc<dyn Runtime>,
    shared: SharedSources,
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
    let pod_cidr = match node.spec.as_ref().and_then(|s| s.pod_cidr.clone()) {
        Some(cidr) => cidr,
        None => wait_for_pod_cidr(&client, &cfg).await,
    };
    cni::write(&cfg.cni_conf_dir(), &pod_cidr, &cfg.cni_ipam_dir()).map_err(|source| {
        AgentError::Cni {
            dir: cfg.cni_conf_dir().display().to_string(),
            source,
        }
    })?;
    if cfg.manage_routes {
        let owner = cfg.root.canonicalize().unwrap_or_else(|_| cfg.root.clone());
        if let Err(e) = crate::forward_rules::ensure(&pod_cidr, &owner.display().to_string()) {
            tracing::warn!("pod traffic may be dropped by a FORWARD policy of DROP: {e}");
        }
    }
    tokio::spawn(reporter.run());
    if cfg.manage_routes {
        tokio::spawn(crate::routes::run(client.clone(), cfg.node_name.clone()));
    }

    let services = shared
        .services
        .unwrap_or_else(|| ServiceCache::start(client.clone()));
    let sources = Arc::new(ApiSources::new(client.clone(), Some(services)));
    let size = cfg.node_capacity();
    let allocatable = berth_podspec::Allocatable {
        cpu_millis: size.cpu_millis,
        memory_bytes: size.memory_bytes,
        ephemeral_storage_bytes: size.ephemeral_storage_bytes,
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
    let manager = PodManager::new(ctx);
    let manager = match shared.pod_events {
        Some(events) => manager.with_source(events),
        None => manager,
    };
    tokio::spawn(manager.run());
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

/// The control plane's node IPAM assigns `spec.podCIDR` right after
/// registration; wait a little for it, then fall back to the default.
async fn wait_for_pod_cidr(client: &kube::Client, cfg: &KubeletConfig) -> String {
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + cfg.pod_cidr_wait;
    while tokio::time::Instant::now() < deadline {
        if let Ok(node) = nodes.get(&cfg.node_name).await {
            if let Some(cidr) = node.spec.and_then(|s| s.pod_cidr) {
                return cidr;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tracing::warn!(
        "no podCIDR assigned to node {} after {:?}; using {}",
        cfg.node_name,
        cfg.pod_cidr_wait,
        cfg.default_pod_cidr
    );
    cfg.default_pod_cidr.clone()
}
