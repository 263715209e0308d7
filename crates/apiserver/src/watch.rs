//! Watches: chunked JSON, one event per line. Subscribe first, then replay
//! (synthetic ADDED or history after the given resourceVersion), then live
//! events from the cache's broadcast — no gap, no duplicate.

use crate::body;
use crate::cache::{CacheEvent, CachedObject, LiveEvent, Objects, WatchEventType};
use crate::list::Filter;
use crate::object_index::ObjectIndex;
use crate::request::Query;
use crate::rest::{collection_prefix, Reply};
use crate::watch_encode::{expired, Encoder};
use crate::Server;
use axum::body::Body;
use axum::http::{header, HeaderMap, Response, StatusCode};
use berth_api::status::ApiError;
use berth_api::ResourceInfo;
use berth_store::Revision;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// Which event (if any) a filtered watcher sees for a change.
fn filtered(filter: &Filter, ev: &CacheEvent) -> Option<&'static str> {
    if filter.is_empty() {
        return Some(ev.event_type.as_str());
    }
    let new_match = filter.matches(&ev.object.index);
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
    // Pinned to a node: woken only by that node's pod events (`watch_index`).
    let mut live = srv
        .cache
        .subscribe_live(crate::watch_index::pinned_node(info, &filter));
    let mut enc = Encoder::new(info, want, q.clone());
    // Lines after the replay (the initial-events bookmark).
    let mut after_replay: Vec<bytes::Bytes> = Vec::new();
    let mut last_rev: Revision;
    let replay: Replay;

    if rv.is_empty() || rv == "0" || send_initial {
        if rv.is_empty() && !send_initial {
            srv.cache
                .sync()
                .await
                .map_err(|e| crate::rest::store_err(info, "", e))?;
        }
        let (rev, objects) = srv.cache.snapshot();
        // Kinds the cache does not hold (Events) list the store at the
        // cache's revision: live events after it follow without a gap.
        replay = if crate::cache::is_cached_prefix(&prefix) {
            Replay::Snapshot(objects)
        } else {
            Replay::Store(rev)
        };
        if send_initial && bookmarks {
            after_replay.push(enc.bookmark(rev, true));
        }
        last_rev = rev;
    } else {
        let from: Revision = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
        last_rev = from;
        match srv.cache.events_after(from, &prefix) {
            Some(events) => {
                last_rev = events.last().map_or(from, |e| e.revision);
                replay = Replay::Ring(events);
            }
            None => {
                // Older than the ring: replay from the store's history up to the cache's revision.
                match srv.store.watch(&prefix, from).await {
                    Ok(stream) => {
                        let until = srv.cache.revision();
                        replay = Replay::History(stream, until);
                    }
                    Err(berth_store::StoreError::Compacted { compacted, .. }) => {
                        return Ok(stream_response(vec![expired(from, compacted)], None));
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
        // Lines are made as the client takes them, so a large replay is never held whole.
        let replayed = match replay {
            Replay::Snapshot(objects) => {
                let lower = std::ops::Bound::Included(prefix.clone());
                let mut ok = true;
                for (key, cached) in objects.range((lower, std::ops::Bound::Unbounded)) {
                    if !key.starts_with(&prefix) {
                        break;
                    }
                    if filter.matches(&cached.index)
                        && tx.send(enc.event("ADDED", cached, None)).await.is_err()
                    {
                        ok = false;
                        break;
                    }
                }
                ok
            }
            Replay::Store(rev) => replay_store(&srv, &prefix, rev, &filter, &mut enc, &tx).await,
            Replay::Ring(events) => {
                let mut ok = true;
                for ev in events {
                    if let Some(kind) = filtered(&filter, &ev) {
                        if tx.send(enc.event(kind, &ev.object, None)).await.is_err() {
                            ok = false;
                            break;
                        }
                    }
                }
                ok
            }
            Replay::History(stream, until) => {
                let ok = replay_history(stream, until, &filter, &mut enc, &tx, &mut last_rev).await;
                last_rev = last_rev.max(until);
                ok
            }
        };
        if !replayed {
            srv.metrics.watch_ended(info.plural);
            return;
        }
        for b in after_replay {
            if tx.send(b).await.is_err() {
                srv.metrics.watch_ended(info.plural);
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
                    // Live events carry lines other watchers may have encoded already;
                    // ring events (catching up) are encoded here.
                    let events: Vec<(Arc<CacheEvent>, Option<Arc<LiveEvent>>)> = match msg {
                        Ok(live) => vec![(live.event.clone(), Some(live))],
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            // Fell behind: catch up from the ring, or give up with 410.
                            match srv.cache.events_after(last_rev, &prefix) {
                                Some(evs) => evs.into_iter().map(|e| (e, None)).collect(),
                                None => {
                                    let _ = tx.send(expired(last_rev, srv.cache.ring_floor())).await;
                                    break;
                                }
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    };
                    for (ev, live) in events {
                        if ev.revision <= last_rev || !ev.key.starts_with(&prefix) {
                            continue;
                        }
                        last_rev = ev.revision;
                        if let Some(kind) = filtered(&filter, &ev) {
                            let line = enc.event(kind, &ev.object, live.as_ref().map(|l| &l.lines));
                            if tx.send(line).await.is_err() {
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

/// What a watch sends before live events.
enum Replay {
    /// A synthetic ADDED for every matching object of a snapshot.
    Snapshot(Objects),
    /// A synthetic ADDED for every matching object the store holds at this
    /// revision (kinds the cache does not hold).
    Store(Revision),
    /// Events after the requested resourceVersion, from the cache's ring.
    Ring(Vec<Arc<CacheEvent>>),
    /// The store's history up to the given revision (resume from before the ring).
    History(berth_store::WatchStream, Revision),
}

/// Send an ADDED for every matching object under `prefix` in the store at
/// `rev`, read a page at a time as the client takes them; false when the
/// client went away or the read failed (the watch then ends, and the client
/// starts over).
async fn replay_store(
    srv: &Server,
    prefix: &str,
    rev: Revision,
    filter: &Filter,
    enc: &mut Encoder,
    tx: &mpsc::Sender<bytes::Bytes>,
) -> bool {
    let mut start_after = None;
    loop {
        let page = match srv
            .store
            .list(berth_store::ListOptions {
                prefix: prefix.to_string(),
                start_after: start_after.clone(),
                limit: Some(500),
                revision: Some(rev),
                skip_remaining_count: true,
            })
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!("watch {prefix}: store list at {rev}: {e}");
                return false;
            }
        };
        for kv in &page.items {
            let wanted = |index: &ObjectIndex| filter.matches(index);
            let Some(obj) = CachedObject::decode_if(&kv.key, &kv.value, kv.mod_revision, wanted)
            else {
                continue;
            };
            if tx.send(enc.event("ADDED", &obj, None)).await.is_err() {
                return false;
            }
        }
        start_after = page.items.last().map(|kv| kv.key.clone());
        if !page.more || start_after.is_none() {
            return true;
        }
    }
}

/// Send the store's history up to `until`; false when the client went away.
async fn replay_history(
    mut history: berth_store::WatchStream,
    until: Revision,
    filter: &Filter,
    enc: &mut Encoder,
    tx: &mpsc::Sender<bytes::Bytes>,
    last_rev: &mut Revision,
) -> bool {
    // The store gives the previous version with each change; this covers it when absent.
    let mut prev_by_key: HashMap<String, Arc<ObjectIndex>> = HashMap::new();
    while let Some(item) = history.next().await {
        let Ok(ev) = item else { break };
        let rev = ev.kv.mod_revision;
        if rev > until {
            break;
        }
        let Some(obj) = CachedObject::decode(&ev.kv.key, &ev.kv.value, rev) else {
            continue;
        };
        let prev = ev
            .prev
            .as_ref()
            .and_then(|p| CachedObject::decode(&p.key, &p.value, p.mod_revision))
            .map(|p| p.index)
            .or_else(|| prev_by_key.get(&ev.kv.key).cloned());
        let event_type = match (ev.event_type, &prev) {
            (berth_store::EventType::Delete, _) => WatchEventType::Deleted,
            (_, Some(_)) => WatchEventType::Modified,
            (_, None) => WatchEventType::Added,
        };
        let obj = Arc::new(obj);
        prev_by_key.insert(ev.kv.key.clone(), obj.index.clone());
        let ce = CacheEvent {
            revision: rev,
            key: ev.kv.key,
            event_type,
            object: obj,
            prev,
        };
        if let Some(kind) = filtered(filter, &ce) {
            if tx.send(enc.event(kind, &ce.object, None)).await.is_err() {
                return false;
            }
        }
        *last_rev = rev;
    }
    true
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(event_type: WatchEventType, node: &str, prev_node: Option<&str>) -> CacheEvent {
        let key = "/registry/core/pods/d/p";
        let pod =
            |n: &str| json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeName": n}});
        CacheEvent {
            revision: 9,
            key: key.into(),
            event_type,
            object: Arc::new(CachedObject::from_value(key, &pod(node), 9).expect("encodes")),
            prev: prev_node.map(|n| Arc::new(ObjectIndex::of(key, &pod(n)))),
        }
    }

    #[test]
    fn filtered_watchers_see_entering_and_leaving_as_add_and_delete() {
        let info = berth_api::registry::lookup("", "v1", "pods").expect("pods registered");
        let on_n1 = Filter::from_query(
            info,
            &Query::parse(Some("fieldSelector=spec.nodeName%3Dn1")),
        )
        .expect("filter");
        let m = WatchEventType::Modified;
        assert_eq!(filtered(&on_n1, &event(m, "n1", Some(""))), Some("ADDED"));
        assert_eq!(
            filtered(&on_n1, &event(m, "n1", Some("n1"))),
            Some("MODIFIED")
        );
        assert_eq!(
            filtered(&on_n1, &event(m, "n2", Some("n1"))),
            Some("DELETED")
        );
        assert_eq!(filtered(&on_n1, &event(m, "n2", Some("n3"))), None);
        let d = WatchEventType::Deleted;
        assert_eq!(
            filtered(&on_n1, &event(d, "n1", Some("n1"))),
            Some("DELETED")
        );
        let all = Filter::from_query(info, &Query::default()).expect("filter");
        assert_eq!(
            filtered(&all, &event(m, "n2", Some("n1"))),
            Some("MODIFIED")
        );
    }
}
