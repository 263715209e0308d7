//! InterPodAffinity: pods placed relative to other pods, per topology
//! domain (the value of `topologyKey` on the node).
//!
//! ```text
//! PreFilter (once per pod, from the snapshot's kept counts):
//!   existing pods' required anti-affinity terms that match the pod ─▶ existing[key][value]
//!     (the snapshot's index of placed terms: only terms that could select the pod)
//!   pods matching ALL the pod's required affinity terms ─────────────▶ affinity[key][value]
//!   pods matching any of the pod's required anti-affinity terms ─────▶ anti[key][value]
//!     (per-node pod counts kept by the snapshot; terms with a
//!      namespaceSelector walk the pods)
//! Filter (per node, vector reads by node position and value id):
//!   affinity: every term's key on the node, each domain with a match,
//!     unless nothing matches anywhere and the pod matches its own terms
//!     (the first of a group)         ─ no ▶ "didn't match pod affinity rules" (unresolvable)
//!   anti: no term's domain holds a match ─ no ▶ "didn't match pod anti-affinity rules"
//!   existing: no domain of the node is claimed ─ no ▶ "didn't satisfy existing pods
//!                                                      anti-affinity rules"
//! PreScore: Σ ± weights per domain, from the pod's preferred terms against
//!   existing pods and existing pods' terms against the pod (their required
//!   affinity counts 1, upstream's hardPodAffinityWeight).
//! Score: the node's domains' sums; normalized min..max → 0..100.
//! ```

use super::{FilterPlugin, Rejection, ScorePlugin, MAX_NODE_SCORE};
use crate::affinity_term::AffinityTerm;
use crate::cycle_state::CycleState;
use crate::existing_terms::TermKind;
use crate::node_info::NodeInfo;
use crate::pod_counts::{PodClause, PodFilter};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use crate::topology_values::TopologyValues;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const NAME: &str = "InterPodAffinity";
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// Score an existing pod's required affinity term adds when the incoming
/// pod matches it (upstream's default hardPodAffinityWeight).
pub const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// One topology key's counts, by the snapshot's value ids.
#[derive(Clone, Debug)]
struct KeyCounts {
    key: String,
    values: Arc<TopologyValues>,
    counts: Vec<i64>,
    /// Values whose count is not 0.
    nonzero: usize,
}

impl KeyCounts {
    fn add(&mut self, id: u32, delta: i64) {
        let Some(c) = self.counts.get_mut(id as usize) else {
            return;
        };
        let was = *c != 0;
        *c += delta;
        match (was, *c != 0) {
            (false, true) => self.nonzero += 1,
            (true, false) => self.nonzero -= 1,
            _ => {}
        }
    }

    /// The count of the domain of the node at `position`; None when the
    /// node lacks the key.
    fn at(&self, position: usize) -> Option<i64> {
        let id = self.values.per_node.get(position).copied().flatten()?;
        Some(self.counts.get(id as usize).copied().unwrap_or(0))
    }
}

/// topologyKey → topology value → count (or score), by value id.
#[derive(Clone, Debug, Default)]
pub struct TopologyCounts(Vec<KeyCounts>);

