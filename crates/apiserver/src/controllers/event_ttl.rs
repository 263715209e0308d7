//! Event TTL (kube-apiserver's `--event-ttl`, 1 h by default): an Event is
//! deleted once its last write is older than the TTL. Upstream attaches an
//! etcd lease to every write of an Event; here a time-ordered queue of
//! (expiry, key, revision) is fed from the cache's broadcast, so nothing
//! scans the Events to find the expired ones, and an Event written again (a
//! repeat bumping `count`) lives a TTL from that write.
//!
//! ```text
//! cache broadcast ─▶ follow: Event written at rev R ─▶ queue: live[key] = R,
//!                  │                                  heap += (now + ttl, key, R)
//!                  ├▶ Event deleted ─▶ live -= key
//!                  └▶ lagged / start ─▶ reconcile with a store list
//! sweep: sleep until the earliest expiry ─▶ pop due entries whose R is still
//!        live[key] ─▶ store.delete(key, expected R) (a CAS: a write since
//!        then wins) ─▶ watchers see DELETED
//! ```
//!
//! Expiry counts from when the server saw the write. After a restart the
//! write times are gone; an Event then expires a TTL after the newest
//! timestamp it carries (lastTimestamp, eventTime, series, managedFields,
//! creationTimestamp).

use crate::cache::{WatchEventType, EVENT_PREFIXES};
use crate::Server;
use berth_store::{Revision, StoreError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Notify;

/// At most this many Events are deleted per round; further due ones wait
/// `ROUND_PAUSE`, so a backlog (e.g. after a long downtime) leaves the store
/// to other writers in between.
const ROUND: usize = 1000;
const ROUND_PAUSE: Duration = Duration::from_millis(100);
/// Deletes in flight at once (the SQLite writer commits concurrent ones together).
const CONCURRENT_DELETES: usize = 16;
/// A delete that failed for another reason than a newer write is tried again after this.
const RETRY_AFTER: Duration = Duration::from_secs(10);
/// The sweeper wakes at least this often, even with nothing queued.
const MAX_SLEEP: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    expires: Instant,
    revision: Revision,
    key: Arc<str>,
}

/// Which Events expire when. `live` holds the latest revision of every
/// Event followed; the heap may also hold entries of revisions written over
/// since (skipped when popped, dropped when they outnumber the live ones).
#[derive(Debug)]
pub struct ExpiryQueue {
    ttl: Duration,
    live: HashMap<Arc<str>, Revision>,
    heap: BinaryHeap<Reverse<Entry>>,
}

impl ExpiryQueue {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            live: HashMap::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// `key` was written at `revision`, seen at `now`: it expires a TTL later.
    /// True when that is now the earliest expiry (the sweeper should re-plan).
    pub fn written(&mut self, key: &str, revision: Revision, now: Instant) -> bool {
        self.written_until(key, revision, now + self.ttl)
    }

    /// `key` at `revision` expires at `expires`. An older revision than the
    /// one followed is ignored (a change already superseded).
    pub fn written_until(&mut self, key: &str, revision: Revision, expires: Instant) -> bool {
        let key: Arc<str> = match self.live.get_key_value(key) {
            Some((_, latest)) if *latest >= revision => return false,
            Some((known, _)) => known.clone(),
            None => Arc::from(key),
        };
        self.live.insert(key.clone(), revision);
        self.heap.push(Reverse(Entry {
            expires,
            revision,
            key,
        }));
        self.drop_superseded();
        self.heap
            .peek()
            .is_some_and(|Reverse(e)| e.revision == revision && e.expires == expires)
    }

    /// `key` was deleted at `revision` (by anyone): forget it, unless it was
    /// written again after that.
    pub fn deleted(&mut self, key: &str, revision: Revision) {
        if self.live.get(key).is_some_and(|latest| *latest < revision) {
            self.live.remove(key);
        }
    }

    /// Up to `max` Events due at `now`, each with the revision to delete it
    /// at. They are no longer followed: a failed delete is `retry`d.
    pub fn take_due(&mut self, now: Instant, max: usize) -> Vec<(Arc<str>, Revision)> {
        let mut due = Vec::new();
        while due.len() < max {
            match self.heap.peek() {
                Some(Reverse(e)) if e.expires <= now => {}
                _ => break,
            }
            let Some(Reverse(e)) = self.heap.pop() else {
                break;
            };
            if self.live.get(&e.key) == Some(&e.revision) {
                self.live.remove(&e.key);
                due.push((e.key, e.revision));
            }
        }
        due
    }

    /// A delete of `key` at `revision` failed: try again at `when`, unless
    /// a newer write is followed by now.
    pub fn retry(&mut self, key: &str, revision: Revision, when: Instant) {
        if !self.live.contains_key(key) {
            self.written_until(key, revision, when);
        }
    }

