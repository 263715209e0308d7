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
) -> Result<(StatusCode, Value), ApiError> {
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
                    return Ok((StatusCode::OK, obj));
                }
                let kv = srv.store.delete(&key, Some(rev)).await;
                match kv {
                    Ok(kv) => {
                        srv.cache.wait_for(kv.mod_revision).await;
                        return Ok((StatusCode::OK, obj));
                    }
                    Err(berth_store::StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(store_err(info, name, e)),
                }
            }
            return Ok((StatusCode::OK, obj));
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
                return Ok((StatusCode::OK, obj));
            }
            match srv
                .store
                .update(&key, rest::encode_for_storage(&obj), rev)
                .await
            {
                Ok(kv) => {
                    obj["metadata"]["resourceVersion"] = json!(kv.mod_revision.to_string());
                    srv.cache.wait_for(kv.mod_revision).await;
                    return Ok((StatusCode::OK, obj));
                }
                Err(berth_store::StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_err(info, name, e)),
            }
        }
        if dry_run {
            return Ok((StatusCode::OK, obj));
        }
        match srv.store.delete(&key, Some(rev)).await {
            Ok(kv) => {
                srv.cache.wait_for(kv.mod_revision).await;
                srv.metrics.object_written(info.plural);
                return Ok((StatusCode::OK, obj));
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
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ons = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        match delete(srv, info, ons, name, opts, q.dry_run()).await {
            Ok((_, o)) => deleted.push(o),
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
