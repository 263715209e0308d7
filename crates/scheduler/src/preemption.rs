//! DefaultPreemption (PostFilter): when no node fits, find the node where
//! evicting lower-priority pods makes room with the least harm.
//!
//! ```text
//! preemptionPolicy: Never ─────────────▶ "not eligible due to preemptionPolicy=Never."
//! nominated node has a lower-priority
//!   pod already terminating ───────────▶ "not eligible due to a terminating pod on the
//!                                         nominated node." (wait for it)
//! per node (from a random offset, until max(10 % of nodes, 100) candidates):
//!   rejected as unresolvable ──────────▶ "Preemption is not helpful for scheduling"
//!   no lower-priority pods ────────────▶ "No preemption victims found for incoming pod"
//!   remove them all; still no fit ─────▶ the filter's own reasons
//!   fits: add back the most important first (PDB-violating ones first); a
//!         pod whose return breaks the fit stays a victim ─▶ candidate
//! pick: fewest PDB violations → lowest highest-victim priority → smallest
//!       Σ priorities → fewest victims → latest start of the most important
//!       victims → first found
//! ```
//! The scheduler then deletes the victims (Preempted event, DisruptionTarget
//! condition) and nominates the node for the pod (`status.nominatedNodeName`);
//! this module decides, it does not call the API.

use crate::cycle_state::CycleState;
use crate::fit_error::nodes_available_message;
use crate::framework::Framework;
use crate::label_selector::Selector;
use crate::node_info::NodeInfo;
use crate::plugins::{Code, Rejection};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use rand::Rng;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const POLICY_NEVER: &str = "preemption: not eligible due to preemptionPolicy=Never.";
pub const TERMINATING_ON_NOMINATED: &str =
    "preemption: not eligible due to a terminating pod on the nominated node.";
/// Candidates searched for at least (upstream's minCandidateNodesAbsolute).
const MIN_CANDIDATES: usize = 100;
/// …or this share of the nodes (minCandidateNodesPercentage).
const MIN_CANDIDATES_PERCENTAGE: usize = 10;

/// A node where evicting `victims` lets the pod fit.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub node: String,
    /// Most important first.
    pub victims: Vec<Arc<PodInfo>>,
    /// Victims whose eviction a PodDisruptionBudget does not allow.
    pub pdb_violations: usize,
}

#[derive(Clone, Debug)]
pub enum PostFilterResult {
    /// Evict these to make room.
    Preempt(Candidate),
    /// Why not: the "preemption: …" part of the FailedScheduling message.
    NotPossible(String),
}

/// Upstream's MoreImportantPod: higher priority, then started earlier.
pub fn more_important(a: &PodInfo, b: &PodInfo) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| match (a.start_time, b.start_time) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
}

fn preemption_never(pod: &PodInfo) -> bool {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref())
        == Some("Never")
}

/// Pods whose eviction would exceed a budget's `disruptionsAllowed`, split
/// from the rest (both keep their order). Budgets are used up in order.
pub fn split_by_pdb<'a>(
    pods: &[Arc<PodInfo>],
    budgets: impl Iterator<Item = &'a PodDisruptionBudget>,
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut budgets: Vec<(&PodDisruptionBudget, Selector, i32)> = budgets
        .map(|b| {
            let selector =
                Selector::from_label_selector(b.spec.as_ref().and_then(|s| s.selector.as_ref()));
            let allowed = b.status.as_ref().map_or(0, |s| s.disruptions_allowed);
            (b, selector, allowed)
        })
        .collect();
    let (mut violating, mut fine) = (Vec::new(), Vec::new());
    for pod in pods {
        let mut violated = false;
        let name = pod.pod.metadata.name.as_deref().unwrap_or_default();
        if pod.labels().is_some_and(|l| !l.is_empty()) {
            for (budget, selector, allowed) in budgets.iter_mut() {
                // An empty or nil selector matches nothing here.
                if budget.metadata.namespace.as_deref() != Some(pod.namespace.as_str())
                    || selector.is_empty()
                    || !selector.matches(pod.labels())
                {
                    continue;
                }
                let already_disrupted = budget
                    .status
                    .as_ref()
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .is_some_and(|d| d.contains_key(name));
                if already_disrupted {
                    continue;
                }
                *allowed -= 1;
                if *allowed < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(pod.clone());
        } else {
            fine.push(pod.clone());
        }
    }
    (violating, fine)
}

