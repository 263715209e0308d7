//! The scheduler cache: the snapshot kept current from the pod and node
//! watches, plus pods *assumed* on a node the moment a decision is made, so
//! the next decision already sees them. The watch confirms an assumption
//! when it shows the binding; a failed binding forgets it.

use crate::pod_info::{is_terminal, node_name, PodInfo};
use crate::snapshot::{ClusterObjects, Snapshot};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
struct CachedPod {
    node: String,
    assumed: bool,
}

#[derive(Debug, Default)]
pub struct SchedulerCache {
    snapshot: Snapshot,
    pods: HashMap<String, CachedPod>,
}

/// What a watch event did to the cache, so the queue can react.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheChange {
    None,
    /// A counted pod went away (deleted or finished): room may have opened.
    Freed,
    /// A node appeared or changed in a way that can change decisions.
    NodeChanged,
}

impl SchedulerCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Namespaces, volumes, budgets and workload selectors the plugins read.
    pub fn objects_mut(&mut self) -> &mut ClusterObjects {
        &mut self.snapshot.objects
    }

    /// Remember that preemption made room for `pod` on `node` (or forget
    /// it with `None`), so other pods leave that room alone.
    pub fn nominate(&mut self, pod: Arc<PodInfo>, node: Option<&str>) {
        self.snapshot.set_nominated(pod, node);
    }

    pub fn clear_nominated(&mut self, uid: &str) {
        self.snapshot.clear_nominated(uid);
    }

    /// Count `pod` on `node` before the binding is written.
    pub fn assume(&mut self, pod: Arc<PodInfo>, node: &str) {
        let uid = pod.uid.clone();
        self.remove_pod(&uid);
        self.snapshot.clear_nominated(&uid);
        self.snapshot.add_pod(node, pod);
        self.pods.insert(
            uid,
            CachedPod {
                node: node.to_string(),
                assumed: true,
            },
        );
    }

    /// Undo an assumption after the binding failed. Pods the watch already
    /// showed bound stay.
    pub fn forget(&mut self, uid: &str) {
        if self.pods.get(uid).is_some_and(|p| p.assumed) {
            self.remove_pod(uid);
        }
    }

    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|p| p.assumed)
    }

    /// The node a pod is counted on, assumed or bound.
    pub fn node_of(&self, uid: &str) -> Option<&str> {
        self.pods.get(uid).map(|p| p.node.as_str())
    }

    pub fn pod_uids(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }

    /// Apply a pod as the watch shows it now.
    pub fn observe_pod(&mut self, pod: Arc<Pod>) -> CacheChange {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if is_terminal(&pod) {
            return if self.remove_pod(&uid) {
                CacheChange::Freed
            } else {
                CacheChange::None
            };
        }
        let Some(node) = node_name(&pod).map(str::to_string) else {
            // Not bound (yet): an assumption stays until the binding shows up.
            return CacheChange::None;
        };
        let info = Arc::new(PodInfo::new(pod));
        if let Some(old) = self.pods.get(&uid) {
            let old_node = old.node.clone();
            self.snapshot.remove_pod(&old_node, &uid);
        }
        self.snapshot.add_pod(&node, info);
        self.pods.insert(
            uid,
            CachedPod {
                node,
                assumed: false,
            },
        );
        CacheChange::None
    }

    /// Stop counting a pod; true when it was counted.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        match self.pods.remove(uid) {
            Some(p) => {
                self.snapshot.remove_pod(&p.node, uid);
                true
            }
            None => false,
        }
    }

    pub fn observe_node(&mut self, node: Arc<Node>) -> CacheChange {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let changed = match self.snapshot.node(name) {
            Some(old) => scheduling_relevant_change(&old.node, &node),
            None => true,
        };
        self.snapshot.set_node(node);
        if changed {
            CacheChange::NodeChanged
        } else {
            CacheChange::None
        }
    }

    pub fn remove_node(&mut self, name: &str) {
        self.snapshot.remove_node(name);
    }

    pub fn node_names(&self) -> Vec<String> {
        self.snapshot.nodes().map(|n| n.name.clone()).collect()
    }
}

