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
use crate::Server;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

fn meta(obj: &Value) -> Option<&serde_json::Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

fn uid(obj: &Value) -> Option<&str> {
    meta(obj).and_then(|m| m.get("uid")).and_then(Value::as_str)
}

fn owner_uids(obj: &Value) -> Vec<String> {
    meta(obj)
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn deleting(obj: &Value) -> bool {
    meta(obj).is_some_and(|m| m.contains_key("deletionTimestamp"))
}

fn has_finalizer(obj: &Value, f: &str) -> bool {
    meta(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == f))
}

/// What one event asks the collector to look at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Work {
    /// Are this object's owners still there?
    Dependent(String),
    /// An owner being deleted with orphan/foreground: release or wait for dependents.
    Owner(String),
}

#[derive(Default)]
pub struct Collector {
    key_of_uid: HashMap<String, String>,
    uid_of_key: HashMap<String, String>,
    owners_of: HashMap<String, Vec<String>>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Collector {
    /// Rebuild the indexes from a snapshot; returns the work a full pass implies.
    pub fn rebuild(&mut self, objects: &Objects) -> BTreeSet<Work> {
        *self = Self::default();
        let mut work = BTreeSet::new();
        for (key, c) in objects.iter() {
            self.index(key, &c.object);
            if !owner_uids(&c.object).is_empty() {
                work.insert(Work::Dependent(key.clone()));
            }
            if deleting(&c.object)
                && (has_finalizer(&c.object, FINALIZER_ORPHAN)
                    || has_finalizer(&c.object, FINALIZER_FOREGROUND))
            {
                work.insert(Work::Owner(key.clone()));
            }
        }
        work
    }

    fn index(&mut self, key: &str, obj: &Value) {
        self.unindex(key);
        if let Some(u) = uid(obj) {
            self.key_of_uid.insert(u.to_string(), key.to_string());
            self.uid_of_key.insert(key.to_string(), u.to_string());
        }
        let owners = owner_uids(obj);
        for o in &owners {
            self.dependents
                .entry(o.clone())
                .or_default()
                .insert(key.to_string());
        }
        if !owners.is_empty() {
            self.owners_of.insert(key.to_string(), owners);
        }
    }

    fn unindex(&mut self, key: &str) {
        if let Some(u) = self.uid_of_key.remove(key) {
            if self.key_of_uid.get(&u).is_some_and(|k| k == key) {
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
        let owners_before = self.owners_of.get(&ev.key).cloned().unwrap_or_default();
        match ev.event_type {
            WatchEventType::Deleted => {
                let gone_uid = self.uid_of_key.get(&ev.key).cloned();
                self.unindex(&ev.key);
                if let Some(u) = gone_uid {
                    for d in self.dependents.get(&u).cloned().unwrap_or_default() {
                        work.insert(Work::Dependent(d));
                    }
                }
                // A dependent going away may let a foreground owner finish.
                for o in owners_before {
                    if let Some(k) = self.key_of_uid.get(&o) {
                        work.insert(Work::Owner(k.clone()));
                    }
                }
            }
            WatchEventType::Added | WatchEventType::Modified => {
                self.index(&ev.key, &ev.object);
                if self.owners_of.contains_key(&ev.key) {
                    work.insert(Work::Dependent(ev.key.clone()));
                }
                if deleting(&ev.object) {
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
                let obj = &c.object;
                if deleting(obj) {
                    return;
                }
                let owners = owner_uids(obj);
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
                let obj = &c.object;
                if !deleting(obj) {
                    return;
                }
                let Some(me) = uid(obj).map(str::to_string) else {
                    return;
                };
                let deps: Vec<String> = self
                    .dependents
                    .get(&me)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                if has_finalizer(obj, FINALIZER_ORPHAN) {
                    for d in &deps {
                        edit(srv, d, |o| remove_owner_refs(o, &|u| u == me)).await;
                    }
                    edit(srv, key, |o| remove_finalizer(o, FINALIZER_ORPHAN)).await;
                } else if has_finalizer(obj, FINALIZER_FOREGROUND) {
                    if deps.is_empty() {
                        edit(srv, key, |o| remove_finalizer(o, FINALIZER_FOREGROUND)).await;
                        return;
                    }
                    for d in &deps {
                        if srv.cache.get(d).is_some_and(|c| !deleting(&c.object)) {
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
                    &obj.object,
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
