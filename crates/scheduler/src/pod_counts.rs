//! How many placed pods each node holds that a given filter selects
//! (namespace + label selector clauses), kept per snapshot and updated as
//! pods are added or removed, instead of recounting the whole cluster for
//! every pod that spreads or has pod (anti-)affinity.
//!
//! ```text
//!  PodFilter {[ns, selector]…, terminating?} ─first ask─▶ count every node's pods once
//!                                            ─later────▶ the kept counts (Arc)
//!  Snapshot::add_pod / remove_pod ─▶ only filters indexed under one of the
//!                                    pod's labels (key In [value]) are checked
//!  node added or removed (positions shift) ─▶ everything dropped, rebuilt on ask
//! ```
//! Clauses with a namespaceSelector are not cacheable (namespace labels
//! change without the snapshot seeing it); callers count those directly.

use crate::label_selector::{Operator, Selector};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// More distinct filters than this and the cache starts over (keeps
/// memory bounded when selectors churn, e.g. per-revision labels).
const MAX_FILTERS: usize = 1024;

/// Pods in one of `namespaces` whose labels `selector` selects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodClause {
    pub namespaces: Vec<String>,
    pub selector: Selector,
}

impl PodClause {
    pub fn matches(&self, pod: &PodInfo) -> bool {
        self.namespaces.contains(&pod.namespace) && self.selector.matches(pod.labels())
    }
}

/// Pods every clause selects (and, unless `count_terminating`, not being
/// deleted).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodFilter {
    pub clauses: Vec<PodClause>,
    pub count_terminating: bool,
}

impl PodFilter {
    pub fn matches(&self, pod: &PodInfo) -> bool {
        (self.count_terminating || !pod.terminating) && self.clauses.iter().all(|c| c.matches(pod))
    }

    /// Count the pods on one node.
    pub fn count_on(&self, node: &NodeInfo) -> i64 {
        node.pods.values().filter(|p| self.matches(p)).count() as i64
    }
}

/// Per node position: matching pods there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeCounts {
    pub per_node: Vec<i64>,
}

impl NodeCounts {
    pub fn at(&self, position: usize) -> i64 {
        self.per_node.get(position).copied().unwrap_or(0)
    }
}

/// Items looked up by the labels of a pod: each is filed under one
/// `key In [values]` requirement of its selector, so a pod only meets the
/// items that could select it. Items whose selector has no such
/// requirement are always candidates; `Selector::Nothing` files nowhere.
#[derive(Debug)]
pub struct LabelIndex<T> {
    by_label: HashMap<String, HashMap<String, Vec<T>>>,
    unindexed: Vec<T>,
}

impl<T> Default for LabelIndex<T> {
    fn default() -> Self {
        LabelIndex {
            by_label: HashMap::new(),
            unindexed: Vec::new(),
        }
    }
}

impl<T: Clone + PartialEq> LabelIndex<T> {
    pub fn insert(&mut self, selector: &Selector, item: T) {
        let Selector::All(reqs) = selector else {
            return;
        };
        let key_req = reqs
            .iter()
            .find(|r| r.operator == Operator::In && !r.values.is_empty());
        match key_req {
            Some(r) => {
                let values = self.by_label.entry(r.key.clone()).or_default();
                let mut seen: Vec<&String> = Vec::new();
                for v in &r.values {
                    if !seen.contains(&v) {
                        seen.push(v);
                        values.entry(v.clone()).or_default().push(item.clone());
                    }
                }
            }
            None => self.unindexed.push(item),
        }
    }

    pub fn remove(&mut self, selector: &Selector, item: &T) {
        let Selector::All(reqs) = selector else {
            return;
        };
        let key_req = reqs
            .iter()
            .find(|r| r.operator == Operator::In && !r.values.is_empty());
        match key_req {
            Some(r) => {
                if let Some(values) = self.by_label.get_mut(&r.key) {
                    for v in &r.values {
                        if let Some(items) = values.get_mut(v) {
                            items.retain(|i| i != item);
                            if items.is_empty() {
                                values.remove(v);
                            }
                        }
                    }
                    if values.is_empty() {
                        self.by_label.remove(&r.key);
                    }
                }
            }
            None => self.unindexed.retain(|i| i != item),
        }
    }

    /// Items that may select a pod with these labels (each at most once).
    pub fn candidates<'a>(
        &'a self,
        labels: Option<&'a BTreeMap<String, String>>,
    ) -> impl Iterator<Item = &'a T> + 'a {
        let indexed = labels.into_iter().flatten().flat_map(move |(k, v)| {
            self.by_label
                .get(k)
                .and_then(|values| values.get(v))
                .into_iter()
                .flatten()
        });
        indexed.chain(self.unindexed.iter())
    }
}

#[derive(Debug, Default)]
struct Inner {
    counts: HashMap<Arc<PodFilter>, Arc<NodeCounts>>,
    index: LabelIndex<Arc<PodFilter>>,
}

/// The cache (one per snapshot; a clone starts empty).
#[derive(Debug, Default)]
pub struct PodCountCache(Mutex<Inner>);

impl Clone for PodCountCache {
    fn clone(&self) -> Self {
        PodCountCache::default()
    }
}

impl PodCountCache {
    /// The counts for `filter`, counted over `nodes` the first time.
    pub fn get_or_count(&self, filter: &PodFilter, nodes: &[NodeInfo]) -> Arc<NodeCounts> {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = inner.counts.get(filter) {
            return c.clone();
        }
        if inner.counts.len() >= MAX_FILTERS {
            *inner = Inner::default();
        }
        let counts = Arc::new(NodeCounts {
            per_node: nodes.iter().map(|n| filter.count_on(n)).collect(),
        });
        let key = Arc::new(filter.clone());
        if let Some(first) = filter.clauses.first() {
            inner.index.insert(&first.selector, key.clone());
        }
        inner.counts.insert(key, counts.clone());
        counts
    }

    /// `pod` was added (1) to or removed (−1) from the node at `position`.
    pub fn pod_changed(&mut self, position: usize, pod: &PodInfo, delta: i64) {
        let inner = self.0.get_mut().unwrap_or_else(|e| e.into_inner());
        let Inner { counts, index } = inner;
        for filter in index.candidates(pod.labels()) {
            if !filter.matches(pod) {
                continue;
            }
            if let Some(c) = counts.get_mut(filter) {
                if let Some(n) = Arc::make_mut(c).per_node.get_mut(position) {
                    *n += delta;
                }
            }
        }
    }

    /// Node positions moved: forget everything.
    pub fn clear(&mut self) {
        *self.0.get_mut().unwrap_or_else(|e| e.into_inner()) = Inner::default();
    }

    /// How many filters are kept (tests).
    pub fn len(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .counts
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
