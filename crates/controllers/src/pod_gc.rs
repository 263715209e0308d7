//! The pod garbage collector (upstream pkg/controller/podgc), a periodic
//! pass: force-deletes pods bound to nodes that no longer exist (after a
//! quarantine, re-checked against the API), force-deletes terminating pods
//! that were never scheduled, and keeps at most `terminated_pod_gc_threshold`
//! terminated (Succeeded/Failed) pods, deleting the oldest first.

use crate::informers::{Informer, BY_NODE};
use crate::runner::Context;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;
use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct PodGcConfig {
    /// How often the pass runs (upstream gcCheckPeriod, 20s).
    pub period: Duration,
    /// Terminated pods kept (--terminated-pod-gc-threshold); 0 disables.
    pub terminated_pod_gc_threshold: usize,
    /// How long a node must be missing before its pods are collected (40s).
    pub quarantine: Duration,
}

impl Default for PodGcConfig {
    fn default() -> Self {
        Self {
            period: Duration::from_secs(20),
            terminated_pod_gc_threshold: 12500,
            quarantine: Duration::from_secs(40),
        }
    }
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

pub fn is_terminated(pod: &Pod) -> bool {
    matches!(phase(pod), Some("Succeeded" | "Failed"))
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Terminated pods beyond `threshold`, evicted ones first, then oldest first.
pub fn excess_terminated<P: Borrow<Pod>>(pods: &[P], threshold: usize) -> Vec<&Pod> {
    if threshold == 0 {
        return Vec::new();
    }
    let mut terminated: Vec<&Pod> = pods
        .iter()
        .map(|p| p.borrow())
        .filter(|p| is_terminated(p) && p.metadata.deletion_timestamp.is_none())
        .collect();
    if terminated.len() <= threshold {
        return Vec::new();
    }
    let evicted = |p: &Pod| p.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted");
    terminated.sort_by_key(|p| {
        (
            !evicted(p),
            p.metadata.creation_timestamp.as_ref().map(|t| t.0),
            p.name_any(),
        )
    });
    let excess = terminated.len() - threshold;
    terminated.truncate(excess);
    terminated
}

/// Node names pods are bound to that are not among `nodes`.
pub fn missing_nodes<'a, P: Borrow<Pod>>(
    pods: &'a [P],
    nodes: &HashSet<String>,
) -> HashSet<&'a str> {
    pods.iter()
        .filter_map(|p| node_of(p.borrow()))
        .filter(|n| !nodes.contains(*n))
        .collect()
}

/// Terminating pods never bound to a node: nothing will ever finish them.
pub fn unscheduled_terminating<P: Borrow<Pod>>(pods: &[P]) -> Vec<&Pod> {
    pods.iter()
        .map(|p| p.borrow())
        .filter(|p| p.metadata.deletion_timestamp.is_some() && node_of(p).is_none())
        .collect()
}

async fn force_delete(client: &kube::Client, pod: &Pod) {
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    match api.delete(&pod.name_any(), &dp).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(err) => tracing::warn!(%err, pod = %pod.name_any(), "pod gc: delete failed"),
    }
}

/// markFailedAndDeletePodWithCondition: a still-running pod is marked Failed
/// with a DisruptionTarget condition before it is force-deleted.
async fn fail_and_delete(client: &kube::Client, pod: &Pod, message: &str) {
    if !is_terminated(pod) {
        let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
        let patch = json!({"status": {"phase": "Failed", "conditions": [{
            "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
            "message": message, "lastTransitionTime": Time(Timestamp::now()),
        }]}});
        if let Err(err) = api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
        {
            tracing::debug!(%err, pod = %pod.name_any(), "pod gc: marking failed");
        }
    }
    force_delete(client, pod).await;
}

struct Collector {
    client: kube::Client,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    config: PodGcConfig,
    /// When each missing node was first noticed.
    quarantine: HashMap<String, Instant>,
}

