//! One scheduling decision, pure and synchronous: filter → score → select.
//!
//! ```text
//!  pod ─▶ PodInfo (requests, ports: worked out once)
//!    └─▶ for each node, round-robin from where the last cycle stopped,
//!        until enough feasible nodes are found (all of them below 100 nodes):
//!          NodeUnschedulable → NodeName → TaintToleration → NodeReady
//!          → NodeAffinity → NodePorts → NodeResourcesFit   (first "no" wins)
//!    ├─ none feasible ─▶ FitError (+ what preemption would say)
//!    ├─ one feasible  ─▶ it
//!    └─ several ──▶ Σ weight × normalized score:
//!          TaintToleration ×3, NodeAffinity ×2, NodeResourcesFit ×1
//!          (LeastAllocated), BalancedAllocation ×1, ImageLocality ×1
//!        ─▶ highest total; ties broken at random
//! ```

use crate::fit_error::FitError;
use crate::node_info::NodeInfo;
use crate::plugins::balanced_allocation::BalancedAllocation;
use crate::plugins::image_locality::ImageLocality;
use crate::plugins::node_affinity::NodeAffinity;
use crate::plugins::node_name::NodeName;
use crate::plugins::node_ports::NodePorts;
use crate::plugins::node_ready::NodeReady;
use crate::plugins::node_resources_fit::NodeResourcesFit;
use crate::plugins::node_unschedulable::NodeUnschedulable;
use crate::plugins::taint_toleration::TaintToleration;
use crate::plugins::{FilterPlugin, Rejection, ScorePlugin};
use crate::pod_info::PodInfo;
use crate::preemption;
use crate::snapshot::Snapshot;
use k8s_openapi::api::core::v1::Pod;
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Below this many nodes every node is checked.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Large clusters check at least this share of their nodes.
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// Where a decision landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleResult {
    pub node: String,
    /// Nodes the filters looked at.
    pub evaluated_nodes: usize,
    /// Of those, how many could take the pod.
    pub feasible_nodes: usize,
}

pub struct Framework {
    filters: Vec<Box<dyn FilterPlugin>>,
    scores: Vec<(Box<dyn ScorePlugin>, i64)>,
    /// Share of nodes to search for feasible ones; 0 = adaptive as upstream.
    percentage_of_nodes_to_score: usize,
    next_start_node: AtomicUsize,
}

impl Default for Framework {
    fn default() -> Self {
        Self::new()
    }
}

impl Framework {
    /// kube-scheduler's default profile (for the plugins berth has).
    pub fn new() -> Self {
        Framework {
            filters: vec![
                Box::new(NodeUnschedulable),
                Box::new(NodeName),
                Box::new(TaintToleration),
                Box::new(NodeReady),
                Box::new(NodeAffinity),
                Box::new(NodePorts),
                Box::new(NodeResourcesFit),
            ],
            scores: vec![
                (Box::new(TaintToleration), 3),
                (Box::new(NodeAffinity), 2),
                (Box::new(NodeResourcesFit), 1),
                (Box::new(BalancedAllocation), 1),
                (Box::new(ImageLocality), 1),
            ],
            percentage_of_nodes_to_score: 0,
            next_start_node: AtomicUsize::new(0),
        }
    }

    /// A custom profile: filters run in the order given.
    pub fn with_plugins(
        filters: Vec<Box<dyn FilterPlugin>>,
        scores: Vec<(Box<dyn ScorePlugin>, i64)>,
    ) -> Self {
        Framework {
            filters,
            scores,
            percentage_of_nodes_to_score: 0,
            next_start_node: AtomicUsize::new(0),
        }
    }

    /// Search only this share of a large cluster (1–100; 0 = adaptive).
    pub fn with_percentage_of_nodes_to_score(mut self, percentage: usize) -> Self {
        self.percentage_of_nodes_to_score = percentage.min(100);
        self
    }

    /// Decide where `pod` goes in `snapshot`, without touching either.
    pub fn schedule_one(&self, pod: &Pod, snapshot: &Snapshot) -> Result<ScheduleResult, FitError> {
        self.schedule(&PodInfo::new(Arc::new(pod.clone())), snapshot)
    }

    /// The first filter that rejects the pod on this node, if any.
    pub fn run_filters(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        self.filters.iter().try_for_each(|f| f.filter(pod, node))
    }

