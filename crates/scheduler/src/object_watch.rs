//! Watches of the kinds plugins read besides pods and nodes, kept in the
//! snapshot's `ClusterObjects`:
//!
//! ```text
//! Namespaces ─────────────▶ labels (affinity namespaceSelector)      ┐ changes retry
//! PVCs, PVs ──────────────▶ claims, volumes (VolumeBinding)          ┘ parked pods
//! PodDisruptionBudgets ───▶ budgets (preemption)
//! Services, ReplicaSets,
//! StatefulSets, RCs ──────▶ selectors (default topology spreading)
//! ```
//! After every (re)list, objects the list lacks are dropped.

use crate::label_selector::Selector;
use crate::scheduler::Shared;
use crate::snapshot::{ClusterObjects, ControllerKind};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolume, PersistentVolumeClaim, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};
use kube::Resource;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

fn namespaced_key<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// One kind the scheduler tracks in `ClusterObjects`.
pub(crate) trait Tracked:
    Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static
{
    /// Whether a change can make a parked pod schedulable.
    const RETRIES_PODS: bool;
    fn key(&self) -> String;
    fn apply(self, objects: &mut ClusterObjects);
    fn remove(key: &str, objects: &mut ClusterObjects);
    fn keys(objects: &ClusterObjects) -> Vec<String>;
}

