//! One scheduling decision, pure and synchronous: prefilter → filter →
//! (postfilter) → prescore → score → select.
//!
//! ```text
//!  pod ─▶ PodInfo (requests, ports, affinity terms: worked out once)
//!    └─▶ PreFilter, once per cycle: InterPodAffinity, PodTopologySpread and
//!        VolumeBinding count over the whole cluster into CycleState
//!        (a rejection there rejects every node)
//!    └─▶ nominated node (room preemption made) first, if it still fits
//!    └─▶ for each node, round-robin from where the last cycle stopped,
//!        until enough feasible nodes are found (numFeasibleNodesToFind):
//!          NodeUnschedulable → NodeName → TaintToleration → NodeReady
//!          → NodeAffinity → NodePorts → NodeResourcesFit → VolumeBinding
//!          → PodTopologySpread → InterPodAffinity   (first "no" wins;
//!          pods nominated to the node with ≥ priority count as placed)
//!    ├─ none feasible ─▶ FitError + PostFilter (preemption: victims or why not)
//!    ├─ one feasible  ─▶ it
//!    └─ several ──▶ PreScore, then Σ weight × normalized score:
//!          TaintToleration ×3, NodeAffinity ×2, PodTopologySpread ×2,
//!          InterPodAffinity ×2, NodeResourcesFit ×1 (LeastAllocated),
//!          BalancedAllocation ×1, ImageLocality ×1
//!        ─▶ highest total; ties broken at random
//! ```

