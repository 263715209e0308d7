//! Watches: chunked JSON, one event per line. Subscribe first, then replay
//! (synthetic ADDED or history after the given resourceVersion), then live
//! events from the cache's broadcast — no gap, no duplicate.

use crate::body::{self, Want};
use crate::cache::{CacheEvent, WatchEventType};
use crate::list::Filter;
use crate::request::Query;
use crate::rest::{collection_prefix, Reply};
use crate::{convert, table, Server};
use axum::body::Body;
use axum::http::{header, HeaderMap, Response, StatusCode};
use berth_api::status::ApiError;
use berth_api::ResourceInfo;
use berth_store::Revision;
use futures::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

struct Encoder {
    info: &'static ResourceInfo,
    want: Want,
    sent_columns: bool,
    q: Query,
}

impl Encoder {
    fn event(&mut self, kind: &str, obj: &Value) -> bytes::Bytes {
        let obj = convert::to_served(self.info, obj.clone());
        let object = match self.want {
            Want::Table => {
                let mut t = table::table_for(self.info, &[Arc::new(obj)], None, &self.q);
                if self.sent_columns {
                    t["columnDefinitions"] = json!([]);
                }
                self.sent_columns = true;
                t
            }
            Want::PartialMetadata => table::partial_metadata(&obj),
            Want::Object => obj,
        };
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        line.push(b'\n');
        bytes::Bytes::from(line)
    }

    fn bookmark(&self, rev: Revision, initial_end: bool) -> bytes::Bytes {
        let mut meta = json!({"resourceVersion": rev.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.info.kind, "apiVersion": self.info.api_version(), "metadata": meta});
        let mut line =
            serde_json::to_vec(&json!({"type": "BOOKMARK", "object": obj})).unwrap_or_default();
        line.push(b'\n');
        bytes::Bytes::from(line)
    }
}

fn expired(rev: Revision, floor: Revision) -> bytes::Bytes {
    let status = ApiError::gone(format!("too old resource version: {rev} ({floor})")).to_status();
    let mut line =
        serde_json::to_vec(&json!({"type": "ERROR", "object": status})).unwrap_or_default();
    line.push(b'\n');
    bytes::Bytes::from(line)
}

/// Which event (if any) a filtered watcher sees for a change.
fn filtered(filter: &Filter, ev: &CacheEvent) -> Option<&'static str> {
    let new_match = filter.matches(&ev.object);
    if filter.is_empty() {
        return Some(ev.event_type.as_str());
    }
    let old_match = ev.prev.as_ref().is_some_and(|p| filter.matches(p));
    match ev.event_type {
        WatchEventType::Added => new_match.then_some("ADDED"),
        WatchEventType::Deleted => (old_match || new_match).then_some("DELETED"),
        WatchEventType::Modified => match (old_match, new_match) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        },
    }
}

