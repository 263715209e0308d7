//! The watch cache: every object of the store, in memory, fed by one store
//! watch. Lists and watches are served from here; writers never wait for
//! watchers (fan-out is a broadcast; a watcher that falls behind catches up
//! from the event ring or from the store's history).
//!
//! Each object is kept as its served JSON bytes plus a small parsed index
//! (name, namespace, labels, selectable fields, owners): filtering reads the
//! index, JSON responses copy the bytes, and only Table/metadata/converted
//! output parses them again.
//!
//! ```text
//! store.watch("/registry/") ──▶ apply: parse once ─▶ CachedObject { json bytes, index }
//!    ├──▶ objects (OrdMap key → Arc<CachedObject>, O(1) snapshots per revision)
//!    ├──▶ ring of recent CacheEvents (Arc to the same object + index of the previous version)
//!    ├──▶ broadcast LiveEvent ──▶ unindexed watchers: filter on indexes, line encoded
//!    │                            once per (type, format) and shared
//!    └──▶ pod events by spec.nodeName (now and before) ──▶ watchers pinned to that node
//! ```
//!
//! Events (core/v1 and events.k8s.io/v1) are the exception, as upstream's
//! `DefaultWatchCacheSizes` makes them: they flow through the ring and the
//! broadcast to watchers, but are not kept in `objects` — a large cluster
//! writes hundreds of thousands of them and reads them rarely, so their gets
//! and lists go to the store (`is_cached_prefix`).

use crate::object_index::ObjectIndex;
use crate::watch_encode::SharedLines;
use crate::watch_index::{LiveFeed, NodeWatchers};
use berth_store::{EventType, Revision, Store, StoreError};
use bytes::Bytes;
use futures::StreamExt;
use imbl::OrdMap;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// Where Events are stored (core/v1 and events.k8s.io/v1). The cache does
/// not keep them in `objects` (they are served from the store; still in the
/// ring and broadcast), and `controllers::event_ttl` expires them.
pub const EVENT_PREFIXES: &[&str] = &["/registry/core/events/", "/registry/events.k8s.io/events/"];

/// Whether the object at `key` is kept in the cache's map (all but Events).
pub fn is_cached_key(key: &str) -> bool {
    !EVENT_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Whether a collection prefix (`rest::collection_prefix`) is served from the
/// cache's map; false for the Event prefixes, whole or one namespace.
pub fn is_cached_prefix(prefix: &str) -> bool {
    is_cached_key(prefix)
}

/// How many recent events are kept for watchers resuming from a resourceVersion.
const RING_CAPACITY: usize = 50_000;
/// How long a list snapshot stays available for `continue` tokens.
const SNAPSHOT_TTL: Duration = Duration::from_secs(90);
/// At most this many snapshots are held for `continue` tokens.
const MAX_SNAPSHOTS: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
}

impl WatchEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change. `object` is the new version (for a delete, the deleted one),
/// shared with the cache's map; `prev` is only the index of the version
/// before, which is all a filtered watcher needs to choose ADDED, MODIFIED
/// or DELETED.
#[derive(Debug)]
pub struct CacheEvent {
    pub revision: Revision,
    pub key: String,
    pub event_type: WatchEventType,
    pub object: Arc<CachedObject>,
    pub prev: Option<Arc<ObjectIndex>>,
}

/// A change as broadcast to live watchers, with the watch lines made for it
/// so far: each (event type, output format) is encoded once and the bytes are
/// shared by every watcher. The ring keeps only the `CacheEvent`, so these
/// lines are freed once every receiver has taken the event.
pub struct LiveEvent {
    pub event: Arc<CacheEvent>,
    pub lines: SharedLines,
}

/// An object as served (storage version): its JSON with resourceVersion
/// stamped, the index filtering needs, and the store revision that last
/// changed it. The parsed form is made only on demand (`value`).
#[derive(Debug)]
pub struct CachedObject {
    pub json: Bytes,
    pub index: Arc<ObjectIndex>,
    pub mod_revision: Revision,
}

