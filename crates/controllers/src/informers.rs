//! Shared informers, as kube-controller-manager's SharedInformerFactory: ONE
//! watch and ONE cache per resource kind for the whole controller manager,
//! with cheap indexes kept up to date as events flow, and a fan-out of the
//! touched objects to every controller that subscribed.
//!
//! ```text
//! API server ──watch (1 per kind)──▶ Informer task ──▶ Store (kube reflector cache)
//!                                        │          ├▶ indexes (namespace, node, owner uid, orphans)
//!                                        │          └▶ observed resourceVersion (expectations)
//!                                        └─ then ──▶ subscriber 1..n (Arc<K>, applied AND deleted)
//! ```
//!
//! The cache and indexes are written before an event is handed to the
//! subscribers, so a reconcile triggered by an event reads a cache that
//! already contains it. Unlike kube's `reflect_shared`, deletions are handed
//! on too (controllers must notice a pod going away), and a re-list hands on
//! what changed or vanished meanwhile.
//!
//! Each informer starts on first use (so a controller run alone, as the tests
//! do, starts only what it needs) and stops when the [`Informers`] are dropped.

use crate::owner::controller_of;
use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Node, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota,
    Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Resource;
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Index of objects by namespace.
pub const BY_NAMESPACE: &str = "namespace";
/// Index of objects by the uid of their controller ownerReference.
pub const BY_CONTROLLER_UID: &str = "controller-uid";
/// Index of objects without a controller ownerReference, by namespace
/// (candidates for adoption).
pub const ORPHANS_BY_NAMESPACE: &str = "orphans";
/// Index of pods by `spec.nodeName`.
pub const BY_NODE: &str = "node";

/// How long a controller waits for its cache to show its own writes before
/// it acts anyway (upstream's ExpectationsTimeout is 5 minutes; a lagging
/// watch this long is broken, and level-triggered reconciles recover).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(120);

/// A named single-valued index: the value an object is filed under, if any.
pub struct Indexer<K> {
    pub name: &'static str,
    pub value: fn(&K) -> Option<String>,
}

impl<K> Clone for Indexer<K> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            value: self.value,
        }
    }
}

fn namespace_of<K: Resource>(obj: &K) -> Option<String> {
    obj.meta().namespace.clone()
}

fn controller_uid_of<K: Resource>(obj: &K) -> Option<String> {
    controller_of(obj.meta()).map(|r| r.uid.clone())
}

fn orphan_namespace_of<K: Resource>(obj: &K) -> Option<String> {
    match controller_of(obj.meta()) {
        Some(_) => None,
        None => Some(obj.meta().namespace.clone().unwrap_or_default()),
    }
}

fn node_of(pod: &Pod) -> Option<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty())
}

/// The indexes every kind gets: by namespace, by controller uid, orphans.
pub fn default_indexers<K: Resource>() -> Vec<Indexer<K>> {
    vec![
        Indexer {
            name: BY_NAMESPACE,
            value: namespace_of::<K>,
        },
        Indexer {
            name: BY_CONTROLLER_UID,
            value: controller_uid_of::<K>,
        },
        Indexer {
            name: ORPHANS_BY_NAMESPACE,
            value: orphan_namespace_of::<K>,
        },
    ]
}

/// A kind the controller manager caches: how to watch it and index it.
pub trait Cached:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
    fn api(client: kube::Client) -> Api<Self> {
        Api::all(client)
    }
    fn watch_config() -> watcher::Config {
        watcher::Config::default()
    }
    fn indexers() -> Vec<Indexer<Self>> {
        default_indexers()
    }
}

