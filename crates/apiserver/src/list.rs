//! Lists, served from the watch cache's snapshots: `limit` + `continue`
//! paginate one consistent snapshot; selectors filter while paging.

use crate::body::{self, Want};
use crate::cache::Objects;
use crate::request::Query;
use crate::rest::{collection_prefix, store_err, Reply};
use crate::{convert, strategy, table, Server};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use berth_api::selector::{FieldSelector, LabelSelector};
use berth_api::status::ApiError;
use berth_api::ResourceInfo;
use berth_store::Revision;
use serde_json::{json, Value};
use std::sync::Arc;

/// Parsed selectors of a list or watch.
pub struct Filter {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn from_query(info: &ResourceInfo, q: &Query) -> Result<Self, ApiError> {
        let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
        let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.0))?;
        let allowed = strategy::selectable_fields(info);
        for (f, _, _) in &fields.terms {
            if f != "metadata.name" && f != "metadata.namespace" && !allowed.contains(&f.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {f}"
                )));
            }
        }
        Ok(Self { labels, fields })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches_object(obj) && self.fields.matches(&|f| strategy::field_value(obj, f))
    }
}

fn encode_continue(rev: Revision, last_key: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rev, "start": format!("{last_key}\u{0}")});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(Revision, String), ApiError> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rev = v.get("rv").and_then(Value::as_i64).ok_or_else(bad)?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    Ok((rev, start.trim_end_matches('\u{0}').to_string()))
}

pub struct Page {
    pub items: Vec<Arc<Value>>,
    pub revision: Revision,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// Read one page of a collection.
pub async fn read_page(
    srv: &Server,
    info: &ResourceInfo,
    ns: Option<&str>,
    q: &Query,
    filter: &Filter,
) -> Result<Page, ApiError> {
    let prefix = collection_prefix(info, ns);
    let limit = q.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let (rev, objects, start_after): (Revision, Option<Objects>, Option<String>) =
        match q.get("continue").filter(|c| !c.is_empty()) {
            Some(token) => {
                let (rev, last) = decode_continue(token)?;
                (rev, srv.cache.snapshot_at(rev), Some(last))
            }
            None => {
                let rv = q.get("resourceVersion").unwrap_or("");
                let exact = q.get("resourceVersionMatch") == Some("Exact");
                match rv {
                    "" => {
                        srv.cache.sync().await.map_err(|e| store_err(info, "", e))?;
                        let (rev, objs) = srv.cache.snapshot();
                        (rev, Some(objs), None)
                    }
                    "0" => {
                        let (rev, objs) = srv.cache.snapshot();
                        (rev, Some(objs), None)
                    }
                    n => {
                        let want: Revision = n.parse().map_err(|_| {
                            ApiError::bad_request(format!("invalid resource version {n:?}"))
                        })?;
                        if exact {
                            (want, srv.cache.snapshot_at(want), None)
                        } else {
                            if !srv.cache.wait_for(want).await {
                                return Err(ApiError::timeout(format!(
                                    "Too large resource version: {want}, current: {}",
                                    srv.cache.revision()
                                )));
                            }
                            let (rev, objs) = srv.cache.snapshot();
                            (rev, Some(objs), None)
                        }
                    }
                }
            }
        };
    match objects {
        Some(objects) => Ok(page_from_snapshot(
            &objects,
            rev,
            &prefix,
            start_after,
            limit,
            filter,
        )),
        None => page_from_store(srv, info, rev, &prefix, start_after, limit, filter).await,
    }
}

fn page_from_snapshot(
    objects: &Objects,
    rev: Revision,
    prefix: &str,
    start_after: Option<String>,
    limit: Option<usize>,
    filter: &Filter,
) -> Page {
    let mut items = Vec::new();
    let lower = match &start_after {
        Some(k) => std::ops::Bound::Excluded(k.clone()),
        None => std::ops::Bound::Included(prefix.to_string()),
    };
    let pinned = filter.fields.pinned_name();
    let mut last_key = None;
    let mut more = false;
    let mut scanned_after_full = 0u64;
    for (key, cached) in objects.range((lower, std::ops::Bound::Unbounded)) {
        if !key.starts_with(prefix) {
            break;
        }
        if let Some(limit) = limit {
            if items.len() >= limit {
                more = true;
                if filter.is_empty() {
                    scanned_after_full += 1;
                    continue;
                }
                break;
            }
        }
        if let Some(name) = pinned {
            if !key.ends_with(&format!("/{name}")) {
                continue;
            }
        }
        if filter.matches(&cached.object) {
            items.push(cached.object.clone());
            last_key = Some(key.clone());
        }
    }
    let continue_token = if more {
        last_key.as_deref().map(|k| encode_continue(rev, k))
    } else {
        None
    };
    let remaining = (more && filter.is_empty()).then_some(scanned_after_full);
    Page {
        items,
        revision: rev,
        continue_token,
        remaining,
    }
}

/// Fallback when the snapshot for a continue token is gone: read the store at that revision.
async fn page_from_store(
    srv: &Server,
    info: &ResourceInfo,
    rev: Revision,
    prefix: &str,
    mut start_after: Option<String>,
    limit: Option<usize>,
    filter: &Filter,
) -> Result<Page, ApiError> {
    let mut items = Vec::new();
    loop {
        let res = srv
            .store
            .list(berth_store::ListOptions { prefix: prefix.to_string(), start_after: start_after.clone(), limit, revision: Some(rev) })
            .await
            .map_err(|e| match e {
                berth_store::StoreError::Compacted { .. } => ApiError::gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ),
                other => store_err(info, "", other),
            })?;
        for kv in &res.items {
            if let Some(obj) = crate::cache::decode_stored(&kv.value, kv.mod_revision) {
                if filter.matches(&obj) {
                    items.push(Arc::new(obj));
                }
            }
            start_after = Some(kv.key.clone());
            if limit.is_some_and(|l| items.len() >= l) {
                break;
            }
        }
        let full = limit.is_some_and(|l| items.len() >= l);
        if !res.more || full {
            let more = res.more
                || (full
                    && res
                        .items
                        .last()
                        .map(|kv| Some(&kv.key) != start_after.as_ref())
                        .unwrap_or(false));
            let continue_token = if more {
                start_after.as_deref().map(|k| encode_continue(rev, k))
            } else {
                None
            };
            let remaining = (more && filter.is_empty()).then_some(res.remaining);
            return Ok(Page {
                items,
                revision: rev,
                continue_token,
                remaining,
            });
        }
    }
}

