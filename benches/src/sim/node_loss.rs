//! Scenario (c): `count` nodes lost at once. Times how long the control plane
//! takes to notice (every lost node NotReady) and until the pods they ran are
//! Running again elsewhere (Deployments replace the evicted pods).
//!
//! ```text
//! kill nodes ─▶ leases go stale ─▶ node lifecycle: Unknown + unreachable taint
//!   ─▶ taint eviction after tolerationSeconds ─▶ ReplicaSets create ─▶ scheduled ─▶ Running
//! ```

use super::cluster::{node_ready, SimCluster};
use anyhow::{bail, Result};
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::Api;
use std::collections::HashSet;
use std::time::{Duration, Instant};

pub struct NodeLossRun {
    pub nodes_lost: usize,
    pub pods_lost: usize,
    /// Kill → every lost node's Ready condition no longer True.
    pub all_not_ready: Duration,
    /// Kill → as many Running pods on live nodes as before the loss.
    pub all_replaced: Duration,
}

pub async fn run(
    cluster: &SimCluster,
    count: usize,
    expected_running: usize,
    limit: Duration,
    progress: &(dyn Fn(String) + Sync),
) -> Result<NodeLossRun> {
    // The nodes holding the most pods first, so the loss matters.
    let tracks = cluster.dispatch.pods();
    let mut per_node: std::collections::HashMap<&str, usize> = Default::default();
    for t in tracks
        .values()
        .filter(|t| !t.deleted && t.running.is_some())
    {
        *per_node.entry(t.node.as_str()).or_default() += 1;
    }
    let mut by_load: Vec<(&str, usize)> = per_node.into_iter().collect();
    by_load.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let lost: HashSet<String> = by_load
        .iter()
        .take(count)
        .map(|(n, _)| n.to_string())
        .collect();
    let pods_lost = by_load.iter().take(count).map(|(_, c)| c).sum();
    progress(format!(
        "  killing {} nodes holding {pods_lost} Running pods",
        lost.len()
    ));
    let started = Instant::now();
    for node in cluster.nodes.iter().filter(|n| lost.contains(&n.name)) {
        node.kill();
        cluster.dispatch.unregister(&node.name);
    }
    let nodes: Api<Node> = Api::all(cluster.admin.clone());
    let mut all_not_ready = None;
    let mut last_report = Instant::now();
    loop {
        if all_not_ready.is_none() {
            let list = nodes.list(&ListParams::default()).await?;
            let still_ready = list
                .items
                .iter()
                .filter(|n| n.metadata.name.as_ref().is_some_and(|m| lost.contains(m)))
                .filter(|n| node_ready(n))
                .count();
            if still_ready == 0 {
                all_not_ready = Some(started.elapsed());
                progress(format!(
                    "  all {} lost nodes NotReady after {:.1} s",
                    lost.len(),
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        let running_elsewhere = cluster.dispatch.count_pods(|t| {
            t.running.is_some() && !t.deleted && !t.terminating && !lost.contains(&t.node)
        });
        if let (Some(not_ready), true) = (all_not_ready, running_elsewhere >= expected_running) {
            return Ok(NodeLossRun {
                nodes_lost: lost.len(),
                pods_lost,
                all_not_ready: not_ready,
                all_replaced: started.elapsed(),
            });
        }
        if started.elapsed() > limit {
            bail!(
                "after {limit:?}: {running_elsewhere} of {expected_running} pods Running on live nodes"
            );
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            progress(format!(
                "  {:>5.1}s: {running_elsewhere} of {expected_running} Running on live nodes",
                started.elapsed().as_secs_f64()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
