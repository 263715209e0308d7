//! Garbage collector: dependents whose owners are all gone are deleted
//! (Background); owners deleted with `orphan` release their dependents;
//! owners deleted with `foregroundDeletion` wait until their dependents are gone.
//!
//! Incremental: two indexes (uid → key, owner uid → dependent keys) follow
//! the cache's events, and each event yields only the work it implies — a
//! deleted owner checks its dependents, a changed dependent checks its
//! owners. A full rebuild happens at start and when events were missed.

use super::locate;
use crate::cache::{CacheEvent, Objects, WatchEventType};
use crate::delete::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::object_index::ObjectIndex;
use crate::Server;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// What one event asks the collector to look at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Work {
    /// Are this object's owners still there?
    Dependent(String),
    /// An owner being deleted with orphan/foreground: release or wait for dependents.
    Owner(String),
}

/// A key or uid held by several of the collector's maps at once (one
/// allocation each, however many maps refer to it: this is per object).
type Shared = Arc<str>;

#[derive(Default)]
pub struct Collector {
    key_of_uid: HashMap<Shared, Shared>,
    uid_of_key: HashMap<Shared, Shared>,
    owners_of: HashMap<Shared, Box<[Shared]>>,
    dependents: HashMap<Shared, HashSet<Shared>>,
}

impl Collector {
    /// Rebuild the indexes from a snapshot; returns the work a full pass implies.
    pub fn rebuild(&mut self, objects: &Objects) -> BTreeSet<Work> {
        *self = Self::default();
        for (key, c) in objects.iter() {
            self.index(key, &c.index);
        }
        // Only dependents with a missing owner need a look: after a lag at
        // 150,000 pods, queueing every dependent kept the collector busy for
        // longer than the next lag took to come.
        let mut work = BTreeSet::new();
        for (key, c) in objects.iter() {
            let idx = &c.index;
            if idx.owner_uids().any(|u| !self.exists(u)) {
                work.insert(Work::Dependent(key.clone()));
            }
            if idx.deleting
                && (idx.has_finalizer(FINALIZER_ORPHAN) || idx.has_finalizer(FINALIZER_FOREGROUND))
            {
                work.insert(Work::Owner(key.clone()));
            }
        }
        work
    }

    fn index(&mut self, key: &str, obj: &ObjectIndex) {
        self.unindex(key);
        let key: Shared = Arc::from(key);
        if let Some(u) = obj.uid() {
            let u: Shared = Arc::from(u);
            self.key_of_uid.insert(u.clone(), key.clone());
            self.uid_of_key.insert(key.clone(), u);
        }
        let mut owners = Vec::new();
        for o in obj.owner_uids() {
            // Dependents of one owner share its uid.
            let o: Shared = match self.dependents.get_key_value(o) {
                Some((known, _)) => known.clone(),
                None => Arc::from(o),
            };
            self.dependents
                .entry(o.clone())
                .or_default()
                .insert(key.clone());
            owners.push(o);
        }
        if !owners.is_empty() {
            self.owners_of.insert(key, owners.into_boxed_slice());
        }
    }

    fn unindex(&mut self, key: &str) {
        if let Some(u) = self.uid_of_key.remove(key) {
            if self.key_of_uid.get(&u).is_some_and(|k| &**k == key) {
                self.key_of_uid.remove(&u);
            }
        }
        for o in self.owners_of.remove(key).unwrap_or_default() {
            if let Some(set) = self.dependents.get_mut(&o) {
                set.remove(key);
                if set.is_empty() {
                    self.dependents.remove(&o);
                }
            }
        }
    }

    /// Follow one change; add the work it implies.
    pub fn observe(&mut self, ev: &CacheEvent, work: &mut BTreeSet<Work>) {
        // Events are not in the cache (their uids would cost the indexes
        // as much again); they expire by TTL instead (`event_ttl`).
        if !crate::cache::is_cached_key(&ev.key) {
            return;
        }
        let owners_before = self
            .owners_of
            .get(ev.key.as_str())
            .cloned()
            .unwrap_or_default();
        match ev.event_type {
            WatchEventType::Deleted => {
                let gone_uid = self.uid_of_key.get(ev.key.as_str()).cloned();
                self.unindex(&ev.key);
                if let Some(u) = gone_uid {
                    for d in self.dependents.get(&u).into_iter().flatten() {
                        work.insert(Work::Dependent(d.to_string()));
                    }
                }
                // A dependent going away may let a foreground owner finish.
                for o in owners_before.iter() {
                    if let Some(k) = self.key_of_uid.get(o) {
                        work.insert(Work::Owner(k.to_string()));
                    }
                }
            }
            WatchEventType::Added | WatchEventType::Modified => {
                self.index(&ev.key, &ev.object.index);
                if self.owners_of.contains_key(ev.key.as_str()) {
                    work.insert(Work::Dependent(ev.key.clone()));
                }
                if ev.object.index.deleting {
                    work.insert(Work::Owner(ev.key.clone()));
                }
            }
        }
    }

