//! Lists, served from the watch cache's snapshots: `limit` + `continue`
//! paginate one consistent snapshot; selectors filter while paging. Kinds the
//! cache does not hold (Events) are read from the store at one revision.

use crate::body::{self, Want};
use crate::cache::{CachedObject, Objects};
use crate::object_index::ObjectIndex;
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

    pub fn matches(&self, obj: &ObjectIndex) -> bool {
        obj.matches_labels(&self.labels)
            && self
                .fields
                .terms
                .iter()
                .all(|(f, eq, v)| (obj.field(f) == v) == *eq)
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
    pub items: Vec<Arc<CachedObject>>,
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
    if !crate::cache::is_cached_prefix(&prefix) {
        return read_page_from_store(srv, info, &prefix, q, limit, filter).await;
    }
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
        Some(objects) => {
            let page = page_from_snapshot(&objects, rev, &prefix, start_after, limit, filter);
            if page.continue_token.is_some() {
                srv.cache.keep_snapshot(rev, &objects);
            }
            Ok(page)
        }
        None => {
            let at = StoreRead::At(rev, TooOld::Continue);
            page_from_store(srv, info, at, &prefix, start_after, limit, filter).await
        }
    }
}

/// A page of a kind the cache does not hold, with the resourceVersion
/// semantics of a list served without a watch cache (as upstream serves
/// Events from etcd): a continue token reads at its revision, `Exact` at the
/// given one, everything else at the latest revision ("0" included), which
/// must not be older than the one asked for.
async fn read_page_from_store(
    srv: &Server,
    info: &ResourceInfo,
    prefix: &str,
    q: &Query,
    limit: Option<usize>,
    filter: &Filter,
) -> Result<Page, ApiError> {
    if let Some(token) = q.get("continue").filter(|c| !c.is_empty()) {
        let (rev, last) = decode_continue(token)?;
        let at = StoreRead::At(rev, TooOld::Continue);
        return page_from_store(srv, info, at, prefix, Some(last), limit, filter).await;
    }
    let rv = q.get("resourceVersion").unwrap_or("");
    let at = match rv {
        "" | "0" => StoreRead::Latest(None),
        n => {
            let want: Revision = n
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {n:?}")))?;
            if q.get("resourceVersionMatch") == Some("Exact") {
                StoreRead::At(want, TooOld::Exact)
            } else {
                StoreRead::Latest(Some(want))
            }
        }
    };
    page_from_store(srv, info, at, prefix, None, limit, filter).await
}

/// Which revision a store-served page reads at.
#[derive(Clone, Copy, Debug)]
enum StoreRead {
    /// The latest, which must be at least the given one.
    Latest(Option<Revision>),
    /// Exactly this one (a continue token's, or `resourceVersionMatch=Exact`).
    At(Revision, TooOld),
}

/// What a read at a compacted revision answers.
#[derive(Clone, Copy, Debug)]
enum TooOld {
    Continue,
    Exact,
}

