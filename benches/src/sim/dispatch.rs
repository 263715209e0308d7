//! One pod watch for the whole simulator: each event goes to the hollow node
//! the pod is bound to (what that node's own `spec.nodeName` watch would have
//! delivered), and every pod's progress is timed on the way.
//!
//! ```text
//! watch pods (all namespaces) ─▶ track: first seen, bound, Running (timings)
//!                              └▶ spec.nodeName ─▶ that node's channel ─▶ its PodManager
//! ```
//!
//! Departure from kubemark, written down: there each hollow kubelet opens its
//! own watch. 5,000 watches from one process over HTTP/1.1 would be 5,000
//! TLS connections and, in berth's API server, 5,000 filters run per event.

use berth_kubelet::pod::manager::PodEvents;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::{self, Event};
use kube::Api;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

type NodeSender = mpsc::UnboundedSender<Result<Event<Pod>, watcher::Error>>;

/// What happened to one pod, as seen by the watch.
#[derive(Clone, Debug)]
pub struct PodTrack {
    pub first_seen: Instant,
    pub bound: Option<Instant>,
    pub running: Option<Instant>,
    pub node: String,
    pub deleted: bool,
    pub terminating: bool,
}

#[derive(Default)]
struct State {
    nodes: HashMap<String, NodeSender>,
    pods: HashMap<String, PodTrack>,
    /// The watch has delivered its first full list.
    listed: bool,
}

/// The dispatcher and the pod timings; clones share state.
#[derive(Clone, Default)]
pub struct Dispatch {
    state: Arc<Mutex<State>>,
}

impl Dispatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new node's event stream: an empty initial list, then its pods' events.
    pub fn register(&self, node: &str) -> PodEvents {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(Ok(Event::Init));
        let _ = tx.send(Ok(Event::InitDone));
        self.lock().nodes.insert(node.to_string(), tx);
        tokio_stream::wrappers::UnboundedReceiverStream::new(rx).boxed()
    }

    /// Stop delivering to a node (it was killed).
    pub fn unregister(&self, node: &str) {
        self.lock().nodes.remove(node);
    }

    /// Snapshot of every pod seen.
    pub fn pods(&self) -> HashMap<String, PodTrack> {
        self.lock().pods.clone()
    }

    /// How many pods seen so far match `pred`, counted under the lock
    /// (polling loops: a copy of 150,000 tracks every 500 ms held the lock
    /// the pod events are routed under, and starved the hollow kubelets).
    pub fn count_pods(&self, pred: impl Fn(&PodTrack) -> bool) -> usize {
        self.lock().pods.values().filter(|t| pred(t)).count()
    }

    /// Pods seen that are not deleted: (total, bound, running).
    pub fn counts(&self) -> (usize, usize, usize) {
        let state = self.lock();
        let live = state.pods.values().filter(|p| !p.deleted && !p.terminating);
        let (mut total, mut bound, mut running) = (0, 0, 0);
        for p in live {
            total += 1;
            bound += usize::from(p.bound.is_some());
            running += usize::from(p.running.is_some());
        }
        (total, bound, running)
    }

    /// Whether the watch has delivered its first full list.
    pub fn synced(&self) -> bool {
        self.lock().listed
    }

    /// Forget deleted pods (between scenarios, to keep the map small).
    pub fn forget_deleted(&self) {
        self.lock().pods.retain(|_, p| !p.deleted);
    }

    fn observe(&self, pod: &Pod, now: Instant) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let running = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|p| p == "Running");
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let mut state = self.lock();
        let track = state.pods.entry(uid).or_insert_with(|| PodTrack {
            first_seen: now,
            bound: None,
            running: None,
            node: String::new(),
            deleted: false,
            terminating: false,
        });
        if !node.is_empty() && track.bound.is_none() {
            track.bound = Some(now);
            track.node = node;
        }
        if running && track.running.is_none() {
            track.running = Some(now);
        }
        track.terminating = terminating;
    }

    fn send_to_node(&self, event: Event<Pod>) {
        let (Event::Apply(pod) | Event::InitApply(pod) | Event::Delete(pod)) = &event else {
            return;
        };
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
            return;
        };
        if let Some(tx) = self.lock().nodes.get(node) {
            let _ = tx.send(Ok(event));
        }
    }

    fn broadcast(&self, event: impl Fn() -> Event<Pod>) {
        for tx in self.lock().nodes.values() {
            let _ = tx.send(Ok(event()));
        }
    }

    /// Watch every pod until the stream ends.
    pub async fn run(self, client: kube::Client) {
        let api: Api<Pod> = Api::all(client);
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            let now = Instant::now();
            match event {
                Ok(Event::Apply(pod)) => {
                    self.observe(&pod, now);
                    self.send_to_node(Event::Apply(pod));
                }
                Ok(Event::Delete(pod)) => {
                    if let Some(uid) = pod.metadata.uid.as_deref() {
                        if let Some(t) = self.lock().pods.get_mut(uid) {
                            t.deleted = true;
                        }
                    }
                    self.send_to_node(Event::Delete(pod));
                }
                Ok(Event::Init) => self.broadcast(|| Event::Init),
                Ok(Event::InitApply(pod)) => {
                    self.observe(&pod, now);
                    self.send_to_node(Event::InitApply(pod));
                }
                Ok(Event::InitDone) => {
                    self.lock().listed = true;
                    self.broadcast(|| Event::InitDone);
                }
                Err(e) => tracing::warn!("simulator pod watch: {e}"),
            }
        }
    }
}