impl TopologyCounts {
    /// Counts that know these keys up front (the pod's own terms' keys).
    fn with_keys<'a>(keys: impl IntoIterator<Item = &'a str>, snapshot: &Snapshot) -> Self {
        let mut counts = TopologyCounts::default();
        for key in keys {
            counts.slot(key, snapshot);
        }
        counts
    }

    fn slot(&mut self, key: &str, snapshot: &Snapshot) -> &mut KeyCounts {
        let i = match self.0.iter().position(|k| k.key == key) {
            Some(i) => i,
            None => {
                let values = snapshot.topology_values(key);
                self.0.push(KeyCounts {
                    key: key.to_string(),
                    counts: vec![0; values.values.len()],
                    values,
                    nonzero: 0,
                });
                self.0.len() - 1
            }
        };
        &mut self.0[i]
    }

    /// Add to the domain of the node at `position` (nothing if it lacks the key).
    fn add_at(&mut self, key: &str, position: usize, delta: i64, snapshot: &Snapshot) {
        let slot = self.slot(key, snapshot);
        if let Some(id) = slot.values.per_node.get(position).copied().flatten() {
            slot.add(id, delta);
        }
    }

    /// Add to a domain named by its value.
    fn add(&mut self, key: &str, value: &str, delta: i64, snapshot: &Snapshot) {
        let slot = self.slot(key, snapshot);
        if let Some(id) = slot.values.id_of(value) {
            slot.add(id, delta);
        }
    }

    pub fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .iter()
            .find(|k| k.key == key)
            .and_then(|k| k.values.id_of(value).map(|id| k.counts[id as usize]))
            .unwrap_or(0)
    }

    /// No domain holds a count other than 0.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|k| k.nonzero == 0)
    }

    fn key(&self, key: &str) -> Option<&KeyCounts> {
        self.0.iter().find(|k| k.key == key)
    }

    /// Any domain of the node at `position` holds a positive count.
    fn any_on(&self, position: usize) -> bool {
        self.0
            .iter()
            .any(|k| k.nonzero > 0 && k.at(position).is_some_and(|c| c > 0))
    }

    /// Σ over keys of the node's domain value (Score).
    fn sum_on(&self, position: usize) -> i64 {
        self.0
            .iter()
            .filter(|k| k.nonzero > 0)
            .filter_map(|k| k.at(position))
            .sum()
    }
}

#[derive(Clone, Debug, Default)]
pub struct AffinityFilterState {
    /// The pod matches all its own required affinity terms.
    pub matches_own_terms: bool,
    pub existing_anti_affinity: TopologyCounts,
    pub affinity: TopologyCounts,
    pub anti_affinity: TopologyCounts,
}

#[derive(Clone, Debug, Default)]
pub struct AffinityScoreState {
    pub topology_score: TopologyCounts,
}

pub struct InterPodAffinity;

fn node_labels(node: &NodeInfo) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    node.labels().unwrap_or(&EMPTY)
}

/// Does `target` fall under `term`? Its namespace's labels are looked up
/// only when the term has a namespaceSelector.
fn term_matches(term: &AffinityTerm, target: &PodInfo, snapshot: &Snapshot) -> bool {
    let ns_labels = if term.namespace_selector.is_some() {
        snapshot.namespace_labels(&target.namespace)
    } else {
        None
    };
    term.matches(&target.namespace, target.labels(), ns_labels)
}

fn matches_all(terms: &[AffinityTerm], target: &PodInfo, snapshot: &Snapshot) -> bool {
    !terms.is_empty() && terms.iter().all(|t| term_matches(t, target, snapshot))
}

/// The pods all `terms` select, as a filter the snapshot keeps counts for;
/// None when a term has a namespaceSelector (namespace labels may change
/// under the cache), or there are no terms.
fn cacheable_filter(terms: &[&AffinityTerm]) -> Option<PodFilter> {
    if terms.is_empty() || terms.iter().any(|t| t.namespace_selector.is_some()) {
        return None;
    }
    Some(PodFilter {
        clauses: terms
            .iter()
            .map(|t| PodClause {
                namespaces: t.namespaces.clone(),
                selector: t.selector.clone(),
            })
            .collect(),
        count_terminating: true,
    })
}

/// Per node position, how many placed pods all `terms` select.
fn for_each_node_count(
    terms: &[&AffinityTerm],
    snapshot: &Snapshot,
    mut f: impl FnMut(usize, i64),
) {
    match cacheable_filter(terms) {
        Some(filter) => {
            let counts = snapshot.pod_counts(&filter);
            for (position, n) in counts.per_node.iter().enumerate() {
                if *n != 0 {
                    f(position, *n);
                }
            }
        }
        None => {
            for (position, node) in snapshot.nodes().enumerate() {
                let n = node
                    .pods
                    .values()
                    .filter(|p| terms.iter().all(|t| term_matches(t, p, snapshot)))
                    .count() as i64;
                if n != 0 {
                    f(position, n);
                }
            }
        }
    }
}