/// Heartbeats rewrite node status all the time; only changes a filter or
/// score could notice are worth retrying unschedulable pods for.
fn scheduling_relevant_change(old: &Node, new: &Node) -> bool {
    let ready = |n: &Node| {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.clone())
    };
    let status_part = |n: &Node| {
        n.status
            .as_ref()
            .map(|s| (s.allocatable.clone(), s.images.as_ref().map(Vec::len)))
    };
    old.metadata.labels != new.metadata.labels
        || old.spec != new.spec
        || ready(old) != ready(new)
        || status_part(old) != status_part(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn assume_then_confirm_then_delete() {
        let mut cache = SchedulerCache::new();
        cache.observe_node(Arc::new(node("n1", "4", "8Gi")));
        let p = pod("p1", &[("cpu", "1")]);
        cache.assume(Arc::new(PodInfo::new(Arc::new(p.clone()))), "n1");
        assert!(cache.is_assumed("uid-p1"));
        assert_eq!(
            cache.snapshot().node("n1").map(|n| n.requested.milli_cpu),
            Some(1000)
        );

        // The watch shows the binding: counted once, no longer assumed.
        let mut bound = p.clone();
        if let Some(s) = bound.spec.as_mut() {
            s.node_name = Some("n1".into());
        }
        cache.observe_pod(Arc::new(bound.clone()));
        assert!(!cache.is_assumed("uid-p1"));
        assert_eq!(
            cache.snapshot().node("n1").map(|n| n.requested.milli_cpu),
            Some(1000)
        );

        // Forget does not undo a confirmed binding.
        cache.forget("uid-p1");
        assert_eq!(cache.snapshot().node("n1").map(|n| n.pods.len()), Some(1));

        assert!(cache.remove_pod("uid-p1"));
        assert_eq!(
            cache.snapshot().node("n1").map(|n| n.requested.milli_cpu),
            Some(0)
        );
    }

    #[test]
    fn forget_releases_an_assumption() {
        let mut cache = SchedulerCache::new();
        cache.observe_node(Arc::new(node("n1", "4", "8Gi")));
        let p = pod("p1", &[("cpu", "1")]);
        cache.assume(Arc::new(PodInfo::new(Arc::new(p.clone()))), "n1");
        // An unbound update (e.g. our own status patch) keeps the assumption.
        cache.observe_pod(Arc::new(p));
        assert!(cache.is_assumed("uid-p1"));
        cache.forget("uid-p1");
        assert_eq!(cache.snapshot().node("n1").map(|n| n.pods.len()), Some(0));
    }

    #[test]
    fn finished_pods_free_their_node() {
        let mut cache = SchedulerCache::new();
        cache.observe_node(Arc::new(node("n1", "4", "8Gi")));
        let mut p = pod("p1", &[("cpu", "3")]);
        if let Some(s) = p.spec.as_mut() {
            s.node_name = Some("n1".into());
        }
        cache.observe_pod(Arc::new(p.clone()));
        p.status = Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Succeeded".into()),
            ..Default::default()
        });
        assert_eq!(cache.observe_pod(Arc::new(p)), CacheChange::Freed);
        assert_eq!(
            cache.snapshot().node("n1").map(|n| n.requested.milli_cpu),
            Some(0)
        );
    }

    #[test]
    fn pods_seen_before_their_node_are_counted_when_it_arrives() {
        let mut cache = SchedulerCache::new();
        let mut p = pod("p1", &[("cpu", "1")]);
        if let Some(s) = p.spec.as_mut() {
            s.node_name = Some("late".into());
        }
        cache.observe_pod(Arc::new(p));
        assert_eq!(
            cache.observe_node(Arc::new(node("late", "2", "1Gi"))),
            CacheChange::NodeChanged
        );
        assert_eq!(
            cache.snapshot().node("late").map(|n| n.requested.milli_cpu),
            Some(1000)
        );
    }

    #[test]
    fn heartbeats_are_not_node_changes() {
        let mut cache = SchedulerCache::new();
        let n = node("n1", "4", "8Gi");
        cache.observe_node(Arc::new(n.clone()));
        let mut beat = n.clone();
        beat.metadata.resource_version = Some("99".into());
        assert_eq!(cache.observe_node(Arc::new(beat)), CacheChange::None);
        let bigger = crate::testing::with_allocatable(n, "cpu", "8");
        assert_eq!(
            cache.observe_node(Arc::new(bigger)),
            CacheChange::NodeChanged
        );
    }
}
