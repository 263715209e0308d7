//! The cluster as one scheduling decision sees it: every node with the pods
//! counted on it. The scheduler keeps one up to date from its watches (see
//! `cache.rs`); tests and benchmarks build one from plain objects.

use crate::affinity_term::AffinityTerm;
use crate::existing_terms::{ExistingTerms, TermKind};
use crate::label_selector::Selector;
use crate::node_info::NodeInfo;
use crate::pod_counts::{NodeCounts, PodCountCache, PodFilter};
use crate::pod_info::{is_terminal, node_name, PodInfo};
use crate::topology_values::{TopologyCache, TopologyValues};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Kinds whose selector upstream's default spreading uses for a pod they
/// control (`ownerReferences[controller=true]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControllerKind {
    ReplicaSet,
    StatefulSet,
    ReplicationController,
}

impl ControllerKind {
    /// From an owner reference's apiVersion and kind.
    pub fn from_owner(api_version: &str, kind: &str) -> Option<Self> {
        match (api_version, kind) {
            ("apps/v1", "ReplicaSet") => Some(ControllerKind::ReplicaSet),
            ("apps/v1", "StatefulSet") => Some(ControllerKind::StatefulSet),
            ("v1", "ReplicationController") => Some(ControllerKind::ReplicationController),
            _ => None,
        }
    }
}

/// Objects other than nodes and pods that some plugin reads.
#[derive(Clone, Debug, Default)]
pub struct ClusterObjects {
    /// Namespace → its labels (namespaceSelector of affinity terms).
    pub namespace_labels: HashMap<String, BTreeMap<String, String>>,
    /// "namespace/name" → claim.
    pub claims: HashMap<String, Arc<PersistentVolumeClaim>>,
    /// Name → volume.
    pub volumes: HashMap<String, Arc<PersistentVolume>>,
    /// "namespace/name" → budget.
    pub budgets: HashMap<String, Arc<PodDisruptionBudget>>,
    /// Namespace → Service name → spec.selector (default spreading).
    pub service_selectors: HashMap<String, HashMap<String, BTreeMap<String, String>>>,
    /// (kind, "namespace/name") → the controller's pod selector.
    pub controller_selectors: HashMap<(ControllerKind, String), Selector>,
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub objects: ClusterObjects,
    /// Node → pods whose `status.nominatedNodeName` names it (room
    /// preemption made for them): counted by filters for pods of lower or
    /// equal priority.
    nominated: HashMap<String, Vec<Arc<PodInfo>>>,
    /// Nodes in name order (a Vec so a cycle can start anywhere cheaply).
    nodes: Vec<NodeInfo>,
    /// Node name → position in `nodes`.
    index: HashMap<String, usize>,
    /// Pods bound to nodes the node watch has not shown (yet, or any more);
    /// they move onto the node when it appears.
    orphans: HashMap<String, HashMap<String, Arc<PodInfo>>>,
    /// Normalized image name → how many nodes have it (ImageLocality spread).
    image_spread: HashMap<String, usize>,
    /// Label key → every node's value id (spreading, node affinity).
    topology: TopologyCache,
    /// Per pod filter: matching pods per node (spreading, pod affinity).
    pod_counts: PodCountCache,
    /// Placed pods' affinity terms by term (InterPodAffinity).
    existing_terms: ExistingTerms,
}

