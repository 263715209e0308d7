//! The group-commit writer: one thread owns the write connection.
//!
//! It blocks for the first waiting request, drains everything else already
//! queued, applies the whole batch in ONE transaction (each request gets its
//! own revision, or its own error without touching the others), commits
//! (fsync) once, publishes the batch's events on the watch feed, and only
//! then answers every request. Under load, the cost of one fsync is shared
//! by all writers that arrived while the previous commit was running.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::db_error;
use super::queries::latest_row;
use super::schema::{set_meta, META_COMPACT_PROGRESS, META_COMPACT_REVISION, META_REVISION};
use crate::watch::Batch;
use crate::{Event, EventType, KeyValue, Result, Revision, StoreError};

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 1024;
/// Most revisions one compaction step cleans up (one transaction).
const COMPACT_STEP: Revision = 10_000;

/// A change to one key.
pub(crate) enum KeyWrite {
    Create {
        key: String,
        value: Vec<u8>,
    },
    Update {
        key: String,
        value: Vec<u8>,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

pub(crate) enum WriteRequest {
    Key {
        write: KeyWrite,
        reply: oneshot::Sender<Result<KeyValue>>,
    },
    Compact {
        revision: Revision,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// Revisions the writer publishes for lock-free reads by the store.
pub(crate) struct Revisions {
    pub current: AtomicI64,
    pub compacted: AtomicI64,
}

/// Compaction in progress: garbage up to `target` is removed in steps
/// between write batches, so a large compaction never stalls writers.
struct Compaction {
    target: Revision,
    done_to: Revision,
    waiters: Vec<oneshot::Sender<Result<()>>>,
}

pub(crate) struct Writer {
    conn: Connection,
    requests: mpsc::Receiver<WriteRequest>,
    feed: broadcast::Sender<Batch>,
    revisions: Arc<Revisions>,
    compaction: Option<Compaction>,
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        requests: mpsc::Receiver<WriteRequest>,
        feed: broadcast::Sender<Batch>,
        revisions: Arc<Revisions>,
        compact_done_to: Revision,
    ) -> Self {
        let target = revisions.compacted.load(Ordering::SeqCst);
        // A compaction interrupted by a crash resumes where it stopped.
        let compaction = (compact_done_to < target).then(|| Compaction {
            target,
            done_to: compact_done_to,
            waiters: Vec::new(),
        });
        Writer {
            conn,
            requests,
            feed,
            revisions,
            compaction,
        }
    }

    /// Serves requests until every sender is gone.
    pub(crate) fn run(mut self) {
        loop {
            let first = if self.compaction.is_some() {
                match self.requests.try_recv() {
                    Ok(request) => Some(request),
                    Err(mpsc::error::TryRecvError::Empty) => None,
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            } else {
                match self.requests.blocking_recv() {
                    Some(request) => Some(request),
                    None => break,
                }
            };
            if let Some(first) = first {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match self.requests.try_recv() {
                        Ok(request) => batch.push(request),
                        Err(_) => break,
                    }
                }
                self.serve_batch(batch);
            }
            if self.compaction.is_some() {
                self.compact_step();
            }
        }
    }

    fn serve_batch(&mut self, batch: Vec<WriteRequest>) {
        let mut writes = Vec::with_capacity(batch.len());
        let mut compactions = Vec::new();
        for request in batch {
            match request {
                WriteRequest::Key { write, reply } => writes.push((write, reply)),
                WriteRequest::Compact { revision, reply } => compactions.push((revision, reply)),
            }
        }
        if !writes.is_empty() {
            self.commit_writes(writes);
        }
        for (revision, reply) in compactions {
            self.start_compaction(revision, reply);
        }
    }

    fn commit_writes(&mut self, writes: Vec<(KeyWrite, oneshot::Sender<Result<KeyValue>>)>) {
        let base = self.revisions.current.load(Ordering::SeqCst);
        let (ops, replies): (Vec<_>, Vec<_>) = writes.into_iter().unzip();
        match apply_in_one_transaction(&mut self.conn, base, ops) {
            Ok((outcomes, revision)) => {
                self.revisions.current.store(revision, Ordering::SeqCst);
                let mut events = Vec::new();
                let mut answers = Vec::with_capacity(outcomes.len());
                for outcome in outcomes {
                    answers.push(outcome.map(|(kv, event)| {
                        events.push(event);
                        kv
                    }));
                }
                if !events.is_empty() {
                    // No receivers is fine; a full ring makes slow watchers lag.
                    let _ = self.feed.send(Arc::new(events));
                }
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // The caller may have given up waiting; the write stands.
                    let _ = reply.send(answer);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "sqlite write batch failed");
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Backend(format!(
                        "sqlite write failed: {err}"
                    ))));
                }
            }
        }
    }

    fn start_compaction(&mut self, revision: Revision, reply: oneshot::Sender<Result<()>>) {
        let current = self.revisions.current.load(Ordering::SeqCst);
        let compacted = self.revisions.compacted.load(Ordering::SeqCst);
        if revision > current {
            let _ = reply.send(Err(StoreError::FutureRevision {
                requested: revision,
                current,
            }));
            return;
        }
        if revision <= compacted {
            match &mut self.compaction {
                // Already declared compacted, still cleaning up: answer when done.
                Some(running) => running.waiters.push(reply),
                None => {
                    let _ = reply.send(Ok(()));
                }
            }
            return;
        }
        // Declare the revision compacted first (readers get `Compacted` from
        // now on); the garbage is removed afterwards in steps.
        if let Err(err) = set_meta(&self.conn, META_COMPACT_REVISION, revision) {
            let _ = reply.send(Err(db_error(err)));
            return;
        }
        self.revisions.compacted.store(revision, Ordering::SeqCst);
        match &mut self.compaction {
            Some(running) => {
                running.target = revision;
                running.waiters.push(reply);
            }
            None => {
                self.compaction = Some(Compaction {
                    target: revision,
                    done_to: self.compact_done_to(),
                    waiters: vec![reply],
                })
            }
        }
    }

    /// Where the last compaction stopped; from 0 (redo everything, which is
    /// harmless) if that cannot be read.
    fn compact_done_to(&self) -> Revision {
        super::schema::meta(&self.conn, META_COMPACT_PROGRESS).unwrap_or(0)
    }

    /// Removes the garbage of up to COMPACT_STEP revisions, in one transaction.
    fn compact_step(&mut self) {
        let Some(running) = &mut self.compaction else {
            return;
        };
        let from = running.done_to;
        let to = running.target.min(from.saturating_add(COMPACT_STEP));
        match remove_garbage(&mut self.conn, from, to) {
            Ok(()) => {
                running.done_to = to;
                if to >= running.target {
                    for waiter in running.waiters.drain(..) {
                        let _ = waiter.send(Ok(()));
                    }
                    self.compaction = None;
                }
            }
            Err(err) => {
                // Progress is saved per step; the next compact() resumes.
                tracing::error!(error = %err, "sqlite compaction step failed");
                let message = format!("sqlite compaction failed: {err}");
                for waiter in running.waiters.drain(..) {
                    let _ = waiter.send(Err(StoreError::Backend(message.clone())));
                }
                self.compaction = None;
            }
        }
    }
}

