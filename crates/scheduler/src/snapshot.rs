//! The cluster as one scheduling decision sees it: every node with the pods
//! counted on it. The scheduler keeps one up to date from its watches (see
//! `cache.rs`); tests and benchmarks build one from plain objects.

use crate::node_info::NodeInfo;
use crate::pod_info::{is_terminal, node_name, PodInfo};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    nodes: BTreeMap<String, NodeInfo>,
    /// Pods bound to nodes the node watch has not shown (yet, or any more);
    /// they move onto the node when it appears.
    orphans: HashMap<String, HashMap<String, Arc<PodInfo>>>,
    /// Normalized image name → how many nodes have it (ImageLocality spread).
    image_spread: HashMap<String, usize>,
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

    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name)
    }

    /// Nodes in name order.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> + Clone {
        self.nodes.values()
    }

    /// How many nodes hold this (normalized) image.
    pub fn image_spread(&self, image: &str) -> usize {
        self.image_spread.get(image).copied().unwrap_or(0)
    }

    /// Add or replace a node; pods already counted on it stay.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(info) = self.nodes.get_mut(&name) {
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
        self.nodes.insert(name, info);
    }

    /// Drop a node; its pods wait as orphans in case it comes back.
    pub fn remove_node(&mut self, name: &str) {
        if let Some(info) = self.nodes.remove(name) {
            Self::count_images(&mut self.image_spread, &info, -1);
            if !info.pods.is_empty() {
                self.orphans.insert(name.to_string(), info.pods);
            }
        }
    }

    pub fn add_pod(&mut self, node: &str, pod: Arc<PodInfo>) {
        match self.nodes.get_mut(node) {
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
        if let Some(info) = self.nodes.get_mut(node) {
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