impl CachedObject {
    /// From the bytes the store holds for `key`.
    pub fn decode(key: &str, stored: &[u8], mod_revision: Revision) -> Option<Self> {
        let value = decode_stored(stored, mod_revision)?;
        Self::from_value(key, &value, mod_revision)
    }

    /// From an object already stamped with its resourceVersion.
    pub fn from_value(key: &str, value: &Value, mod_revision: Revision) -> Option<Self> {
        Self::with_index(value, Arc::new(ObjectIndex::of(key, value)), mod_revision)
    }

    /// From an object and the index already made of it.
    pub fn with_index(
        value: &Value,
        index: Arc<ObjectIndex>,
        mod_revision: Revision,
    ) -> Option<Self> {
        let json = serde_json::to_vec(value).ok()?;
        Some(Self {
            // Exactly sized: a cache of many objects must not carry spare capacity.
            json: Bytes::from(json.into_boxed_slice()),
            index,
            mod_revision,
        })
    }

    /// From the bytes the store holds for `key`, if `wanted` accepts its
    /// index: a read that filters (one pod's Events among a namespace's)
    /// re-encodes only the objects it keeps.
    pub fn decode_if(
        key: &str,
        stored: &[u8],
        mod_revision: Revision,
        wanted: impl FnOnce(&ObjectIndex) -> bool,
    ) -> Option<Self> {
        let value = decode_stored(stored, mod_revision)?;
        let index = ObjectIndex::of(key, &value);
        if !wanted(&index) {
            return None;
        }
        Self::with_index(&value, Arc::new(index), mod_revision)
    }

    /// The parsed object (a fresh copy; parse only where JSON bytes will not do).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or_else(|e| {
            tracing::error!("watch cache: cached object no longer parses: {e}");
            Value::Null
        })
    }
}

pub type Objects = OrdMap<String, Arc<CachedObject>>;

struct State {
    revision: Revision,
    objects: Objects,
    ring: VecDeque<Arc<CacheEvent>>,
    /// The ring holds every event with revision > ring_floor.
    ring_floor: Revision,
    /// Snapshots that `continue` tokens point at.
    snapshots: VecDeque<(Revision, Instant, Objects)>,
}

pub struct WatchCache {
    state: RwLock<State>,
    /// Every event, for watchers the index does not cover.
    events: broadcast::Sender<Arc<LiveEvent>>,
    /// Pod events by node, for watchers pinned to one node.
    node_watchers: Arc<NodeWatchers>,
    /// Off: pinned watchers take the broadcast like any other (for comparison).
    node_index: std::sync::atomic::AtomicBool,
    revision: watch::Sender<Revision>,
    store: Arc<dyn Store>,
}

/// Parse stored bytes into the served object, stamping its resourceVersion.
pub fn decode_stored(bytes: &[u8], mod_revision: Revision) -> Option<Value> {
    let mut v: Value = serde_json::from_slice(bytes).ok()?;
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".into(),
            Value::String(mod_revision.to_string()),
        );
    }
    Some(v)
}

impl WatchCache {
    /// Load everything from the store and start following it.
    pub async fn start(store: Arc<dyn Store>) -> Result<Arc<Self>, StoreError> {
        let (objects, revision) = load_all(store.as_ref()).await?;
        // Room for a burst of a few seconds at full write speed before a
        // subscriber lags (a lagging subscriber catches up the slow way).
        let (events, _) = broadcast::channel(65_536);
        let (rev_tx, _) = watch::channel(revision);
        let cache = Arc::new(Self {
            state: RwLock::new(State {
                revision,
                objects,
                ring: VecDeque::new(),
                ring_floor: revision,
                snapshots: VecDeque::new(),
            }),
            events,
            node_watchers: Arc::default(),
            node_index: std::sync::atomic::AtomicBool::new(true),
            revision: rev_tx,
            store,
        });
        let follower = cache.clone();
        tokio::spawn(async move { follower.follow(revision).await });
        Ok(cache)
    }