impl Collector {
    async fn pass(&mut self) -> Result<(), kube::Error> {
        // From the shared caches: a pass over 150,000 cached pods is
        // milliseconds; a LIST of them every 20 s was the API server's load.
        let pods = self.pods.list();
        let nodes: HashSet<String> = self.nodes.list().iter().map(|n| n.name_any()).collect();

        for pod in excess_terminated(&pods, self.config.terminated_pod_gc_threshold) {
            force_delete(&self.client, pod).await;
        }

        // Node names pods are bound to, straight from the pod cache's node index.
        let bound = self.pods.index_values(BY_NODE);
        let missing: HashSet<&str> = bound
            .iter()
            .map(String::as_str)
            .filter(|n| !nodes.contains(*n))
            .collect();
        let now = Instant::now();
        self.quarantine.retain(|n, _| missing.contains(n.as_str()));
        let nodes_api: Api<Node> = Api::all(self.client.clone());
        for node in missing {
            let since = *self.quarantine.entry(node.to_string()).or_insert(now);
            if now.saturating_duration_since(since) < self.config.quarantine {
                continue;
            }
            // The list may be stale: only a NotFound from the API counts.
            if nodes_api.get_opt(node).await?.is_some() {
                continue;
            }
            for pod in self.pods.on_node(node) {
                fail_and_delete(&self.client, &pod, "PodGC: node no longer exists").await;
            }
            self.quarantine.remove(node);
        }

        for pod in unscheduled_terminating(&pods) {
            force_delete(&self.client, pod).await;
        }
        Ok(())
    }
}

/// Run the pod garbage collector forever.
pub async fn run_pod_gc_controller(client: kube::Client, ctx: Arc<Context>, config: PodGcConfig) {
    let (pods, nodes) = (ctx.informers.pods(), ctx.informers.nodes());
    pods.ready().await;
    nodes.ready().await;
    let mut tick = tokio::time::interval(config.period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut gc = Collector {
        client,
        pods,
        nodes,
        config,
        quarantine: HashMap::new(),
    };
    loop {
        tick.tick().await;
        if let Err(err) = gc.pass().await {
            tracing::warn!(%err, "pod gc pass failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: &str, phase: &str, created: &str, extra: serde_json::Value) -> Pod {
        let mut v = json!({"metadata": {"name": name, "creationTimestamp": created},
            "spec": {"nodeName": node, "containers": []}, "status": {"phase": phase}});
        if let (Some(a), serde_json::Value::Object(b)) = (v.as_object_mut(), extra) {
            for (k, val) in b {
                if let (Some(serde_json::Value::Object(dst)), serde_json::Value::Object(src)) =
                    (a.get_mut(&k), &val)
                {
                    dst.extend(src.clone());
                } else {
                    a.insert(k, val);
                }
            }
        }
        serde_json::from_value(v).expect("pod")
    }

    fn names(pods: Vec<&Pod>) -> Vec<String> {
        pods.into_iter().map(|p| p.name_any()).collect()
    }

    #[test]
    fn keeps_newest_terminated_and_evicted_go_first() {
        let pods = vec![
            pod("old", "n", "Succeeded", "2024-01-01T00:00:00Z", json!({})),
            pod("mid", "n", "Failed", "2024-01-02T00:00:00Z", json!({})),
            pod("new", "n", "Succeeded", "2024-01-03T00:00:00Z", json!({})),
            pod(
                "evicted",
                "n",
                "Failed",
                "2024-01-04T00:00:00Z",
                json!({"status": {"reason": "Evicted"}}),
            ),
            pod("running", "n", "Running", "2023-01-01T00:00:00Z", json!({})),
        ];
        assert_eq!(names(excess_terminated(&pods, 2)), ["evicted", "old"]);
        assert!(excess_terminated(&pods, 4).is_empty());
        assert!(excess_terminated(&pods, 0).is_empty());
    }

    #[test]
    fn orphans_and_unscheduled_terminating() {
        let pods = vec![
            pod("a", "n1", "Running", "2024-01-01T00:00:00Z", json!({})),
            pod("b", "gone", "Running", "2024-01-01T00:00:00Z", json!({})),
            pod(
                "c",
                "",
                "Pending",
                "2024-01-01T00:00:00Z",
                json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
            ),
            pod("d", "", "Pending", "2024-01-01T00:00:00Z", json!({})),
        ];
        let nodes: HashSet<String> = ["n1".to_string()].into();
        assert_eq!(missing_nodes(&pods, &nodes), ["gone"].into());
        assert_eq!(names(unscheduled_terminating(&pods)), ["c"]);
    }
}
