//! NodeResourcesFit.
//! - Filter: the pod's requests (see `resources.rs`) must fit in what the
//!   node's allocatable leaves after the pods already there; the pod count
//!   must stay within `pods`. Every shortfall is a reason of its own.
//! - Score (LeastAllocated, cpu and memory, weight 1 each): the more stays
//!   free after placing the pod, the higher; missing requests count as
//!   100m/200Mi so best-effort pods still spread.

use super::{FilterPlugin, Rejection, ScorePlugin, MAX_NODE_SCORE};
use crate::cycle_state::CycleState;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "NodeResourcesFit";

pub struct NodeResourcesFit;

/// Every resource the pod asks for more of than the node has left.
pub fn insufficient_resources(pod: &PodInfo, node: &NodeInfo) -> Vec<String> {
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + 1 > node.allocatable.allowed_pods {
        reasons.push("Too many pods".to_string());
    }
    let want = &pod.requests;
    if want.requests_nothing() {
        return reasons;
    }
    let have = &node.allocatable;
    let used = &node.requested;
    if want.milli_cpu > 0 && want.milli_cpu > have.milli_cpu - used.milli_cpu {
        reasons.push("Insufficient cpu".to_string());
    }
    if want.memory > 0 && want.memory > have.memory - used.memory {
        reasons.push("Insufficient memory".to_string());
    }
    if want.ephemeral_storage > 0
        && want.ephemeral_storage > have.ephemeral_storage - used.ephemeral_storage
    {
        reasons.push("Insufficient ephemeral-storage".to_string());
    }
    for (name, amount) in &want.scalar {
        if *amount == 0 {
            continue;
        }
        let free = have.scalar.get(name).copied().unwrap_or(0)
            - used.scalar.get(name).copied().unwrap_or(0);
        if *amount > free {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    reasons
}

impl FilterPlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        let reasons = insufficient_resources(pod, node);
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(Rejection::unschedulable(reasons))
        }
    }
}

/// Free share of one resource after placing the pod, 0–100.
fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

impl ScorePlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo, _: &Snapshot) -> i64 {
        let dims = [
            (
                node.ranking_requested.milli_cpu + pod.ranking_requests.milli_cpu,
                node.allocatable.milli_cpu,
            ),
            (
                node.ranking_requested.memory + pod.ranking_requests.memory,
                node.allocatable.memory,
            ),
        ];
        let (mut total, mut weights) = (0, 0);
        for (requested, capacity) in dims {
            if capacity == 0 {
                continue;
            }
            total += least_requested(requested, capacity);
            weights += 1;
        }
        if weights == 0 {
            0
        } else {
            total / weights
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::Code;
    use crate::testing::{bound, node, pod};
    use std::sync::Arc;

    fn info_with(pods: &[(&str, &[(&str, &str)])]) -> NodeInfo {
        let mut n = NodeInfo::new(Arc::new(node("n1", "4", "8Gi")));
        for (name, req) in pods {
            n.add_pod(Arc::new(PodInfo::new(Arc::new(bound(
                pod(name, req),
                "n1",
            )))));
        }
        n
    }

    fn p(req: &[(&str, &str)]) -> PodInfo {
        PodInfo::new(Arc::new(pod("new", req)))
    }

    #[test]
    fn fits_until_the_node_is_full() {
        let n = info_with(&[("a", &[("cpu", "3"), ("memory", "4Gi")])]);
        assert!(NodeResourcesFit
            .filter(&CycleState::default(), &p(&[("cpu", "1")]), &n)
            .is_ok());
        let err = NodeResourcesFit
            .filter(
                &CycleState::default(),
                &p(&[("cpu", "1500m"), ("memory", "5Gi")]),
                &n,
            )
            .unwrap_err();
        assert_eq!(err.code, Code::Unschedulable);
        assert_eq!(err.reasons, vec!["Insufficient cpu", "Insufficient memory"]);
        let err = NodeResourcesFit
            .filter(
                &CycleState::default(),
                &p(&[("ephemeral-storage", "200Gi"), ("example.com/gpu", "1")]),
                &n,
            )
            .unwrap_err();
        assert_eq!(
            err.reasons,
            vec![
                "Insufficient ephemeral-storage",
                "Insufficient example.com/gpu"
            ]
        );
    }

    #[test]
    fn pod_count_limit() {
        let node_obj = crate::testing::with_allocatable(node("n1", "4", "8Gi"), "pods", "1");
        let mut n = NodeInfo::new(Arc::new(node_obj));
        assert!(NodeResourcesFit
            .filter(&CycleState::default(), &p(&[]), &n)
            .is_ok());
        n.add_pod(Arc::new(PodInfo::new(Arc::new(pod("a", &[])))));
        assert_eq!(
            NodeResourcesFit
                .filter(&CycleState::default(), &p(&[]), &n)
                .unwrap_err()
                .reasons,
            vec!["Too many pods"]
        );
    }

    #[test]
    fn least_allocated_prefers_free_nodes() {
        let snap = Snapshot::new();
        let empty = info_with(&[]);
        let half = info_with(&[("a", &[("cpu", "2"), ("memory", "4Gi")])]);
        let want = p(&[("cpu", "1"), ("memory", "2Gi")]);
        // Empty: cpu (4-1)/4 = 75, memory (8-2)/8 = 75.
        assert_eq!(
            NodeResourcesFit.score(&CycleState::default(), &want, &empty, &snap),
            75
        );
        // Half full: cpu (4-3)/4 = 25, memory (8-6)/8 = 25.
        assert_eq!(
            NodeResourcesFit.score(&CycleState::default(), &want, &half, &snap),
            25
        );
        // Best-effort pods count as 100m / 200Mi each.
        let be = p(&[]);
        assert_eq!(
            NodeResourcesFit.score(&CycleState::default(), &be, &empty, &snap),
            (97 + 97) / 2
        );
        // Over capacity scores 0 for that resource.
        assert_eq!(least_requested(5, 4), 0);
    }
}