impl Tracked for Namespace {
    const RETRIES_PODS: bool = true;
    fn key(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
    fn apply(self, o: &mut ClusterObjects) {
        let key = self.key();
        o.namespace_labels
            .insert(key, self.metadata.labels.unwrap_or_default());
    }
    fn remove(key: &str, o: &mut ClusterObjects) {
        o.namespace_labels.remove(key);
    }
    fn keys(o: &ClusterObjects) -> Vec<String> {
        o.namespace_labels.keys().cloned().collect()
    }
}

impl Tracked for PersistentVolumeClaim {
    const RETRIES_PODS: bool = true;
    fn key(&self) -> String {
        namespaced_key(self)
    }
    fn apply(self, o: &mut ClusterObjects) {
        o.claims.insert(self.key(), Arc::new(self));
    }
    fn remove(key: &str, o: &mut ClusterObjects) {
        o.claims.remove(key);
    }
    fn keys(o: &ClusterObjects) -> Vec<String> {
        o.claims.keys().cloned().collect()
    }
}

impl Tracked for PersistentVolume {
    const RETRIES_PODS: bool = true;
    fn key(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
    fn apply(self, o: &mut ClusterObjects) {
        o.volumes.insert(self.key(), Arc::new(self));
    }
    fn remove(key: &str, o: &mut ClusterObjects) {
        o.volumes.remove(key);
    }
    fn keys(o: &ClusterObjects) -> Vec<String> {
        o.volumes.keys().cloned().collect()
    }
}

impl Tracked for PodDisruptionBudget {
    const RETRIES_PODS: bool = false;
    fn key(&self) -> String {
        namespaced_key(self)
    }
    fn apply(self, o: &mut ClusterObjects) {
        o.budgets.insert(self.key(), Arc::new(self));
    }
    fn remove(key: &str, o: &mut ClusterObjects) {
        o.budgets.remove(key);
    }
    fn keys(o: &ClusterObjects) -> Vec<String> {
        o.budgets.keys().cloned().collect()
    }
}

impl Tracked for Service {
    const RETRIES_PODS: bool = false;
    fn key(&self) -> String {
        namespaced_key(self)
    }
    fn apply(self, o: &mut ClusterObjects) {
        let namespace = self.metadata.namespace.clone().unwrap_or_default();
        let name = self.metadata.name.clone().unwrap_or_default();
        // Services without a selector select no pods.
        match self.spec.and_then(|s| s.selector) {
            Some(selector) => {
                o.service_selectors
                    .entry(namespace)
                    .or_default()
                    .insert(name, selector);
            }
            None => Self::remove(&format!("{namespace}/{name}"), o),
        }
    }
    fn remove(key: &str, o: &mut ClusterObjects) {
        let (namespace, name) = key.split_once('/').unwrap_or(("", key));
        if let Some(services) = o.service_selectors.get_mut(namespace) {
            services.remove(name);
            if services.is_empty() {
                o.service_selectors.remove(namespace);
            }
        }
    }
    fn keys(o: &ClusterObjects) -> Vec<String> {
        o.service_selectors
            .iter()
            .flat_map(|(ns, s)| s.keys().map(move |n| format!("{ns}/{n}")))
            .collect()
    }
}

fn controller_keys(o: &ClusterObjects, kind: ControllerKind) -> Vec<String> {
    o.controller_selectors
        .keys()
        .filter(|(k, _)| *k == kind)
        .map(|(_, key)| key.clone())
        .collect()
}

impl Tracked for ReplicaSet {
    const RETRIES_PODS: bool = false;
    fn key(&self) -> String {
        namespaced_key(self)
    }
    fn apply(self, o: &mut ClusterObjects) {
        let selector = Selector::from_label_selector(self.spec.as_ref().map(|s| &s.selector));
        o.controller_selectors
            .insert((ControllerKind::ReplicaSet, self.key()), selector);
    }
    fn remove(key: &str, o: &mut ClusterObjects) {
        o.controller_selectors
            .remove(&(ControllerKind::ReplicaSet, key.to_string()));
    }
    fn keys(o: &ClusterObjects) -> Vec<String> {
        controller_keys(o, ControllerKind::ReplicaSet)
    }
}

impl Tracked for StatefulSet {
    const RETRIES_PODS: bool = false;
    fn key(&self) -> String {
        namespaced_key(self)
    }
    fn apply(self, o: &mut ClusterObjects) {
        let selector = Selector::from_label_selector(self.spec.as_ref().map(|s| &s.selector));
        o.controller_selectors
            .insert((ControllerKind::StatefulSet, self.key()), selector);
    }
    fn remove(key: &str, o: &mut ClusterObjects) {
        o.controller_selectors
            .remove(&(ControllerKind::StatefulSet, key.to_string()));
    }
    fn keys(o: &ClusterObjects) -> Vec<String> {
        controller_keys(o, ControllerKind::StatefulSet)
    }
}

impl Tracked for ReplicationController {
    const RETRIES_PODS: bool = false;
    fn key(&self) -> String {
        namespaced_key(self)
    }
    fn apply(self, o: &mut ClusterObjects) {
        let selector = self
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .map(Selector::from_map)
            .unwrap_or(Selector::Nothing);
        o.controller_selectors.insert(
            (ControllerKind::ReplicationController, self.key()),
            selector,
        );
    }
    fn remove(key: &str, o: &mut ClusterObjects) {
        o.controller_selectors
            .remove(&(ControllerKind::ReplicationController, key.to_string()));
    }
    fn keys(o: &ClusterObjects) -> Vec<String> {
        controller_keys(o, ControllerKind::ReplicationController)
    }
}

fn changed<K: Tracked>(shared: &Shared) {
    if K::RETRIES_PODS {
        shared.state().queue.move_all(Instant::now());
        shared.wake.notify_one();
    }
}

/// Watch one kind in all namespaces into the snapshot until dropped.
pub(crate) async fn watch_kind<K: Tracked>(shared: Arc<Shared>, synced: watch::Sender<bool>) {
    let api: Api<K> = Api::all(shared.client.clone());
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut listed: HashSet<String> = HashSet::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(obj)) => {
                obj.apply(shared.state().cache.objects_mut());
                changed::<K>(&shared);
            }
            Ok(watcher::Event::Delete(obj)) => {
                K::remove(&obj.key(), shared.state().cache.objects_mut());
            }
            Ok(watcher::Event::Init) => listed.clear(),
            Ok(watcher::Event::InitApply(obj)) => {
                listed.insert(obj.key());
                obj.apply(shared.state().cache.objects_mut());
            }
            Ok(watcher::Event::InitDone) => {
                {
                    let mut state = shared.state();
                    let objects = state.cache.objects_mut();
                    for key in K::keys(objects) {
                        if !listed.contains(&key) {
                            K::remove(&key, objects);
                        }
                    }
                }
                changed::<K>(&shared);
                let _ = synced.send(true);
            }
            Err(e) => tracing::debug!(error = %e, kind = %K::kind(&()), "watch failed; retrying"),
        }
    }
}
