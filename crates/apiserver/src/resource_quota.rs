//! The ResourceQuota admission plugin, the last validating step before an
//! object is stored:
//!
//! ```text
//! create (any namespaced kind) │ update (Service, PersistentVolumeClaim)
//!   ─▶ quotas of the namespace (watch cache)
//!   ─▶ berth_quota::admit: matches, "must specify", "status unknown", used + usage ≤ hard
//!        Err ─▶ 403 `<resource> "<name>" is forbidden: exceeded quota: …`
//!   ─▶ dry run? done (quota status untouched)
//!   ─▶ each changed quota: status.used written by compare-and-swap on its
//!      resourceVersion (the status update path of the API)
//!        conflict ─▶ re-read only the quotas that conflicted from the store,
//!                    check again (3 retries, as upstream)
//!   ─▶ the caller stores the object
//! ```
//! Usage is charged before the object is stored, as upstream: a store
//! failure after admission over-charges until the quota controller
//! recalculates `status.used`.

use crate::rest::{self, object_key};
use crate::Server;
use berth_api::status::ApiError;
use berth_api::ResourceInfo;
use berth_quota::QuotaObject;
use berth_store::Revision;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ResourceQuota, Service};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// One async lock per namespace, held while a request's usage is checked
/// and written. Entries are weak: a namespace nobody is admitting into
/// holds no lock.
#[derive(Default)]
pub struct NamespaceLocks {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl NamespaceLocks {
    fn get(&self, ns: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lock) = locks.get(ns).and_then(Weak::upgrade) {
            return lock;
        }
        locks.retain(|_, l| l.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(ns.to_string(), Arc::downgrade(&lock));
        lock
    }
}

/// Conflicting quota writes are re-checked this many times (upstream's
/// evaluator uses 3).
const RETRIES: usize = 3;

/// A quota as read, with what a compare-and-swap of its status needs.
struct HeldQuota {
    quota: ResourceQuota,
    value: Value,
    revision: Revision,
}

impl HeldQuota {
    fn name(&self) -> &str {
        self.quota.metadata.name.as_deref().unwrap_or("")
    }
}

/// The admitted object, typed for the kinds whose usage is more than a count.
enum Measured {
    Pod(Box<Pod>),
    Service(Box<Service>),
    Claim(Box<PersistentVolumeClaim>),
    Counted,
}

impl Measured {
    fn of(info: &ResourceInfo, obj: &Value) -> Result<Self, ApiError> {
        fn typed<T: serde::de::DeserializeOwned>(obj: &Value) -> Result<Box<T>, ApiError> {
            serde_json::from_value(obj.clone())
                .map(Box::new)
                .map_err(|e| ApiError::internal(format!("object does not decode for quota: {e}")))
        }
        Ok(match (info.group, info.kind) {
            ("", "Pod") => Measured::Pod(typed(obj)?),
            ("", "Service") => Measured::Service(typed(obj)?),
            ("", "PersistentVolumeClaim") => Measured::Claim(typed(obj)?),
            _ => Measured::Counted,
        })
    }

    fn as_quota_object<'a>(&'a self, info: &'a ResourceInfo) -> QuotaObject<'a> {
        match self {
            Measured::Pod(p) => QuotaObject::Pod(p),
            Measured::Service(s) => QuotaObject::Service(s),
            Measured::Claim(c) => QuotaObject::PersistentVolumeClaim(c),
            Measured::Counted => QuotaObject::Other {
                resource: info.plural,
                group: info.group,
            },
        }
    }
}

/// Kinds whose usage an update can change (upstream's evaluators that
/// handle updates; object counts only change on create).
fn update_changes_usage(info: &ResourceInfo) -> bool {
    matches!(
        (info.group, info.kind),
        ("", "Service") | ("", "PersistentVolumeClaim")
    )
}

/// Whether `key` is stored: the cache answers, except for kinds it does not
/// hold (Events), which the store does.
async fn exists(srv: &Server, key: &str) -> bool {
    if crate::cache::is_cached_key(key) {
        return srv.cache.get(key).is_some();
    }
    matches!(srv.store.get(key).await, Ok(Some(_)))
}

fn quota_info() -> Result<&'static ResourceInfo, ApiError> {
    berth_api::registry::lookup("", "v1", "resourcequotas")
        .ok_or_else(|| ApiError::internal("resourcequotas are not registered"))
}

