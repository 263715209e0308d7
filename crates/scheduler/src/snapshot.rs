//! The cluster as one scheduling decision sees it: every node with the pods
//! counted on it. The scheduler keeps one up to date from its watches (see
//! `cache.rs`); tests and benchmarks build one from plain objects.

use crate::label_selector::Selector;
use crate::node_info::NodeInfo;
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
    /// Topology key → every node's value (spreading).
    topology: TopologyCache,
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

    fn node_mut(&mut self, name: &str) -> Option<&mut NodeInfo> {
        self.index.get(name).map(|i| &mut self.nodes[*i])
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

    fn reindex(&mut self, from: usize) {
        for (i, n) in self.nodes.iter().enumerate().skip(from) {
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
        self.topology.clear();
        let at = self.nodes.partition_point(|n| n.name < name);
        self.nodes.insert(at, info);
        self.reindex(at);
    }

    /// Drop a node; its pods wait as orphans in case it comes back.
    pub fn remove_node(&mut self, name: &str) {
        if let Some(at) = self.index.remove(name) {
            let info = self.nodes.remove(at);
            self.topology.clear();
            self.reindex(at);
            Self::count_images(&mut self.image_spread, &info, -1);
            if !info.pods.is_empty() {
                self.orphans.insert(name.to_string(), info.pods);
            }
        }
    }

    pub fn add_pod(&mut self, node: &str, pod: Arc<PodInfo>) {
        match self.node_mut(node) {
            Some(info) => info.add_pod(pod),
            None => {
                self.orphans
                    .entry(node.to_string())
                    .or_default()
                    .insert(pod.uid.clone(), pod);
            }
        }
    }

    pub fn remove_pod(&mut self, node: &str, uid: &str) {
        if let Some(info) = self.node_mut(node) {
            info.remove_pod(uid);
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
