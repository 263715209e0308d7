//! The on-disk layout and connection settings.
//!
//! One log table, kine-style: each row is one write, and its `id` is the
//! revision of that write. A key's history is its rows in `id` order; a delete
//! is a tombstone row (`deleted = 1`) that still carries the deleted value.
//! A row created the key when `create_revision = id`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use super::db_error;
use crate::{StoreError, INITIAL_REVISION};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    id              INTEGER PRIMARY KEY,  -- the revision of this write
    key             TEXT    NOT NULL,
    deleted         INTEGER NOT NULL,     -- 1 = tombstone
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,     -- id of the version replaced, 0 = none
    value           BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_key_id ON kv (key, id);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Names of the rows in `meta`.
pub(crate) const META_REVISION: &str = "revision";
pub(crate) const META_COMPACT_REVISION: &str = "compact_revision";
/// Compaction has removed garbage up to here (it catches up after a crash).
pub(crate) const META_COMPACT_PROGRESS: &str = "compact_progress";

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the single write connection, creating the schema if needed.
pub(crate) fn open_writer(path: &Path) -> crate::Result<Connection> {
    let conn = Connection::open(path).map_err(db_error)?;
    configure_writer(&conn).map_err(db_error)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(db_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "could not switch {} to WAL mode (got {mode})",
            path.display()
        )));
    }
    create_schema(&conn).map_err(db_error)?;
    Ok(conn)
}

fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL (switched on by open_writer): readers never wait for the writer. FULL: a
    // commit is fsynced before it returns, so acknowledged writes survive.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Give the WAL file back to the filesystem after checkpoints.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
}

fn create_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    for (name, initial) in [
        (META_REVISION, INITIAL_REVISION),
        (META_COMPACT_REVISION, 0),
        (META_COMPACT_PROGRESS, 0),
    ] {
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES (?1, ?2)",
            (name, initial),
        )?;
    }
    Ok(())
}

/// Opens a read connection (the schema exists: the writer opened first).
pub(crate) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Reads one `meta` value.
pub(crate) fn meta(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row([name], |row| row.get(0))
        .optional()
        .map(|v| v.unwrap_or(0))
}

/// Writes one `meta` value.
pub(crate) fn set_meta(conn: &Connection, name: &str, value: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE meta SET value = ?2 WHERE name = ?1")?
        .execute((name, value))?;
    Ok(())
}