/// Admits `new` (created, or replacing `old`) against the quotas of its
/// namespace and, unless `dry_run`, records the new usage in each quota's
/// `status.used` before the caller stores the object.
pub async fn admit(
    srv: &Arc<Server>,
    info: &ResourceInfo,
    new: &Value,
    old: Option<&Value>,
    dry_run: bool,
) -> Result<(), ApiError> {
    let ns = new
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !info.namespaced() || ns.is_empty() || (old.is_some() && !update_changes_usage(info)) {
        return Ok(());
    }
    let qinfo = quota_info()?;
    let quota_prefix = rest::collection_prefix(qinfo, Some(ns));
    if srv.cache.under(&quota_prefix).is_empty() {
        return Ok(());
    }
    let name = new
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if old.is_none() && exists(srv, &object_key(info, Some(ns), name)).await {
        // It would fail as AlreadyExists: answer that before charging quota for it.
        return Err(ApiError::already_exists(info.group, info.plural, name));
    }
    let measured = Measured::of(info, new)?;
    let previous = old.map(|o| Measured::of(info, o)).transpose()?;
    let object = measured.as_quota_object(info);
    let old_object = previous.as_ref().map(|p| p.as_quota_object(info));

    let lock = srv.quota_locks.get(ns);
    let _serialized = lock.lock().await;
    // Read under the lock: the previous holder's write is in the cache by now.
    let mut held: Vec<HeldQuota> = srv
        .cache
        .under(&quota_prefix)
        .iter()
        .filter_map(|c| {
            Some(HeldQuota {
                quota: serde_json::from_slice(&c.json).ok()?,
                value: c.value(),
                revision: c.mod_revision,
            })
        })
        .collect();

    for attempt in 0..=RETRIES {
        let quotas: Vec<ResourceQuota> = held.iter().map(|h| h.quota.clone()).collect();
        let updates = berth_quota::admit(&quotas, &object, old_object.as_ref()).map_err(|e| {
            if e.is_forbidden() {
                ApiError::forbidden_on(info.group, info.plural, name, &e.to_string())
            } else {
                ApiError::internal(e.to_string())
            }
        })?;
        if dry_run || updates.is_empty() {
            return Ok(());
        }
        let mut conflicted = Vec::new();
        for update in updates {
            let Some(h) = held.get(update.index) else {
                continue;
            };
            let mut value = h.value.clone();
            value["status"]["used"] = serde_json::to_value(&update.used)
                .map_err(|e| ApiError::internal(format!("quota usage does not encode: {e}")))?;
            // Boxed: the status write goes through the same update path, which admits too.
            let written = Box::pin(rest::commit_update(
                srv,
                qinfo,
                Some(ns),
                h.name(),
                (h.value.clone(), h.revision),
                value,
                None,
                true,
                false,
            ))
            .await;
            match written {
                Ok(_) => {}
                Err(e) if e.code == 409 => conflicted.push((h.name().to_string(), e)),
                // Deleted meanwhile: a quota that is gone limits nothing.
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let Some((_, last_conflict)) = conflicted.last().cloned() else {
            return Ok(());
        };
        if attempt == RETRIES {
            return Err(last_conflict);
        }
        // Only the quotas whose write failed are checked again: the others
        // already carry this object's usage.
        held.clear();
        for (quota_name, _) in &conflicted {
            match rest::read(srv, qinfo, Some(ns), quota_name).await {
                Ok((value, revision)) => {
                    let quota = serde_json::from_value(value.clone()).map_err(|e| {
                        ApiError::internal(format!("quota {quota_name} does not decode: {e}"))
                    })?;
                    held.push(HeldQuota {
                        quota,
                        value,
                        revision,
                    });
                }
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
