//! One watch per kind (kube's reflector over Pods and Nodes in all
//! namespaces) feeding the scheduler cache and queue:
//!
//! ```text
//! Pods  ─▶ reflector store ─┬─ pending & ours ──────────▶ queue (add / update)
//!                           ├─ bound ───────────────────▶ cache (confirm / count)
//!                           └─ deleted / finished ──────▶ cache − pod, queue: move all
//! Nodes ─▶ reflector store ─┬─ added / relevant change ─▶ cache, queue: move all
//!                           └─ deleted ─────────────────▶ cache − node
//! ```
//! After every (re)list the stores hold the full set; anything the cache
//! still has that the list lacks was deleted while the watch was down.

use crate::cache::CacheChange;
use crate::pod_info::{needs_scheduling, node_name, PodInfo};
use crate::scheduler::Shared;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

fn uid_of(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// A pod as the watch shows it now.
pub(crate) fn on_pod(shared: &Shared, pod: Arc<Pod>) {
    let uid = uid_of(&pod);
    let now = Instant::now();
    let mut state = shared.state();
    if needs_scheduling(&pod) {
        // An assumed pod whose binding the watch has not shown yet must not
        // be queued again; only refresh the object if it is still queued.
        if state.cache.is_assumed(&uid) && !state.queue.contains(&uid) {
            return;
        }
        // Room preemption made for it (ours or another scheduler's run).
        let nominated = pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.clone())
            .filter(|n| !n.is_empty());
        match nominated {
            Some(node) => state
                .cache
                .nominate(Arc::new(PodInfo::new(pod.clone())), Some(&node)),
            None => state.cache.clear_nominated(&uid),
        }
        state.queue.add_or_update(pod, now);
        drop(state);
        shared.wake.notify_one();
        return;
    }
    state.queue.remove(&uid);
    state.cache.clear_nominated(&uid);
    let counted = node_name(&pod).is_some() || state.cache.node_of(&uid).is_some();
    if counted && state.cache.observe_pod(pod) == CacheChange::Freed {
        state.queue.move_all(now);
        drop(state);
        shared.wake.notify_one();
    }
}

pub(crate) fn on_pod_deleted(shared: &Shared, uid: &str) {
    let mut state = shared.state();
    state.queue.remove(uid);
    state.cache.clear_nominated(uid);
    if state.cache.remove_pod(uid) {
        state.queue.move_all(Instant::now());
        drop(state);
        shared.wake.notify_one();
    }
    shared.recorder.forget_pod(uid);
}

pub(crate) fn on_node(shared: &Shared, node: Arc<Node>) {
    let mut state = shared.state();
    if state.cache.observe_node(node) == CacheChange::NodeChanged {
        state.queue.move_all(Instant::now());
        drop(state);
        shared.wake.notify_one();
    }
}

/// After a (re)list: drop what the cluster no longer has.
fn reconcile_pods(shared: &Shared, store: &Store<Pod>) {
    let live: HashSet<String> = store.state().iter().map(|p| uid_of(p)).collect();
    let known: Vec<String> = {
        let state = shared.state();
        let mut uids = state.cache.pod_uids();
        uids.extend(state.queue.uids());
        uids
    };
    for uid in known.into_iter().filter(|u| !live.contains(u)) {
        on_pod_deleted(shared, &uid);
    }
}

fn reconcile_nodes(shared: &Shared, store: &Store<Node>) {
    let live: HashSet<String> = store
        .state()
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    let mut state = shared.state();
    for name in state.cache.node_names() {
        if !live.contains(&name) {
            state.cache.remove_node(&name);
        }
    }
}

pub(crate) async fn watch_pods(shared: Arc<Shared>, synced: watch::Sender<bool>) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    let (store, writer) = reflector::store();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(pod)) | Ok(watcher::Event::InitApply(pod)) => {
                on_pod(&shared, Arc::new(pod));
            }
            Ok(watcher::Event::Delete(pod)) => on_pod_deleted(&shared, &uid_of(&pod)),
            Ok(watcher::Event::Init) => {}
            Ok(watcher::Event::InitDone) => {
                reconcile_pods(&shared, &store);
                let _ = synced.send(true);
            }
            Err(e) => tracing::warn!(error = %e, "pod watch failed; retrying"),
        }
    }
}

pub(crate) async fn watch_nodes(shared: Arc<Shared>, synced: watch::Sender<bool>) {
    let api: Api<Node> = Api::all(shared.client.clone());
    let (store, writer) = reflector::store();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(node)) | Ok(watcher::Event::InitApply(node)) => {
                on_node(&shared, Arc::new(node));
            }
            Ok(watcher::Event::Delete(node)) => {
                if let Some(name) = node.metadata.name.as_deref() {
                    shared.state().cache.remove_node(name);
                }
            }
            Ok(watcher::Event::Init) => {}
            Ok(watcher::Event::InitDone) => {
                reconcile_nodes(&shared, &store);
                let _ = synced.send(true);
            }
            Err(e) => tracing::warn!(error = %e, "node watch failed; retrying"),
        }
    }
}