/// Deletes, for the writes with revision in (from, to], the versions they
/// replaced, and the tombstones themselves: what no read at revision >= the
/// compacted revision can see. Every replaced version is named by exactly one
/// later row's prev_revision, except a tombstone's (re-create has prev 0),
/// which goes by the tombstone rule.
fn remove_garbage(conn: &mut Connection, from: Revision, to: Revision) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(
        "DELETE FROM kv WHERE id IN (
             SELECT prev_revision FROM kv
             WHERE id > ?1 AND id <= ?2 AND prev_revision != 0)",
    )?
    .execute((from, to))?;
    tx.prepare_cached("DELETE FROM kv WHERE id > ?1 AND id <= ?2 AND deleted = 1")?
        .execute((from, to))?;
    set_meta(&tx, META_COMPACT_PROGRESS, to)?;
    tx.commit()
}

type Outcome = Result<(KeyValue, Event)>;

/// Applies all writes in one transaction, assigning consecutive revisions
/// after `base` to the ones that succeed. Returns each write's outcome and
/// the new store revision. An `Err` means nothing was committed.
fn apply_in_one_transaction(
    conn: &mut Connection,
    base: Revision,
    writes: Vec<KeyWrite>,
) -> rusqlite::Result<(Vec<Outcome>, Revision)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut revision = base;
    let mut outcomes = Vec::with_capacity(writes.len());
    for write in writes {
        outcomes.push(apply_one(&tx, &mut revision, write)?);
    }
    if revision != base {
        set_meta(&tx, META_REVISION, revision)?;
    }
    tx.commit()?;
    Ok((outcomes, revision))
}