impl Snapshot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Nodes plus every non-terminal pod bound to one of them.
    pub fn from_objects(nodes: impl IntoIterator<Item = Node>, pods: &[Pod]) -> Self {
        let mut s = Snapshot::new();
        for n in nodes {
            s.set_node(Arc::new(n));
        }
        for p in pods {
            if let Some(node) = node_name(p).map(str::to_string) {
                if !is_terminal(p) {
                    s.add_pod(&node, Arc::new(PodInfo::new(Arc::new(p.clone()))));
                }
            }
        }
        s
    }

    /// Labels of a namespace the namespace watch has shown.
    pub fn namespace_labels(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.objects.namespace_labels.get(namespace)
    }

    /// Pods nominated to this node.
    pub fn nominated_on(&self, node: &str) -> &[Arc<PodInfo>] {
        self.nominated
            .get(node)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Record (or with `None` clear) where a pending pod is nominated.
    pub fn set_nominated(&mut self, pod: Arc<PodInfo>, node: Option<&str>) {
        self.clear_nominated(&pod.uid);
        if let Some(node) = node {
            self.nominated
                .entry(node.to_string())
                .or_default()
                .push(pod);
        }
    }

    pub fn clear_nominated(&mut self, uid: &str) {
        self.nominated.retain(|_, pods| {
            pods.retain(|p| p.uid != uid);
            !pods.is_empty()
        });
    }

    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|i| &self.nodes[*i])
    }

    /// Nodes in name order.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> + Clone {
        self.nodes.iter()
    }

    /// Every node once, in name order starting at position `start`.
    pub fn nodes_from(&self, start: usize) -> impl Iterator<Item = &NodeInfo> {
        let start = start.min(self.nodes.len());
        self.nodes[start..].iter().chain(&self.nodes[..start])
    }

    /// Every node's value of a topology key, by node position.
    pub fn topology_values(&self, key: &str) -> Arc<TopologyValues> {
        self.topology.get_or_build(key, || {
            let mut tv = TopologyValues::default();
            for node in &self.nodes {
                let id = node.labels().and_then(|l| l.get(key)).map(|v| {
                    let next = tv.values.len() as u32;
                    *tv.ids.entry(v.clone()).or_insert_with(|| {
                        tv.values.push(v.clone());
                        next
                    })
                });
                tv.per_node.push(id);
            }
            tv
        })
    }

    /// Per node position, the pods `filter` selects there; counted once,
    /// then kept up to date as pods come and go.
    pub fn pod_counts(&self, filter: &PodFilter) -> Arc<NodeCounts> {
        self.pod_counts.get_or_count(filter, &self.nodes)
    }

    /// Placed pods' (anti-)affinity terms of `kinds` that select `pod`
    /// (`selects` decides), with per node position the count (required)
    /// or summed weight (preferred).
    pub fn existing_terms_selecting(
        &self,
        pod: &PodInfo,
        kinds: &[TermKind],
        selects: impl Fn(&AffinityTerm) -> bool,
        f: impl FnMut(TermKind, &AffinityTerm, usize, i64),
    ) {
        self.existing_terms
            .for_each_selecting(&self.nodes, pod, kinds, selects, f)
    }

    /// Distinct filters and terms the caches hold (tests).
    pub fn cached_counts(&self) -> (usize, usize) {
        (self.pod_counts.len(), self.existing_terms.len())
    }

    /// A pod started (1) or stopped (−1) counting on the node at `position`.
    fn pod_changed(&mut self, position: usize, pod: &PodInfo, delta: i64) {
        self.pod_counts.pod_changed(position, pod, delta);
        self.existing_terms.pod_changed(position, pod, delta);
    }

    /// Node positions shift: per-position caches start over.
    fn positions_moved(&mut self) {
        self.topology.clear();
        self.pod_counts.clear();
        self.existing_terms.clear();
    }

    fn reindex(&mut self, from: usize) {
        for (i, n) in self.nodes.iter_mut().enumerate().skip(from) {
            n.position = i;
            self.index.insert(n.name.clone(), i);
        }
    }

    /// How many nodes hold this (normalized) image.
    pub fn image_spread(&self, image: &str) -> usize {
        self.image_spread.get(image).copied().unwrap_or(0)
    }

    /// Add or replace a node; pods already counted on it stay.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(&i) = self.index.get(&name) {
            let info = &mut self.nodes[i];
            if info.node.metadata.labels != node.metadata.labels {
                self.topology.clear();
            }
            Self::count_images(&mut self.image_spread, info, -1);
            info.set_node(node);
            Self::count_images(&mut self.image_spread, info, 1);
            return;
        }
        let mut info = NodeInfo::new(node);
        for (_, pod) in self.orphans.remove(&name).unwrap_or_default() {
            info.add_pod(pod);
        }
        Self::count_images(&mut self.image_spread, &info, 1);
        self.positions_moved();
        let at = self.nodes.partition_point(|n| n.name < name);
        self.nodes.insert(at, info);
        self.reindex(at);
    }

    /// Drop a node; its pods wait as orphans in case it comes back.
    pub fn remove_node(&mut self, name: &str) {
        if let Some(at) = self.index.remove(name) {
            let info = self.nodes.remove(at);
            self.positions_moved();
            self.reindex(at);
            Self::count_images(&mut self.image_spread, &info, -1);
            if !info.pods.is_empty() {
                self.orphans.insert(name.to_string(), info.pods);
            }
        }
    }

    pub fn add_pod(&mut self, node: &str, pod: Arc<PodInfo>) {
        match self.index.get(node).copied() {
            Some(position) => {
                if let Some(old) = self.nodes[position].pods.get(&pod.uid).cloned() {
                    self.pod_changed(position, &old, -1);
                }
                self.nodes[position].add_pod(pod.clone());
                self.pod_changed(position, &pod, 1);
            }
            None => {
                self.orphans
                    .entry(node.to_string())
                    .or_default()
                    .insert(pod.uid.clone(), pod);
            }
        }
    }

    pub fn remove_pod(&mut self, node: &str, uid: &str) {
        if let Some(position) = self.index.get(node).copied() {
            if let Some(old) = self.nodes[position].pods.get(uid).cloned() {
                self.nodes[position].remove_pod(uid);
                self.pod_changed(position, &old, -1);
            }
        } else if let Some(pods) = self.orphans.get_mut(node) {
            pods.remove(uid);
            if pods.is_empty() {
                self.orphans.remove(node);
            }
        }
    }

    fn count_images(spread: &mut HashMap<String, usize>, info: &NodeInfo, delta: isize) {
        for image in info.images.keys() {
            let count = spread.entry(image.clone()).or_default();
            *count = count.saturating_add_signed(delta);
            if *count == 0 {
                spread.remove(image);
            }
        }
    }
}