    /// The earliest expiry queued (possibly of a superseded entry: a wake-up
    /// that finds nothing to do).
    pub fn next_expiry(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.expires)
    }

    /// Make the queue agree with the Events stored under `prefix` at
    /// revision `at` (at start, or after missing broadcast events): `stored`
    /// gives each one's key, revision and the expiry to use if it is new or
    /// changed. Events under `prefix` followed at revisions up to `at` that
    /// are no longer stored are dropped.
    pub fn reconcile(
        &mut self,
        prefix: &str,
        at: Revision,
        stored: impl IntoIterator<Item = (String, Revision, Instant)>,
    ) {
        let mut seen = HashSet::new();
        for (key, revision, expires) in stored {
            if self.live.get(key.as_str()) != Some(&revision) {
                self.written_until(&key, revision, expires);
            }
            seen.insert(key);
        }
        self.live.retain(|key, revision| {
            !key.starts_with(prefix) || *revision > at || seen.contains(&**key)
        });
        self.drop_superseded();
    }

    /// Events followed.
    pub fn len(&self) -> usize {
        self.live.len()
    }
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Entries kept, superseded ones included (for tests).
    pub fn queued(&self) -> usize {
        self.heap.len()
    }

    /// Rebuild the heap without superseded entries once they are as many
    /// as the live ones (amortized O(1) per write; bounds the heap at 2×).
    fn drop_superseded(&mut self) {
        if self.heap.len() <= 2 * self.live.len() + 1024 {
            return;
        }
        let live = &self.live;
        let heap = std::mem::take(&mut self.heap);
        self.heap = heap
            .into_iter()
            .filter(|Reverse(e)| live.get(&e.key) == Some(&e.revision))
            .collect();
    }
}

