//! Scheduling plugins, one file each, named and worded as kube-scheduler's.
//!
//! A filter says whether a pod may run on a node (and why not, in the words
//! `kubectl describe` shows); a score ranks the nodes that passed, 0–100.

pub mod balanced_allocation;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_ready;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod taint_toleration;
pub mod volume_binding;

use crate::cycle_state::CycleState;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use std::borrow::Cow;

/// Highest score a plugin gives a node.
pub const MAX_NODE_SCORE: i64 = 100;

/// Whether evicting lower-priority pods could ever make the node fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// The node lacks room (resources, ports): preemption may help.
    Unschedulable,
    /// The node is the wrong kind (taint, selector, cordon): nothing on it
    /// can be removed to help.
    UnschedulableAndUnresolvable,
}

/// Why a filter turned a node down. Reasons are mostly fixed strings, so
/// a rejection on each of thousands of nodes costs one small allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: Code,
    pub reasons: Vec<Cow<'static, str>>,
}

impl Rejection {
    pub fn unschedulable<S: Into<Cow<'static, str>>>(reasons: Vec<S>) -> Self {
        Rejection {
            code: Code::Unschedulable,
            reasons: reasons.into_iter().map(Into::into).collect(),
        }
    }

    /// One reason; preemption may help.
    pub fn unschedulable_one(reason: impl Into<Cow<'static, str>>) -> Self {
        Rejection {
            code: Code::Unschedulable,
            reasons: vec![reason.into()],
        }
    }

    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Self {
        Rejection {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
        }
    }
}

pub trait FilterPlugin: Send + Sync {
    fn name(&self) -> &'static str;
    /// Once per cycle, before any node: work out what `filter` needs from the
    /// whole cluster into `state`. A rejection here rejects every node.
    fn pre_filter(
        &self,
        _pod: &PodInfo,
        _snapshot: &Snapshot,
        _state: &mut CycleState,
    ) -> Result<(), Rejection> {
        Ok(())
    }
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection>;
    /// `other` now counts (`delta` 1) or no longer counts (−1) on `node`
    /// (preemption's what-if, nominated pods): update the PreFilter state.
    fn update_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _other: &PodInfo,
        _node: &NodeInfo,
        _snapshot: &Snapshot,
        _delta: i64,
    ) {
    }
}

pub trait ScorePlugin: Send + Sync {
    fn name(&self) -> &'static str;
    /// False when the plugin has nothing to say about this pod (upstream's
    /// PreScore "Skip"): it then scores no node.
    fn applies_to(&self, _pod: &PodInfo) -> bool {
        true
    }
    /// Once per cycle with the feasible nodes; false = skip (nothing to say).
    fn pre_score(
        &self,
        _pod: &PodInfo,
        _feasible: &[&NodeInfo],
        _snapshot: &Snapshot,
        _state: &mut CycleState,
    ) -> bool {
        true
    }
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo, snapshot: &Snapshot)
        -> i64;
    /// Rescale raw scores of all feasible nodes to 0–100.
    fn normalize(&self, _scores: &mut [i64]) {}
    /// Same, for plugins that need the cycle state or the nodes.
    fn normalize_nodes(&self, _state: &CycleState, _nodes: &[&NodeInfo], scores: &mut [i64]) {
        self.normalize(scores)
    }
}

/// Scale scores so the highest becomes 100 (or, reversed, the lowest does).
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * *s / max;
        *s = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_scales_to_the_maximum() {
        let mut s = [0, 5, 10];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 50, 100]);
        let mut r = [0, 5, 10];
        default_normalize(&mut r, true);
        assert_eq!(r, [100, 50, 0]);
        let mut z = [0, 0];
        default_normalize(&mut z, true);
        assert_eq!(z, [100, 100]);
    }
}