impl Cached for Pod {
    fn indexers() -> Vec<Indexer<Self>> {
        let mut v = default_indexers();
        v.push(Indexer {
            name: BY_NODE,
            value: node_of,
        });
        v
    }
}
impl Cached for Node {
    fn indexers() -> Vec<Indexer<Self>> {
        Vec::new()
    }
}
impl Cached for Lease {
    fn api(client: kube::Client) -> Api<Self> {
        Api::namespaced(client, crate::node_lifecycle::LEASE_NAMESPACE)
    }
    fn indexers() -> Vec<Indexer<Self>> {
        Vec::new()
    }
}
impl Cached for EndpointSlice {
    /// Only the slices this controller manager manages.
    fn watch_config() -> watcher::Config {
        watcher::Config::default().labels(&format!(
            "{}={}",
            crate::endpointslice::MANAGED_BY_LABEL,
            crate::endpointslice::MANAGED_BY
        ))
    }
    fn indexers() -> Vec<Indexer<Self>> {
        vec![Indexer {
            name: crate::endpointslice::BY_SERVICE,
            value: crate::endpointslice::service_key_of,
        }]
    }
}
impl Cached for ReplicaSet {}
impl Cached for Deployment {}
impl Cached for StatefulSet {}
impl Cached for DaemonSet {}
impl Cached for ControllerRevision {}
impl Cached for Job {}
impl Cached for CronJob {}
impl Cached for Service {}
impl Cached for Endpoints {}
impl Cached for ReplicationController {}
impl Cached for PersistentVolumeClaim {}
impl Cached for PodDisruptionBudget {}
impl Cached for HorizontalPodAutoscaler {}
// Kinds only the resource-quota controller reads (counted per namespace):
// started when a quota first tracks them.
impl Cached for ResourceQuota {
    fn indexers() -> Vec<Indexer<Self>> {
        namespace_indexer()
    }
}
impl Cached for ConfigMap {
    fn indexers() -> Vec<Indexer<Self>> {
        namespace_indexer()
    }
}
impl Cached for Secret {
    fn indexers() -> Vec<Indexer<Self>> {
        namespace_indexer()
    }
}

/// Only the namespace index, for kinds nobody owns or adopts.
pub fn namespace_indexer<K: Resource>() -> Vec<Indexer<K>> {
    vec![Indexer {
        name: BY_NAMESPACE,
        value: namespace_of::<K>,
    }]
}

/// `namespace/name` (or `name`), shared by all index entries of one object.
type Key = Arc<str>;

fn key_of<K: Resource>(obj: &K) -> Key {
    let meta = obj.meta();
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) => Arc::from(format!("{ns}/{name}")),
        None => Arc::from(name),
    }
}

fn object_ref<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectRef<K> {
    let r = ObjectRef::new(obj.meta().name.as_deref().unwrap_or_default());
    match obj.meta().namespace.as_deref() {
        Some(ns) => r.within(ns),
        None => r,
    }
}

/// Resource versions are opaque to clients, but berth's (like etcd's) are a
/// global revision counter: numeric comparison tells "seen at least this".
fn rv_number<K: Resource>(obj: &K) -> Option<u64> {
    obj.meta().resource_version.as_deref()?.parse().ok()
}

struct Indexes<K> {
    indexers: Vec<Indexer<K>>,
    /// One map per indexer: value → objects filed under it.
    maps: Vec<HashMap<String, HashMap<Key, Arc<K>>>>,
}

impl<K: Resource> Indexes<K> {
    fn new(indexers: Vec<Indexer<K>>) -> Self {
        let maps = indexers.iter().map(|_| HashMap::new()).collect();
        Self { indexers, maps }
    }

    fn remove(&mut self, key: &Key, old: &K) {
        for (ix, map) in self.indexers.iter().zip(self.maps.iter_mut()) {
            if let Some(v) = (ix.value)(old) {
                if let Some(bucket) = map.get_mut(&v) {
                    bucket.remove(key);
                    if bucket.is_empty() {
                        map.remove(&v);
                    }
                }
            }
        }
    }

    fn insert(&mut self, key: &Key, new: &Arc<K>) {
        for (ix, map) in self.indexers.iter().zip(self.maps.iter_mut()) {
            if let Some(v) = (ix.value)(new) {
                map.entry(v).or_default().insert(key.clone(), new.clone());
            }
        }
    }

    fn rebuild(&mut self, all: &[Arc<K>]) {
        for map in &mut self.maps {
            map.clear();
        }
        for obj in all {
            self.insert(&key_of(obj.as_ref()), obj);
        }
    }

    fn position(&self, index: &str) -> Option<usize> {
        self.indexers.iter().position(|ix| ix.name == index)
    }
}

/// What an owner wrote and waits to see in the cache before deciding again.
struct Pending {
    since: Instant,
    /// The highest resourceVersion among its writes.
    written_rv: u64,
    /// Writes whose resourceVersion is unknown: (key, uid) must look like
    /// the write happened (present for a create, absent for a delete).
    present: Vec<(Key, Option<String>)>,
    gone: Vec<(Key, Option<String>)>,
}

