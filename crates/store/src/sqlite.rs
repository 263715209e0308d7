//! The embedded default backend: one SQLite file, kine-style log table
//! (see `sqlite/schema.rs`), one group-commit writer thread
//! (`sqlite/writer.rs`) and a pool of read connections (`sqlite/read_pool.rs`).

mod queries;
mod read_pool;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::watch::{start_watch, Batch, EventLog, LogPage, FEED_CAPACITY};
use crate::{KeyValue, ListOptions, ListResult, Result, Revision, Store, StoreError, WatchStream};
use read_pool::ReadPool;
use schema::{meta, META_COMPACT_PROGRESS, META_COMPACT_REVISION, META_REVISION};
use writer::{KeyWrite, Revisions, WriteRequest, Writer};

/// Requests queued for the writer before callers wait for room.
const WRITE_QUEUE: usize = 4096;

pub(crate) fn db_error(err: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("sqlite: {err}"))
}

/// A [`Store`] in one SQLite file. Cloning shares the same writer and pool.
#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    /// `None` only while dropping (closing it stops the writer).
    writes: Option<mpsc::Sender<WriteRequest>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    reads: Arc<ReadPool>,
    feed: broadcast::Sender<Batch>,
    revisions: Arc<Revisions>,
}

impl SqliteStore {
    /// Opens (or creates) the store file at `path`. Blocking; call it at
    /// startup. The file is accompanied by SQLite's `-wal` and `-shm` files.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let conn = schema::open_writer(&path)?;
        let current = meta(&conn, META_REVISION).map_err(db_error)?;
        let compacted = meta(&conn, META_COMPACT_REVISION).map_err(db_error)?;
        let compact_done_to = meta(&conn, META_COMPACT_PROGRESS).map_err(db_error)?;
        let revisions = Arc::new(Revisions {
            current: AtomicI64::new(current),
            compacted: AtomicI64::new(compacted),
        });
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        let (writes, requests) = mpsc::channel(WRITE_QUEUE);
        let writer = Writer::new(
            conn,
            requests,
            feed.clone(),
            Arc::clone(&revisions),
            compact_done_to,
        );
        let writer_thread = std::thread::Builder::new()
            .name("berth-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Backend(format!("cannot start sqlite writer: {e}")))?;
        Ok(SqliteStore {
            shared: Arc::new(Shared {
                reads: Arc::new(ReadPool::new(path.clone())),
                path,
                writes: Some(writes),
                writer_thread: Mutex::new(Some(writer_thread)),
                feed,
                revisions,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    async fn write(&self, write: KeyWrite) -> Result<KeyValue> {
        let (reply, answer) = oneshot::channel();
        self.send(WriteRequest::Key { write, reply }).await?;
        answer.await.map_err(|_| writer_gone())?
    }

    async fn send(&self, request: WriteRequest) -> Result<()> {
        let writes = self.shared.writes.as_ref().ok_or_else(writer_gone)?;
        writes.send(request).await.map_err(|_| writer_gone())
    }
}

fn writer_gone() -> StoreError {
    StoreError::Backend("sqlite writer stopped".into())
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and exit;
        // waiting for it means the file is closed when the store is gone.
        self.writes = None;
        let thread = self.writer_thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("sqlite writer thread panicked");
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_owned();
        self.shared
            .reads
            .run(move |conn| queries::get(conn, &key))
            .await
    }

    async fn list(&self, opts: ListOptions) -> Result<ListResult> {
        self.shared
            .reads
            .run(move |conn| queries::list(conn, &opts))
            .await
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<KeyValue> {
        self.write(KeyWrite::Create {
            key: key.to_owned(),
            value,
        })
        .await
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_revision: Revision,
    ) -> Result<KeyValue> {
        self.write(KeyWrite::Update {
            key: key.to_owned(),
            value,
            expected: expected_revision,
        })
        .await
    }

    async fn delete(&self, key: &str, expected_revision: Option<Revision>) -> Result<KeyValue> {
        self.write(KeyWrite::Delete {
            key: key.to_owned(),
            expected: expected_revision,
        })
        .await
    }

    async fn watch(&self, prefix: &str, after_revision: Revision) -> Result<WatchStream> {
        // Subscribe before the first log read: nothing can fall in between.
        let feed = self.shared.feed.subscribe();
        let log = Arc::new(SqliteLog {
            reads: Arc::clone(&self.shared.reads),
        });
        start_watch(log, feed, prefix, after_revision).await
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.shared.revisions.current.load(Ordering::SeqCst))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(WriteRequest::Compact { revision, reply }).await?;
        answer.await.map_err(|_| writer_gone())?
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.shared.revisions.compacted.load(Ordering::SeqCst))
    }
}

/// The log table as a watch's history. Holds only the read pool, so open
/// watches do not keep the writer alive.
struct SqliteLog {
    reads: Arc<ReadPool>,
}

#[async_trait]
impl EventLog for SqliteLog {
    async fn events_after(&self, prefix: &str, after: Revision, limit: usize) -> Result<LogPage> {
        let prefix = prefix.to_owned();
        self.reads
            .run(move |conn| queries::events_after(conn, &prefix, after, limit))
            .await
    }
}
