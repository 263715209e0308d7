//! Read queries over the log table. Each multi-statement read runs in one
//! read transaction, i.e. on one consistent snapshot.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, ToSql};

use super::db_error;
use super::schema::{meta, META_COMPACT_REVISION, META_REVISION};
use crate::keyrange::{effective_limit, list_start, prefix_end, ListStart};
use crate::watch::LogPage;
use crate::{Event, EventType, KeyValue, ListOptions, ListResult, Result, Revision, StoreError};

/// A key bound that may not be valid UTF-8 (an incremented prefix), bound as
/// TEXT so that it compares bytewise with the TEXT keys.
struct TextBytes<'a>(&'a [u8]);

impl ToSql for TextBytes<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0)))
    }
}

/// The newest row of a key, live or tombstone.
pub(crate) struct LatestRow {
    pub id: Revision,
    pub deleted: bool,
    pub create_revision: Revision,
    pub value: Vec<u8>,
}

impl LatestRow {
    pub(crate) fn into_live(self, key: &str) -> Option<KeyValue> {
        (!self.deleted).then(|| KeyValue {
            key: key.to_owned(),
            value: self.value,
            create_revision: self.create_revision,
            mod_revision: self.id,
        })
    }
}

/// The newest row of `key`, if the key ever existed (and was not compacted).
pub(crate) fn latest_row(conn: &Connection, key: &str) -> rusqlite::Result<Option<LatestRow>> {
    conn.prepare_cached(
        "SELECT id, deleted, create_revision, value FROM kv
         WHERE key = ?1 ORDER BY id DESC LIMIT 1",
    )?
    .query_row([key], |row| {
        Ok(LatestRow {
            id: row.get(0)?,
            deleted: row.get(1)?,
            create_revision: row.get(2)?,
            value: row.get(3)?,
        })
    })
    .optional()
}

pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<KeyValue>> {
    let row = latest_row(conn, key).map_err(db_error)?;
    Ok(row.and_then(|r| r.into_live(key)))
}

/// The store revision and compacted revision of the current snapshot.
fn snapshot_revisions(conn: &Connection) -> Result<(Revision, Revision)> {
    let revision = meta(conn, META_REVISION).map_err(db_error)?;
    let compacted = meta(conn, META_COMPACT_REVISION).map_err(db_error)?;
    Ok((revision, compacted))
}

/// SQL selecting the keys under a range that are live at `:rev`: for each key
/// the newest row with id <= :rev, unless that row is a tombstone.
fn live_keys_sql(columns: &str, start_exclusive: bool, has_end: bool, limit: bool) -> String {
    let start_op = if start_exclusive { ">" } else { ">=" };
    let end = if has_end { "AND r.key < :end" } else { "" };
    let limit = if limit { "LIMIT :limit" } else { "" };
    format!(
        "SELECT {columns} FROM kv AS r
         WHERE r.key {start_op} :start {end} AND r.id <= :rev
           AND r.id = (SELECT MAX(i.id) FROM kv AS i WHERE i.key = r.key AND i.id <= :rev)
           AND r.deleted = 0
         ORDER BY r.key {limit}"
    )
}

fn row_to_kv(row: &Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: row.get(0)?,
        mod_revision: row.get(1)?,
        create_revision: row.get(2)?,
        value: row.get(3)?,
    })
}