struct State<K: Resource<DynamicType = ()> + Clone + 'static> {
    writer: Writer<K>,
    subscribers: Vec<mpsc::UnboundedSender<Arc<K>>>,
    synced: bool,
    /// Objects before the current re-list began, to diff against at its end.
    before_relist: Option<Vec<Arc<K>>>,
}

struct Shared<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    state: Mutex<State<K>>,
    indexes: RwLock<Indexes<K>>,
    observed_rv: AtomicU64,
    expectations: Mutex<HashMap<String, Pending>>,
    /// Expectations recorded so far (paces the purge of stale ones).
    writes: AtomicU64,
    /// Held by the task around each event; tests hold it to make the cache lag.
    gate: Arc<tokio::sync::Mutex<()>>,
    /// True once the first list is in. (kube's `Store::wait_until_ready`
    /// wakes only one of several concurrent waiters.)
    synced: tokio::sync::watch::Sender<bool>,
}

/// One kind's shared watch, cache, indexes and fan-out.
pub struct Informer<K: Cached> {
    api: Api<K>,
    config: watcher::Config,
    shared: Arc<Shared<K>>,
    started: AtomicBool,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl<K: Cached> Drop for Informer<K> {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<K: Cached> Informer<K> {
    pub fn new(api: Api<K>, config: watcher::Config, indexers: Vec<Indexer<K>>) -> Self {
        let (store, writer) = reflector::store::<K>();
        Self {
            api,
            config,
            shared: Arc::new(Shared {
                store,
                state: Mutex::new(State {
                    writer,
                    subscribers: Vec::new(),
                    synced: false,
                    before_relist: None,
                }),
                indexes: RwLock::new(Indexes::new(indexers)),
                observed_rv: AtomicU64::new(0),
                expectations: Mutex::new(HashMap::new()),
                writes: AtomicU64::new(0),
                gate: Arc::new(tokio::sync::Mutex::new(())),
                synced: tokio::sync::watch::Sender::new(false),
            }),
            started: AtomicBool::new(false),
            task: Mutex::new(None),
        }
    }

    /// Start the watch, once. Needs a tokio runtime (every caller is async).
    fn start(&self) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let shared = self.shared.clone();
        // No controller reads managedFields: dropping them before caching
        // keeps them out of every cached copy (as upstream's informers do).
        let events = watcher(self.api.clone(), self.config.clone())
            .modify(|obj: &mut K| obj.meta_mut().managed_fields = None)
            .default_backoff();
        let handle = tokio::spawn(async move {
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => {
                        let _gate = shared.gate.lock().await;
                        shared.apply(event);
                    }
                    Err(err) => {
                        tracing::debug!(%err, kind = %K::kind(&()), "watch error (retrying)")
                    }
                }
            }
        });
        *lock(&self.task) = Some(handle.abort_handle());
    }

    /// The cache, for `Controller::for_shared_stream` and direct reads.
    pub fn store(&self) -> Store<K> {
        self.start();
        self.shared.store.clone()
    }

    /// Wait until the first full list is in the cache (WaitForCacheSync).
    pub async fn ready(&self) {
        self.start();
        let mut rx = self.shared.synced.subscribe();
        if rx.wait_for(|synced| *synced).await.is_err() {
            // The sender lives as long as the informer: only at shutdown.
            std::future::pending::<()>().await;
        }
    }

    /// The cache once synced: what a `Controller` gets as its store (its
    /// own readiness wait must find the store ready already).
    pub async fn ready_store(&self) -> Store<K> {
        self.ready().await;
        self.shared.store.clone()
    }

    pub fn is_synced(&self) -> bool {
        lock(&self.shared.state).synced
    }

    /// A stream of every object applied or deleted from now on; if the cache
    /// is synced, first every object it holds (so a late subscriber, like a
    /// controller starting, sees the whole world once).
    pub fn subscribe(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        self.start();
        let (tx, rx) = mpsc::unbounded();
        let mut state = lock(&self.shared.state);
        if state.synced {
            for obj in self.shared.store.state() {
                let _ = tx.unbounded_send(obj);
            }
        }
        state.subscribers.push(tx);
        rx
    }

    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<Arc<K>> {
        self.start();
        let r = ObjectRef::new(name);
        let r = match namespace {
            Some(ns) => r.within(ns),
            None => r,
        };
        self.shared.store.get(&r)
    }

    /// Every cached object.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.start();
        self.shared.store.state()
    }

    /// Objects filed under `value` in `index` (empty for an unknown index).
    pub fn by_index(&self, index: &str, value: &str) -> Vec<Arc<K>> {
        self.start();
        let indexes = self
            .shared
            .indexes
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let Some(i) = indexes.position(index) else {
            return Vec::new();
        };
        indexes.maps[i]
            .get(value)
            .map(|bucket| bucket.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The values `index` currently has objects under.
    pub fn index_values(&self, index: &str) -> Vec<String> {
        self.start();
        let indexes = self
            .shared
            .indexes
            .read()
            .unwrap_or_else(|p| p.into_inner());
        indexes
            .position(index)
            .map(|i| indexes.maps[i].keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn in_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        self.by_index(BY_NAMESPACE, namespace)
    }

    /// Objects whose controller ownerReference has `uid`.
    pub fn controlled_by(&self, uid: &str) -> Vec<Arc<K>> {
        self.by_index(BY_CONTROLLER_UID, uid)
    }

    /// Objects in `namespace` without a controller (adoption candidates).
    pub fn orphans_in(&self, namespace: &str) -> Vec<Arc<K>> {
        self.by_index(ORPHANS_BY_NAMESPACE, namespace)
    }

    /// The highest resourceVersion the cache has applied.
    pub fn observed_rv(&self) -> u64 {
        self.shared.observed_rv.load(Ordering::SeqCst)
    }

    /// Record that `owner` wrote `obj` (create, update, or a delete the
    /// server answered with the object): the owner's next decisions wait
    /// until the cache has seen this write.
    pub fn expect_written(&self, owner: &str, obj: &K) {
        let mut exp = self.expectations();
        let p = exp.entry(owner.to_string()).or_insert_with(new_pending);
        match rv_number(obj) {
            Some(rv) => p.written_rv = p.written_rv.max(rv),
            None => p.present.push((key_of(obj), obj.meta().uid.clone())),
        }
    }

    /// Record that `owner` deleted `obj` and the server removed it at once.
    pub fn expect_gone(&self, owner: &str, obj: &K) {
        let mut exp = self.expectations();
        let p = exp.entry(owner.to_string()).or_insert_with(new_pending);
        p.gone.push((key_of(obj), obj.meta().uid.clone()));
    }

    /// The expectations map; now and then entries past the timeout are
    /// dropped (their owner was deleted before it looked again).
    fn expectations(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        let mut exp = lock(&self.shared.expectations);
        if self.shared.writes.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            exp.retain(|_, p| p.since.elapsed() <= EXPECTATIONS_TIMEOUT);
        }
        exp
    }

    /// Record the outcome of a delete: the object returned (graceful
    /// deletion: its new version must be seen) or gone.
    pub fn expect_deleted(&self, owner: &str, obj: &K, still_there: Option<&K>) {
        match still_there {
            Some(o) if rv_number(o).is_some() => self.expect_written(owner, o),
            _ => self.expect_gone(owner, obj),
        }
    }

    /// Whether the cache reflects every write `owner` recorded (upstream's
    /// SatisfiedExpectations). Satisfied entries are dropped; so is an entry
    /// older than [`EXPECTATIONS_TIMEOUT`].
    pub fn caught_up(&self, owner: &str) -> bool {
        let mut exp = lock(&self.shared.expectations);
        let Some(p) = exp.get_mut(owner) else {
            return true;
        };
        if p.since.elapsed() > EXPECTATIONS_TIMEOUT {
            tracing::warn!(owner, kind = %K::kind(&()), "cache never showed our writes; acting anyway");
            exp.remove(owner);
            return true;
        }
        let observed = self.observed_rv();
        let store = &self.shared.store;
        let uid_at = |key: &Key| {
            let r = match key.split_once('/') {
                Some((ns, name)) => ObjectRef::new(name).within(ns),
                None => ObjectRef::new(key),
            };
            store.get(&r).map(|o| o.meta().uid.clone())
        };
        p.present
            .retain(|(key, uid)| uid_at(key).is_none_or(|now| now != *uid));
        p.gone
            .retain(|(key, uid)| uid_at(key).is_some_and(|now| now == *uid));
        let done = observed >= p.written_rv && p.present.is_empty() && p.gone.is_empty();
        if done {
            exp.remove(owner);
        }
        done
    }

    /// Drop what `owner` waits for (the owner is gone).
    pub fn forget_expectations(&self, owner: &str) {
        lock(&self.shared.expectations).remove(owner);
    }

    /// Test hook: hold the informer's event processing while the guard
    /// lives, so the cache lags the API server.
    pub async fn pause(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.shared.gate.clone().lock_owned().await
    }

    /// Number of controllers subscribed (for tests and debugging).
    pub fn subscriber_count(&self) -> usize {
        let mut state = lock(&self.shared.state);
        state.subscribers.retain(|tx| !tx.is_closed());
        state.subscribers.len()
    }

    #[cfg(test)]
    pub(crate) fn apply_for_test(&self, event: watcher::Event<K>) {
        self.started.store(true, Ordering::SeqCst);
        self.shared.apply(event);
    }
}

impl Informer<Pod> {
    /// Pods bound to `node`.
    pub fn on_node(&self, node: &str) -> Vec<Arc<Pod>> {
        self.by_index(BY_NODE, node)
    }
}

fn new_pending() -> Pending {
    Pending {
        since: Instant::now(),
        written_rv: 0,
        present: Vec::new(),
        gone: Vec::new(),
    }
}

impl<K: Cached> Shared<K> {
    fn observe_rv(&self, obj: &K) {
        if let Some(rv) = rv_number(obj) {
            self.observed_rv.fetch_max(rv, Ordering::SeqCst);
        }
    }

    /// Apply one watch event to cache and indexes, then hand the touched
    /// objects to the subscribers.
    fn apply(&self, event: watcher::Event<K>) {
        let mut state = lock(&self.state);
        let touched: Vec<Arc<K>> = match &event {
            watcher::Event::Apply(obj) => {
                let r = object_ref(obj);
                let key = key_of(obj);
                let old = self.store.get(&r);
                state.writer.apply_watcher_event(&event);
                self.observe_rv(obj);
                let new = self.store.get(&r);
                let mut ix = self.indexes.write().unwrap_or_else(|p| p.into_inner());
                if let Some(old) = &old {
                    ix.remove(&key, old);
                }
                match new {
                    Some(new) => {
                        ix.insert(&key, &new);
                        vec![new]
                    }
                    None => Vec::new(),
                }
            }
            watcher::Event::Delete(obj) => {
                let r = object_ref(obj);
                let key = key_of(obj);
                let old = self.store.get(&r);
                state.writer.apply_watcher_event(&event);
                self.observe_rv(obj);
                if let Some(old) = &old {
                    self.indexes
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&key, old);
                }
                vec![Arc::new(obj.clone())]
            }
            watcher::Event::Init => {
                state.before_relist = Some(if state.synced {
                    self.store.state()
                } else {
                    Vec::new()
                });
                state.writer.apply_watcher_event(&event);
                Vec::new()
            }
            watcher::Event::InitApply(obj) => {
                self.observe_rv(obj);
                state.writer.apply_watcher_event(&event);
                Vec::new()
            }
            watcher::Event::InitDone => {
                state.writer.apply_watcher_event(&event);
                let now = self.store.state();
                self.indexes
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .rebuild(&now);
                let before = state.before_relist.take().unwrap_or_default();
                state.synced = true;
                self.synced.send_replace(true);
                relist_changes(before, now)
            }
        };
        if !touched.is_empty() {
            state.subscribers.retain(|tx| {
                touched
                    .iter()
                    .all(|obj| tx.unbounded_send(obj.clone()).is_ok())
            });
        }
    }
}