/// Upstream's SelectVictimsOnNode: the fewest, least important victims on
/// one node, or why none will do.
pub fn select_victims(
    framework: &Framework,
    pod: &PodInfo,
    state: &CycleState,
    node: &NodeInfo,
    snapshot: &Snapshot,
) -> Result<Candidate, Rejection> {
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .values()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Rejection::unresolvable(NO_VICTIMS));
    }
    let mut node = node.clone();
    let mut state = state.clone();
    for p in &potential {
        node.remove_pod(&p.uid);
        framework.update_pod(&mut state, pod, p, &node, snapshot, -1);
    }
    framework.filter_node(&state, pod, &node, snapshot)?;

    potential.sort_by(|a, b| more_important(a, b));
    let (violating, fine) =
        split_by_pdb(&potential, snapshot.objects.budgets.values().map(|b| &**b));
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (p, violates) in violating
        .iter()
        .map(|p| (p, true))
        .chain(fine.iter().map(|p| (p, false)))
    {
        node.add_pod(p.clone());
        framework.update_pod(&mut state, pod, p, &node, snapshot, 1);
        if framework.filter_node(&state, pod, &node, snapshot).is_err() {
            node.remove_pod(&p.uid);
            framework.update_pod(&mut state, pod, p, &node, snapshot, -1);
            victims.push(p.clone());
            pdb_violations += usize::from(violates);
        }
    }
    victims.sort_by(|a, b| more_important(a, b));
    Ok(Candidate {
        node: node.name.clone(),
        victims,
        pdb_violations,
    })
}

/// Upstream's pickOneNodeForPreemption.
pub fn pick_one(candidates: &[Candidate]) -> Option<&Candidate> {
    if let Some(free) = candidates.iter().find(|c| c.victims.is_empty()) {
        return Some(free);
    }
    let highest = |c: &Candidate| {
        c.victims
            .iter()
            .map(|v| v.priority)
            .max()
            .unwrap_or(i32::MIN)
    };
    // Offsetting by 2^31 keeps negative priorities from lowering the sum.
    let sum = |c: &Candidate| {
        c.victims
            .iter()
            .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
            .sum::<i64>()
    };
    // Among the most important victims, the earliest start.
    let earliest_top_start = |c: &Candidate| {
        let top = highest(c);
        c.victims
            .iter()
            .filter(|v| v.priority == top)
            .filter_map(|v| v.start_time)
            .min()
    };
    let mut best: Option<&Candidate> = None;
    for c in candidates {
        let better = match best {
            None => true,
            Some(b) => {
                c.pdb_violations
                    .cmp(&b.pdb_violations)
                    .then_with(|| highest(c).cmp(&highest(b)))
                    .then_with(|| sum(c).cmp(&sum(b)))
                    .then_with(|| c.victims.len().cmp(&b.victims.len()))
                    // Later start is better: reversed.
                    .then_with(|| earliest_top_start(b).cmp(&earliest_top_start(c)))
                    == Ordering::Less
            }
        };
        if better {
            best = Some(c);
        }
    }
    best
}

fn eligible(
    pod: &PodInfo,
    snapshot: &Snapshot,
    rejections: &BTreeMap<String, Rejection>,
) -> Result<(), String> {
    if preemption_never(pod) {
        return Err(POLICY_NEVER.to_string());
    }
    if let Some(nominated) = pod.nominated_node() {
        let unresolvable = rejections
            .get(nominated)
            .is_some_and(|r| r.code == Code::UnschedulableAndUnresolvable);
        if !unresolvable {
            if let Some(node) = snapshot.node(nominated) {
                if node
                    .pods
                    .values()
                    .any(|p| p.priority < pod.priority && p.terminating)
                {
                    return Err(TERMINATING_ON_NOMINATED.to_string());
                }
            }
        }
    }
    Ok(())
}