    fn exists(&self, uid: &str) -> bool {
        self.key_of_uid.contains_key(uid)
    }

    /// Carry out one piece of work against the current cache.
    pub async fn process(&self, srv: &Arc<Server>, w: &Work) {
        match w {
            Work::Dependent(key) => {
                let Some(c) = srv.cache.get(key) else { return };
                let obj = &c.index;
                if obj.deleting {
                    return;
                }
                let owners: Vec<String> = obj.owner_uids().map(str::to_string).collect();
                if owners.is_empty() {
                    return;
                }
                let present = owners.iter().filter(|u| self.exists(u)).count();
                if present == 0 {
                    delete_key(srv, key).await;
                } else if present < owners.len() {
                    let live: HashSet<String> =
                        owners.iter().filter(|u| self.exists(u)).cloned().collect();
                    edit(srv, key, |o| remove_owner_refs(o, &|u| !live.contains(u))).await;
                }
            }
            Work::Owner(key) => {
                let Some(c) = srv.cache.get(key) else { return };
                let obj = &c.index;
                if !obj.deleting {
                    return;
                }
                let Some(me) = obj.uid().map(str::to_string) else {
                    return;
                };
                let deps: Vec<String> = self
                    .dependents
                    .get(me.as_str())
                    .map(|s| s.iter().map(|d| d.to_string()).collect())
                    .unwrap_or_default();
                if obj.has_finalizer(FINALIZER_ORPHAN) {
                    for d in &deps {
                        edit(srv, d, |o| remove_owner_refs(o, &|u| u == me)).await;
                    }
                    edit(srv, key, |o| remove_finalizer(o, FINALIZER_ORPHAN)).await;
                } else if obj.has_finalizer(FINALIZER_FOREGROUND) {
                    if deps.is_empty() {
                        edit(srv, key, |o| remove_finalizer(o, FINALIZER_FOREGROUND)).await;
                        return;
                    }
                    for d in &deps {
                        if srv.cache.get(d).is_some_and(|c| !c.index.deleting) {
                            delete_key(srv, d).await;
                        }
                    }
                }
            }
        }
    }
}

fn remove_owner_refs(obj: &mut Value, drop_if: &dyn Fn(&str) -> bool) -> bool {
    let Some(refs) = obj
        .pointer_mut("/metadata/ownerReferences")
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    let before = refs.len();
    refs.retain(|r| !r.get("uid").and_then(Value::as_str).is_some_and(drop_if));
    let changed = refs.len() != before;
    if refs.is_empty() {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("ownerReferences");
        }
    }
    changed
}

fn remove_finalizer(obj: &mut Value, f: &str) -> bool {
    let Some(list) = obj
        .pointer_mut("/metadata/finalizers")
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    let before = list.len();
    list.retain(|x| x != f);
    list.len() != before
}

async fn delete_key(srv: &Arc<Server>, key: &str) {
    let Some((info, ns, name)) = locate(key) else {
        return;
    };
    if let Err(e) = crate::delete::delete(
        srv,
        info,
        ns.as_deref(),
        &name,
        &json!({"propagationPolicy": "Background"}),
        false,
    )
    .await
    {
        if e.code != 404 {
            tracing::warn!("garbage collector: delete {key}: {e}");
            if let Some(obj) = srv.cache.get(key) {
                let msg = format!(
                    "Failed to delete dependent whose owners are gone: {}",
                    e.message
                );
                crate::events::record(
                    srv,
                    &obj.value(),
                    crate::events::EventType::Warning,
                    "FailedDelete",
                    &msg,
                    "garbage-collector",
                )
                .await;
            }
        }
    }
}

/// Read-modify-write of one object through the normal update path.
pub async fn edit(srv: &Arc<Server>, key: &str, change: impl Fn(&mut Value) -> bool) {
    let Some((info, ns, name)) = locate(key) else {
        return;
    };
    for _ in 0..5 {
        let Ok((obj, rev)) = crate::rest::read(srv, info, ns.as_deref(), &name).await else {
            return;
        };
        let mut new = obj.clone();
        if !change(&mut new) {
            return;
        }
        match crate::rest::commit_update(
            srv,
            info,
            ns.as_deref(),
            &name,
            (obj, rev),
            new,
            None,
            false,
            false,
        )
        .await
        {
            Ok(_) => return,
            Err(e) if e.code == 409 => continue,
            Err(e) => {
                tracing::warn!("garbage collector: update {key}: {e}");
                return;
            }
        }
    }
}
