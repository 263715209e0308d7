//! In-memory backend with full history: for tests and the hollow-node simulator.
//!
//! Every version of every key is kept until compaction, so lists at past
//! revisions and watches from past revisions behave exactly as with sqlite.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::keyrange::{effective_limit, list_start, ListStart};
use crate::watch::{start_watch, Batch, EventLog, LogPage, FEED_CAPACITY};
use crate::{
    Event, EventType, KeyValue, ListOptions, ListResult, Result, Revision, Store, StoreError,
    WatchStream, INITIAL_REVISION,
};

/// A [`Store`] that lives in memory. Cloning shares the same data.
#[derive(Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    feed: broadcast::Sender<Batch>,
}

/// One version of a key; a delete leaves a tombstone holding the deleted value.
struct Version {
    deleted: bool,
    kv: KeyValue,
}

struct State {
    revision: Revision,
    compacted: Revision,
    /// Versions per key, oldest first.
    keys: BTreeMap<String, Vec<Version>>,
    /// Every event with revision > `compacted`, oldest first.
    log: VecDeque<Event>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store at [`INITIAL_REVISION`].
    pub fn new() -> Self {
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        MemoryStore {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    revision: INITIAL_REVISION,
                    compacted: 0,
                    keys: BTreeMap::new(),
                    log: VecDeque::new(),
                }),
                feed,
            }),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.shared.lock()
    }

    /// Commits one event while the state lock is held, so that events reach
    /// the feed in revision order.
    fn commit(&self, state: &mut State, event: Event) {
        state.revision = event.kv.mod_revision;
        let version = Version {
            deleted: event.event_type == EventType::Delete,
            kv: event.kv.clone(),
        };
        state
            .keys
            .entry(event.kv.key.clone())
            .or_default()
            .push(version);
        state.log.push_back(event.clone());
        // No receivers is fine; a full ring buffer overwrites (watchers lag).
        let _ = self.shared.feed.send(Arc::new(vec![event]));
    }
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }
}

impl State {
    /// The live version of a key, if any.
    fn live(&self, key: &str) -> Option<&KeyValue> {
        let last = self.keys.get(key)?.last()?;
        (!last.deleted).then_some(&last.kv)
    }

    /// Resolves a requested read revision, checking it is still readable.
    fn read_revision(&self, requested: Option<Revision>) -> Result<Revision> {
        match requested.filter(|&r| r > 0) {
            None => Ok(self.revision),
            Some(r) if r > self.revision => Err(StoreError::FutureRevision {
                requested: r,
                current: self.revision,
            }),
            Some(r) if r < self.compacted => Err(StoreError::Compacted {
                requested: r,
                compacted: self.compacted,
            }),
            Some(r) => Ok(r),
        }
    }
}