    /// How many feasible nodes are enough (upstream's numFeasibleNodesToFind).
    pub fn feasible_nodes_to_find(&self, num_all_nodes: usize) -> usize {
        if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND || self.percentage_of_nodes_to_score >= 100 {
            return num_all_nodes;
        }
        let percentage = if self.percentage_of_nodes_to_score == 0 {
            50usize
                .saturating_sub(num_all_nodes / 125)
                .max(MIN_FEASIBLE_NODES_PERCENTAGE)
        } else {
            self.percentage_of_nodes_to_score
        };
        (num_all_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
    }

    pub fn schedule(&self, pod: &PodInfo, snapshot: &Snapshot) -> Result<ScheduleResult, FitError> {
        let total = snapshot.num_nodes();
        if total == 0 {
            return Err(FitError {
                pod: pod.key.clone(),
                num_all_nodes: 0,
                rejections: BTreeMap::new(),
                post_filter_message: String::new(),
            });
        }
        let wanted = self.feasible_nodes_to_find(total);
        let start = self.next_start_node.load(Ordering::Relaxed) % total;
        let mut feasible: Vec<&NodeInfo> = Vec::new();
        let mut rejections = BTreeMap::new();
        let mut evaluated = 0;
        for node in snapshot.nodes().cycle().skip(start).take(total) {
            evaluated += 1;
            match self.run_filters(pod, node) {
                Ok(()) => feasible.push(node),
                Err(r) => {
                    rejections.insert(node.name.clone(), r);
                }
            }
            if feasible.len() >= wanted {
                break;
            }
        }
        self.next_start_node
            .store((start + evaluated) % total, Ordering::Relaxed);

        if feasible.is_empty() {
            let post_filter_message =
                preemption::post_filter_message(self, pod, snapshot, &rejections);
            return Err(FitError {
                pod: pod.key.clone(),
                num_all_nodes: total,
                rejections,
                post_filter_message,
            });
        }
        let node = if feasible.len() == 1 {
            feasible[0].name.clone()
        } else {
            let totals = self.score_nodes(pod, &feasible, snapshot);
            select_host(&feasible, &totals)
        };
        Ok(ScheduleResult {
            node,
            evaluated_nodes: evaluated,
            feasible_nodes: feasible.len(),
        })
    }

    /// Weighted sum of the normalized scores of every plugin, per node.
    pub fn score_nodes(&self, pod: &PodInfo, nodes: &[&NodeInfo], snapshot: &Snapshot) -> Vec<i64> {
        let mut totals = vec![0i64; nodes.len()];
        for (plugin, weight) in &self.scores {
            if !plugin.applies_to(pod) {
                continue;
            }
            let mut scores: Vec<i64> = nodes
                .iter()
                .map(|n| plugin.score(pod, n, snapshot))
                .collect();
            plugin.normalize(&mut scores);
            for (t, s) in totals.iter_mut().zip(scores) {
                *t += s * weight;
            }
        }
        totals
    }
}

/// The node with the highest total; among equals each is equally likely
/// (reservoir sampling, as upstream's selectHost).
fn select_host(nodes: &[&NodeInfo], totals: &[i64]) -> String {
    let mut rng = rand::rng();
    let mut best = 0;
    let mut ties = 0u32;
    for (i, score) in totals.iter().enumerate() {
        if *score > totals[best] {
            best = i;
            ties = 1;
        } else if *score == totals[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    nodes[best].name.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bound, node, pod, tainted};

    #[test]
    fn feasible_node_counts_follow_upstream() {
        let f = Framework::new();
        assert_eq!(f.feasible_nodes_to_find(50), 50);
        assert_eq!(f.feasible_nodes_to_find(1000), 420); // 50 − 8 = 42 %
        assert_eq!(f.feasible_nodes_to_find(5000), 500); // 50 − 40 = 10 %
        assert_eq!(f.feasible_nodes_to_find(10000), 500); // floor of 5 %
        assert_eq!(f.feasible_nodes_to_find(150), 100);
        let all = Framework::new().with_percentage_of_nodes_to_score(100);
        assert_eq!(all.feasible_nodes_to_find(5000), 5000);
    }

    #[test]
    fn ties_are_broken_at_random() {
        let snap = Snapshot::from_objects(
            [
                node("a", "4", "8Gi"),
                node("b", "4", "8Gi"),
                node("c", "4", "8Gi"),
            ],
            &[],
        );
        let f = Framework::new();
        let p = pod("p", &[("cpu", "1")]);
        let chosen: std::collections::BTreeSet<String> = (0..200)
            .filter_map(|_| f.schedule_one(&p, &snap).ok())
            .map(|r| r.node)
            .collect();
        assert_eq!(
            chosen.len(),
            3,
            "every equal node gets picked sometimes: {chosen:?}"
        );
    }

    #[test]
    fn first_failing_filter_names_the_node_reason() {
        // Tainted AND full: only the taint is reported, as upstream stops at
        // the first failing filter.
        let full_tainted = tainted(node("a", "1", "1Gi"), "k", "v", "NoSchedule");
        let hog = bound(pod("hog", &[("cpu", "1")]), "a");
        let snap = Snapshot::from_objects([full_tainted], &[hog]);
        let err = Framework::new()
            .schedule_one(&pod("p", &[("cpu", "1")]), &snap)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "0/1 nodes are available: 1 node(s) had untolerated taint {k: v}. \
             preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn round_robin_start_moves_on() {
        let nodes: Vec<_> = (0..150)
            .map(|i| node(&format!("n{i:03}"), "4", "8Gi"))
            .collect();
        let snap = Snapshot::from_objects(nodes, &[]);
        let f = Framework::new();
        let r = f.schedule_one(&pod("p", &[]), &snap).expect("fits");
        assert_eq!(
            r.evaluated_nodes, 100,
            "stops after 100 feasible nodes of 150"
        );
        assert_eq!(r.feasible_nodes, 100);
        let r2 = f.schedule_one(&pod("q", &[]), &snap).expect("fits");
        assert_eq!(r2.evaluated_nodes, 100);
    }
}