pub async fn watch(
    srv: &Arc<Server>,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    _name: Option<&str>,
    q: &Query,
    headers: &HeaderMap,
) -> Reply {
    let filter = Filter::from_query(info, q)?;
    let prefix = collection_prefix(info, ns);
    let timeout = match q.int("timeoutSeconds")? {
        Some(t) if t > 0 => Duration::from_secs(t as u64),
        _ => Duration::from_secs(1800 + rand::random_range(0..1800)),
    };
    let bookmarks = q.flag("allowWatchBookmarks");
    let send_initial = q.flag("sendInitialEvents");
    let rv = q.get("resourceVersion").unwrap_or("").to_string();
    let want = body::want(headers);

    // Subscribe before reading anything so nothing falls between replay and live.
    let mut live = srv.cache.subscribe();
    let mut enc = Encoder {
        info,
        want,
        sent_columns: false,
        q: q.clone(),
    };
    let mut first: Vec<bytes::Bytes> = Vec::new();
    let mut last_rev: Revision;
    let mut history: Option<berth_store::WatchStream> = None;
    let mut history_until: Revision = 0;

    if rv.is_empty() || rv == "0" || send_initial {
        if rv.is_empty() && !send_initial {
            srv.cache
                .sync()
                .await
                .map_err(|e| crate::rest::store_err(info, "", e))?;
        }
        let (rev, objects) = srv.cache.snapshot();
        let lower = std::ops::Bound::Included(prefix.clone());
        for (key, cached) in objects.range((lower, std::ops::Bound::Unbounded)) {
            if !key.starts_with(&prefix) {
                break;
            }
            if filter.matches(&cached.object) {
                first.push(enc.event("ADDED", &cached.object));
            }
        }
        if send_initial && bookmarks {
            first.push(enc.bookmark(rev, true));
        }
        last_rev = rev;
    } else {
        let from: Revision = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
        last_rev = from;
        match srv.cache.events_after(from, &prefix) {
            Some(events) => {
                for ev in events {
                    if let Some(kind) = filtered(&filter, &ev) {
                        first.push(enc.event(kind, &ev.object));
                    }
                    last_rev = ev.revision;
                }
            }
            None => {
                // Older than the ring: replay from the store's history up to the cache's revision.
                match srv.store.watch(&prefix, from).await {
                    Ok(stream) => {
                        history = Some(stream);
                        history_until = srv.cache.revision();
                    }
                    Err(berth_store::StoreError::Compacted { compacted, .. }) => {
                        first.push(expired(from, compacted));
                        return Ok(stream_response(first, None));
                    }
                    Err(e) => return Err(crate::rest::store_err(info, "", e)),
                }
            }
        }
    }

    let (tx, rx) = mpsc::channel::<bytes::Bytes>(256);
    let srv = srv.clone();
    srv.metrics.watch_started(info.plural);
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut bookmark_tick = tokio::time::interval(Duration::from_secs(60));
        bookmark_tick.tick().await;
        // History from the store (resume after a restart or from long ago).
        if let Some(mut h) = history {
            let mut prev_by_key: std::collections::HashMap<String, Arc<Value>> = Default::default();
            while let Some(item) = h.next().await {
                let Ok(ev) = item else { break };
                let rev = ev.kv.mod_revision;
                if rev > history_until {
                    break;
                }
                let Some(obj) = crate::cache::decode_stored(&ev.kv.value, rev) else {
                    continue;
                };
                let prev = ev
                    .prev
                    .as_ref()
                    .and_then(|p| crate::cache::decode_stored(&p.value, p.mod_revision))
                    .map(Arc::new)
                    .or_else(|| prev_by_key.get(&ev.kv.key).cloned());
                let event_type = match (ev.event_type, &prev) {
                    (berth_store::EventType::Delete, _) => WatchEventType::Deleted,
                    (_, Some(_)) => WatchEventType::Modified,
                    (_, None) => WatchEventType::Added,
                };
                let obj = Arc::new(obj);
                let ce = CacheEvent {
                    revision: rev,
                    key: ev.kv.key.clone(),
                    event_type,
                    object: obj.clone(),
                    prev,
                };
                prev_by_key.insert(ev.kv.key.clone(), obj);
                if let Some(kind) = filtered(&filter, &ce) {
                    if tx.send(enc.event(kind, &ce.object)).await.is_err() {
                        return;
                    }
                }
                last_rev = rev;
            }
            last_rev = last_rev.max(history_until);
        }
        for b in first {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = tx.closed() => break,
                _ = bookmark_tick.tick(), if bookmarks => {
                    let rev = srv.cache.revision().max(last_rev);
                    if tx.send(enc.bookmark(rev, false)).await.is_err() { break; }
                }
                msg = live.recv() => {
                    let events: Vec<Arc<CacheEvent>> = match msg {
                        Ok(ev) => vec![ev],
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            // Fell behind: catch up from the ring, or give up with 410.
                            match srv.cache.events_after(last_rev, &prefix) {
                                Some(evs) => evs,
                                None => {
                                    let _ = tx.send(expired(last_rev, srv.cache.ring_floor())).await;
                                    break;
                                }
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    };
                    for ev in events {
                        if ev.revision <= last_rev || !ev.key.starts_with(&prefix) {
                            continue;
                        }
                        last_rev = ev.revision;
                        if let Some(kind) = filtered(&filter, &ev) {
                            if tx.send(enc.event(kind, &ev.object)).await.is_err() {
                                srv.metrics.watch_ended(info.plural);
                                return;
                            }
                        }
                    }
                }
            }
        }
        srv.metrics.watch_ended(info.plural);
    });
    Ok(stream_response(Vec::new(), Some(rx)))
}

fn stream_response(
    first: Vec<bytes::Bytes>,
    rx: Option<mpsc::Receiver<bytes::Bytes>>,
) -> Response<Body> {
    let head = futures::stream::iter(first.into_iter().map(Ok::<_, std::io::Error>));
    let body = match rx {
        Some(rx) => {
            Body::from_stream(head.chain(tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok)))
        }
        None => Body::from_stream(head),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(body)
        .unwrap_or_default()
}