impl AffinityFilterState {
    /// Count (or, with −1, uncount) `other` on `node` against `pod`.
    fn update_with(
        &mut self,
        pod: &PodInfo,
        other: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
        delta: i64,
    ) {
        let labels = node_labels(node);
        for term in &other.required_anti_affinity_terms {
            if let Some(value) = labels.get(&term.topology_key) {
                if term_matches(term, pod, snapshot) {
                    self.existing_anti_affinity
                        .add(&term.topology_key, value, delta, snapshot);
                }
            }
        }
        if matches_all(&pod.required_affinity_terms, other, snapshot) {
            for term in &pod.required_affinity_terms {
                if let Some(value) = labels.get(&term.topology_key) {
                    self.affinity
                        .add(&term.topology_key, value, delta, snapshot);
                }
            }
        }
        for term in &pod.required_anti_affinity_terms {
            if let Some(value) = labels.get(&term.topology_key) {
                if term_matches(term, other, snapshot) {
                    self.anti_affinity
                        .add(&term.topology_key, value, delta, snapshot);
                }
            }
        }
    }
}

/// The PreFilter work, public for benchmarks and tests.
pub fn compute_filter_state(pod: &PodInfo, snapshot: &Snapshot) -> Option<AffinityFilterState> {
    let affinity_keys = pod
        .required_affinity_terms
        .iter()
        .map(|t| t.topology_key.as_str());
    let anti_keys = pod
        .required_anti_affinity_terms
        .iter()
        .map(|t| t.topology_key.as_str());
    let mut state = AffinityFilterState {
        matches_own_terms: matches_all(&pod.required_affinity_terms, pod, snapshot),
        affinity: TopologyCounts::with_keys(affinity_keys, snapshot),
        anti_affinity: TopologyCounts::with_keys(anti_keys, snapshot),
        existing_anti_affinity: TopologyCounts::default(),
    };
    let existing = &mut state.existing_anti_affinity;
    snapshot.existing_terms_selecting(
        pod,
        &[TermKind::RequiredAntiAffinity],
        |term| term_matches(term, pod, snapshot),
        |_, term, position, count| existing.add_at(&term.topology_key, position, count, snapshot),
    );
    if !pod.required_affinity_terms.is_empty() {
        let terms: Vec<&AffinityTerm> = pod.required_affinity_terms.iter().collect();
        let affinity = &mut state.affinity;
        for_each_node_count(&terms, snapshot, |position, n| {
            for t in &terms {
                affinity.add_at(&t.topology_key, position, n, snapshot);
            }
        });
    }
    for term in &pod.required_anti_affinity_terms {
        let anti = &mut state.anti_affinity;
        for_each_node_count(&[term], snapshot, |position, n| {
            anti.add_at(&term.topology_key, position, n, snapshot);
        });
    }
    let incoming =
        !pod.required_affinity_terms.is_empty() || !pod.required_anti_affinity_terms.is_empty();
    (incoming || !state.existing_anti_affinity.is_empty()).then_some(state)
}

fn satisfies_affinity(state: &AffinityFilterState, pod: &PodInfo, position: usize) -> bool {
    let mut pods_exist = true;
    for term in &pod.required_affinity_terms {
        let Some(count) = state
            .affinity
            .key(&term.topology_key)
            .and_then(|k| k.at(position))
        else {
            return false;
        };
        if count <= 0 {
            pods_exist = false;
        }
    }
    // The first pod of a group with affinity to itself may go anywhere
    // that has the topology keys.
    pods_exist || (state.affinity.is_empty() && state.matches_own_terms)
}

fn satisfies_anti_affinity(state: &AffinityFilterState, pod: &PodInfo, position: usize) -> bool {
    !pod.required_anti_affinity_terms.iter().any(|term| {
        state
            .anti_affinity
            .key(&term.topology_key)
            .and_then(|k| k.at(position))
            .is_some_and(|c| c > 0)
    })
}

impl FilterPlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        state: &mut CycleState,
    ) -> Result<(), Rejection> {
        state.inter_pod_affinity = compute_filter_state(pod, snapshot);
        Ok(())
    }

    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        let Some(s) = &state.inter_pod_affinity else {
            return Ok(());
        };
        if !satisfies_affinity(s, pod, node.position) {
            return Err(Rejection::unresolvable(REASON_AFFINITY));
        }
        if !satisfies_anti_affinity(s, pod, node.position) {
            return Err(Rejection::unschedulable_one(REASON_ANTI_AFFINITY));
        }
        if s.existing_anti_affinity.any_on(node.position) {
            return Err(Rejection::unschedulable_one(REASON_EXISTING_ANTI_AFFINITY));
        }
        Ok(())
    }

    fn update_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        other: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
        delta: i64,
    ) {
        if let Some(s) = &mut state.inter_pod_affinity {
            s.update_with(pod, other, node, snapshot, delta);
        }
    }
}