/// Rows read from the store per round while filling one page: a page of a
/// selective filter (e.g. one pod's events) may scan a whole namespace, in
/// rounds of this size rather than all at once.
const STORE_BATCH: usize = 1000;

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
        if filter.matches(&cached.index) {
            items.push(cached.clone());
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

/// A page read from the store, in rounds of `STORE_BATCH` rows at one
/// revision. Also the fallback when the snapshot for a continue token is gone.
async fn page_from_store(
    srv: &Server,
    info: &ResourceInfo,
    at: StoreRead,
    prefix: &str,
    mut start_after: Option<String>,
    limit: Option<usize>,
    filter: &Filter,
) -> Result<Page, ApiError> {
    let (mut revision, at_least) = match at {
        StoreRead::Latest(min) => (None, min),
        StoreRead::At(rev, _) => (Some(rev), None),
    };
    let mut items = Vec::new();
    let (more, remaining) = loop {
        let left = limit.map(|l| l.saturating_sub(items.len()));
        // Without a filter every row is an item: read exactly what the page
        // still needs, and count what follows only on the round that fills it.
        let batch = match left {
            Some(left) if filter.is_empty() => left.min(STORE_BATCH),
            _ => STORE_BATCH,
        };
        let fills_page = filter.is_empty() && left == Some(batch);
        let res = srv
            .store
            .list(berth_store::ListOptions {
                prefix: prefix.to_string(),
                start_after: start_after.clone(),
                limit: Some(batch),
                revision,
                skip_remaining_count: !fills_page,
            })
            .await
            .map_err(|e| store_read_err(info, at, e))?;
        if revision.is_none() {
            if let Some(min) = at_least.filter(|min| *min > res.revision) {
                return Err(ApiError::timeout(format!(
                    "Too large resource version: {min}, current: {}",
                    res.revision
                )));
            }
        }
        revision = Some(res.revision);
        let mut stopped_early = false;
        for kv in &res.items {
            if limit.is_some_and(|l| items.len() >= l) {
                stopped_early = true;
                break;
            }
            start_after = Some(kv.key.clone());
            let wanted = |index: &ObjectIndex| filter.matches(index);
            if let Some(obj) = CachedObject::decode_if(&kv.key, &kv.value, kv.mod_revision, wanted)
            {
                items.push(Arc::new(obj));
            }
        }
        let full = limit.is_some_and(|l| items.len() >= l);
        if full || !res.more {
            let more = stopped_early || res.more;
            let remaining = (more && filter.is_empty() && !stopped_early).then_some(res.remaining);
            break (more, remaining);
        }
    };
    let revision = revision.unwrap_or_default();
    let continue_token = if more {
        start_after.as_deref().map(|k| encode_continue(revision, k))
    } else {
        None
    };
    Ok(Page {
        items,
        revision,
        continue_token,
        remaining,
    })
}

fn store_read_err(info: &ResourceInfo, at: StoreRead, e: berth_store::StoreError) -> ApiError {
    use berth_store::StoreError;
    match (e, at) {
        (StoreError::Compacted { .. }, StoreRead::At(_, TooOld::Continue)) => ApiError::gone(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        ),
        (StoreError::Compacted { requested, .. }, _) => ApiError::gone(format!(
            "The resourceVersion for the provided list is too old. (requested {requested})"
        )),
        (StoreError::FutureRevision { requested, current }, _) => ApiError::timeout(format!(
            "Too large resource version: {requested}, current: {current}"
        )),
        (other, _) => store_err(info, "", other),
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
    let want = body::want(headers);
    if want == Want::Object && info.version == info.storage_version {
        return Ok(list_response(info, &meta, page.items));
    }
    // Every other form needs the parsed objects: one at a time.
    let items = page
        .items
        .iter()
        .map(|o| convert::to_served(info, o.value()));
    match want {
        Want::Table => {
            let table = table::table_for(info, items, Some(meta), q);
            Ok(body::json_response(StatusCode::OK, &table))
        }
        Want::PartialMetadata => {
            let list = json!({
                "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                "items": items.map(|o| table::partial_metadata(&o)).collect::<Vec<_>>(),
            });
            Ok(body::json_response(StatusCode::OK, &list))
        }
        Want::Object => {
            let list = json!({
                "kind": info.list_kind(), "apiVersion": info.api_version(), "metadata": meta,
                "items": items.collect::<Vec<_>>(),
            });
            Ok(body::json_response(StatusCode::OK, &list))
        }
    }
}

/// Lists larger than this are streamed in chunks of about this size rather
/// than assembled whole (a list of every pod can be hundreds of MiB).
const LIST_CHUNK: usize = 1 << 20;

/// A List written from the cached JSON of its items, without parsing them.
fn list_response(
    info: &ResourceInfo,
    meta: &Value,
    items: Vec<Arc<CachedObject>>,
) -> axum::http::Response<axum::body::Body> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"{\"kind\":");
    let _ = serde_json::to_writer(&mut head, &info.list_kind());
    head.extend_from_slice(b",\"apiVersion\":");
    let _ = serde_json::to_writer(&mut head, &info.api_version());
    head.extend_from_slice(b",\"metadata\":");
    let _ = serde_json::to_writer(&mut head, meta);
    head.extend_from_slice(b",\"items\":[");
    let mut writer = ListWriter::new(head, items);
    if writer.remaining <= LIST_CHUNK {
        let out = writer.next_chunk(usize::MAX).unwrap_or_default();
        return body::bytes_response(StatusCode::OK, "application/json", out);
    }
    // Each chunk is copied out of the cached bytes only when the client takes it.
    let chunks = futures::stream::unfold(writer, |mut w| async move {
        let chunk = w.next_chunk(LIST_CHUNK)?;
        Some((Ok::<_, std::io::Error>(bytes::Bytes::from(chunk)), w))
    });
    axum::http::Response::builder()
        .status(StatusCode::OK)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(chunks))
        .unwrap_or_default()
}

