//! PodTopologySpread: keep the pods a selector picks evenly spread over
//! topology domains (the values of `topologyKey` on nodes).
//!
//! ```text
//! constraint = maxSkew, topologyKey, labelSelector (+ matchLabelKeys: key In [pod's value]),
//!              minDomains (1), nodeAffinityPolicy (Honor), nodeTaintsPolicy (Ignore)
//! PreFilter (DoNotSchedule constraints), once per pod over every node that has all
//!   the keys and passes the inclusion policies: matching pods per domain
//! Filter: key missing ─▶ "…constraints (missing required label)" (unresolvable)
//!         matches[domain] + (pod matches itself) − min over domains > maxSkew
//!           ─▶ "node(s) didn't match pod topology spread constraints"
//!         (min counts as 0 while fewer than minDomains domains exist)
//! PreScore (ScheduleAnyway constraints, or the system defaults
//!   hostname/3 + zone/5 for pods a Service/ReplicaSet/StatefulSet/RC
//!   selects when the pod has no constraints at all)
//! Score: Σ matches(domain) × ln(#domains + 2) + maxSkew − 1; fewer is better:
//!   normalized as 100 × (max + min − s) / max.
//! ```

use super::node_affinity::required_matches;
use super::taint_toleration::tolerates_taint;
use super::{FilterPlugin, Rejection, ScorePlugin, MAX_NODE_SCORE};
use crate::cycle_state::CycleState;
use crate::label_selector::{Operator, Requirement, Selector};
use crate::node_info::NodeInfo;
use crate::node_selector::RequiredNodeAffinity;
use crate::pod_counts::{NodeCounts, PodClause, PodFilter};
use crate::pod_info::PodInfo;
use crate::snapshot::{ControllerKind, Snapshot};
use crate::topology_values::TopologyValues;
use k8s_openapi::api::core::v1::TopologySpreadConstraint;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const NAME: &str = "PodTopologySpread";
pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
pub const HOSTNAME_KEY: &str = "kubernetes.io/hostname";
pub const ZONE_KEY: &str = "topology.kubernetes.io/zone";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpreadConstraint {
    pub max_skew: i64,
    pub topology_key: String,
    pub selector: Selector,
    pub min_domains: i64,
    /// nodeAffinityPolicy Honor: only nodes the pod's node affinity allows count.
    pub honor_node_affinity: bool,
    /// nodeTaintsPolicy Honor: only nodes whose taints the pod tolerates count.
    pub honor_node_taints: bool,
}

impl SpreadConstraint {
    pub fn new(
        c: &TopologySpreadConstraint,
        pod_labels: Option<&BTreeMap<String, String>>,
    ) -> Self {
        let mut selector = Selector::from_label_selector(c.label_selector.as_ref());
        for key in c.match_label_keys.iter().flatten() {
            if let Some(value) = pod_labels.and_then(|l| l.get(key)) {
                selector = selector.with_requirement(Requirement {
                    key: key.clone(),
                    operator: Operator::In,
                    values: vec![value.clone()],
                });
            }
        }
        SpreadConstraint {
            max_skew: i64::from(c.max_skew),
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.map_or(1, i64::from),
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        }
    }

    fn includes_node(&self, pod: &PodInfo, node: &NodeInfo) -> bool {
        if self.honor_node_affinity && !required_matches(pod, node) {
            return false;
        }
        self.tolerated(pod, node)
    }

    /// Same, with the pod's node affinity compiled for the snapshot.
    fn includes_compiled(
        &self,
        affinity: Option<&RequiredNodeAffinity>,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> bool {
        if self.honor_node_affinity && affinity.is_some_and(|a| !a.matches(node)) {
            return false;
        }
        self.tolerated(pod, node)
    }

    /// nodeTaintsPolicy: with Honor, the node's hard taints must be tolerated.
    fn tolerated(&self, pod: &PodInfo, node: &NodeInfo) -> bool {
        if self.honor_node_taints && node.has_hard_taints {
            let untolerated = node.taints().iter().any(|t| {
                matches!(t.effect.as_str(), "NoSchedule" | "NoExecute") && !tolerates_taint(pod, t)
            });
            if untolerated {
                return false;
            }
        }
        true
    }

    /// The pods this constraint counts: in the pod's namespace, selected,
    /// not being deleted.
    pub fn pod_filter(&self, namespace: &str) -> PodFilter {
        PodFilter {
            clauses: vec![PodClause {
                namespaces: vec![namespace.to_string()],
                selector: self.selector.clone(),
            }],
            count_terminating: false,
        }
    }
}

/// The pod's own constraints with this whenUnsatisfiable.
pub fn pod_constraints(pod: &PodInfo, action: &str) -> Vec<SpreadConstraint> {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.when_unsatisfiable == action)
        .map(|c| SpreadConstraint::new(c, pod.labels()))
        .collect()
}