/// The PreScore work: Σ ± weights per topology domain.
pub fn compute_score_state(pod: &PodInfo, snapshot: &Snapshot) -> Option<AffinityScoreState> {
    let mut score = TopologyCounts::default();
    // The pod's preferred terms against the pods already placed.
    let own = pod
        .preferred_affinity_terms
        .iter()
        .map(|w| (w, w.weight))
        .chain(
            pod.preferred_anti_affinity_terms
                .iter()
                .map(|w| (w, -w.weight)),
        );
    for (w, weight) in own {
        for_each_node_count(&[&w.term], snapshot, |position, n| {
            score.add_at(&w.term.topology_key, position, weight * n, snapshot);
        });
    }
    // Placed pods' terms against the pod.
    snapshot.existing_terms_selecting(
        pod,
        &[
            TermKind::RequiredAffinity,
            TermKind::PreferredAffinity,
            TermKind::PreferredAntiAffinity,
        ],
        |term| term_matches(term, pod, snapshot),
        |kind, term, position, amount| {
            let weight = match kind {
                TermKind::RequiredAffinity => HARD_POD_AFFINITY_WEIGHT * amount,
                TermKind::PreferredAntiAffinity => -amount,
                _ => amount,
            };
            score.add_at(&term.topology_key, position, weight, snapshot);
        },
    );
    (!score.is_empty()).then_some(AffinityScoreState {
        topology_score: score,
    })
}