/// After a (re-)list: objects new or changed since `before`, and those that
/// vanished (handed on as they were last seen).
fn relist_changes<K: Resource>(before: Vec<Arc<K>>, now: Vec<Arc<K>>) -> Vec<Arc<K>> {
    let mut old: HashMap<Key, Arc<K>> = before
        .into_iter()
        .map(|o| (key_of(o.as_ref()), o))
        .collect();
    let mut out = Vec::new();
    for obj in now {
        let prev = old.remove(&key_of(obj.as_ref()));
        let same = prev.is_some_and(|p| {
            p.meta().uid == obj.meta().uid
                && p.meta().resource_version == obj.meta().resource_version
        });
        if !same {
            out.push(obj);
        }
    }
    out.extend(old.into_values());
    out
}

/// The informers of one controller manager, created on first use.
pub struct Informers {
    client: kube::Client,
    by_kind: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Informers {
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            by_kind: Mutex::new(HashMap::new()),
        }
    }

    /// The shared informer of kind `K` (created, not yet started, on first call).
    pub fn get<K: Cached>(&self) -> Arc<Informer<K>> {
        let mut by_kind = lock(&self.by_kind);
        let entry = by_kind.entry(TypeId::of::<K>()).or_insert_with(|| {
            Arc::new(Informer::<K>::new(
                K::api(self.client.clone()),
                K::watch_config(),
                K::indexers(),
            ))
        });
        match entry.clone().downcast::<Informer<K>>() {
            Ok(informer) => informer,
            // Unreachable: the map is keyed by the type it holds.
            Err(_) => Arc::new(Informer::<K>::new(
                K::api(self.client.clone()),
                K::watch_config(),
                K::indexers(),
            )),
        }
    }

    pub fn pods(&self) -> Arc<Informer<Pod>> {
        self.get()
    }

    pub fn nodes(&self) -> Arc<Informer<Node>> {
        self.get()
    }

    pub fn replicasets(&self) -> Arc<Informer<ReplicaSet>> {
        self.get()
    }

    pub fn deployments(&self) -> Arc<Informer<Deployment>> {
        self.get()
    }

    pub fn services(&self) -> Arc<Informer<Service>> {
        self.get()
    }

    /// How many kinds have an informer (created on first use).
    pub fn kinds(&self) -> usize {
        lock(&self.by_kind).len()
    }
}

