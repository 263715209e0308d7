//! A simulated cluster: a real `berth server` child process (API server,
//! SQLite store, scheduler, controllers) and N hollow nodes in this process.
//!
//! ```text
//! spawn berth server ─▶ kubeconfig ─▶ shared clients ─▶ dispatch (one pod watch)
//!   ─▶ hollow nodes, 64 registering at a time ─▶ wait until all are Ready
//! ```

use super::dispatch::Dispatch;
use super::hollow::{HollowNode, NodeShape};
use crate::server::BerthServer;
use anyhow::{bail, Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::Api;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct SimCluster {
    pub server: BerthServer,
    pub config: kube::Config,
    pub port: u16,
    /// For the scenarios' own requests.
    pub admin: kube::Client,
    pub dispatch: Dispatch,
    pub nodes: Vec<HollowNode>,
    /// Where the hollow nodes keep their pod directories.
    _node_root: tempfile::TempDir,
}

/// What the server is started with.
pub struct ServerOptions {
    pub node_monitor_grace_period: String,
    pub node_eviction_rate: f64,
    pub kube_api_qps: f64,
}

impl SimCluster {
    pub async fn start(
        berth: &Path,
        nodes: usize,
        shape: &NodeShape,
        server_options: &ServerOptions,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<SimCluster> {
        // 100.64.0.0/10 holds 16,384 node /24s (the default /16 only 256).
        let mut server = BerthServer::spawn_with(
            berth,
            &[
                "--cluster-cidr",
                "100.64.0.0/10",
                "--node-monitor-grace-period",
                &server_options.node_monitor_grace_period,
                "--node-eviction-rate",
                &server_options.node_eviction_rate.to_string(),
                "--kube-api-qps",
                &server_options.kube_api_qps.to_string(),
                "--kube-api-burst",
                &(server_options.kube_api_qps * 2.0).round().to_string(),
            ],
        )?;
        let ready = server.wait_ready(Duration::from_secs(60)).await?;
        progress(format!(
            "berth server pid {} on port {}, ready in {:.2} s",
            server.pid,
            ready.port,
            ready.startup.as_secs_f64()
        ));
        let admin = kube::Client::try_from(ready.config.clone())?;
        // A few pools shared by all nodes: one client serialises its calls
        // through one buffer task.
        let shared: Vec<kube::Client> = (0..8)
            .map(|_| kube::Client::try_from(ready.config.clone()))
            .collect::<Result<_, _>>()?;
        let dispatch = Dispatch::default();
        tokio::spawn(dispatch.clone().run(admin.clone()));
        // And one Service watch for every node's container environments.
        let services = berth_kubelet::service_cache::ServiceCache::start(admin.clone());
        let node_root = tempfile::Builder::new()
            .prefix("berth-sim-nodes-")
            .tempdir_in("/var/tmp")
            .context("creating the hollow nodes' directory")?;

        let started = Instant::now();
        let root = node_root.path().to_path_buf();
        let mut starting = futures::stream::iter((0..nodes).map(|i| {
            let name = format!("hollow-{i:05}");
            let events = dispatch.register(&name);
            let client = shared[i % shared.len()].clone();
            let root = root.clone();
            let shape = shape.clone();
            let shared = berth_kubelet::agent::SharedSources {
                pod_events: Some(events),
                services: Some(services.clone()),
            };
            async move { HollowNode::start(&name, i, &client, &root, &shape, shared).await }
        }))
        .buffer_unordered(64);
        let mut hollow = Vec::with_capacity(nodes);
        while let Some(node) = starting.next().await {
            hollow.push(node.context("starting a hollow node")?);
            if hollow.len() % 500 == 0 {
                progress(format!(
                    "  {} / {nodes} hollow nodes registered ({:.1} s)",
                    hollow.len(),
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        drop(starting);
        let mut cluster = SimCluster {
            server,
            port: ready.port,
            config: ready.config,
            admin,
            dispatch,
            nodes: hollow,
            _node_root: node_root,
        };
        cluster.wait_nodes_ready(nodes, progress).await?;
        progress(format!(
            "{nodes} hollow nodes Ready after {:.1} s",
            started.elapsed().as_secs_f64()
        ));
        Ok(cluster)
    }

    /// Nodes whose Ready condition is True.
    pub async fn ready_nodes(&self) -> Result<usize> {
        let nodes: Api<Node> = Api::all(self.admin.clone());
        let list = nodes.list(&ListParams::default()).await?;
        Ok(list.items.iter().filter(|n| node_ready(n)).count())
    }

    async fn wait_nodes_ready(
        &mut self,
        wanted: usize,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let ready = self.ready_nodes().await?;
            if ready >= wanted {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "only {ready} of {wanted} hollow nodes Ready after 10 min; server log:\n{}",
                    self.server.log_tail(20)
                );
            }
            progress(format!("  {ready} / {wanted} nodes Ready"));
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

pub fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}
