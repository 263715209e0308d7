//! DELETE and DELETECOLLECTION: preconditions, graceful pod deletion,
//! finalizers and the propagation policy (the garbage collector finishes
//! Background/Foreground/Orphan).

use crate::list::{self, Filter};
use crate::request::Query;
use crate::rest::{self, object_key, read, store_err, Reply};
use crate::Server;
use axum::http::StatusCode;
use berth_api::status::ApiError;
use berth_api::ResourceInfo;
use serde_json::{json, Value};
use std::sync::Arc;

pub const FINALIZER_ORPHAN: &str = "orphan";
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

fn add_finalizer(obj: &mut Value, f: &str) {
    let meta = &mut obj["metadata"];
    if !meta.get("finalizers").is_some_and(Value::is_array) {
        meta["finalizers"] = json!([]);
    }
    if let Some(list) = meta["finalizers"].as_array_mut() {
        if !list.iter().any(|x| x == f) {
            list.push(json!(f));
        }
    }
}

/// What a delete did: removed the object now, or marked it (grace period,
/// finalizers) so that it goes later.
#[derive(Debug)]
pub enum Outcome {
    Deleted(Value),
    Pending(Value),
}

impl Outcome {
    pub fn object(&self) -> &Value {
        match self {
            Self::Deleted(o) | Self::Pending(o) => o,
        }
    }
    pub fn into_object(self) -> Value {
        match self {
            Self::Deleted(o) | Self::Pending(o) => o,
        }
    }
}

/// Kinds whose registry returns the deleted object rather than a Status
/// (upstream's `ReturnDeletedObject`).
pub fn returns_deleted_object(info: &ResourceInfo) -> bool {
    info.group.is_empty()
        && matches!(
            info.kind,
            "Pod"
                | "Service"
                | "ServiceAccount"
                | "PersistentVolume"
                | "PersistentVolumeClaim"
                | "Namespace"
        )
}

/// The response body of a delete: the object, or `Status{Success}` naming it.
pub fn response_body(info: &ResourceInfo, outcome: Outcome) -> Value {
    match outcome {
        Outcome::Deleted(obj) if !returns_deleted_object(info) => {
            let mut details = json!({
                "name": obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
                "kind": info.plural,
                "uid": obj.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
            });
            if !info.group.is_empty() {
                details["group"] = json!(info.group);
            }
            berth_api::status::success_status(Some(details))
        }
        other => other.into_object(),
    }
}

/// dryRun=All in the query or in the DeleteOptions body.
pub fn is_dry_run(q: &Query, opts: &Value) -> bool {
    q.dry_run()
        || opts
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"))
}

fn is_pod(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.kind == "Pod"
}

pub async fn delete(
    srv: &Arc<Server>,
    info: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
    opts: &Value,
    dry_run: bool,
) -> Result<Outcome, ApiError> {
    for _ in 0..8 {
        let (mut obj, rev) = read(srv, info, ns, name).await?;
        if let Some(uid) = opts.pointer("/preconditions/uid").and_then(Value::as_str) {
            let actual = obj
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or("");
            if uid != actual {
                return Err(ApiError::conflict(info.group, info.plural, name, &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}")));
            }
        }
        if let Some(want) = opts
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            if want != rev.to_string() {
                return Err(ApiError::conflict(info.group, info.plural, name, &format!("Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rev}")));
            }
        }
        let grace_opt = opts.get("gracePeriodSeconds").and_then(Value::as_i64);
        let key = object_key(info, ns, name);
        let already = obj.pointer("/metadata/deletionTimestamp").is_some();
        let pod_grace = if is_pod(info) {
            let spec_grace = obj
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30);
            let mut g = grace_opt.unwrap_or(spec_grace).max(0);
            let bound = obj
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            let terminal = matches!(
                obj.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
            if !bound || terminal {
                g = 0;
            }
            g
        } else {
            0
        };
        let mut finalizers: Vec<String> = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();

        if already {
            // A repeated delete may only shorten a pod's grace period (force delete = 0).
            if is_pod(info) && grace_opt == Some(0) && finalizers.is_empty() {
                if dry_run {
                    return Ok(Outcome::Deleted(obj));
                }
                let kv = srv.store.delete(&key, Some(rev)).await;
                match kv {
                    Ok(kv) => {
                        srv.cache.wait_for(kv.mod_revision).await;
                        return Ok(Outcome::Deleted(obj));
                    }
                    Err(berth_store::StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(store_err(info, name, e)),
                }
            }
            return Ok(Outcome::Pending(obj));
        }

        let policy = match opts.get("propagationPolicy").and_then(Value::as_str) {
            Some(p) => p.to_string(),
            None if opts.get("orphanDependents") == Some(&json!(true)) => "Orphan".into(),
            None => crate::strategy::default_propagation(info).to_string(),
        };
        match policy.as_str() {
            "Orphan" => add_finalizer(&mut obj, FINALIZER_ORPHAN),
            "Foreground" => add_finalizer(&mut obj, FINALIZER_FOREGROUND),
            _ => {}
        }
        finalizers = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or(finalizers);
        let namespace_pending = info.group.is_empty()
            && info.kind == "Namespace"
            && obj
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty());

        if !finalizers.is_empty() || pod_grace > 0 || namespace_pending {
            let when = chrono::Utc::now() + chrono::Duration::seconds(pod_grace);
            obj["metadata"]["deletionTimestamp"] =
                json!(when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(pod_grace);
            if let Some(g) = obj.pointer("/metadata/generation").and_then(Value::as_i64) {
                obj["metadata"]["generation"] = json!(g + 1);
            }
            if namespace_pending {
                obj["status"]["phase"] = json!("Terminating");
            }
            if dry_run {
                return Ok(Outcome::Pending(obj));
            }
            match srv
                .store
                .update(&key, rest::encode_for_storage(&obj), rev)
                .await
            {
                Ok(kv) => {
                    obj["metadata"]["resourceVersion"] = json!(kv.mod_revision.to_string());
                    srv.cache.wait_for(kv.mod_revision).await;
                    return Ok(Outcome::Pending(obj));
                }
                Err(berth_store::StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_err(info, name, e)),
            }
        }
        if dry_run {
            return Ok(Outcome::Deleted(obj));
        }
        match srv.store.delete(&key, Some(rev)).await {
            Ok(kv) => {
                srv.cache.wait_for(kv.mod_revision).await;
                srv.metrics.object_written(info.plural);
                return Ok(Outcome::Deleted(obj));
            }
            Err(berth_store::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_err(info, name, e)),
        }
    }
    Err(ApiError::conflict(
        info.group,
        info.plural,
        name,
        "too many concurrent writers; try again",
    ))
}

pub async fn delete_collection(
    srv: &Arc<Server>,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    q: &Query,
    opts: &Value,
) -> Reply {
    let filter = Filter::from_query(info, q)?;
    let mut all = Query::default();
    all.0.insert("resourceVersion".into(), String::new());
    let page = list::read_page(srv, info, ns, &all, &filter).await?;
    let mut deleted = Vec::new();
    for obj in page.items {
        let name = obj.index.name();
        let ons = Some(obj.index.namespace()).filter(|n| !n.is_empty());
        match delete(srv, info, ons, name, opts, is_dry_run(q, opts)).await {
            Ok(o) => deleted.push(o.into_object()),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": info.list_kind(), "apiVersion": info.api_version(),
        "metadata": {"resourceVersion": srv.cache.revision().to_string()},
        "items": deleted,
    });
    Ok(crate::body::json_response(StatusCode::OK, &list))
}