/// Remembers a fingerprint of each object, to drop events that changed
/// nothing a controller cares about (upstream's shouldIgnoreNodeUpdate):
/// 5,000 nodes heartbeating must not wake every DaemonSet each time.
pub struct ChangeFilter<K> {
    fingerprint: fn(&K) -> u64,
    seen: Mutex<HashMap<Key, u64>>,
}

impl<K: Resource> ChangeFilter<K> {
    pub fn new(fingerprint: fn(&K) -> u64) -> Self {
        Self {
            fingerprint,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// True if `obj` is new, gone (`present` false) or its fingerprint changed.
    pub fn changed(&self, obj: &K, present: bool) -> bool {
        let key = key_of(obj);
        let mut seen = lock(&self.seen);
        if !present {
            seen.remove(&key);
            return true;
        }
        let fp = (self.fingerprint)(obj);
        seen.insert(key, fp) != Some(fp)
    }
}

/// Hash of any serializable parts of an object, for [`ChangeFilter`].
pub fn hash_json<T: serde::Serialize + ?Sized>(value: &T) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(value)
        .unwrap_or_default()
        .hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::ResourceExt;
    use serde_json::json;

    fn pod(name: &str, rv: &str, node: Option<&str>, owner: Option<&str>) -> Pod {
        let owners = owner.map(|uid| {
            json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                     "uid": uid, "controller": true}])
        });
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                         "resourceVersion": rv, "ownerReferences": owners},
            "spec": {"nodeName": node, "containers": []},
        }))
        .expect("pod")
    }

    fn informer() -> Informer<Pod> {
        let client = kube::Client::try_from(kube::Config::new(
            "http://127.0.0.1:1".parse().expect("url"),
        ))
        .expect("client");
        Informer::new(
            Api::all(client),
            watcher::Config::default(),
            Pod::indexers(),
        )
    }

    fn names(pods: Vec<Arc<Pod>>) -> Vec<String> {
        let mut n: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
        n.sort();
        n
    }

    fn drain(rx: &mut (impl Stream<Item = Arc<Pod>> + Unpin)) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(Some(p)) = rx.next().now_or_never() {
            out.push(p.name_any());
        }
        out
    }

    use futures::FutureExt;

    #[tokio::test]
    async fn indexes_follow_events_and_fan_out_reaches_every_subscriber() {
        let inf = informer();
        inf.apply_for_test(watcher::Event::Init);
        inf.apply_for_test(watcher::Event::InitApply(pod(
            "a",
            "1",
            Some("n1"),
            Some("u1"),
        )));
        inf.apply_for_test(watcher::Event::InitApply(pod("b", "2", None, None)));
        // Before InitDone nothing is visible and nobody hears anything.
        let mut early = Box::pin(inf.subscribe());
        assert!(inf.list().is_empty());
        inf.apply_for_test(watcher::Event::InitDone);
        assert_eq!(names(inf.on_node("n1")), ["a"]);
        assert_eq!(names(inf.controlled_by("u1")), ["a"]);
        assert_eq!(names(inf.orphans_in("ns")), ["b"]);
        assert_eq!(names(inf.in_namespace("ns")), ["a", "b"]);
        let mut seen = drain(&mut early);
        seen.sort();
        assert_eq!(seen, ["a", "b"]);

        // A late subscriber first gets the whole cache.
        let mut late = Box::pin(inf.subscribe());
        let mut seen = drain(&mut late);
        seen.sort();
        assert_eq!(seen, ["a", "b"]);

        // b gets bound and adopted; a is deleted: indexes move, both hear it.
        inf.apply_for_test(watcher::Event::Apply(pod("b", "3", Some("n1"), Some("u1"))));
        inf.apply_for_test(watcher::Event::Delete(pod(
            "a",
            "4",
            Some("n1"),
            Some("u1"),
        )));
        assert_eq!(names(inf.on_node("n1")), ["b"]);
        assert_eq!(names(inf.controlled_by("u1")), ["b"]);
        assert!(inf.orphans_in("ns").is_empty());
        assert_eq!(drain(&mut early), ["b", "a"]);
        assert_eq!(drain(&mut late), ["b", "a"]);
        assert_eq!(inf.observed_rv(), 4);
        assert_eq!(inf.subscriber_count(), 2);
        drop(late);
        assert_eq!(inf.subscriber_count(), 1);
    }

    #[tokio::test]
    async fn relist_hands_on_only_changes_and_vanished_objects() {
        let inf = informer();
        inf.apply_for_test(watcher::Event::Init);
        inf.apply_for_test(watcher::Event::InitApply(pod("same", "1", None, None)));
        inf.apply_for_test(watcher::Event::InitApply(pod("changed", "2", None, None)));
        inf.apply_for_test(watcher::Event::InitApply(pod("gone", "3", None, None)));
        inf.apply_for_test(watcher::Event::InitDone);
        let mut rx = Box::pin(inf.subscribe());
        drain(&mut rx);
        inf.apply_for_test(watcher::Event::Init);
        inf.apply_for_test(watcher::Event::InitApply(pod("same", "1", None, None)));
        inf.apply_for_test(watcher::Event::InitApply(pod("changed", "9", None, None)));
        inf.apply_for_test(watcher::Event::InitApply(pod("new", "10", None, None)));
        inf.apply_for_test(watcher::Event::InitDone);
        let mut seen = drain(&mut rx);
        seen.sort();
        assert_eq!(seen, ["changed", "gone", "new"]);
        assert_eq!(names(inf.in_namespace("ns")), ["changed", "new", "same"]);
    }

    #[tokio::test]
    async fn expectations_wait_for_the_cache_to_show_writes() {
        let inf = informer();
        inf.apply_for_test(watcher::Event::Init);
        inf.apply_for_test(watcher::Event::InitApply(pod("old", "5", None, None)));
        inf.apply_for_test(watcher::Event::InitDone);
        assert!(inf.caught_up("owner"));
        // Created pod at rv 7, deleted "old" (gone at once).
        inf.expect_written("owner", &pod("new", "7", None, Some("owner")));
        inf.expect_deleted("owner", &pod("old", "5", None, None), None);
        assert!(!inf.caught_up("owner"));
        inf.apply_for_test(watcher::Event::Apply(pod("new", "7", None, Some("owner"))));
        assert!(!inf.caught_up("owner"), "old is still cached");
        inf.apply_for_test(watcher::Event::Delete(pod("old", "8", None, None)));
        assert!(inf.caught_up("owner"));
        // Another owner's expectations are its own.
        inf.expect_written("other", &pod("x", "100", None, None));
        assert!(inf.caught_up("owner"));
        assert!(!inf.caught_up("other"));
        inf.forget_expectations("other");
        assert!(inf.caught_up("other"));
    }

    #[test]
    fn change_filter_ignores_irrelevant_updates() {
        let f = ChangeFilter::<Pod>::new(|p| hash_json(&p.spec));
        let p = pod("a", "1", Some("n1"), None);
        assert!(f.changed(&p, true));
        assert!(!f.changed(&pod("a", "2", Some("n1"), None), true));
        assert!(f.changed(&pod("a", "3", Some("n2"), None), true));
        assert!(f.changed(&p, false));
        assert!(f.changed(&p, true));
    }
}
