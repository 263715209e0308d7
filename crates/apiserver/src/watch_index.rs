//! Watchers indexed by the node their field selector pins (upstream
//! cacher's `IndexerFunc`/`triggerFunc` for pods): every kubelet watches
//! `pods?fieldSelector=spec.nodeName=<node>`, and with one broadcast for all
//! watchers every pod event would wake every kubelet's watch task only for
//! it to filter the event out. A pinned watcher instead receives the pod
//! events of its node alone.
//!
//! ```text
//! cache.apply(event) ─┬─▶ broadcast (unindexed watchers: every event, as before)
//!                     └─▶ pod event? ─▶ node channel of spec.nodeName now
//!                                     └▶ node channel of spec.nodeName before (if different)
//! ```
//! A pod moving onto a node reaches that node's watchers (they send ADDED),
//! one leaving reaches the old node's (DELETED): the event's own index and
//! its `prev` index carry both names. Watchers still run their whole filter;
//! the index only decides who is woken. Each node channel is a small
//! broadcast of its own, so a watcher that falls behind lags and catches up
//! from the ring exactly as an unindexed one does.

use crate::cache::LiveEvent;
use crate::list::Filter;
use berth_api::ResourceInfo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::{self, error::RecvError};

/// Where pods are stored; only their events are dispatched by node.
const PODS_PREFIX: &str = "/registry/core/pods/";
const NODE_NAME: &str = "spec.nodeName";
/// Events buffered per node channel. Slots are allocated up front, so this
/// stays small (thousands of nodes); a burst beyond it is a lag, recovered
/// from the ring.
const NODE_CHANNEL_CAPACITY: usize = 128;

/// The node a pod watch is pinned to: its field selector requires
/// `spec.nodeName` to equal one value (`=` or `==`; `!=` pins nothing).
pub fn pinned_node<'a>(info: &ResourceInfo, filter: &'a Filter) -> Option<&'a str> {
    if !(info.group.is_empty() && info.plural == "pods") {
        return None;
    }
    filter
        .fields
        .terms
        .iter()
        .find(|(field, eq, _)| field == NODE_NAME && *eq)
        .map(|(_, _, node)| node.as_str())
}

/// The node channels, by node name ("" for pods not yet scheduled, which
/// the scheduler's `spec.nodeName=` watch pins).
#[derive(Default)]
pub struct NodeWatchers {
    by_node: Mutex<HashMap<String, broadcast::Sender<Arc<LiveEvent>>>>,
}

impl NodeWatchers {
    fn channels(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Arc<LiveEvent>>>> {
        self.by_node.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver of the pod events that concern `node`.
    pub fn subscribe(self: &Arc<Self>, node: &str) -> LiveFeed {
        let rx = self
            .channels()
            .entry(node.to_string())
            .or_insert_with(|| broadcast::channel(NODE_CHANNEL_CAPACITY).0)
            .subscribe();
        LiveFeed {
            rx: Some(rx),
            pinned: Some((self.clone(), node.to_string())),
        }
    }

    /// Sends a pod event to the watchers of the node it is on and of the
    /// node it was on. Other kinds are not indexed.
    pub fn dispatch(&self, live: &Arc<LiveEvent>) {
        let ev = &live.event;
        if !ev.key.starts_with(PODS_PREFIX) {
            return;
        }
        let now = ev.object.index.field(NODE_NAME);
        let before = ev.prev.as_ref().map(|p| p.field(NODE_NAME));
        let channels = self.channels();
        if channels.is_empty() {
            return;
        }
        // No receivers left is not an error: the last one is being dropped.
        if let Some(tx) = channels.get(now) {
            let _ = tx.send(live.clone());
        }
        if let Some(before) = before.filter(|b| *b != now) {
            if let Some(tx) = channels.get(before) {
                let _ = tx.send(live.clone());
            }
        }
    }

    /// Nodes with at least one pinned watcher.
    pub fn nodes(&self) -> usize {
        self.channels().len()
    }

    fn release(&self, node: &str) {
        let mut channels = self.channels();
        if channels
            .get(node)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            channels.remove(node);
        }
    }
}

/// What one watch receives live events through: the cache's broadcast, or
/// its node's channel.
pub struct LiveFeed {
    /// Always `Some` until dropped (taken in `drop` so the channel can be released).
    rx: Option<broadcast::Receiver<Arc<LiveEvent>>>,
    pinned: Option<(Arc<NodeWatchers>, String)>,
}

impl LiveFeed {
    /// Every event (an unindexed watcher).
    pub fn all(rx: broadcast::Receiver<Arc<LiveEvent>>) -> Self {
        Self {
            rx: Some(rx),
            pinned: None,
        }
    }

