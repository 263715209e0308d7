//! The conformance suite: every case runs against every backend.

mod cases;

use std::sync::Arc;

use berth_store::{MemoryStore, SqliteStore, Store};

/// Keeps a backend's files alive for the duration of a test.
type Guard = Option<tempfile::TempDir>;

fn memory() -> (Arc<dyn Store>, Guard) {
    (Arc::new(MemoryStore::new()), None)
}

fn sqlite() -> (Arc<dyn Store>, Guard) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("state.db")).unwrap();
    (Arc::new(store), Some(dir))
}

macro_rules! backend_suite {
    ($backend:ident, [$($case:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (store, _files) = super::$backend();
                    super::cases::$case(store).await;
                }
            )*
        }
    };
}

macro_rules! all_cases {
    ($backend:ident) => {
        backend_suite!(
            $backend,
            [
                create_and_get,
                create_existing_is_already_exists,
                update_compares_mod_revision,
                delete_with_and_without_cas,
                recreate_after_delete_starts_a_new_life,
                list_is_ordered_and_prefix_isolated,
                list_paginates_at_a_fixed_revision_while_writes_continue,
                list_at_an_old_revision,
                list_rejects_future_revisions,
                revisions_are_monotonic_and_failed_writes_take_none,
                watch_from_the_start,
                watch_from_the_middle,
                watch_is_prefix_isolated,
                watch_switches_from_history_to_live_without_gaps_or_duplicates,
                slow_watcher_catches_up_without_blocking_writers,
                slow_watcher_ends_with_compacted_when_history_is_gone,
                compaction_forgets_old_revisions,
                concurrent_writers_get_distinct_revisions,
            ]
        );
    };
}

all_cases!(memory);
all_cases!(sqlite);

mod sqlite_only {
    use std::sync::Arc;

    use berth_store::{ListOptions, SqliteStore, Store};
    use futures::StreamExt;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reopen_finds_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let (before, compacted, old_rev) = {
            let store = SqliteStore::open(&path).unwrap();
            let a = store.create("/r/a", b"a1".to_vec()).await.unwrap();
            store.create("/r/b", b"b1".to_vec()).await.unwrap();
            store
                .update("/r/a", b"a2".to_vec(), a.mod_revision)
                .await
                .unwrap();
            let mid = store.current_revision().await.unwrap();
            store.compact(mid).await.unwrap();
            store.delete("/r/b", None).await.unwrap();
            store.create("/r/c", b"c1".to_vec()).await.unwrap();
            let list = store
                .list(ListOptions {
                    prefix: "/r/".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
            (list, mid, mid)
        };
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.current_revision().await.unwrap(), before.revision);
        assert_eq!(store.compacted_revision().await.unwrap(), compacted);
        let after = store
            .list(ListOptions {
                prefix: "/r/".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(after.items, before.items);
        assert_eq!(after.revision, before.revision);
        // History after the compacted revision survived the restart too.
        let old = store
            .list(ListOptions {
                prefix: "/r/".into(),
                revision: Some(old_rev),
                ..Default::default()
            })
            .await
            .unwrap();
        let keys: Vec<_> = old.items.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["/r/a", "/r/b"]);
        let mut watch = store.watch("/r/", old_rev).await.unwrap();
        let first = watch.next().await.unwrap().unwrap();
        assert_eq!(first.kv.key, "/r/b");
        assert_eq!(first.prev.map(|p| p.value), Some(b"b1".to_vec()));
        // New writes continue the revision sequence.
        let d = store.create("/r/d", b"d".to_vec()).await.unwrap();
        assert_eq!(d.mod_revision, before.revision + 1);
        drop(watch);
        let shared: Arc<dyn Store> = Arc::new(store);
        assert!(shared.get("/r/c").await.unwrap().is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn compaction_removes_superseded_rows_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = SqliteStore::open(&path).unwrap();
        let mut kv = store.create("/k", b"0".to_vec()).await.unwrap();
        for i in 1..50 {
            kv = store.update("/k", vec![i], kv.mod_revision).await.unwrap();
        }
        store.create("/gone", b"x".to_vec()).await.unwrap();
        store.delete("/gone", None).await.unwrap();
        store
            .compact(store.current_revision().await.unwrap())
            .await
            .unwrap();
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1, "only the live version of /k remains");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_interrupted_compaction_resumes_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let target = {
            let store = SqliteStore::open(&path).unwrap();
            let mut kv = store.create("/k", b"0".to_vec()).await.unwrap();
            for i in 1..20 {
                kv = store.update("/k", vec![i], kv.mod_revision).await.unwrap();
            }
            kv.mod_revision
        };
        // As if the process died right after declaring the compaction.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE name = 'compact_revision'",
            [target],
        )
        .unwrap();
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.compacted_revision().await.unwrap(), target);
        // Waits for the running compaction if it has not finished yet.
        store.compact(target).await.unwrap();
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
    }
}
