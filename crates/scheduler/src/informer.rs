//! One watch per kind (kube's watcher over Pods and Nodes in all
//! namespaces) feeding the scheduler cache and queue:
//!
//! ```text
//! Pods  ─▶ kept_pod (trim) ─┬─ pending & ours ──────────▶ queue (add / update)
//!                           ├─ bound ───────────────────▶ cache (confirm / count)
//!                           └─ deleted / finished ──────▶ cache − pod, queue: move all
//! Nodes ─▶ kept_node ───────┬─ added / relevant change ─▶ cache, queue: move all
//!                           └─ deleted ─────────────────▶ cache − node
//! ```
//! After every (re)list, anything the cache still has that the list lacked
//! was deleted while the watch was down.

use crate::cache::CacheChange;
use crate::pod_info::{needs_scheduling, node_name, PodInfo};
use crate::scheduler::Shared;
use crate::trim::{kept_node, kept_pod};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
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

/// After a (re)list: drop what the cluster no longer has (`listed`: the
/// UIDs the list showed).
fn reconcile_pods(shared: &Shared, listed: &HashSet<String>) {
    let known: Vec<String> = {
        let state = shared.state();
        let mut uids = state.cache.pod_uids();
        uids.extend(state.queue.uids());
        uids
    };
    for uid in known.into_iter().filter(|u| !listed.contains(u)) {
        on_pod_deleted(shared, &uid);
    }
}

fn reconcile_nodes(shared: &Shared, listed: &HashSet<String>) {
    let mut state = shared.state();
    for name in state.cache.node_names() {
        if !listed.contains(&name) {
            state.cache.remove_node(&name);
        }
    }
}

// The watches keep no store of their own (a reflector's would be one more
// full copy of every pod): the cache and queue are the only copies, and a
// (re)list only needs the keys it showed to find what vanished meanwhile.

pub(crate) async fn watch_pods(shared: Arc<Shared>, synced: watch::Sender<bool>) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    // UIDs the current (re)list has shown so far.
    let mut listed = HashSet::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(pod)) => on_pod(&shared, Arc::new(kept_pod(pod))),
            Ok(watcher::Event::InitApply(pod)) => {
                listed.insert(uid_of(&pod));
                on_pod(&shared, Arc::new(kept_pod(pod)));
            }
            Ok(watcher::Event::Delete(pod)) => on_pod_deleted(&shared, &uid_of(&pod)),
            Ok(watcher::Event::Init) => listed.clear(),
            Ok(watcher::Event::InitDone) => {
                reconcile_pods(&shared, &std::mem::take(&mut listed));
                let _ = synced.send(true);
            }
            Err(e) => tracing::warn!(error = %e, "pod watch failed; retrying"),
        }
    }
}

pub(crate) async fn watch_nodes(shared: Arc<Shared>, synced: watch::Sender<bool>) {
    let api: Api<Node> = Api::all(shared.client.clone());
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    // Names the current (re)list has shown so far.
    let mut listed = HashSet::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(node)) => on_node(&shared, Arc::new(kept_node(node))),
            Ok(watcher::Event::InitApply(node)) => {
                listed.extend(node.metadata.name.clone());
                on_node(&shared, Arc::new(kept_node(node)));
            }
            Ok(watcher::Event::Delete(node)) => {
                if let Some(name) = node.metadata.name.as_deref() {
                    shared.state().cache.remove_node(name);
                }
            }
            Ok(watcher::Event::Init) => listed.clear(),
            Ok(watcher::Event::InitDone) => {
                reconcile_nodes(&shared, &std::mem::take(&mut listed));
                let _ = synced.send(true);
            }
            Err(e) => tracing::warn!(error = %e, "node watch failed; retrying"),
        }
    }
}