use crate::cycle_state::CycleState;
use crate::fit_error::FitError;
use crate::node_info::NodeInfo;
use crate::plugins::balanced_allocation::BalancedAllocation;
use crate::plugins::image_locality::ImageLocality;
use crate::plugins::inter_pod_affinity::InterPodAffinity;
use crate::plugins::node_affinity::NodeAffinity;
use crate::plugins::node_name::NodeName;
use crate::plugins::node_ports::NodePorts;
use crate::plugins::node_ready::NodeReady;
use crate::plugins::node_resources_fit::NodeResourcesFit;
use crate::plugins::node_unschedulable::NodeUnschedulable;
use crate::plugins::pod_topology_spread::PodTopologySpread;
use crate::plugins::taint_toleration::TaintToleration;
use crate::plugins::volume_binding::VolumeBinding;
use crate::plugins::{FilterPlugin, Rejection, ScorePlugin};
use crate::pod_info::PodInfo;
use crate::preemption;
use crate::snapshot::Snapshot;
use k8s_openapi::api::core::v1::Pod;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
    /// Tie-breaking randomness; seeded for reproducible runs, else the
    /// thread's generator.
    tie_rng: Option<Mutex<StdRng>>,
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
                Box::new(VolumeBinding),
                Box::new(PodTopologySpread),
                Box::new(InterPodAffinity),
            ],
            scores: vec![
                (Box::new(TaintToleration), 3),
                (Box::new(NodeAffinity), 2),
                (Box::new(PodTopologySpread), 2),
                (Box::new(InterPodAffinity), 2),
                (Box::new(NodeResourcesFit), 1),
                (Box::new(BalancedAllocation), 1),
                (Box::new(ImageLocality), 1),
            ],
            percentage_of_nodes_to_score: 0,
            next_start_node: AtomicUsize::new(0),
            tie_rng: None,
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
            tie_rng: None,
        }
    }

    /// Break score ties with a generator seeded so: the same cluster and
    /// pods then give the same decisions (benchmarks, comparisons).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.tie_rng = Some(Mutex::new(StdRng::seed_from_u64(seed)));
        self
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

    /// Run every PreFilter; the first rejection rejects the pod everywhere.
    pub fn pre_filter(&self, pod: &PodInfo, snapshot: &Snapshot) -> Result<CycleState, Rejection> {
        let mut state = CycleState::default();
        for f in &self.filters {
            f.pre_filter(pod, snapshot, &mut state)?;
        }
        Ok(state)
    }

    /// The first filter that rejects the pod on this node, if any.
    pub fn run_filters(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Rejection> {
        self.filters
            .iter()
            .try_for_each(|f| f.filter(state, pod, node))
    }

    /// Tell every stateful plugin `other` was added (1) or removed (−1).
    pub fn update_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        other: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
        delta: i64,
    ) {
        for f in &self.filters {
            f.update_pod(state, pod, other, node, snapshot, delta);
        }
    }

    /// Filters as upstream's RunFilterPluginsWithNominatedPods: pods
    /// nominated to the node with at least this priority count as placed
    /// (the room preemption made is theirs), and the pod must fit both with
    /// and without them.
    pub fn filter_node(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
    ) -> Result<(), Rejection> {
        let nominated = snapshot.nominated_on(&node.name);
        let mut others = nominated
            .iter()
            .filter(|p| p.uid != pod.uid && p.priority >= pod.priority)
            .peekable();
        if others.peek().is_some() {
            let mut with = node.clone();
            let mut with_state = state.clone();
            for other in others {
                with.add_pod(other.clone());
                self.update_pod(&mut with_state, pod, other, &with, snapshot, 1);
            }
            self.run_filters(&with_state, pod, &with)?;
        }
        self.run_filters(state, pod, node)
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
            return Err(FitError::new(pod, 0));
        }
        let state = match self.pre_filter(pod, snapshot) {
            Ok(state) => state,
            Err(rejection) => {
                // Every node carries the PreFilter's verdict.
                let rejections: BTreeMap<String, Rejection> = snapshot
                    .nodes()
                    .map(|n| (n.name.clone(), rejection.clone()))
                    .collect();
                let post = preemption::post_filter(
                    self,
                    pod,
                    &CycleState::default(),
                    snapshot,
                    &rejections,
                );
                let mut err = FitError::new(pod, total);
                err.pre_filter_message = rejection.reasons.join(", ");
                err.rejections = rejections;
                err.set_post_filter(post);
                return Err(err);
            }
        };

        // Room preemption made for this pod: take it if it still fits.
        if let Some(node) = pod.nominated_node().and_then(|n| snapshot.node(n)) {
            if self.filter_node(&state, pod, node, snapshot).is_ok() {
                return Ok(ScheduleResult {
                    node: node.name.clone(),
                    evaluated_nodes: 1,
                    feasible_nodes: 1,
                });
            }
        }

        let wanted = self.feasible_nodes_to_find(total);
        let start = self.next_start_node.load(Ordering::Relaxed) % total;
        let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(wanted.min(total));
        // Kept as a list; only a FitError needs them by name.
        let mut rejected: Vec<(&NodeInfo, Rejection)> = Vec::new();
        let mut evaluated = 0;
        for node in snapshot.nodes_from(start) {
            evaluated += 1;
            match self.filter_node(&state, pod, node, snapshot) {
                Ok(()) => feasible.push(node),
                Err(r) => rejected.push((node, r)),
            }
            if feasible.len() >= wanted {
                break;
            }
        }
        self.next_start_node
            .store((start + evaluated) % total, Ordering::Relaxed);

        if feasible.is_empty() {
            let rejections: BTreeMap<String, Rejection> = rejected
                .into_iter()
                .map(|(n, r)| (n.name.clone(), r))
                .collect();
            let post = preemption::post_filter(self, pod, &state, snapshot, &rejections);
            let mut err = FitError::new(pod, total);
            err.rejections = rejections;
            err.set_post_filter(post);
            return Err(err);
        }
        let node = if feasible.len() == 1 {
            feasible[0].name.clone()
        } else {
            let mut state = state;
            let totals = self.score_nodes(&mut state, pod, &feasible, snapshot);
            match &self.tie_rng {
                Some(rng) => select_host(
                    &feasible,
                    &totals,
                    &mut *rng.lock().unwrap_or_else(|e| e.into_inner()),
                ),
                None => select_host(&feasible, &totals, &mut rand::rng()),
            }
        };
        Ok(ScheduleResult {
            node,
            evaluated_nodes: evaluated,
            feasible_nodes: feasible.len(),
        })
    }

    /// Weighted sum of the normalized scores of every plugin, per node.
    pub fn score_nodes(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Vec<i64> {
        let mut totals = vec![0i64; nodes.len()];
        let mut scores = vec![0i64; nodes.len()];
        for (plugin, weight) in &self.scores {
            if !plugin.applies_to(pod) || !plugin.pre_score(pod, nodes, snapshot, state) {
                continue;
            }
            for (s, n) in scores.iter_mut().zip(nodes) {
                *s = plugin.score(state, pod, n, snapshot);
            }
            plugin.normalize_nodes(state, nodes, &mut scores);
            for (t, s) in totals.iter_mut().zip(&scores) {
                *t += s * weight;
            }
        }
        totals
    }
}

/// The node with the highest total; among equals each is equally likely
/// (reservoir sampling, as upstream's selectHost).
fn select_host(nodes: &[&NodeInfo], totals: &[i64], rng: &mut impl Rng) -> String {
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