impl ScorePlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        _feasible: &[&NodeInfo],
        snapshot: &Snapshot,
        state: &mut CycleState,
    ) -> bool {
        state.inter_pod_affinity_score = compute_score_state(pod, snapshot);
        state.inter_pod_affinity_score.is_some()
    }

    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo, _: &Snapshot) -> i64 {
        state
            .inter_pod_affinity_score
            .as_ref()
            .map_or(0, |s| s.topology_score.sum_on(node.position))
    }

    fn normalize(&self, scores: &mut [i64]) {
        let (Some(min), Some(max)) = (scores.iter().min().copied(), scores.iter().max().copied())
        else {
            return;
        };
        let diff = max - min;
        for s in scores.iter_mut() {
            *s = if diff > 0 {
                (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Framework;
    use crate::testing::{bound, labeled, node, pod};
    use k8s_openapi::api::core::v1::{
        Affinity, Namespace, Pod, PodAffinity, PodAffinityTerm, PodAntiAffinity,
        WeightedPodAffinityTerm,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::sync::Arc;

    const ZONE: &str = "topology.kubernetes.io/zone";
    const HOST: &str = "kubernetes.io/hostname";

    fn term(app: &str, key: &str) -> PodAffinityTerm {
        PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: Some([("app".to_string(), app.to_string())].into()),
                match_expressions: None,
            }),
            topology_key: key.into(),
            ..Default::default()
        }
    }

    fn with_app(mut p: Pod, app: &str) -> Pod {
        p.metadata.labels = Some([("app".to_string(), app.to_string())].into());
        p
    }

    /// A pod with labels app=<app> and the given required terms.
    fn pod_with(
        name: &str,
        app: &str,
        affinity: Vec<PodAffinityTerm>,
        anti: Vec<PodAffinityTerm>,
    ) -> Pod {
        let mut p = with_app(pod(name, &[]), app);
        if let Some(s) = p.spec.as_mut() {
            s.affinity = Some(Affinity {
                pod_affinity: (!affinity.is_empty()).then(|| PodAffinity {
                    required_during_scheduling_ignored_during_execution: Some(affinity),
                    ..Default::default()
                }),
                pod_anti_affinity: (!anti.is_empty()).then(|| PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Some(anti),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        p
    }

    /// Nodes a1, a2 in zone a, b1 in zone b, c1 without a zone label.
    fn cluster(pods: &[Pod]) -> Snapshot {
        Snapshot::from_objects(
            [
                labeled(node("a1", "4", "8Gi"), ZONE, "a"),
                labeled(node("a2", "4", "8Gi"), ZONE, "a"),
                labeled(node("b1", "4", "8Gi"), ZONE, "b"),
                node("c1", "4", "8Gi"),
            ],
            pods,
        )
    }

    /// The InterPodAffinity verdict per node, in name order.
    fn verdicts(snap: &Snapshot, p: Pod) -> Vec<Result<(), String>> {
        let info = PodInfo::new(Arc::new(p));
        let mut state = CycleState::default();
        InterPodAffinity
            .pre_filter(&info, snap, &mut state)
            .expect("prefilter");
        snap.nodes()
            .map(|n| {
                InterPodAffinity
                    .filter(&state, &info, n)
                    .map_err(|r| r.reasons.join(","))
            })
            .collect()
    }

    #[test]
    fn required_affinity_and_anti_affinity() {
        let ok = Ok(());
        let aff = || Err(REASON_AFFINITY.to_string());
        let anti = || Err(REASON_ANTI_AFFINITY.to_string());
        let existing = || Err(REASON_EXISTING_ANTI_AFFINITY.to_string());
        let db_on_a1 = bound(with_app(pod("db", &[]), "db"), "a1");
        type Case = (&'static str, Vec<Pod>, Pod, Vec<Result<(), String>>);
        let cases: Vec<Case> = vec![
            (
                "affinity to db by zone: zone a only; c1 lacks the key",
                vec![db_on_a1.clone()],
                pod_with("web", "web", vec![term("db", ZONE)], vec![]),
                vec![ok.clone(), ok.clone(), aff(), aff()],
            ),
            (
                "affinity by hostname: a1 only",
                vec![db_on_a1.clone()],
                pod_with("web", "web", vec![term("db", HOST)], vec![]),
                vec![ok.clone(), aff(), aff(), aff()],
            ),
            (
                "no db anywhere: no node",
                vec![],
                pod_with("web", "web", vec![term("db", ZONE)], vec![]),
                vec![aff(), aff(), aff(), aff()],
            ),
            (
                "first of a self-affine group: any node with the key",
                vec![],
                pod_with("web", "web", vec![term("web", ZONE)], vec![]),
                vec![ok.clone(), ok.clone(), ok.clone(), aff()],
            ),
            (
                "anti-affinity by zone keeps out of zone a",
                vec![db_on_a1.clone()],
                pod_with("web", "web", vec![], vec![term("db", ZONE)]),
                vec![anti(), anti(), ok.clone(), ok.clone()],
            ),
            (
                "an existing pod's anti-affinity keeps the pod out",
                vec![bound(
                    pod_with("db", "db", vec![], vec![term("web", ZONE)]),
                    "b1",
                )],
                with_app(pod("web", &[]), "web"),
                vec![ok.clone(), ok.clone(), existing(), ok.clone()],
            ),
            (
                "other namespaces do not count",
                vec![{
                    let mut p = db_on_a1.clone();
                    p.metadata.namespace = Some("other".into());
                    p
                }],
                pod_with("web", "web", vec![], vec![term("db", ZONE)]),
                vec![ok.clone(), ok.clone(), ok.clone(), ok.clone()],
            ),
        ];
        for (name, existing_pods, p, want) in cases {
            assert_eq!(verdicts(&cluster(&existing_pods), p), want, "{name}");
        }
    }

    #[test]
    fn namespace_selector_reaches_labelled_namespaces() {
        let mut db = bound(with_app(pod("db", &[]), "db"), "b1");
        db.metadata.namespace = Some("data".into());
        let mut snap = cluster(&[db]);
        snap.objects.namespace_labels.insert(
            "data".into(),
            [("team".to_string(), "x".to_string())].into(),
        );
        let _ = Namespace::default();
        let mut t = term("db", ZONE);
        t.namespace_selector = Some(LabelSelector {
            match_labels: Some([("team".to_string(), "x".to_string())].into()),
            match_expressions: None,
        });
        let ok = Ok(());
        let aff = Err(REASON_AFFINITY.to_string());
        assert_eq!(
            verdicts(&snap, pod_with("web", "web", vec![t], vec![])),
            vec![aff.clone(), aff.clone(), ok, aff]
        );
    }

    #[test]
    fn rejection_codes_follow_upstream() {
        let snap = cluster(&[bound(with_app(pod("db", &[]), "db"), "a1")]);
        let f = Framework::new();
        let err = f
            .schedule_one(&pod_with("w", "w", vec![term("nope", ZONE)], vec![]), &snap)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "0/4 nodes are available: 4 node(s) didn't match pod affinity rules. \
             preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
        );
        let mut anti = pod_with("w", "w", vec![], vec![term("db", HOST)]);
        if let Some(s) = anti.spec.as_mut() {
            s.node_name = None;
            s.node_selector = Some([(HOST.to_string(), "a1".to_string())].into());
        }
        let err = f.schedule_one(&anti, &snap).unwrap_err();
        assert_eq!(
            err.rejections.get("a1").map(|r| r.code),
            Some(super::super::Code::Unschedulable)
        );
    }

    #[test]
    fn preferred_terms_score_by_weight() {
        let pods = [
            bound(with_app(pod("db", &[]), "db"), "a1"),
            bound(with_app(pod("cache", &[]), "cache"), "b1"),
        ];
        let snap = cluster(&pods);
        let mut p = with_app(pod("web", &[]), "web");
        if let Some(s) = p.spec.as_mut() {
            s.affinity = Some(Affinity {
                pod_affinity: Some(PodAffinity {
                    preferred_during_scheduling_ignored_during_execution: Some(vec![
                        WeightedPodAffinityTerm {
                            weight: 80,
                            pod_affinity_term: term("db", ZONE),
                        },
                    ]),
                    ..Default::default()
                }),
                pod_anti_affinity: Some(PodAntiAffinity {
                    preferred_during_scheduling_ignored_during_execution: Some(vec![
                        WeightedPodAffinityTerm {
                            weight: 20,
                            pod_affinity_term: term("cache", HOST),
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        let info = PodInfo::new(Arc::new(p));
        let nodes: Vec<&NodeInfo> = snap.nodes().collect();
        let mut state = CycleState::default();
        assert!(InterPodAffinity.pre_score(&info, &nodes, &snap, &mut state));
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| InterPodAffinity.score(&state, &info, n, &snap))
            .collect();
        assert_eq!(scores, [80, 80, -20, 0]);
        InterPodAffinity.normalize(&mut scores);
        assert_eq!(scores, [100, 100, 0, 20]);

        // Existing pods' preferences pull too; required affinity counts 1.
        let fan = {
            let mut p = pod_with("fan", "fan", vec![term("web", ZONE)], vec![]);
            if let Some(s) = p.spec.as_mut() {
                s.node_name = Some("b1".into());
            }
            p
        };
        let snap = cluster(&[fan]);
        let plain = PodInfo::new(Arc::new(with_app(pod("web", &[]), "web")));
        let nodes: Vec<&NodeInfo> = snap.nodes().collect();
        let mut state = CycleState::default();
        assert!(InterPodAffinity.pre_score(&plain, &nodes, &snap, &mut state));
        let raw: Vec<i64> = nodes
            .iter()
            .map(|n| InterPodAffinity.score(&state, &plain, n, &snap))
            .collect();
        assert_eq!(raw, [0, 0, HARD_POD_AFFINITY_WEIGHT, 0]);
        let nobody = cluster(&[]);
        let nodes: Vec<&NodeInfo> = nobody.nodes().collect();
        assert!(!InterPodAffinity.pre_score(&plain, &nodes, &nobody, &mut state));
    }

    #[test]
    fn preemption_updates_keep_counts_exact() {
        let db = bound(with_app(pod("db", &[]), "db"), "a1");
        let snap = cluster(std::slice::from_ref(&db));
        let info = PodInfo::new(Arc::new(pod_with("w", "w", vec![], vec![term("db", ZONE)])));
        let mut state = CycleState::default();
        InterPodAffinity
            .pre_filter(&info, &snap, &mut state)
            .expect("prefilter");
        let a1 = snap.node("a1").expect("a1");
        assert!(InterPodAffinity.filter(&state, &info, a1).is_err());
        let db_info = PodInfo::new(Arc::new(db));
        InterPodAffinity.update_pod(&mut state, &info, &db_info, a1, &snap, -1);
        assert!(InterPodAffinity.filter(&state, &info, a1).is_ok());
        InterPodAffinity.update_pod(&mut state, &info, &db_info, a1, &snap, 1);
        assert!(InterPodAffinity.filter(&state, &info, a1).is_err());
    }
}