/// Run preemption after the filters found no node.
pub fn post_filter(
    framework: &Framework,
    pod: &PodInfo,
    state: &CycleState,
    snapshot: &Snapshot,
    rejections: &BTreeMap<String, Rejection>,
) -> PostFilterResult {
    if let Err(message) = eligible(pod, snapshot, rejections) {
        return PostFilterResult::NotPossible(message);
    }
    let total = snapshot.num_nodes();
    let wanted = (total * MIN_CANDIDATES_PERCENTAGE / 100)
        .max(MIN_CANDIDATES)
        .min(total);
    let offset = if total > 0 {
        rand::rng().random_range(0..total)
    } else {
        0
    };
    let mut candidates = Vec::new();
    let mut outcomes: BTreeMap<&str, Rejection> = BTreeMap::new();
    for node in snapshot.nodes_from(offset) {
        let rejection = rejections.get(&node.name);
        if rejection.is_none_or(|r| r.code == Code::UnschedulableAndUnresolvable) {
            outcomes.insert(&node.name, Rejection::unresolvable(NOT_HELPFUL));
            continue;
        }
        if candidates.len() >= wanted {
            continue;
        }
        match select_victims(framework, pod, state, node, snapshot) {
            Ok(c) => candidates.push(c),
            Err(r) => {
                outcomes.insert(&node.name, r);
            }
        }
    }
    match pick_one(&candidates) {
        Some(best) => PostFilterResult::Preempt(best.clone()),
        None => PostFilterResult::NotPossible(format!(
            "preemption: {}",
            nodes_available_message(total, outcomes.values())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bound, node, pod};
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::api::policy::v1::{PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;

    fn with_priority(mut p: Pod, priority: i32) -> Pod {
        if let Some(s) = p.spec.as_mut() {
            s.priority = Some(priority);
        }
        p
    }

    fn started(mut p: Pod, secs: i64) -> Pod {
        p.status = Some(k8s_openapi::api::core::v1::PodStatus {
            start_time: Some(Time(Timestamp::from_second(secs).unwrap_or_default())),
            ..Default::default()
        });
        p
    }

    fn labeled(mut p: Pod, app: &str) -> Pod {
        p.metadata.labels = Some([("app".to_string(), app.to_string())].into());
        p
    }

    fn info(p: Pod) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    fn preempt(snap: &Snapshot, p: Pod) -> PostFilterResult {
        let f = Framework::new();
        match f.schedule(&PodInfo::new(Arc::new(p)), snap) {
            Ok(r) => panic!("expected no fit, got {r:?}"),
            Err(e) => match e.preemption {
                Some(c) => PostFilterResult::Preempt(*c),
                None => PostFilterResult::NotPossible(e.post_filter_message),
            },
        }
    }

    fn victims_of(r: &PostFilterResult) -> (String, Vec<String>) {
        match r {
            PostFilterResult::Preempt(c) => (
                c.node.clone(),
                c.victims.iter().map(|v| v.key.clone()).collect(),
            ),
            PostFilterResult::NotPossible(m) => panic!("no candidate: {m}"),
        }
    }

    #[test]
    fn evicts_only_as_many_as_needed_least_important_first() {
        let pods = [
            bound(with_priority(pod("low1", &[("cpu", "1")]), 1), "a"),
            bound(with_priority(pod("low2", &[("cpu", "1")]), 2), "a"),
            bound(with_priority(pod("same", &[("cpu", "1")]), 100), "a"),
        ];
        let snap = Snapshot::from_objects([node("a", "3", "8Gi")], &pods);
        let r = preempt(&snap, with_priority(pod("hi", &[("cpu", "1")]), 100));
        assert_eq!(victims_of(&r), ("a".into(), vec!["default/low1".into()]));
        let r = preempt(&snap, with_priority(pod("hi", &[("cpu", "2")]), 100));
        assert_eq!(
            victims_of(&r),
            (
                "a".into(),
                vec!["default/low2".into(), "default/low1".into()]
            )
        );
    }

    #[test]
    fn node_choice_follows_upstream_order() {
        // (name, node's pods as (priority, start second)); the pod needs the
        // whole 1-cpu node, so every pod there is a victim.
        type Case<'a> = (&'a str, Vec<(&'a str, Vec<(i32, i64)>)>, &'a str);
        let cases: Vec<Case> = vec![
            (
                "lowest highest-victim priority",
                vec![("a", vec![(5, 0)]), ("b", vec![(3, 0)])],
                "b",
            ),
            (
                "smallest sum of priorities",
                vec![("a", vec![(3, 0), (3, 0)]), ("b", vec![(3, 0), (1, 0)])],
                "b",
            ),
            (
                "fewest victims",
                vec![("a", vec![(3, 0), (0, 0)]), ("b", vec![(3, 0)])],
                "b",
            ),
            (
                "latest start of the top victims",
                vec![("a", vec![(3, 100)]), ("b", vec![(3, 200)])],
                "b",
            ),
        ];
        for (name, layout, want) in cases {
            let mut nodes = Vec::new();
            let mut pods = Vec::new();
            for (n, victims) in &layout {
                nodes.push(node(n, "1", "8Gi"));
                for (i, (prio, start)) in victims.iter().enumerate() {
                    let share = format!("{}m", 1000 / victims.len());
                    let p = pod(&format!("{n}-{i}"), &[("cpu", share.as_str())]);
                    pods.push(bound(started(with_priority(p, *prio), *start), n));
                }
            }
            let snap = Snapshot::from_objects(nodes, &pods);
            let r = preempt(&snap, with_priority(pod("hi", &[("cpu", "1")]), 10));
            assert_eq!(victims_of(&r).0, want, "{name}");
        }
    }

    #[test]
    fn budgets_are_spared_when_another_node_will_do() {
        let pods = [
            bound(
                labeled(with_priority(pod("guarded", &[("cpu", "1")]), 1), "db"),
                "a",
            ),
            bound(
                labeled(with_priority(pod("free", &[("cpu", "1")]), 5), "web"),
                "b",
            ),
        ];
        let mut snap =
            Snapshot::from_objects([node("a", "1", "8Gi"), node("b", "1", "8Gi")], &pods);
        let pdb = PodDisruptionBudget {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(LabelSelector {
                    match_labels: Some([("app".to_string(), "db".to_string())].into()),
                    match_expressions: None,
                }),
                ..Default::default()
            }),
            status: Some(PodDisruptionBudgetStatus {
                disruptions_allowed: 0,
                ..Default::default()
            }),
        };
        snap.objects
            .budgets
            .insert("default/db".into(), Arc::new(pdb));
        let r = preempt(&snap, with_priority(pod("hi", &[("cpu", "1")]), 10));
        assert_eq!(victims_of(&r), ("b".into(), vec!["default/free".into()]));
        let (violating, fine) = split_by_pdb(
            &[
                info(labeled(pod("x", &[]), "db")),
                info(labeled(pod("y", &[]), "web")),
            ],
            snap.objects.budgets.values().map(|b| &**b),
        );
        assert_eq!((violating.len(), fine.len()), (1, 1));
    }

    #[test]
    fn messages_when_preemption_cannot_help() {
        let snap = Snapshot::from_objects(
            [node("a", "1", "8Gi")],
            &[bound(with_priority(pod("peer", &[("cpu", "1")]), 10), "a")],
        );
        let r = preempt(&snap, with_priority(pod("p", &[("cpu", "1")]), 10));
        assert!(
            matches!(&r, PostFilterResult::NotPossible(m) if m == "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."),
            "{r:?}"
        );
        let mut never = with_priority(pod("p", &[("cpu", "1")]), 100);
        if let Some(s) = never.spec.as_mut() {
            s.preemption_policy = Some("Never".into());
        }
        assert!(
            matches!(preempt(&snap, never), PostFilterResult::NotPossible(m) if m == POLICY_NEVER)
        );
    }

    #[test]
    fn waits_for_victims_already_terminating_on_the_nominated_node() {
        let mut victim = bound(with_priority(pod("v", &[("cpu", "1")]), 0), "a");
        victim.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
        let snap = Snapshot::from_objects([node("a", "1", "8Gi")], &[victim]);
        let mut p = with_priority(pod("p", &[("cpu", "1")]), 10);
        p.status = Some(k8s_openapi::api::core::v1::PodStatus {
            nominated_node_name: Some("a".into()),
            ..Default::default()
        });
        assert!(
            matches!(preempt(&snap, p), PostFilterResult::NotPossible(m) if m == TERMINATING_ON_NOMINATED)
        );
    }
}