/// The version of a key as of `revision`, if it was live then.
fn live_at(versions: &[Version], revision: Revision) -> Option<&KeyValue> {
    let newer = versions.partition_point(|v| v.kv.mod_revision <= revision);
    let version = versions.get(newer.checked_sub(1)?)?;
    (!version.deleted).then_some(&version.kv)
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.lock()?.live(key).cloned())
    }

    async fn list(&self, opts: ListOptions) -> Result<ListResult> {
        let state = self.lock()?;
        let revision = state.read_revision(opts.revision)?;
        let lower = match list_start(&opts) {
            ListStart::AtOrAfter(k) => Bound::Included(k),
            ListStart::After(k) => Bound::Excluded(k),
        };
        let mut matching = state
            .keys
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(&opts.prefix))
            .filter_map(|(_, versions)| live_at(versions, revision));
        let mut items = Vec::new();
        let limit = effective_limit(&opts).unwrap_or(usize::MAX);
        for kv in matching.by_ref().take(limit) {
            items.push(kv.clone());
        }
        let (more, remaining) = if opts.skip_remaining_count {
            (matching.next().is_some(), 0)
        } else {
            let remaining = matching.count() as u64;
            (remaining > 0, remaining)
        };
        Ok(ListResult {
            items,
            revision,
            more,
            remaining,
        })
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<KeyValue> {
        let mut state = self.lock()?;
        if state.live(key).is_some() {
            return Err(StoreError::AlreadyExists(key.to_owned()));
        }
        let revision = state.revision + 1;
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
        };
        let event = Event {
            event_type: EventType::Put,
            kv: kv.clone(),
            prev: None,
        };
        self.commit(&mut state, event);
        Ok(kv)
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_revision: Revision,
    ) -> Result<KeyValue> {
        let mut state = self.lock()?;
        let prev = match state.live(key) {
            Some(kv) if kv.mod_revision == expected_revision => kv.clone(),
            current => {
                return Err(StoreError::Conflict {
                    key: key.to_owned(),
                    current: current.cloned(),
                })
            }
        };
        let revision = state.revision + 1;
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: prev.create_revision,
            mod_revision: revision,
        };
        let event = Event {
            event_type: EventType::Put,
            kv: kv.clone(),
            prev: Some(prev),
        };
        self.commit(&mut state, event);
        Ok(kv)
    }

    async fn delete(&self, key: &str, expected_revision: Option<Revision>) -> Result<KeyValue> {
        let mut state = self.lock()?;
        let prev = match (state.live(key), expected_revision) {
            (None, None) => return Err(StoreError::NotFound(key.to_owned())),
            (Some(kv), Some(expected)) if kv.mod_revision != expected => {
                return Err(StoreError::Conflict {
                    key: key.to_owned(),
                    current: Some(kv.clone()),
                })
            }
            (None, Some(_)) => {
                return Err(StoreError::Conflict {
                    key: key.to_owned(),
                    current: None,
                })
            }
            (Some(kv), _) => kv.clone(),
        };
        let revision = state.revision + 1;
        let kv = KeyValue {
            mod_revision: revision,
            ..prev.clone()
        };
        let event = Event {
            event_type: EventType::Delete,
            kv: kv.clone(),
            prev: Some(prev),
        };
        self.commit(&mut state, event);
        Ok(kv)
    }

    async fn watch(&self, prefix: &str, after_revision: Revision) -> Result<WatchStream> {
        let feed = self.shared.feed.subscribe();
        start_watch(self.shared.clone(), feed, prefix, after_revision).await
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.lock()?.revision)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let mut state = self.lock()?;
        if revision > state.revision {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current: state.revision,
            });
        }
        if revision <= state.compacted {
            return Ok(());
        }
        state.keys.retain(|_, versions| {
            // Keep the version that was current at `revision` (unless it is a
            // tombstone) and everything newer.
            let newer = versions.partition_point(|v| v.kv.mod_revision <= revision);
            let mut keep_from = newer.saturating_sub(1);
            if versions
                .get(keep_from)
                .is_some_and(|v| v.deleted && keep_from < newer)
            {
                keep_from += 1;
            }
            versions.drain(..keep_from);
            !versions.is_empty()
        });
        while state
            .log
            .front()
            .is_some_and(|e| e.kv.mod_revision <= revision)
        {
            state.log.pop_front();
        }
        state.compacted = revision;
        Ok(())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.lock()?.compacted)
    }
}

#[async_trait]
impl EventLog for Shared {
    async fn events_after(&self, prefix: &str, after: Revision, limit: usize) -> Result<LogPage> {
        let state = self.lock()?;
        if after < state.compacted {
            return Err(StoreError::Compacted {
                requested: after,
                compacted: state.compacted,
            });
        }
        let start = state.log.partition_point(|e| e.kv.mod_revision <= after);
        let events: Vec<Event> = state
            .log
            .range(start..)
            .filter(|e| e.kv.key.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect();
        Ok(LogPage::new(events, limit, state.revision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn compaction_drops_superseded_versions_and_tombstones() {
        let store = MemoryStore::new();
        let a = store.create("/a", b"1".to_vec()).await.unwrap();
        let a2 = store
            .update("/a", b"2".to_vec(), a.mod_revision)
            .await
            .unwrap();
        store.create("/b", b"1".to_vec()).await.unwrap();
        let gone = store.delete("/b", None).await.unwrap();
        store.compact(gone.mod_revision).await.unwrap();
        let state = store.lock().unwrap();
        assert_eq!(state.keys.len(), 1, "tombstoned key /b is gone entirely");
        let versions = &state.keys["/a"];
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].kv, a2);
        assert!(state.log.is_empty());
    }
}
