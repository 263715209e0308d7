//! The pod (anti-)affinity terms of pods already placed, gathered per
//! distinct term with where they sit, so an incoming pod meets only the
//! terms that could select it instead of walking every pod of every node
//! that has some (InterPodAffinity's "existing pods" half of PreFilter and
//! PreScore).
//!
//! ```text
//!  (kind, term) ─▶ node position ─▶ Σ count (required) or Σ weight (preferred)
//!  filed under the term selector's `key In [value]` (see LabelIndex)
//!  built on first use; add_pod/remove_pod update it; node added/removed ─▶ rebuilt
//! ```

use crate::affinity_term::AffinityTerm;
use crate::node_info::NodeInfo;
use crate::pod_counts::LabelIndex;
use crate::pod_info::PodInfo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TermKind {
    RequiredAffinity,
    RequiredAntiAffinity,
    PreferredAffinity,
    PreferredAntiAffinity,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TermKey {
    pub kind: TermKind,
    pub term: AffinityTerm,
}

#[derive(Debug, Default)]
struct Terms {
    /// Per term: node position → Σ (1 per required term, weight per
    /// preferred one) over the pods there.
    placed: HashMap<Arc<TermKey>, HashMap<usize, i64>>,
    index: LabelIndex<Arc<TermKey>>,
}

impl Terms {
    fn add(&mut self, kind: TermKind, term: &AffinityTerm, position: usize, amount: i64) {
        if amount == 0 {
            return;
        }
        let key = TermKey {
            kind,
            term: term.clone(),
        };
        let per_node = match self.placed.get_mut(&key) {
            Some(p) => p,
            None => {
                let key = Arc::new(key);
                self.index.insert(&term.selector, key.clone());
                self.placed.entry(key).or_default()
            }
        };
        let slot = per_node.entry(position).or_default();
        *slot += amount;
        if *slot == 0 {
            per_node.remove(&position);
            if per_node.is_empty() {
                if let Some((key, _)) = self.placed.remove_entry(&TermKey {
                    kind,
                    term: term.clone(),
                }) {
                    self.index.remove(&term.selector, &key);
                }
            }
        }
    }

    fn pod_changed(&mut self, position: usize, pod: &PodInfo, delta: i64) {
        if !pod.has_affinity() {
            return;
        }
        for t in &pod.required_affinity_terms {
            self.add(TermKind::RequiredAffinity, t, position, delta);
        }
        for t in &pod.required_anti_affinity_terms {
            self.add(TermKind::RequiredAntiAffinity, t, position, delta);
        }
        for w in &pod.preferred_affinity_terms {
            self.add(
                TermKind::PreferredAffinity,
                &w.term,
                position,
                w.weight * delta,
            );
        }
        for w in &pod.preferred_anti_affinity_terms {
            self.add(
                TermKind::PreferredAntiAffinity,
                &w.term,
                position,
                w.weight * delta,
            );
        }
    }
}

/// The index (one per snapshot; a clone starts unbuilt).
#[derive(Debug, Default)]
pub struct ExistingTerms(Mutex<Option<Terms>>);

impl Clone for ExistingTerms {
    fn clone(&self) -> Self {
        ExistingTerms::default()
    }
}

impl ExistingTerms {
    /// Call `f(kind, term, position, amount)` for every placed term of one
    /// of `kinds` that `selects` says selects `pod`, per node holding it.
    pub fn for_each_selecting(
        &self,
        nodes: &[NodeInfo],
        pod: &PodInfo,
        kinds: &[TermKind],
        selects: impl Fn(&AffinityTerm) -> bool,
        mut f: impl FnMut(TermKind, &AffinityTerm, usize, i64),
    ) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let terms = guard.get_or_insert_with(|| {
            let mut t = Terms::default();
            for (position, node) in nodes.iter().enumerate() {
                if node.pods_with_affinity == 0 {
                    continue;
                }
                for p in node.pods.values() {
                    t.pod_changed(position, p, 1);
                }
            }
            t
        });
        for key in terms.index.candidates(pod.labels()) {
            if !kinds.contains(&key.kind) || !selects(&key.term) {
                continue;
            }
            if let Some(per_node) = terms.placed.get(key) {
                for (position, amount) in per_node {
                    f(key.kind, &key.term, *position, *amount);
                }
            }
        }
    }

    /// `pod` was added (1) to or removed (−1) from the node at `position`.
    pub fn pod_changed(&mut self, position: usize, pod: &PodInfo, delta: i64) {
        if let Some(terms) = self.0.get_mut().unwrap_or_else(|e| e.into_inner()) {
            terms.pod_changed(position, pod, delta);
        }
    }

    /// Node positions moved: rebuild on next use.
    pub fn clear(&mut self) {
        *self.0.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Distinct placed terms (tests); 0 while unbuilt.
    pub fn len(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |t| t.placed.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
