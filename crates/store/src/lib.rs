//! Revisioned key-value store with watch, shaped after etcd's model so that
//! sqlite, memory and etcd backends are interchangeable behind [`Store`].
//!
//! * Every successful write gets a new cluster-wide revision (monotonic, i64).
//! * A key carries `create_revision` and `mod_revision` (the revision of the
//!   write that last changed it); compare-and-swap is on `mod_revision`.
//! * Lists can be read at a past revision until it is compacted.
//! * Watches deliver every change with revision > the given one, in order.

use async_trait::async_trait;
use futures::stream::BoxStream;

mod keyrange;
mod memory;
mod scan;
mod sqlite;
mod watch;

pub use memory::MemoryStore;
pub use scan::scan;
pub use sqlite::SqliteStore;

pub type Revision = i64;

/// The revision of a freshly created, empty store. As in etcd, the first write
/// gets `INITIAL_REVISION + 1`, so no stored object ever has revision 0 or 1
/// (resourceVersion "0" has a special meaning in Kubernetes).
pub const INITIAL_REVISION: Revision = 1;

/// One version of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    pub create_revision: Revision,
    pub mod_revision: Revision,
}

/// A range read: all keys starting with `prefix`, in key order.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub prefix: String,
    /// Return only keys strictly greater than this one (pagination cursor).
    pub start_after: Option<String>,
    /// At most this many items; `None` or 0 = all.
    pub limit: Option<usize>,
    /// Read as of this revision; `None` (or a value <= 0) = latest.
    pub revision: Option<Revision>,
    /// Leave `ListResult::remaining` at 0 when more follow (`more` is still
    /// exact): counting the rest of a large range on every page is what made
    /// loading 150,000 objects page by page slow.
    pub skip_remaining_count: bool,
}

#[derive(Clone, Debug)]
pub struct ListResult {
    pub items: Vec<KeyValue>,
    /// The revision the list was read at.
    pub revision: Revision,
    /// More items follow after the last one returned.
    pub more: bool,
    /// How many items follow after the last one returned (0 with
    /// `skip_remaining_count`).
    pub remaining: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Put,
    Delete,
}

/// One change. For `Put`, `kv` is the new version; for `Delete`, `kv` holds the
/// deleted value with `mod_revision` = the revision of the delete.
/// `prev` is the version before the change, when there was one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub event_type: EventType,
    pub kv: KeyValue,
    pub prev: Option<KeyValue>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("key {0} not found")]
    NotFound(String),
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// Compare-and-swap failed: the key's mod_revision differs (or it is gone).
    #[error("conflict on key {key}")]
    Conflict {
        key: String,
        current: Option<KeyValue>,
    },
    /// The requested revision has been compacted away.
    #[error("required revision {requested} has been compacted (compacted up to {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// The requested revision is newer than the store's current revision.
    #[error("revision {requested} is in the future (current {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("store backend: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A stream of changes; an `Err` item ends the stream.
pub type WatchStream = BoxStream<'static, Result<Event>>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Latest version of a key.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Range read by prefix, optionally paginated and at a past revision.
    async fn list(&self, opts: ListOptions) -> Result<ListResult>;

    /// Create a key that must not exist. Returns the stored version.
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<KeyValue>;

    /// Replace a key whose current `mod_revision` equals `expected_revision`.
    /// A missing key is a `Conflict` with `current: None`.
    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_revision: Revision,
    ) -> Result<KeyValue>;

    /// Delete a key; when `expected_revision` is set it must match.
    /// A missing key is `NotFound` without `expected_revision`, and a
    /// `Conflict` with `current: None` with it.
    /// Returns the deleted value with `mod_revision` = the delete's revision.
    async fn delete(&self, key: &str, expected_revision: Option<Revision>) -> Result<KeyValue>;

    /// All changes to keys under `prefix` with revision > `after_revision`,
    /// first the stored history, then live. `Compacted` if that history is gone.
    /// A watcher that falls far behind catches up from the stored history;
    /// if that was compacted meanwhile, the stream ends with a `Compacted` item.
    async fn watch(&self, prefix: &str, after_revision: Revision) -> Result<WatchStream>;

    /// Number of live keys under `prefix` (e.g. for object-count metrics).
    async fn count(&self, prefix: &str) -> Result<u64> {
        let first = self
            .list(ListOptions {
                prefix: prefix.to_owned(),
                limit: Some(1),
                ..Default::default()
            })
            .await?;
        Ok(first.items.len() as u64 + first.remaining)
    }

    /// Latest revision of the whole store.
    async fn current_revision(&self) -> Result<Revision>;

    /// Forget history before `revision` (the latest version of every live key stays).
    /// Reads at `revision` itself and watches from it stay possible. Compacting
    /// at or below the already compacted revision is a no-op.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// Revision up to which history has been compacted.
    async fn compacted_revision(&self) -> Result<Revision>;
}
