//! Garbage collector: dependents whose owners are all gone are deleted
//! (Background); owners deleted with `orphan` release their dependents;
//! owners deleted with `foregroundDeletion` wait until their dependents are gone.

use super::locate;
use crate::delete::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::Server;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

fn uid(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/uid").and_then(Value::as_str)
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn has_finalizer(obj: &Value, f: &str) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == f))
}

pub async fn pass(srv: &Arc<Server>) {
    let (_, objects) = srv.cache.snapshot();
    let mut uids: HashSet<String> = HashSet::new();
    let mut dependents: HashMap<String, Vec<String>> = HashMap::new(); // owner uid -> dependent keys
    for (key, c) in objects.iter() {
        if let Some(u) = uid(&c.object) {
            uids.insert(u.to_string());
        }
        for o in owner_uids(&c.object) {
            dependents.entry(o).or_default().push(key.clone());
        }
    }
    for (key, c) in objects.iter() {
        let obj = &c.object;
        let owners = owner_uids(obj);
        if !owners.is_empty() && obj.pointer("/metadata/deletionTimestamp").is_none() {
            let present: Vec<&String> = owners.iter().filter(|u| uids.contains(*u)).collect();
            if present.is_empty() {
                delete_key(srv, key).await;
            } else if present.len() < owners.len() {
                edit(srv, key, |o| remove_owner_refs(o, &|u| !uids.contains(u))).await;
            }
        }
        if obj.pointer("/metadata/deletionTimestamp").is_none() {
            continue;
        }
        let Some(me) = uid(obj).map(str::to_string) else {
            continue;
        };
        let deps = dependents.get(&me).cloned().unwrap_or_default();
        if has_finalizer(obj, FINALIZER_ORPHAN) {
            for d in &deps {
                edit(srv, d, |o| remove_owner_refs(o, &|u| u == me)).await;
            }
            edit(srv, key, |o| remove_finalizer(o, FINALIZER_ORPHAN)).await;
        } else if has_finalizer(obj, FINALIZER_FOREGROUND) {
            let mut blocking = 0;
            for d in &deps {
                if let Some(dep) = objects.get(d) {
                    blocking += 1;
                    if dep.object.pointer("/metadata/deletionTimestamp").is_none() {
                        delete_key(srv, d).await;
                    }
                }
            }
            if blocking == 0 {
                edit(srv, key, |o| remove_finalizer(o, FINALIZER_FOREGROUND)).await;
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
