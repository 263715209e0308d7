//! Namespace lifecycle: a namespace being deleted has all its content
//! deleted, then its `kubernetes` finalizer removed, then it goes. Every
//! active namespace gets its `default` ServiceAccount.

use super::gc::edit;
use crate::cache::CachedObject;
use crate::rest;
use crate::{Server, User};
use berth_api::registry::REGISTRY;
use serde_json::{json, Value};
use std::sync::Arc;

/// Is any namespace being deleted (so deletions inside it may finish it)?
pub fn any_terminating(srv: &Server) -> bool {
    let (_, objects) = srv.cache.snapshot();
    let lower = std::ops::Bound::Included("/registry/core/namespaces/".to_string());
    objects
        .range((lower, std::ops::Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with("/registry/core/namespaces/"))
        .any(|(_, c)| c.index.deleting)
}

pub async fn pass(srv: &Arc<Server>) {
    let (_, objects) = srv.cache.snapshot();
    let prefix = "/registry/core/namespaces/";
    let lower = std::ops::Bound::Included(prefix.to_string());
    let namespaces: Vec<(String, bool)> = objects
        .range((lower, std::ops::Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, c)| (k[prefix.len()..].to_string(), c.index.deleting))
        .collect();
    for (ns, deleting) in namespaces {
        if deleting {
            finish_deletion(srv, &objects, &ns).await;
        } else {
            ensure_default_service_account(srv, &objects, &ns).await;
        }
    }
}

async fn finish_deletion(srv: &Arc<Server>, objects: &crate::cache::Objects, ns: &str) {
    let mut remaining = 0;
    for info in REGISTRY
        .iter()
        .filter(|r| r.namespaced() && r.version == r.storage_version)
    {
        let prefix = format!("{}{}/", info.storage_prefix(), ns);
        let keys = match content(srv, objects, &prefix).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!("namespace controller: list {prefix}: {e}");
                remaining += 1;
                continue;
            }
        };
        for (key, deleting) in keys {
            remaining += 1;
            if deleting {
                continue;
            }
            let name = &key[prefix.len()..];
            if let Err(e) = crate::delete::delete(
                srv,
                info,
                Some(ns),
                name,
                &json!({"propagationPolicy": "Background"}),
                false,
            )
            .await
            {
                if e.code != 404 {
                    tracing::warn!("namespace controller: delete {key}: {e}");
                }
            }
        }
    }
    if remaining > 0 {
        return;
    }
    let key = format!("/registry/core/namespaces/{ns}");
    edit(srv, &key, |o| {
        let Some(list) = o
            .pointer_mut("/spec/finalizers")
            .and_then(Value::as_array_mut)
        else {
            return false;
        };
        let before = list.len();
        list.retain(|f| f != "kubernetes");
        list.len() != before
    })
    .await;
    // With no finalizers left, the namespace itself goes.
    let Some(info) = REGISTRY
        .iter()
        .find(|r| r.group.is_empty() && r.kind == "Namespace")
    else {
        return;
    };
    if let Ok((obj, rev)) = rest::read(srv, info, None, ns).await {
        let spec_empty = obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|f| f.is_empty());
        let meta_empty = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|f| f.is_empty());
        if spec_empty && meta_empty {
            let _ = srv.store.delete(&key, Some(rev)).await;
        }
    }
}

/// The keys under `prefix` and whether each is already being deleted: from
/// the cache's snapshot, or from the store for kinds the cache does not hold
/// (Events).
async fn content(
    srv: &Server,
    objects: &crate::cache::Objects,
    prefix: &str,
) -> Result<Vec<(String, bool)>, berth_store::StoreError> {
    if crate::cache::is_cached_prefix(prefix) {
        let lower = std::ops::Bound::Included(prefix.to_string());
        return Ok(objects
            .range((lower, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, c)| (k.clone(), c.index.deleting))
            .collect());
    }
    let mut keys = Vec::new();
    berth_store::scan(srv.store.as_ref(), prefix, |kv| {
        let deleting = CachedObject::decode(&kv.key, &kv.value, kv.mod_revision)
            .is_some_and(|c| c.index.deleting);
        keys.push((kv.key, deleting));
    })
    .await?;
    Ok(keys)
}

async fn ensure_default_service_account(
    srv: &Arc<Server>,
    objects: &crate::cache::Objects,
    ns: &str,
) {
    let key = format!("/registry/core/serviceaccounts/{ns}/default");
    if objects.contains_key(&key) {
        return;
    }
    let Some(info) = REGISTRY
        .iter()
        .find(|r| r.group.is_empty() && r.kind == "ServiceAccount")
    else {
        return;
    };
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}});
    let created = match rest::prepare_create(srv, info, Some(ns), sa, &User::system()) {
        Ok(obj) => rest::commit_create(srv, info, Some(ns), obj, false)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = created {
        if e.code != 409 && e.code != 403 && e.code != 404 {
            tracing::warn!("serviceaccount controller: {ns}/default: {e}");
        }
    }
}