    async fn follow(self: Arc<Self>, mut from: Revision) {
        loop {
            match self.store.watch("/registry/", from).await {
                Ok(mut stream) => {
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(ev) => {
                                from = ev.kv.mod_revision;
                                self.apply(ev);
                            }
                            Err(e) => {
                                tracing::warn!("watch cache: store watch ended: {e}");
                                break;
                            }
                        }
                    }
                }
                Err(StoreError::Compacted { .. }) => {
                    // We fell behind compaction: rebuild from a fresh list.
                    tracing::warn!("watch cache: history compacted, re-listing");
                    match load_all(self.store.as_ref()).await {
                        Ok((objects, revision)) => {
                            let mut st = self.write_state();
                            st.objects = objects;
                            st.revision = revision;
                            st.ring.clear();
                            st.ring_floor = revision;
                            st.snapshots.clear();
                            drop(st);
                            from = revision;
                            self.revision.send_replace(revision);
                        }
                        Err(e) => tracing::error!("watch cache: re-list failed: {e}"),
                    }
                }
                Err(e) => tracing::error!("watch cache: store watch failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, ev: berth_store::Event) {
        let rev = ev.kv.mod_revision;
        let key = ev.kv.key.clone();
        let Some(object) = CachedObject::decode(&key, &ev.kv.value, rev).map(Arc::new) else {
            tracing::error!("watch cache: undecodable value at {key}");
            return;
        };
        if !is_cached_key(&key) {
            // Not in the map: the previous version comes with the store event.
            let (event_type, prev) = uncached_change(&ev, &object);
            self.publish(self.write_state(), rev, key, event_type, object, prev);
            return;
        }
        let mut st = self.write_state();
        let prev = st.objects.get(&key).map(|c| c.index.clone());
        let event_type = match ev.event_type {
            EventType::Delete => {
                st.objects.remove(&key);
                WatchEventType::Deleted
            }
            EventType::Put => {
                st.objects.insert(key.clone(), object.clone());
                if prev.is_some() {
                    WatchEventType::Modified
                } else {
                    WatchEventType::Added
                }
            }
        };
        self.publish(st, rev, key, event_type, object, prev);
    }

    /// Put a change in the ring under the state lock (`st`), then release
    /// the lock and hand the change to live watchers.
    fn publish(
        &self,
        mut st: std::sync::RwLockWriteGuard<'_, State>,
        rev: Revision,
        key: String,
        event_type: WatchEventType,
        object: Arc<CachedObject>,
        prev: Option<Arc<ObjectIndex>>,
    ) {
        let event = Arc::new(CacheEvent {
            revision: rev,
            key,
            event_type,
            object,
            prev,
        });
        st.revision = rev;
        st.ring.push_back(event.clone());
        while st.ring.len() > RING_CAPACITY {
            if let Some(old) = st.ring.pop_front() {
                st.ring_floor = old.revision;
            }
        }
        drop(st);
        let live = Arc::new(LiveEvent {
            event,
            lines: SharedLines::default(),
        });
        self.node_watchers.dispatch(&live);
        // No receivers: nothing is kept (the ring has the event).
        let _ = self.events.send(live);
        self.revision.send_replace(rev);
    }

    pub fn revision(&self) -> Revision {
        self.read_state().revision
    }

    /// Wait until the cache has seen `rev` (after a write, or for a consistent read).
    pub async fn wait_for(&self, rev: Revision) -> bool {
        let mut rx = self.revision.subscribe();
        let ok = matches!(
            tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|r| *r >= rev)).await,
            Ok(Ok(_))
        );
        ok
    }

    /// Make the cache at least as fresh as the store right now (consistent read).
    pub async fn sync(&self) -> Result<Revision, StoreError> {
        let rev = self.store.current_revision().await?;
        if !self.wait_for(rev).await {
            return Err(StoreError::Backend(
                "watch cache is not catching up with the store".into(),
            ));
        }
        Ok(rev)
    }

    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.read_state().objects.get(key).cloned()
    }

    /// The cached objects whose keys start with `prefix` (e.g. one kind in
    /// one namespace), in key order.
    pub fn under(&self, prefix: &str) -> Vec<Arc<CachedObject>> {
        let st = self.read_state();
        let lower = std::ops::Bound::Included(prefix.to_string());
        st.objects
            .range((lower, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// The current objects and their revision (O(1): the map is persistent).
    pub fn snapshot(&self) -> (Revision, Objects) {
        let st = self.read_state();
        (st.revision, st.objects.clone())
    }

    /// Hold `objects` (the cache as of `rev`) for `continue` tokens. Only
    /// lists that hand out a token call this: every held snapshot pins the
    /// versions replaced since, so nothing else should.
    pub fn keep_snapshot(&self, rev: Revision, objects: &Objects) {
        let mut st = self.write_state();
        let now = Instant::now();
        match st.snapshots.iter_mut().find(|(r, _, _)| *r == rev) {
            Some(held) => held.1 = now,
            None => st.snapshots.push_back((rev, now, objects.clone())),
        }
        st.snapshots
            .retain(|(_, t, _)| now.duration_since(*t) <= SNAPSHOT_TTL);
        while st.snapshots.len() > MAX_SNAPSHOTS {
            st.snapshots.pop_front();
        }
    }

    /// The objects as of `rev`, if that is now or a snapshot of exactly that revision is held.
    pub fn snapshot_at(&self, rev: Revision) -> Option<Objects> {
        let st = self.read_state();
        if st.revision == rev {
            return Some(st.objects.clone());
        }
        st.snapshots
            .iter()
            .find(|(r, _, _)| *r == rev)
            .map(|(_, _, o)| o.clone())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.events.subscribe()
    }

    /// Live events for a watcher: those of one node's pods when it is pinned
    /// to `node` (`watch_index::pinned_node`), else every event.
    pub fn subscribe_live(&self, node: Option<&str>) -> LiveFeed {
        let indexed = self.node_index.load(std::sync::atomic::Ordering::Relaxed);
        match node {
            Some(node) if indexed => self.node_watchers.subscribe(node),
            _ => LiveFeed::all(self.events.subscribe()),
        }
    }

    /// Whether watches opened from now on may use the node index (on by
    /// default; off only to measure what it saves).
    pub fn set_node_index(&self, on: bool) {
        self.node_index
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Nodes with at least one pinned watcher (for tests and metrics).
    pub fn pinned_nodes(&self) -> usize {
        self.node_watchers.nodes()
    }

    /// Events with revision > `after` from the ring, or None when the ring no
    /// longer reaches back that far.
    pub fn events_after(&self, after: Revision, prefix: &str) -> Option<Vec<Arc<CacheEvent>>> {
        let st = self.read_state();
        if after < st.ring_floor {
            return None;
        }
        let start = st.ring.partition_point(|e| e.revision <= after);
        Some(
            st.ring
                .iter()
                .skip(start)
                .filter(|e| e.key.starts_with(prefix))
                .cloned()
                .collect(),
        )
    }

    /// Oldest revision a watch can resume from through the ring.
    pub fn ring_floor(&self) -> Revision {
        self.read_state().ring_floor
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Number of cached objects (for metrics).
    pub fn len(&self) -> usize {
        self.read_state().objects.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The watch event type and previous index of a change to an object the
/// map does not hold: from the store event's previous version (a delete's
/// previous version is the deleted object itself).
fn uncached_change(
    ev: &berth_store::Event,
    object: &CachedObject,
) -> (WatchEventType, Option<Arc<ObjectIndex>>) {
    match ev.event_type {
        EventType::Delete => (WatchEventType::Deleted, Some(object.index.clone())),
        EventType::Put => {
            let prev = ev.prev.as_ref().and_then(|p| {
                let value = decode_stored(&p.value, p.mod_revision)?;
                Some(Arc::new(ObjectIndex::of(&p.key, &value)))
            });
            // The previous version may be compacted away; the key's create
            // revision still tells an update from a create.
            let updated = prev.is_some() || ev.kv.create_revision != ev.kv.mod_revision;
            let event_type = if updated {
                WatchEventType::Modified
            } else {
                WatchEventType::Added
            };
            (event_type, prev)
        }
    }
}

/// The first key after every key under `prefix` (a `start_after` cursor that
/// skips the whole prefix).
fn past_prefix(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

async fn load_all(store: &dyn Store) -> Result<(Objects, Revision), StoreError> {
    let mut objects = OrdMap::new();
    let mut start_after = None;
    let mut at = None;
    loop {
        let page = store
            .list(berth_store::ListOptions {
                prefix: "/registry/".into(),
                start_after: start_after.clone(),
                limit: Some(5000),
                revision: at,
                skip_remaining_count: true,
            })
            .await?;
        at = Some(page.revision);
        // Keys under an uncached prefix are skipped in one jump, not read.
        let mut jumped = false;
        for kv in &page.items {
            if let Some(p) = EVENT_PREFIXES.iter().find(|p| kv.key.starts_with(*p)) {
                start_after = Some(past_prefix(p));
                jumped = true;
                break;
            }
            match CachedObject::decode(&kv.key, &kv.value, kv.mod_revision) {
                Some(obj) => {
                    objects.insert(kv.key.clone(), Arc::new(obj));
                }
                None => tracing::error!("watch cache: undecodable value at {}", kv.key),
            }
            start_after = Some(kv.key.clone());
        }
        if !jumped && (!page.more || page.items.is_empty()) {
            return Ok((objects, page.revision));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_store::MemoryStore;
    use serde_json::json;

    async fn put(store: &dyn Store, key: &str, name: &str) {
        let v =
            json!({"metadata": {"name": name, "namespace": "d"}, "involvedObject": {"name": "p"}});
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        if let Err(e) = store.create(key, bytes).await {
            panic!("create {key}: {e}");
        }
    }

    #[tokio::test]
    async fn events_stream_to_watchers_but_stay_out_of_the_map() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        // Keys before, inside and after the Event prefixes, in key order.
        put(store.as_ref(), "/registry/core/configmaps/d/a", "a").await;
        for i in 0..3 {
            put(
                store.as_ref(),
                &format!("/registry/core/events/d/e{i}"),
                "e",
            )
            .await;
        }
        put(store.as_ref(), "/registry/core/namespaces/d", "d").await;
        put(store.as_ref(), "/registry/events.k8s.io/events/d/n", "n").await;
        put(store.as_ref(), "/registry/flowcontrol/x/y", "y").await;
        let cache = WatchCache::start(store.clone()).await.expect("start");
        let (_, objects) = cache.snapshot();
        let keys: Vec<&str> = objects.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "/registry/core/configmaps/d/a",
                "/registry/core/namespaces/d",
                "/registry/flowcontrol/x/y"
            ]
        );

        let mut live = cache.subscribe();
        let created = store
            .create(
                "/registry/core/events/d/e9",
                b"{\"metadata\":{\"name\":\"e9\"}}".to_vec(),
            )
            .await
            .expect("create");
        let updated = store
            .update(
                "/registry/core/events/d/e9",
                b"{\"metadata\":{\"name\":\"e9\"},\"count\":2}".to_vec(),
                created.mod_revision,
            )
            .await
            .expect("update");
        store
            .delete("/registry/core/events/d/e9", Some(updated.mod_revision))
            .await
            .expect("delete");
        let mut seen = Vec::new();
        for _ in 0..3 {
            let ev = tokio::time::timeout(Duration::from_secs(5), live.recv())
                .await
                .expect("in time")
                .expect("an event");
            seen.push((ev.event.event_type, ev.event.prev.is_some()));
        }
        assert_eq!(
            seen,
            [
                (WatchEventType::Added, false),
                (WatchEventType::Modified, true),
                (WatchEventType::Deleted, true)
            ]
        );
        assert!(cache.get("/registry/core/events/d/e9").is_none());
        assert_eq!(cache.len(), 3);
        // Resuming watchers still find them in the ring.
        let ring = cache
            .events_after(created.mod_revision - 1, "/registry/core/events/")
            .expect("in the ring");
        assert_eq!(ring.len(), 3);
    }
}