fn has_own_constraints(pod: &PodInfo) -> bool {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .is_some_and(|c| !c.is_empty())
}

/// Upstream's DefaultSelector: the selectors of the Services selecting the
/// pod, plus that of its controlling ReplicaSet/StatefulSet/RC.
pub fn default_selector(pod: &PodInfo, snapshot: &Snapshot) -> Selector {
    let labels = pod.labels();
    let mut set: BTreeMap<String, String> = BTreeMap::new();
    if let Some(services) = snapshot.objects.service_selectors.get(&pod.namespace) {
        for selector in services.values() {
            let matches = selector
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
            if matches {
                set.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
    }
    let mut selector = Selector::from_map(&set);
    let controller = pod
        .pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    if let Some(owner) = controller {
        if let Some(kind) = ControllerKind::from_owner(&owner.api_version, &owner.kind) {
            let key = (kind, format!("{}/{}", pod.namespace, owner.name));
            if let Some(Selector::All(reqs)) = snapshot.objects.controller_selectors.get(&key) {
                for r in reqs {
                    selector = selector.with_requirement(r.clone());
                }
            }
        }
    }
    selector
}

/// The system default constraints (ScheduleAnyway) for a pod without its own.
pub fn default_constraints(pod: &PodInfo, snapshot: &Snapshot) -> Vec<SpreadConstraint> {
    let selector = default_selector(pod, snapshot);
    if selector.is_empty() {
        return Vec::new();
    }
    [(HOSTNAME_KEY, 3), (ZONE_KEY, 5)]
        .into_iter()
        .map(|(key, max_skew)| SpreadConstraint {
            max_skew,
            topology_key: key.to_string(),
            selector: selector.clone(),
            min_domains: 1,
            honor_node_affinity: true,
            honor_node_taints: false,
        })
        .collect()
}

fn has_all_keys(node: &NodeInfo, constraints: &[SpreadConstraint]) -> bool {
    let labels = node.labels();
    constraints
        .iter()
        .all(|c| labels.is_some_and(|l| l.contains_key(&c.topology_key)))
}

/// Per node position: does it have every constraint's key (by label index).
fn has_all_keys_at(domains: &[DomainCounts], position: usize) -> bool {
    domains.iter().all(|d| d.id_at(position).is_some())
}

/// Matching pods per domain of one constraint, in the ids of the
/// snapshot's topology values.
#[derive(Clone, Debug)]
pub struct DomainCounts {
    pub values: Arc<TopologyValues>,
    /// Per value id: matching pods; None when no eligible node has it.
    pub counts: Vec<Option<i64>>,
}

impl DomainCounts {
    fn new(values: Arc<TopologyValues>) -> Self {
        let counts = vec![None; values.values.len()];
        DomainCounts { values, counts }
    }

    /// Matching pods in this domain (0 for one no eligible node is in).
    pub fn get(&self, value: &str) -> i64 {
        self.values
            .id_of(value)
            .and_then(|id| self.counts[id as usize])
            .unwrap_or(0)
    }

    /// The value id of the node at `position`, if it has the key.
    pub fn id_at(&self, position: usize) -> Option<u32> {
        self.values.per_node.get(position).copied().flatten()
    }

    /// Matching pods in the domain of the node at `position`.
    pub fn at(&self, position: usize) -> i64 {
        self.id_at(position)
            .and_then(|id| self.counts[id as usize])
            .unwrap_or(0)
    }

    /// Eligible domains.
    pub fn domains(&self) -> i64 {
        self.counts.iter().flatten().count() as i64
    }

    fn min(&self) -> i64 {
        self.counts.iter().flatten().copied().min().unwrap_or(0)
    }

    fn add(&mut self, value: &str, delta: i64) {
        if let Some(id) = self.values.id_of(value) {
            *self.counts[id as usize].get_or_insert(0) += delta;
        }
    }
}

/// Whether a constraint's inclusion policies can exclude any node for this
/// pod (if not, the per-node check is skipped).
fn policies_matter(c: &SpreadConstraint, pod: &PodInfo) -> bool {
    let spec = pod.pod.spec.as_ref();
    let has_node_affinity = spec.is_some_and(|s| {
        s.node_selector.as_ref().is_some_and(|m| !m.is_empty())
            || s.affinity
                .as_ref()
                .and_then(|a| a.node_affinity.as_ref())
                .is_some_and(|n| {
                    n.required_during_scheduling_ignored_during_execution
                        .is_some()
                })
    });
    (c.honor_node_affinity && has_node_affinity) || c.honor_node_taints
}

/// Count matching pods per domain over every node that has all the keys
/// (`require_all`) and that each constraint's policies include. Without
/// `register`, only domains already registered are counted. Pods per node
/// come from the snapshot's kept counts, not from walking the pods.
fn count_domains(
    pod: &PodInfo,
    constraints: &[SpreadConstraint],
    snapshot: &Snapshot,
    require_all: bool,
    register: bool,
    mut domains: Vec<DomainCounts>,
) -> Vec<DomainCounts> {
    let check: Vec<bool> = constraints
        .iter()
        .map(|c| policies_matter(c, pod))
        .collect();
    let affinity = if check.iter().any(|c| *c) {
        RequiredNodeAffinity::compile(pod, snapshot)
    } else {
        None
    };
    let counts: Vec<Arc<NodeCounts>> = constraints
        .iter()
        .map(|c| snapshot.pod_counts(&c.pod_filter(&pod.namespace)))
        .collect();
    let mut ids: Vec<Option<u32>> = vec![None; constraints.len()];
    for (pos, node) in snapshot.nodes().enumerate() {
        let mut missing = false;
        for (i, d) in domains.iter().enumerate() {
            ids[i] = d.id_at(pos);
            missing |= ids[i].is_none();
        }
        if require_all && missing {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            let Some(id) = ids[i] else {
                continue;
            };
            if check[i] && !c.includes_compiled(affinity.as_ref(), pod, node) {
                continue;
            }
            let slot = &mut domains[i].counts[id as usize];
            if slot.is_none() && !register {
                continue;
            }
            *slot.get_or_insert(0) += counts[i].at(pos);
        }
    }
    domains
}

#[derive(Clone, Debug, Default)]
pub struct SpreadFilterState {
    pub constraints: Vec<SpreadConstraint>,
    /// Per constraint: matching pods per eligible domain.
    pub matches: Vec<DomainCounts>,
    /// Per constraint: the smallest count over its domains.
    pub min_matches: Vec<i64>,
    /// Per constraint: how many eligible domains.
    pub domains: Vec<i64>,
    /// Per constraint: whether the pod itself is selected.
    pub self_match: Vec<bool>,
}

impl SpreadFilterState {
    fn recompute_min(&mut self) {
        self.min_matches = self.matches.iter().map(DomainCounts::min).collect();
        self.domains = self.matches.iter().map(DomainCounts::domains).collect();
    }
}

/// The PreFilter work (public for tests and benchmarks).
pub fn compute_filter_state(pod: &PodInfo, snapshot: &Snapshot) -> Option<SpreadFilterState> {
    let constraints = pod_constraints(pod, "DoNotSchedule");
    if constraints.is_empty() {
        return None;
    }
    let empty = constraints
        .iter()
        .map(|c| DomainCounts::new(snapshot.topology_values(&c.topology_key)))
        .collect();
    let matches = count_domains(pod, &constraints, snapshot, true, true, empty);
    let self_match = constraints
        .iter()
        .map(|c| c.selector.matches(pod.labels()))
        .collect();
    let mut state = SpreadFilterState {
        constraints,
        matches,
        min_matches: Vec::new(),
        domains: Vec::new(),
        self_match,
    };
    state.recompute_min();
    Some(state)
}

#[derive(Clone, Debug, Default)]
pub struct SpreadScoreState {
    pub constraints: Vec<SpreadConstraint>,
    /// By node position: a feasible node lacking a key of the pod's own
    /// constraints (scores 0).
    pub ignored: Vec<bool>,
    /// Per constraint (not hostname): matching pods per domain of a
    /// feasible node.
    pub counts: Vec<DomainCounts>,
    /// Per hostname constraint: matching pods per node position.
    pub host_counts: Vec<Option<Arc<NodeCounts>>>,
    /// Per constraint: ln(number of domains + 2).
    pub weights: Vec<f64>,
}

/// The PreScore work (public for tests and benchmarks).
pub fn compute_score_state(
    pod: &PodInfo,
    feasible: &[&NodeInfo],
    snapshot: &Snapshot,
) -> Option<SpreadScoreState> {
    if feasible.is_empty() {
        return None;
    }
    let own = has_own_constraints(pod);
    let constraints = if own {
        pod_constraints(pod, "ScheduleAnyway")
    } else {
        default_constraints(pod, snapshot)
    };
    if constraints.is_empty() {
        return None;
    }
    // Only the pod's own constraints need every key: nodes without a zone
    // still spread by hostname under the defaults.
    let require_all = own;
    let mut ignored = vec![false; snapshot.num_nodes()];
    let mut num_ignored = 0;
    let mut counts: Vec<DomainCounts> = constraints
        .iter()
        .map(|c| DomainCounts::new(snapshot.topology_values(&c.topology_key)))
        .collect();
    for node in feasible {
        if require_all && !has_all_keys_at(&counts, node.position) {
            if let Some(slot) = ignored.get_mut(node.position) {
                num_ignored += usize::from(!*slot);
                *slot = true;
            }
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if c.topology_key == HOSTNAME_KEY {
                continue;
            }
            if let Some(id) = counts[i].id_at(node.position) {
                counts[i].counts[id as usize].get_or_insert(0);
            }
        }
    }
    let host_counts = constraints
        .iter()
        .map(|c| {
            (c.topology_key == HOSTNAME_KEY)
                .then(|| snapshot.pod_counts(&c.pod_filter(&pod.namespace)))
        })
        .collect();
    let weights = constraints
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let size = if c.topology_key == HOSTNAME_KEY {
                feasible.len() - num_ignored
            } else {
                counts[i].domains() as usize
            };
            ((size + 2) as f64).ln()
        })
        .collect();
    if constraints.iter().any(|c| c.topology_key != HOSTNAME_KEY) {
        // Hostname counts are taken per node at Score; keep them out here.
        let (zoned, hosts): (Vec<_>, Vec<_>) = constraints
            .iter()
            .cloned()
            .zip(counts)
            .partition(|(c, _)| c.topology_key != HOSTNAME_KEY);
        let (zc, zd): (Vec<_>, Vec<_>) = zoned.into_iter().unzip();
        let mut zd = count_domains(pod, &zc, snapshot, require_all, false, zd).into_iter();
        let mut hd = hosts.into_iter().map(|(_, d)| d);
        counts = constraints
            .iter()
            .filter_map(|c| {
                if c.topology_key == HOSTNAME_KEY {
                    hd.next()
                } else {
                    zd.next()
                }
            })
            .collect();
    }
    Some(SpreadScoreState {
        constraints,
        ignored,
        counts,
        host_counts,
        weights,
    })
}