pub async fn list(
    srv: &Arc<Server>,
    info: &ResourceInfo,
    ns: Option<&str>,
    q: &Query,
    headers: &HeaderMap,
) -> Reply {
    let filter = Filter::from_query(info, q)?;
    let page = read_page(srv, info, ns, q, &filter).await?;
    srv.metrics.list_served(info.plural, page.items.len());
    let mut meta = json!({"resourceVersion": page.revision.to_string()});
    if let Some(c) = &page.continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(r) = page.remaining {
        meta["remainingItemCount"] = json!(r);
    }
    let items: Vec<Arc<Value>> = if info.version != info.storage_version {
        page.items
            .iter()
            .map(|o| Arc::new(convert::to_served(info, (**o).clone())))
            .collect()
    } else {
        page.items
    };
    match body::want(headers) {
        Want::Table => Ok(body::json_response(
            StatusCode::OK,
            &table::table_for(info, &items, Some(meta), q),
        )),
        Want::PartialMetadata => {
            let list = json!({
                "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                "items": items.iter().map(|o| table::partial_metadata(o)).collect::<Vec<_>>(),
            });
            Ok(body::json_response(StatusCode::OK, &list))
        }
        Want::Object => Ok(list_response(info, meta, &items)),
    }
}

/// Serialize a List without cloning every item into a new Value tree.
fn list_response(
    info: &ResourceInfo,
    meta: Value,
    items: &[Arc<Value>],
) -> axum::http::Response<axum::body::Body> {
    let mut out = Vec::with_capacity(256 + items.len() * 1024);
    out.extend_from_slice(b"{\"kind\":");
    let _ = serde_json::to_writer(&mut out, &info.list_kind());
    out.extend_from_slice(b",\"apiVersion\":");
    let _ = serde_json::to_writer(&mut out, &info.api_version());
    out.extend_from_slice(b",\"metadata\":");
    let _ = serde_json::to_writer(&mut out, &meta);
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut out, item.as_ref());
    }
    out.extend_from_slice(b"]}");
    body::bytes_response(StatusCode::OK, "application/json", out)
}
