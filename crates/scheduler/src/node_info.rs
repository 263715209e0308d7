//! What the scheduler knows about one node: its object, what it can give
//! (allocatable) and what the pods bound or assumed on it already take.

use crate::plugins::image_locality::normalized_image_name;
use crate::plugins::node_ready::ready_taint;
use crate::pod_info::{HostPort, PodInfo};
use crate::resources::Resource;
use k8s_openapi::api::core::v1::{Node, Taint};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub name: String,
    /// Where the node sits in its snapshot (name order); index into the
    /// snapshot's per-node vectors (label values, pod counts). 0 for a
    /// node outside any snapshot.
    pub position: usize,
    pub node: Arc<Node>,
    /// `spec.unschedulable` (cordoned), read once per node update rather
    /// than per pod from the object.
    pub cordoned: bool,
    /// The taint the Ready condition implies (NodeReady), if not Ready.
    pub ready_taint: Option<Taint>,
    /// Any NoSchedule/NoExecute taint (TaintToleration's filter has work).
    pub has_hard_taints: bool,
    /// Any PreferNoSchedule taint (TaintToleration's score has work).
    pub has_soft_taints: bool,
    pub allocatable: Resource,
    /// Sum of the requests of the pods here, as written.
    pub requested: Resource,
    /// Same, with missing cpu/memory requests defaulted (for LeastAllocated).
    pub ranking_requested: Resource,
    /// Pods counted here, by UID.
    pub pods: HashMap<String, Arc<PodInfo>>,
    /// Host ports claimed by those pods (one entry per claim).
    pub used_ports: Vec<HostPort>,
    /// Images present on the node (normalized name → size in bytes).
    pub images: HashMap<String, i64>,
    /// Pods here with any pod (anti-)affinity term (InterPodAffinity skips
    /// nodes without them when only existing pods' terms matter).
    pub pods_with_affinity: usize,
    /// Pods here with required anti-affinity terms.
    pub pods_with_required_anti_affinity: usize,
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> Self {
        let mut info = NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            position: 0,
            node: node.clone(),
            cordoned: false,
            ready_taint: None,
            has_hard_taints: false,
            has_soft_taints: false,
            allocatable: Resource::default(),
            requested: Resource::default(),
            ranking_requested: Resource::default(),
            pods: HashMap::new(),
            used_ports: Vec::new(),
            images: HashMap::new(),
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
        };
        info.set_node(node);
        info
    }

    /// Replace the node object, keeping the pods counted on it.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let status = node.status.as_ref();
        self.allocatable = status
            .and_then(|s| s.allocatable.as_ref())
            .map(Resource::from_list)
            .unwrap_or_default();
        self.images = status
            .and_then(|s| s.images.as_ref())
            .into_iter()
            .flatten()
            .flat_map(|image| {
                let size = image.size_bytes.unwrap_or(0);
                image
                    .names
                    .iter()
                    .flatten()
                    .map(move |n| (normalized_image_name(n), size))
            })
            .collect();
        self.cordoned = node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        self.ready_taint = ready_taint(&node);
        let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref());
        let any = |effects: &[&str]| {
            taints
                .unwrap_or_default()
                .iter()
                .any(|t| effects.contains(&t.effect.as_str()))
        };
        self.has_hard_taints = any(&["NoSchedule", "NoExecute"]);
        self.has_soft_taints = any(&["PreferNoSchedule"]);
        self.node = node;
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        if self.pods.contains_key(&pod.uid) {
            self.remove_pod(&pod.uid.clone());
        }
        self.requested.add(&pod.requests);
        self.ranking_requested.add(&pod.ranking_requests);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        self.pods_with_affinity += usize::from(pod.has_affinity());
        self.pods_with_required_anti_affinity += usize::from(pod.has_required_anti_affinity());
        self.pods.insert(pod.uid.clone(), pod);
    }

    /// Stop counting a pod; false when it was not counted here.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(pod) = self.pods.remove(uid) else {
            return false;
        };
        self.requested.subtract(&pod.requests);
        self.ranking_requested.subtract(&pod.ranking_requests);
        self.pods_with_affinity -= usize::from(pod.has_affinity());
        self.pods_with_required_anti_affinity -= usize::from(pod.has_required_anti_affinity());
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(i);
            }
        }
        true
    }

    pub fn taints(&self) -> &[k8s_openapi::api::core::v1::Taint] {
        self.node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or_default()
    }

    pub fn labels(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        self.node.metadata.labels.as_ref()
    }
}