pub struct PodTopologySpread;

impl FilterPlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        state: &mut CycleState,
    ) -> Result<(), Rejection> {
        state.topology_spread = compute_filter_state(pod, snapshot);
        Ok(())
    }

    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        let Some(s) = &state.topology_spread else {
            return Ok(());
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(id) = s.matches[i].id_at(node.position) else {
                return Err(Rejection::unresolvable(REASON_MISSING_LABEL));
            };
            let min = if s.domains[i] < c.min_domains {
                0
            } else {
                s.min_matches[i]
            };
            let here = s.matches[i].counts[id as usize].unwrap_or(0);
            let skew = here + i64::from(s.self_match[i]) - min;
            if skew > c.max_skew {
                return Err(Rejection::unschedulable_one(REASON));
            }
        }
        Ok(())
    }

    fn update_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        other: &PodInfo,
        node: &NodeInfo,
        _: &Snapshot,
        delta: i64,
    ) {
        let Some(s) = &mut state.topology_spread else {
            return;
        };
        if other.namespace != pod.namespace || !has_all_keys(node, &s.constraints) {
            return;
        }
        let Some(labels) = node.labels() else {
            return;
        };
        for (i, c) in s.constraints.iter().enumerate() {
            if !c.includes_node(pod, node) || !c.selector.matches(other.labels()) {
                continue;
            }
            if let Some(value) = labels.get(&c.topology_key) {
                s.matches[i].add(value, delta);
            }
        }
        s.recompute_min();
    }
}