    /// The next event, `Lagged` after falling behind, `Closed` when the cache is gone.
    pub async fn recv(&mut self) -> Result<Arc<LiveEvent>, RecvError> {
        match self.rx.as_mut() {
            Some(rx) => rx.recv().await,
            None => Err(RecvError::Closed),
        }
    }

    /// The node this feed is pinned to, if any.
    pub fn node(&self) -> Option<&str> {
        self.pinned.as_ref().map(|(_, n)| n.as_str())
    }
}

impl Drop for LiveFeed {
    fn drop(&mut self) {
        drop(self.rx.take());
        if let Some((watchers, node)) = self.pinned.take() {
            watchers.release(&node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CacheEvent, CachedObject, WatchEventType};
    use crate::object_index::ObjectIndex;
    use crate::request::Query;
    use serde_json::json;

    fn filter(info: &ResourceInfo, selector: &str) -> Filter {
        let q = Query::parse(Some(&format!("fieldSelector={selector}")));
        Filter::from_query(info, &q).expect("filter")
    }

    fn lookup(plural: &str) -> &'static ResourceInfo {
        berth_api::registry::lookup("", "v1", plural).expect("registered")
    }

    #[test]
    fn only_pod_watches_requiring_one_node_are_pinned() {
        let pods = lookup("pods");
        assert_eq!(
            pinned_node(pods, &filter(pods, "spec.nodeName%3Dn1")),
            Some("n1")
        );
        assert_eq!(
            pinned_node(pods, &filter(pods, "spec.nodeName%3D%3Dn1")),
            Some("n1")
        );
        assert_eq!(
            pinned_node(
                pods,
                &filter(pods, "status.phase!%3DFailed,spec.nodeName%3Dn2")
            ),
            Some("n2")
        );
        // The scheduler's unscheduled pods: pinned to "".
        assert_eq!(
            pinned_node(pods, &filter(pods, "spec.nodeName%3D")),
            Some("")
        );
        assert_eq!(
            pinned_node(pods, &filter(pods, "spec.nodeName!%3Dn1")),
            None
        );
        assert_eq!(pinned_node(pods, &filter(pods, "")), None);
        let events = lookup("events");
        assert_eq!(pinned_node(events, &filter(events, "")), None);
    }

    fn live(key: &str, node: &str, prev: Option<&str>) -> Arc<LiveEvent> {
        let obj =
            |n: &str| json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeName": n}});
        Arc::new(LiveEvent {
            event: Arc::new(CacheEvent {
                revision: 2,
                key: key.into(),
                event_type: WatchEventType::Modified,
                object: Arc::new(CachedObject::from_value(key, &obj(node), 2).expect("encodes")),
                prev: prev.map(|n| Arc::new(ObjectIndex::of(key, &obj(n)))),
            }),
            lines: Default::default(),
        })
    }

    #[tokio::test]
    async fn events_reach_the_watchers_of_the_new_and_old_node_only() {
        let watchers = Arc::new(NodeWatchers::default());
        let mut n1 = watchers.subscribe("n1");
        let mut n2 = watchers.subscribe("n2");
        let mut n3 = watchers.subscribe("n3");
        assert_eq!(n1.node(), Some("n1"));
        watchers.dispatch(&live("/registry/core/pods/d/p", "n2", Some("n1")));
        watchers.dispatch(&live("/registry/core/pods/d/p", "n2", Some("n2")));
        // Not a pod: never dispatched by node.
        watchers.dispatch(&live("/registry/core/configmaps/d/p", "n3", None));
        let rev = |r: Result<Arc<LiveEvent>, RecvError>| r.map(|l| l.event.key.clone());
        assert_eq!(rev(n1.recv().await), Ok("/registry/core/pods/d/p".into()));
        assert!(n1.rx.as_mut().is_some_and(|rx| rx.is_empty()));
        assert!(n2.recv().await.is_ok());
        assert!(n2.recv().await.is_ok());
        assert!(n3.rx.as_mut().is_some_and(|rx| rx.is_empty()));

        // The last watcher of a node takes its channel with it.
        let also_n1 = watchers.subscribe("n1");
        drop(n1);
        assert_eq!(watchers.nodes(), 3);
        drop(also_n1);
        drop(n3);
        assert_eq!(watchers.nodes(), 1);
    }
}