/// Applies one write. The outer error is a database failure (aborts the
/// batch); the inner one is this request's own failure (AlreadyExists,
/// Conflict, NotFound), which writes nothing.
fn apply_one(
    conn: &Connection,
    revision: &mut Revision,
    write: KeyWrite,
) -> rusqlite::Result<Outcome> {
    let key = match &write {
        KeyWrite::Create { key, .. }
        | KeyWrite::Update { key, .. }
        | KeyWrite::Delete { key, .. } => key.clone(),
    };
    let live = latest_row(conn, &key)?.and_then(|row| row.into_live(&key));
    let next = *revision + 1;
    let (event, prev_revision) = match write {
        KeyWrite::Create { key, value } => {
            if live.is_some() {
                return Ok(Err(StoreError::AlreadyExists(key)));
            }
            let kv = KeyValue {
                key,
                value,
                create_revision: next,
                mod_revision: next,
            };
            let event = Event {
                event_type: EventType::Put,
                kv,
                prev: None,
            };
            (event, 0)
        }
        KeyWrite::Update {
            key,
            value,
            expected,
        } => {
            let prev = match live {
                Some(kv) if kv.mod_revision == expected => kv,
                current => return Ok(Err(StoreError::Conflict { key, current })),
            };
            let kv = KeyValue {
                key,
                value,
                create_revision: prev.create_revision,
                mod_revision: next,
            };
            let prev_revision = prev.mod_revision;
            let event = Event {
                event_type: EventType::Put,
                kv,
                prev: Some(prev),
            };
            (event, prev_revision)
        }
        KeyWrite::Delete { key, expected } => {
            let prev = match (live, expected) {
                (None, None) => return Ok(Err(StoreError::NotFound(key))),
                (None, Some(_)) => return Ok(Err(StoreError::Conflict { key, current: None })),
                (Some(kv), Some(expected)) if kv.mod_revision != expected => {
                    return Ok(Err(StoreError::Conflict {
                        key,
                        current: Some(kv),
                    }))
                }
                (Some(kv), _) => kv,
            };
            let kv = KeyValue {
                mod_revision: next,
                ..prev.clone()
            };
            let prev_revision = prev.mod_revision;
            let event = Event {
                event_type: EventType::Delete,
                kv,
                prev: Some(prev),
            };
            (event, prev_revision)
        }
    };
    conn.prepare_cached(
        "INSERT INTO kv (id, key, deleted, create_revision, prev_revision, value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute((
        next,
        &event.kv.key,
        event.event_type == EventType::Delete,
        event.kv.create_revision,
        prev_revision,
        &event.kv.value,
    ))?;
    *revision = next;
    Ok(Ok((event.kv.clone(), event)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::schema::open_writer(&dir.path().join("t.db")).unwrap();
        (dir, conn)
    }

    fn create(key: &str) -> KeyWrite {
        KeyWrite::Create {
            key: key.into(),
            value: key.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_failing_request_does_not_fail_the_rest_of_its_batch() {
        let (_dir, mut conn) = open();
        let base = 10;
        let batch = vec![
            create("/a"),
            create("/a"), // AlreadyExists: sees the create just before it
            KeyWrite::Update {
                key: "/a".into(),
                value: b"a2".to_vec(),
                expected: base + 1,
            },
            KeyWrite::Update {
                key: "/missing".into(),
                value: vec![],
                expected: 3,
            },
            KeyWrite::Delete {
                key: "/a".into(),
                expected: Some(base + 1), // stale: the update moved it on
            },
            create("/b"),
            KeyWrite::Delete {
                key: "/a".into(),
                expected: None,
            },
        ];
        let (outcomes, revision) = apply_in_one_transaction(&mut conn, base, batch).unwrap();
        let revisions: Vec<Option<Revision>> = outcomes
            .iter()
            .map(|o| o.as_ref().ok().map(|(kv, _)| kv.mod_revision))
            .collect();
        assert_eq!(
            revisions,
            [Some(11), None, Some(12), None, None, Some(13), Some(14)]
        );
        assert!(matches!(outcomes[1], Err(StoreError::AlreadyExists(_))));
        assert!(matches!(
            outcomes[3],
            Err(StoreError::Conflict { current: None, .. })
        ));
        match &outcomes[4] {
            Err(StoreError::Conflict {
                current: Some(kv), ..
            }) => assert_eq!(kv.mod_revision, 12),
            other => panic!("expected conflict, got {other:?}"),
        }
        assert_eq!(revision, 14);
        let stored: i64 = conn
            .query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 4, "only successful writes leave rows");
        let meta_revision = super::super::schema::meta(&conn, META_REVISION).unwrap();
        assert_eq!(meta_revision, 14);
        // The delete event carries the value it removed and its predecessor.
        let (deleted, event) = outcomes[6].as_ref().unwrap();
        assert_eq!(deleted.value, b"a2");
        assert_eq!(event.event_type, EventType::Delete);
        assert_eq!(event.prev.as_ref().map(|p| p.mod_revision), Some(12));
    }
}