#[cfg(test)]
mod cache_tests {
    //! The kept counts (pod counts per filter, placed affinity terms) must
    //! always equal a fresh count: a cloned snapshot starts with empty
    //! caches, so it is the oracle.
    use super::*;
    use crate::affinity_term::AffinityTerm;
    use crate::framework::Framework;
    use crate::pod_counts::PodClause;
    use crate::testing::{labeled, node, pod};
    use k8s_openapi::api::core::v1::{
        Affinity, PodAffinityTerm, PodAntiAffinity, TopologySpreadConstraint,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    const ZONE: &str = "topology.kubernetes.io/zone";

    fn app_selector(app: &str) -> Option<LabelSelector> {
        Some(LabelSelector {
            match_labels: Some([("app".to_string(), app.to_string())].into()),
            match_expressions: None,
        })
    }

    fn web_filter(count_terminating: bool) -> PodFilter {
        PodFilter {
            clauses: vec![PodClause {
                namespaces: vec!["default".into()],
                selector: Selector::from_label_selector(app_selector("web").as_ref()),
            }],
            count_terminating,
        }
    }

    fn app_pod(name: &str, app: &str) -> Arc<PodInfo> {
        let mut p = pod(name, &[]);
        p.metadata.labels = Some([("app".to_string(), app.to_string())].into());
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    /// Labelled app=guard, keeping pods labelled `app` out of its zone.
    fn anti_pod(name: &str, app: &str) -> Arc<PodInfo> {
        let mut p = pod(name, &[]);
        p.metadata.labels = Some([("app".to_string(), "guard".to_string())].into());
        if let Some(s) = p.spec.as_mut() {
            s.affinity = Some(Affinity {
                pod_anti_affinity: Some(PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![
                        PodAffinityTerm {
                            label_selector: app_selector(app),
                            topology_key: ZONE.into(),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    fn cluster() -> Snapshot {
        Snapshot::from_objects(
            (0..6).map(|i| {
                labeled(
                    node(&format!("n{i}"), "8", "16Gi"),
                    ZONE,
                    &format!("z{}", i % 2),
                )
            }),
            &[],
        )
    }

    fn fresh_counts(snap: &Snapshot, filter: &PodFilter) -> Vec<i64> {
        snap.clone().pod_counts(filter).per_node.clone()
    }

    /// (term selector app, position, amount) of placed required anti terms selecting `pod`.
    fn anti_terms(snap: &Snapshot, pod: &PodInfo) -> Vec<(usize, i64)> {
        let mut out = Vec::new();
        snap.existing_terms_selecting(
            pod,
            &[TermKind::RequiredAntiAffinity],
            |t: &AffinityTerm| t.matches(&pod.namespace, pod.labels(), None),
            |_, _, position, amount| out.push((position, amount)),
        );
        out.sort();
        out
    }

    #[test]
    fn pod_counts_follow_added_and_removed_pods() {
        let mut snap = cluster();
        let filter = web_filter(false);
        assert_eq!(snap.pod_counts(&filter).per_node, [0; 6]);
        snap.add_pod("n1", app_pod("w1", "web"));
        snap.add_pod("n1", app_pod("w2", "web"));
        snap.add_pod("n3", app_pod("d1", "db"));
        assert_eq!(snap.pod_counts(&filter).per_node, [0, 2, 0, 0, 0, 0]);
        // Re-adding the same UID elsewhere in the node replaces, not doubles.
        snap.add_pod("n1", app_pod("w1", "web"));
        assert_eq!(snap.pod_counts(&filter).at(1), 2);
        // Same UID, now labelled db: no longer counted.
        let mut relabelled = (*app_pod("w2", "db")).clone();
        relabelled.uid = "uid-w2".into();
        snap.add_pod("n1", Arc::new(relabelled));
        assert_eq!(snap.pod_counts(&filter).at(1), 1);
        snap.remove_pod("n1", "uid-w1");
        assert_eq!(
            snap.pod_counts(&filter).per_node,
            fresh_counts(&snap, &filter)
        );
        assert_eq!(snap.pod_counts(&filter).at(1), 0);
    }

    #[test]
    fn terminating_pods_count_only_when_asked() {
        let mut snap = cluster();
        let mut dying = (*app_pod("w1", "web")).clone();
        dying.terminating = true;
        snap.add_pod("n2", Arc::new(dying));
        assert_eq!(snap.pod_counts(&web_filter(false)).at(2), 0);
        assert_eq!(snap.pod_counts(&web_filter(true)).at(2), 1);
    }

    #[test]
    fn node_changes_start_the_counts_over() {
        let mut snap = cluster();
        let filter = web_filter(false);
        snap.add_pod("n5", app_pod("w1", "web"));
        assert_eq!(snap.pod_counts(&filter).at(5), 1);
        let anti = anti_pod("a1", "web");
        snap.add_pod("n4", anti.clone());
        let web = app_pod("probe", "web");
        assert_eq!(anti_terms(&snap, &web), [(4, 1)]);
        // A node sorting first shifts every position by one.
        snap.set_node(Arc::new(labeled(node("m0", "8", "16Gi"), ZONE, "z9")));
        assert_eq!(snap.cached_counts(), (0, 0), "caches dropped");
        assert_eq!(snap.pod_counts(&filter).per_node, [0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(anti_terms(&snap, &web), [(5, 1)]);
        // Removing a node with counted pods: they leave the counts.
        snap.remove_node("n5");
        assert_eq!(snap.pod_counts(&filter).per_node, [0; 6]);
        // Terms follow pods in and out once built.
        snap.add_pod("n0", anti_pod("a2", "web"));
        assert_eq!(anti_terms(&snap, &web), [(1, 1), (5, 1)]);
        snap.remove_pod("n4", &anti.uid);
        assert_eq!(anti_terms(&snap, &web), [(1, 1)]);
        assert_eq!(anti_terms(&snap, &app_pod("x", "db")), []);
    }

    #[test]
    fn unindexed_filters_are_kept_current() {
        // A selector without `key In [...]` is checked against every pod.
        let not_db = PodFilter {
            clauses: vec![PodClause {
                namespaces: vec!["default".into()],
                selector: Selector::from_label_selector(Some(&LabelSelector {
                    match_labels: None,
                    match_expressions: Some(vec![
                        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                            key: "app".into(),
                            operator: "NotIn".into(),
                            values: Some(vec!["db".into()]),
                        },
                    ]),
                })),
            }],
            count_terminating: false,
        };
        let mut snap = cluster();
        assert_eq!(snap.pod_counts(&not_db).at(0), 0);
        snap.add_pod("n0", app_pod("w1", "web"));
        snap.add_pod("n0", app_pod("d1", "db"));
        snap.add_pod("n0", app_pod("c1", "cache"));
        assert_eq!(snap.pod_counts(&not_db).at(0), 2);
        assert_eq!(
            snap.pod_counts(&not_db).per_node,
            fresh_counts(&snap, &not_db)
        );
    }

    /// Decisions with caches kept across assumes equal decisions made on a
    /// fresh copy each time (same seed, same round-robin start).
    #[test]
    fn kept_caches_decide_as_a_fresh_snapshot() {
        let mut kept = Snapshot::from_objects(
            (0..12).map(|i| {
                labeled(
                    node(&format!("n{i:02}"), "4", "8Gi"),
                    ZONE,
                    &format!("z{}", i % 3),
                )
            }),
            &[],
        );
        let warm = Framework::new().with_seed(11);
        let cold = Framework::new().with_seed(11);
        for i in 0..60 {
            let app = format!("g{}", i % 4);
            let p = match i % 3 {
                0 => anti_pod(&format!("p{i}"), &app),
                1 => {
                    let mut p = app_pod(&format!("p{i}"), &app).pod.as_ref().clone();
                    if let Some(s) = p.spec.as_mut() {
                        s.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
                            max_skew: 1,
                            topology_key: ZONE.into(),
                            when_unsatisfiable: "DoNotSchedule".into(),
                            label_selector: app_selector(&app),
                            ..Default::default()
                        }]);
                    }
                    Arc::new(PodInfo::new(Arc::new(p)))
                }
                _ => app_pod(&format!("p{i}"), &app),
            };
            let a = warm
                .schedule(&p, &kept)
                .map(|r| r.node)
                .map_err(|e| e.to_string());
            let b = cold
                .schedule(&p, &kept.clone())
                .map(|r| r.node)
                .map_err(|e| e.to_string());
            assert_eq!(a, b, "pod {i}");
            if let Ok(node) = a {
                kept.add_pod(&node, p);
            }
        }
    }
}
