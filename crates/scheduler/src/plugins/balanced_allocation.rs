//! NodeResourcesBalancedAllocation: prefer nodes where, after placing the
//! pod, cpu and memory are used in similar proportions, so neither runs out
//! while the other sits idle. Score = (1 − standard deviation of the used
//! fractions) × 100, on requests as written. Pods requesting neither cpu nor
//! memory are not scored.

use super::{ScorePlugin, MAX_NODE_SCORE};
use crate::cycle_state::CycleState;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "NodeResourcesBalancedAllocation";

pub struct BalancedAllocation;

/// (1 − std of fractions) × 100 over the resources the node has.
pub fn balanced_score(requested: &[i64], allocatable: &[i64]) -> i64 {
    // Walked twice instead of collected: this runs for every feasible node.
    let fractions = requested
        .iter()
        .zip(allocatable)
        .filter(|(_, a)| **a != 0)
        .map(|(r, a)| (*r as f64 / *a as f64).min(1.0));
    let n = fractions.clone().count();
    let std = match n {
        0 | 1 => 0.0,
        2 => {
            let mut two = fractions;
            let (a, b) = (two.next().unwrap_or(0.0), two.next().unwrap_or(0.0));
            ((a - b) / 2.0).abs()
        }
        n => {
            let mean = fractions.clone().sum::<f64>() / n as f64;
            let var = fractions.map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64;
            var.sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

impl ScorePlugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }

    fn applies_to(&self, pod: &PodInfo) -> bool {
        pod.requests.milli_cpu != 0 || pod.requests.memory != 0
    }

    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo, _: &Snapshot) -> i64 {
        balanced_score(
            &[
                node.requested.milli_cpu + pod.requests.milli_cpu,
                node.requested.memory + pod.requests.memory,
            ],
            &[node.allocatable.milli_cpu, node.allocatable.memory],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bound, node, pod};
    use std::sync::Arc;

    #[test]
    fn balanced_nodes_score_higher() {
        let snap = Snapshot::new();
        let mut cpu_heavy = NodeInfo::new(Arc::new(node("a", "4", "8Gi")));
        cpu_heavy.add_pod(Arc::new(PodInfo::new(Arc::new(bound(
            pod("x", &[("cpu", "3")]),
            "a",
        )))));
        let empty = NodeInfo::new(Arc::new(node("b", "4", "8Gi")));
        let want = PodInfo::new(Arc::new(pod("p", &[("cpu", "1"), ("memory", "2Gi")])));
        // Empty node: cpu 1/4, memory 2/8 → perfectly balanced.
        assert_eq!(
            BalancedAllocation.score(&CycleState::default(), &want, &empty, &snap),
            100
        );
        // cpu 4/4 vs memory 2/8: std = (1 − 0.25) / 2 = 0.375 → 62.
        assert_eq!(
            BalancedAllocation.score(&CycleState::default(), &want, &cpu_heavy, &snap),
            62
        );
    }

    #[test]
    fn best_effort_pods_are_skipped_and_fractions_capped() {
        assert!(!BalancedAllocation.applies_to(&PodInfo::new(Arc::new(pod("p", &[])))));
        assert_eq!(balanced_score(&[8, 1], &[4, 4]), 62, "fraction capped at 1");
        assert_eq!(balanced_score(&[1, 1, 1], &[2, 2, 2]), 100);
        assert_eq!(
            balanced_score(&[1, 0], &[0, 0]),
            100,
            "no capacity: nothing to balance"
        );
    }
}