/// Writes a List's bytes: the head (kind, apiVersion, metadata), the items'
/// cached JSON, the closing brackets.
struct ListWriter {
    head: Option<Vec<u8>>,
    items: std::vec::IntoIter<Arc<CachedObject>>,
    wrote_item: bool,
    /// Bytes not written yet (0 once the closing brackets are out).
    remaining: usize,
}

impl ListWriter {
    fn new(head: Vec<u8>, items: Vec<Arc<CachedObject>>) -> Self {
        // An upper bound: one comma per item, though the first has none.
        let remaining = head.len() + items.iter().map(|o| o.json.len() + 1).sum::<usize>() + 2;
        Self {
            head: Some(head),
            items: items.into_iter(),
            wrote_item: false,
            remaining,
        }
    }

    /// The next `size` bytes or so (whole items), or None when all is written.
    fn next_chunk(&mut self, size: usize) -> Option<Vec<u8>> {
        if self.remaining == 0 {
            return None;
        }
        let mut out = self.head.take().unwrap_or_default();
        out.reserve(size.min(self.remaining).saturating_sub(out.len()));
        while out.len() < size {
            match self.items.next() {
                Some(item) => {
                    if self.wrote_item {
                        out.push(b',');
                    }
                    self.wrote_item = true;
                    out.extend_from_slice(&item.json);
                }
                None => {
                    out.extend_from_slice(b"]}");
                    self.remaining = 0;
                    return Some(out);
                }
            }
        }
        self.remaining = self.remaining.saturating_sub(out.len());
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Arc<CachedObject>> {
        (0..n)
            .filter_map(|i| {
                let key = format!("/registry/core/configmaps/d/cm-{i}");
                let v = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("cm-{i}"), "namespace": "d", "resourceVersion": "5"},
                    "data": {"k": "x".repeat(i * 7)}});
                CachedObject::from_value(&key, &v, 5).map(Arc::new)
            })
            .collect()
    }

    fn written(n: usize, chunk: usize) -> (Vec<u8>, usize) {
        let mut w = ListWriter::new(b"{\"items\":[".to_vec(), items(n));
        let (mut out, mut chunks) = (Vec::new(), 0);
        while let Some(c) = w.next_chunk(chunk) {
            out.extend_from_slice(&c);
            chunks += 1;
        }
        (out, chunks)
    }

    #[test]
    fn chunked_lists_are_the_same_bytes_as_whole_ones() {
        let (whole, one) = written(40, usize::MAX);
        let (chunked, many) = written(40, 512);
        assert_eq!(one, 1);
        assert!(many > 5, "{many} chunks");
        assert_eq!(whole, chunked);
        let v: Value = serde_json::from_slice(&whole).expect("a JSON list");
        let expected: Vec<Value> = items(40).iter().map(|o| o.value()).collect();
        assert_eq!(v["items"], Value::Array(expected));
        let (empty, _) = written(0, 512);
        assert_eq!(empty, b"{\"items\":[]}");
    }

    #[test]
    fn filters_read_the_index() {
        let info = berth_api::registry::lookup("", "v1", "pods").expect("pods registered");
        let pod = json!({"metadata": {"name": "p", "namespace": "d", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let idx = ObjectIndex::of("/registry/core/pods/d/p", &pod);
        let filter = |q: &str| Filter::from_query(info, &Query::parse(Some(q))).expect("filter");
        assert!(filter("labelSelector=app%3Dweb&fieldSelector=spec.nodeName%3Dn1").matches(&idx));
        assert!(
            filter("fieldSelector=status.phase!%3DPending,metadata.namespace%3Dd").matches(&idx)
        );
        assert!(!filter("fieldSelector=spec.nodeName%3Dn2").matches(&idx));
        assert!(!filter("labelSelector=app%3Dapi").matches(&idx));
    }
}