impl ScorePlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        feasible: &[&NodeInfo],
        snapshot: &Snapshot,
        state: &mut CycleState,
    ) -> bool {
        state.topology_spread_score = compute_score_state(pod, feasible, snapshot);
        state.topology_spread_score.is_some()
    }

    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo, _: &Snapshot) -> i64 {
        let Some(s) = &state.topology_spread_score else {
            return 0;
        };
        if s.ignored.get(node.position).copied().unwrap_or(false) {
            return 0;
        }
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            if s.counts[i].id_at(node.position).is_none() {
                continue;
            }
            let count = match &s.host_counts[i] {
                Some(per_node) => per_node.at(node.position),
                None => s.counts[i].at(node.position),
            };
            score += count as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        score.round() as i64
    }

    fn normalize_nodes(&self, state: &CycleState, nodes: &[&NodeInfo], scores: &mut [i64]) {
        let ignored = |i: usize| {
            state
                .topology_spread_score
                .as_ref()
                .is_some_and(|s| s.ignored.get(nodes[i].position).copied().unwrap_or(false))
        };
        let mut min = i64::MAX;
        let mut max = 0;
        for (i, s) in scores.iter().enumerate() {
            if !ignored(i) {
                min = min.min(*s);
                max = max.max(*s);
            }
        }
        for (i, s) in scores.iter_mut().enumerate() {
            *s = if ignored(i) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *s) / max
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Framework;
    use crate::testing::{bound, labeled, node, pod, tainted};
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};

    fn app(p: Pod, value: &str) -> Pod {
        let mut p = p;
        p.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("app".into(), value.into());
        p
    }

    fn constraint(key: &str, max_skew: i32, action: &str) -> TopologySpreadConstraint {
        TopologySpreadConstraint {
            max_skew,
            topology_key: key.into(),
            when_unsatisfiable: action.into(),
            label_selector: Some(LabelSelector {
                match_labels: Some([("app".to_string(), "web".to_string())].into()),
                match_expressions: None,
            }),
            ..Default::default()
        }
    }

    fn spread(name: &str, constraints: Vec<TopologySpreadConstraint>) -> Pod {
        let mut p = app(pod(name, &[]), "web");
        if let Some(s) = p.spec.as_mut() {
            s.topology_spread_constraints = Some(constraints);
        }
        p
    }

    /// Zones a (a1, a2), b (b1), c (c1, tainted), and n1 without a zone.
    fn cluster(pods: &[Pod]) -> Snapshot {
        Snapshot::from_objects(
            [
                labeled(node("a1", "4", "8Gi"), ZONE_KEY, "a"),
                labeled(node("a2", "4", "8Gi"), ZONE_KEY, "a"),
                labeled(node("b1", "4", "8Gi"), ZONE_KEY, "b"),
                tainted(
                    labeled(node("c1", "4", "8Gi"), ZONE_KEY, "c"),
                    "k",
                    "v",
                    "NoSchedule",
                ),
                node("n1", "4", "8Gi"),
            ],
            pods,
        )
    }

    fn web_on(name: &str, node: &str) -> Pod {
        bound(app(pod(name, &[]), "web"), node)
    }

    fn verdicts(snap: &Snapshot, p: Pod) -> Vec<&'static str> {
        let info = PodInfo::new(Arc::new(p));
        let mut state = CycleState::default();
        PodTopologySpread
            .pre_filter(&info, snap, &mut state)
            .expect("prefilter");
        snap.nodes()
            .map(|n| match PodTopologySpread.filter(&state, &info, n) {
                Ok(()) => "ok",
                Err(r) if r.reasons[0] == REASON_MISSING_LABEL => "missing",
                Err(_) => "skew",
            })
            .collect()
    }

    #[test]
    fn do_not_schedule_filter() {
        let zone1 = || constraint(ZONE_KEY, 1, "DoNotSchedule");
        type Case = (&'static str, Vec<Pod>, Pod, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (
                "empty cluster: every zoned node",
                vec![],
                spread("p", vec![zone1()]),
                vec!["ok", "ok", "ok", "ok", "missing"],
            ),
            (
                // Taints are ignored by default, so zone c (0) is the min.
                "one in a: a is at skew 2",
                vec![web_on("w1", "a1")],
                spread("p", vec![zone1()]),
                vec!["skew", "skew", "ok", "ok", "missing"],
            ),
            (
                "nodeTaintsPolicy Honor drops zone c from the domains",
                vec![web_on("w1", "a1"), web_on("w2", "b1")],
                spread(
                    "p",
                    vec![TopologySpreadConstraint {
                        node_taints_policy: Some("Honor".into()),
                        ..zone1()
                    }],
                ),
                vec!["ok", "ok", "ok", "ok", "missing"],
            ),
            (
                "minDomains above the domain count: the min counts as 0",
                vec![web_on("w1", "a1"), web_on("w2", "b1"), web_on("w3", "c1")],
                spread(
                    "p",
                    vec![TopologySpreadConstraint {
                        min_domains: Some(4),
                        ..zone1()
                    }],
                ),
                vec!["skew", "skew", "skew", "skew", "missing"],
            ),
            (
                "pods the selector does not pick do not count",
                vec![bound(app(pod("x", &[]), "other"), "a1")],
                spread("p", vec![zone1()]),
                vec!["ok", "ok", "ok", "ok", "missing"],
            ),
            (
                "ScheduleAnyway constraints do not filter",
                vec![web_on("w1", "a1")],
                spread("p", vec![constraint(ZONE_KEY, 1, "ScheduleAnyway")]),
                vec!["ok", "ok", "ok", "ok", "ok"],
            ),
        ];
        for (name, pods, p, want) in cases {
            assert_eq!(verdicts(&cluster(&pods), p), want, "{name}");
        }
    }

    #[test]
    fn node_affinity_policy_and_match_label_keys() {
        // The pod may only go to zone a/b; with Honor (default) zone c does
        // not count as the empty domain, with Ignore it does.
        let pods = [web_on("w1", "a1"), web_on("w2", "b1")];
        let mut p = spread("p", vec![constraint(ZONE_KEY, 1, "DoNotSchedule")]);
        if let Some(s) = p.spec.as_mut() {
            s.node_selector = Some([("tier".to_string(), "x".to_string())].into());
        }
        let snap = Snapshot::from_objects(
            [
                labeled(labeled(node("a1", "4", "8Gi"), ZONE_KEY, "a"), "tier", "x"),
                labeled(labeled(node("b1", "4", "8Gi"), ZONE_KEY, "b"), "tier", "x"),
                labeled(node("c1", "4", "8Gi"), ZONE_KEY, "c"),
            ],
            &pods,
        );
        assert_eq!(verdicts(&snap, p.clone()), ["ok", "ok", "ok"]);
        if let Some(c) = p
            .spec
            .as_mut()
            .and_then(|s| s.topology_spread_constraints.as_mut())
        {
            c[0].node_affinity_policy = Some("Ignore".into());
        }
        assert_eq!(verdicts(&snap, p), ["skew", "skew", "ok"]);

        // matchLabelKeys: only pods of the same revision count.
        let rev = |p: Pod, r: &str| {
            let mut p = p;
            p.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert("rev".into(), r.into());
            p
        };
        let old = [rev(web_on("w1", "a1"), "1"), rev(web_on("w2", "a2"), "1")];
        let mut c = constraint(ZONE_KEY, 1, "DoNotSchedule");
        c.match_label_keys = Some(vec!["rev".into()]);
        let new = rev(spread("p", vec![c]), "2");
        assert_eq!(
            verdicts(&cluster(&old), new),
            ["ok", "ok", "ok", "ok", "missing"]
        );
    }

    #[test]
    fn framework_message_and_code() {
        let snap = cluster(&[web_on("w1", "a1")]);
        let err = Framework::new()
            .schedule_one(
                &spread("p", vec![constraint("rack", 1, "DoNotSchedule")]),
                &snap,
            )
            .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "0/5 nodes are available: 1 node(s) had untolerated taint {k: v}, \
             4 node(s) didn't match pod topology spread constraints (missing required label)."
            ),
            "{err}"
        );
    }

    #[test]
    fn schedule_anyway_scores_emptier_domains_higher() {
        let pods = [web_on("w1", "a1"), web_on("w2", "a2"), web_on("w3", "b1")];
        let snap = cluster(&pods);
        let info = PodInfo::new(Arc::new(spread(
            "p",
            vec![constraint(ZONE_KEY, 1, "ScheduleAnyway")],
        )));
        // Feasible: a1, b1, c1 (n1 lacks the zone: ignored, scores 0).
        let nodes: Vec<&NodeInfo> = ["a1", "b1", "c1", "n1"]
            .iter()
            .filter_map(|n| snap.node(n))
            .collect();
        let mut state = CycleState::default();
        assert!(PodTopologySpread.pre_score(&info, &nodes, &snap, &mut state));
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| PodTopologySpread.score(&state, &info, n, &snap))
            .collect();
        // ln(3 domains + 2) ≈ 1.609: a = 2 × 1.609, b = 1.609, c = 0.
        assert_eq!(scores, [3, 2, 0, 0]);
        PodTopologySpread.normalize_nodes(&state, &nodes, &mut scores);
        assert_eq!(scores, [0, 33, 100, 0]);
    }

    #[test]
    fn replicas_get_the_default_constraints() {
        let owned = |name: &str| {
            let mut p = app(pod(name, &[]), "web");
            p.metadata.owner_references = Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "web-1".into(),
                uid: "rs".into(),
                controller: Some(true),
                ..Default::default()
            }]);
            p
        };
        let mut snap = cluster(&[]);
        let info = PodInfo::new(Arc::new(owned("p")));
        assert!(
            default_constraints(&info, &snap).is_empty(),
            "unknown owner"
        );
        snap.objects.controller_selectors.insert(
            (ControllerKind::ReplicaSet, "default/web-1".into()),
            Selector::from_map(&[("app".to_string(), "web".to_string())].into()),
        );
        let c = default_constraints(&info, &snap);
        assert_eq!(
            c.iter()
                .map(|c| (c.topology_key.as_str(), c.max_skew))
                .collect::<Vec<_>>(),
            [(HOSTNAME_KEY, 3), (ZONE_KEY, 5)]
        );
        // Services selecting the pod count as well.
        let plain = PodInfo::new(Arc::new(app(pod("q", &[]), "web")));
        assert!(default_constraints(&plain, &snap).is_empty());
        snap.objects.service_selectors.insert(
            "default".into(),
            [(
                "svc".to_string(),
                [("app".to_string(), "web".to_string())].into(),
            )]
            .into(),
        );
        assert_eq!(default_constraints(&plain, &snap).len(), 2);
    }

    #[test]
    fn replicas_spread_across_nodes() {
        let f = Framework::new();
        let mut snap =
            Snapshot::from_objects((0..3).map(|i| node(&format!("n{i}"), "8", "16Gi")), &[]);
        snap.objects.controller_selectors.insert(
            (ControllerKind::ReplicaSet, "default/web-1".into()),
            Selector::from_map(&[("app".to_string(), "web".to_string())].into()),
        );
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for i in 0..6 {
            let mut p = app(pod(&format!("r{i}"), &[("cpu", "100m")]), "web");
            p.metadata.owner_references = Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "web-1".into(),
                uid: "rs".into(),
                controller: Some(true),
                ..Default::default()
            }]);
            let r = f.schedule_one(&p, &snap).expect("fits");
            snap.add_pod(&r.node, Arc::new(PodInfo::new(Arc::new(p))));
            *counts.entry(r.node).or_default() += 1;
        }
        assert_eq!(counts.into_values().collect::<Vec<_>>(), [2, 2, 2]);
    }

    #[test]
    fn preemption_updates_move_the_counts() {
        let w1 = web_on("w1", "a1");
        let snap = cluster(std::slice::from_ref(&w1));
        let info = PodInfo::new(Arc::new(spread(
            "p",
            vec![constraint(ZONE_KEY, 1, "DoNotSchedule")],
        )));
        let mut state = CycleState::default();
        PodTopologySpread
            .pre_filter(&info, &snap, &mut state)
            .expect("prefilter");
        let a1 = snap.node("a1").expect("a1");
        assert!(PodTopologySpread.filter(&state, &info, a1).is_err());
        let w1 = PodInfo::new(Arc::new(w1));
        PodTopologySpread.update_pod(&mut state, &info, &w1, a1, &snap, -1);
        assert!(PodTopologySpread.filter(&state, &info, a1).is_ok());
    }
}