/// The timestamps an Event carries; the newest is taken as its last write.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WriteTimes {
    metadata: MetaTimes,
    last_timestamp: Option<String>,
    event_time: Option<String>,
    deprecated_last_timestamp: Option<String>,
    series: Option<SeriesTimes>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct MetaTimes {
    creation_timestamp: Option<String>,
    managed_fields: Option<Vec<ManagedTime>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SeriesTimes {
    last_observed_time: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ManagedTime {
    time: Option<String>,
}

/// The newest timestamp in a stored Event (None if it has none that parses).
pub fn last_written(stored: &[u8]) -> Option<DateTime<Utc>> {
    let t: WriteTimes = serde_json::from_slice(stored).ok()?;
    let managed = t.metadata.managed_fields.into_iter().flatten();
    [
        t.last_timestamp,
        t.event_time,
        t.deprecated_last_timestamp,
        t.series.and_then(|s| s.last_observed_time),
        t.metadata.creation_timestamp,
    ]
    .into_iter()
    .chain(managed.map(|m| m.time))
    .flatten()
    .filter_map(|s| DateTime::parse_from_rfc3339(&s).ok())
    .map(|t| t.with_timezone(&Utc))
    .max()
}

/// When an Event last written at `written` (wall clock) expires, on the
/// monotonic clock: `now` if already past, a TTL from now if unknown.
pub fn expiry_of(
    written: Option<DateTime<Utc>>,
    ttl: Duration,
    now: Instant,
    wall_now: DateTime<Utc>,
) -> Instant {
    let Some(written) = written else {
        return now + ttl;
    };
    let age = (wall_now - written).to_std().unwrap_or(Duration::ZERO);
    now + ttl.saturating_sub(age)
}

fn is_event(key: &str) -> bool {
    EVENT_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Start the follower and the sweeper (not with a zero TTL: Events kept forever).
pub fn spawn(srv: &Arc<Server>) {
    let ttl = srv.config.event_ttl;
    if ttl.is_zero() {
        return;
    }
    let queue = Arc::new(Mutex::new(ExpiryQueue::new(ttl)));
    let wake = Arc::new(Notify::new());
    // Subscribed before the first store list, so no write falls in between.
    let events = srv.cache.subscribe();
    let (s, q, w) = (srv.clone(), queue.clone(), wake.clone());
    tokio::spawn(async move { follow(s, events, q, w).await });
    let s = srv.clone();
    tokio::spawn(async move { sweep(s, queue, wake).await });
}

fn lock(queue: &Mutex<ExpiryQueue>) -> std::sync::MutexGuard<'_, ExpiryQueue> {
    queue.lock().unwrap_or_else(|p| p.into_inner())
}

async fn follow(
    srv: Arc<Server>,
    mut events: tokio::sync::broadcast::Receiver<Arc<crate::cache::LiveEvent>>,
    queue: Arc<Mutex<ExpiryQueue>>,
    wake: Arc<Notify>,
) {
    let mut starting = true;
    let mut in_sync = false;
    loop {
        if !in_sync {
            match resync(&srv, &queue, starting).await {
                Ok(()) => {
                    in_sync = true;
                    starting = false;
                    wake.notify_one();
                }
                Err(e) => {
                    tracing::warn!("event TTL: listing events: {e}");
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            }
        }
        match events.recv().await {
            Ok(live) => {
                let ev = &live.event;
                if !is_event(&ev.key) {
                    continue;
                }
                let mut q = lock(&queue);
                match ev.event_type {
                    WatchEventType::Deleted => q.deleted(&ev.key, ev.revision),
                    _ => {
                        if q.written(&ev.key, ev.revision, Instant::now()) {
                            wake.notify_one();
                        }
                    }
                }
            }
            // Missed writes: the store tells which Events changed meanwhile.
            Err(RecvError::Lagged(_)) => in_sync = false,
            Err(RecvError::Closed) => return,
        }
    }
}

/// Reconcile the queue with every stored Event. At start their write times
/// come from their timestamps; after a lag, an Event new or changed since
/// was written just now (within the lag).
async fn resync(
    srv: &Server,
    queue: &Mutex<ExpiryQueue>,
    starting: bool,
) -> Result<(), StoreError> {
    let ttl = srv.config.event_ttl;
    for prefix in EVENT_PREFIXES {
        let mut stored = Vec::new();
        let (now, wall_now) = (Instant::now(), Utc::now());
        let at = berth_store::scan(srv.store.as_ref(), prefix, |kv| {
            let written = if starting {
                last_written(&kv.value)
            } else {
                None
            };
            let expires = expiry_of(written, ttl, now, wall_now);
            stored.push((kv.key, kv.mod_revision, expires));
        })
        .await?;
        lock(queue).reconcile(prefix, at, stored);
    }
    Ok(())
}

async fn sweep(srv: Arc<Server>, queue: Arc<Mutex<ExpiryQueue>>, wake: Arc<Notify>) {
    loop {
        let next = lock(&queue).next_expiry();
        let until = next
            .map(|t| t.min(Instant::now() + MAX_SLEEP))
            .unwrap_or_else(|| Instant::now() + MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(until)) => {}
            _ = wake.notified() => continue,
        }
        loop {
            let due = lock(&queue).take_due(Instant::now(), ROUND);
            let full = due.len() == ROUND;
            futures::stream::iter(due)
                .for_each_concurrent(CONCURRENT_DELETES, |(key, rev)| {
                    let (srv, queue) = (&srv, &queue);
                    async move { expire(srv, queue, &key, rev).await }
                })
                .await;
            if !full {
                break;
            }
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }
}

/// Delete one expired Event at the revision that expired; a write since
/// then makes the delete a conflict, and the Event lives on.
async fn expire(srv: &Server, queue: &Mutex<ExpiryQueue>, key: &str, rev: Revision) {
    match srv.store.delete(key, Some(rev)).await {
        Ok(_) => tracing::debug!("event TTL: deleted {key}"),
        Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound(_)) => {}
        Err(e) => {
            tracing::warn!("event TTL: delete {key}: {e}");
            lock(queue).retry(key, rev, Instant::now() + RETRY_AFTER);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    fn keys(due: &[(Arc<str>, Revision)]) -> Vec<(&str, Revision)> {
        due.iter().map(|(k, r)| (&**k, *r)).collect()
    }

    #[test]
    fn events_expire_a_ttl_after_their_write_in_order() {
        let t0 = Instant::now();
        let mut q = ExpiryQueue::new(TTL);
        assert!(q.written("/e/a", 10, t0), "first entry is the earliest");
        assert!(!q.written("/e/b", 11, t0 + Duration::from_secs(5)));
        assert!(q.take_due(t0 + Duration::from_secs(59), 10).is_empty());
        assert_eq!(
            keys(&q.take_due(t0 + Duration::from_secs(60), 10)),
            [("/e/a", 10)]
        );
        assert_eq!(
            keys(&q.take_due(t0 + Duration::from_secs(70), 10)),
            [("/e/b", 11)]
        );
        assert!(q.is_empty());
        assert_eq!(q.next_expiry(), None);
    }

    #[test]
    fn a_rewritten_event_lives_a_ttl_from_its_last_write() {
        let t0 = Instant::now();
        let mut q = ExpiryQueue::new(TTL);
        q.written("/e/a", 10, t0);
        q.written("/e/a", 20, t0 + Duration::from_secs(50));
        // The first write's entry is due but superseded: nothing to delete.
        assert!(q.take_due(t0 + Duration::from_secs(61), 10).is_empty());
        assert_eq!(q.len(), 1);
        assert_eq!(
            keys(&q.take_due(t0 + Duration::from_secs(110), 10)),
            [("/e/a", 20)]
        );
    }

    #[test]
    fn stale_and_deleted_changes_do_not_resurrect_or_expire_events() {
        let t0 = Instant::now();
        let mut q = ExpiryQueue::new(TTL);
        q.written("/e/a", 20, t0);
        // A change older than the one followed (a replay after a resync) is ignored.
        q.written("/e/a", 15, t0 + Duration::from_secs(30));
        // A delete older than the latest write does not forget it.
        q.deleted("/e/a", 18);
        assert_eq!(q.len(), 1);
        q.deleted("/e/a", 25);
        assert!(q.is_empty());
        assert!(q.take_due(t0 + Duration::from_secs(200), 10).is_empty());
    }

    #[test]
    fn due_events_come_out_in_bounded_rounds_and_failures_retry() {
        let t0 = Instant::now();
        let mut q = ExpiryQueue::new(TTL);
        for i in 0..25 {
            q.written(&format!("/e/{i:02}"), 100 + i, t0);
        }
        let late = t0 + Duration::from_secs(61);
        let first = q.take_due(late, 10);
        assert_eq!(first.len(), 10);
        assert_eq!(q.take_due(late, 10).len(), 10);
        assert_eq!(q.take_due(late, 10).len(), 5);
        // A failed delete comes back when asked to, not before.
        let (key, rev) = first[0].clone();
        q.retry(&key, rev, late + Duration::from_secs(10));
        assert!(q.take_due(late, 10).is_empty());
        assert_eq!(
            keys(&q.take_due(late + Duration::from_secs(10), 10)),
            [(&*key, rev)]
        );
        // ... unless the Event was written again meanwhile.
        q.written("/e/00", 500, late);
        q.retry("/e/00", 100, late);
        assert!(q.take_due(late + Duration::from_secs(1), 10).is_empty());
    }

    #[test]
    fn superseded_entries_are_dropped_as_they_pile_up() {
        let t0 = Instant::now();
        let mut q = ExpiryQueue::new(TTL);
        for rev in 1..=5000 {
            q.written("/e/hot", rev, t0 + Duration::from_millis(rev as u64));
        }
        assert_eq!(q.len(), 1);
        assert!(q.queued() <= 2 + 1024 + 1, "{} entries", q.queued());
    }

    #[test]
    fn reconcile_adds_changed_drops_gone_and_keeps_newer() {
        let t0 = Instant::now();
        let mut q = ExpiryQueue::new(TTL);
        q.written("/e/same", 10, t0);
        q.written("/e/changed", 11, t0);
        q.written("/e/gone", 12, t0);
        q.written("/e/newer", 40, t0); // seen after the list's revision
        let soon = t0 + Duration::from_secs(1);
        q.reconcile(
            "/e/",
            30,
            [
                ("/e/same".to_string(), 10, soon),
                ("/e/changed".to_string(), 25, soon),
                ("/e/new".to_string(), 26, soon),
            ],
        );
        assert_eq!(q.len(), 4);
        let taken = q.take_due(soon, 10);
        let mut due = keys(&taken);
        due.sort();
        // Unchanged keeps its first expiry (a TTL after t0); the changed and
        // new ones take the given one.
        assert_eq!(due, [("/e/changed", 25), ("/e/new", 26)]);
        let taken = q.take_due(t0 + TTL, 10);
        let mut rest = keys(&taken);
        rest.sort();
        assert_eq!(rest, [("/e/newer", 40), ("/e/same", 10)]);
        // Another prefix's reconcile leaves these alone.
        q.written("/e/other", 50, t0);
        q.reconcile("/f/", 60, []);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn a_stored_event_expires_a_ttl_after_its_newest_timestamp() {
        let ev = serde_json::json!({
            "metadata": {"name": "e", "creationTimestamp": "2025-01-01T00:00:00Z",
                "managedFields": [{"manager": "kubelet", "time": "2025-01-01T00:10:00Z"}]},
            "firstTimestamp": "2025-01-01T00:00:00Z",
            "lastTimestamp": "2025-01-01T00:20:00Z",
            "eventTime": null,
            "series": {"count": 3, "lastObservedTime": "2025-01-01T00:30:00.123456Z"},
        });
        let bytes = serde_json::to_vec(&ev).expect("json");
        let written = last_written(&bytes).expect("a timestamp");
        assert_eq!(written.to_rfc3339(), "2025-01-01T00:30:00.123456+00:00");
        let now = Instant::now();
        let wall = written + chrono::Duration::seconds(20);
        assert_eq!(
            expiry_of(Some(written), TTL, now, wall),
            now + Duration::from_secs(40)
        );
        // Older than the TTL: due now. No timestamp: a TTL from now.
        let later = written + chrono::Duration::hours(2);
        assert_eq!(expiry_of(Some(written), TTL, now, later), now);
        assert_eq!(expiry_of(None, TTL, now, wall), now + TTL);
        assert_eq!(last_written(b"{\"metadata\":{}}"), None);
    }
}