pub(crate) fn list(conn: &mut Connection, opts: &ListOptions) -> Result<ListResult> {
    let tx = conn.transaction().map_err(db_error)?;
    let (current, compacted) = snapshot_revisions(&tx)?;
    let revision = match opts.revision.filter(|&r| r > 0) {
        None => current,
        Some(r) if r > current => {
            return Err(StoreError::FutureRevision {
                requested: r,
                current,
            })
        }
        Some(r) if r < compacted => {
            return Err(StoreError::Compacted {
                requested: r,
                compacted,
            })
        }
        Some(r) => r,
    };
    let (start, start_exclusive) = match list_start(opts) {
        ListStart::AtOrAfter(k) => (k, false),
        ListStart::After(k) => (k, true),
    };
    let end = prefix_end(&opts.prefix);
    let limit = effective_limit(opts);

    // One extra row tells whether more follow without counting them all.
    let fetch = limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX).saturating_add(1));
    let sql = live_keys_sql(
        "r.key, r.id, r.create_revision, r.value",
        start_exclusive,
        end.is_some(),
        fetch.is_some(),
    );
    let end_bound = end.as_deref().map(TextBytes);
    let mut params: Vec<(&str, &dyn ToSql)> = vec![(":start", &start), (":rev", &revision)];
    if let Some(end) = &end_bound {
        params.push((":end", end));
    }
    if let Some(fetch) = &fetch {
        params.push((":limit", fetch));
    }
    let mut items = {
        let mut stmt = tx.prepare_cached(&sql).map_err(db_error)?;
        let rows = stmt
            .query_map(params.as_slice(), row_to_kv)
            .map_err(db_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_error)?
    };

    let mut remaining = 0u64;
    let mut more = false;
    if let Some(limit) = limit {
        if items.len() > limit {
            items.truncate(limit);
            more = true;
        }
        if more && !opts.skip_remaining_count {
            let last = items.last().map(|kv| kv.key.clone()).unwrap_or_default();
            let count_sql = live_keys_sql("COUNT(*)", true, end.is_some(), false);
            let mut params: Vec<(&str, &dyn ToSql)> = vec![(":start", &last), (":rev", &revision)];
            if let Some(end) = &end_bound {
                params.push((":end", end));
            }
            let count: i64 = tx
                .prepare_cached(&count_sql)
                .and_then(|mut stmt| stmt.query_row(params.as_slice(), |row| row.get(0)))
                .map_err(db_error)?;
            remaining = u64::try_from(count).unwrap_or(0);
        }
    }
    Ok(ListResult {
        items,
        revision,
        more,
        remaining,
    })
}

/// Events for keys under `prefix` with revision > `after`, oldest first.
pub(crate) fn events_after(
    conn: &mut Connection,
    prefix: &str,
    after: Revision,
    limit: usize,
) -> Result<LogPage> {
    let tx = conn.transaction().map_err(db_error)?;
    let (current, compacted) = snapshot_revisions(&tx)?;
    if after < compacted {
        return Err(StoreError::Compacted {
            requested: after,
            compacted,
        });
    }
    let end = prefix_end(prefix);
    // `+r.key` keeps SQLite on the id (rowid) range: a watch reads recent
    // revisions, not all history of a prefix.
    let sql = format!(
        "SELECT r.id, r.key, r.deleted, r.create_revision, r.value,
                p.id, p.create_revision, p.value
         FROM kv AS r LEFT JOIN kv AS p ON p.id = r.prev_revision AND r.prev_revision != 0
         WHERE r.id > :after AND r.id <= :rev AND +r.key >= :start {}
         ORDER BY r.id LIMIT :limit",
        if end.is_some() {
            "AND +r.key < :end"
        } else {
            ""
        }
    );
    let limit_param = i64::try_from(limit).unwrap_or(i64::MAX);
    let end_bound = end.as_deref().map(TextBytes);
    let mut params: Vec<(&str, &dyn ToSql)> = vec![
        (":after", &after),
        (":rev", &current),
        (":start", &prefix),
        (":limit", &limit_param),
    ];
    if let Some(end) = &end_bound {
        params.push((":end", end));
    }
    let events = {
        let mut stmt = tx.prepare_cached(&sql).map_err(db_error)?;
        let rows = stmt
            .query_map(params.as_slice(), row_to_event)
            .map_err(db_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_error)?
    };
    Ok(LogPage::new(events, limit, current))
}

fn row_to_event(row: &Row<'_>) -> rusqlite::Result<Event> {
    let key: String = row.get(1)?;
    let deleted: bool = row.get(2)?;
    let kv = KeyValue {
        key: key.clone(),
        mod_revision: row.get(0)?,
        create_revision: row.get(3)?,
        value: row.get(4)?,
    };
    let prev = match row.get::<_, Option<Revision>>(5)? {
        Some(prev_id) => Some(KeyValue {
            key,
            mod_revision: prev_id,
            create_revision: row.get(6)?,
            value: row.get(7)?,
        }),
        None => None,
    };
    Ok(Event {
        event_type: if deleted {
            EventType::Delete
        } else {
            EventType::Put
        },
        kv,
        prev,
    })
}
