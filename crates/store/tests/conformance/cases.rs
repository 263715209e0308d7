//! Backend-independent behaviour every `Store` must have.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use berth_store::{
    Event, EventType, KeyValue, ListOptions, Revision, Store, StoreError, WatchStream,
    INITIAL_REVISION,
};
use futures::StreamExt;

type S = Arc<dyn Store>;

fn prefix(p: &str) -> ListOptions {
    ListOptions {
        prefix: p.into(),
        ..Default::default()
    }
}

async fn next_event(watch: &mut WatchStream) -> Event {
    match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(err))) => panic!("watch error: {err}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no event within 10s"),
    }
}

async fn assert_quiet(watch: &mut WatchStream) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(100), watch.next()).await {
        panic!("unexpected watch item: {item:?}");
    }
}

fn keys(items: &[KeyValue]) -> Vec<&str> {
    items.iter().map(|kv| kv.key.as_str()).collect()
}

pub async fn create_and_get(store: S) {
    assert_eq!(store.current_revision().await.unwrap(), INITIAL_REVISION);
    assert_eq!(store.get("/a").await.unwrap(), None);
    let kv = store.create("/a", b"one".to_vec()).await.unwrap();
    assert_eq!(kv.key, "/a");
    assert_eq!(kv.value, b"one");
    assert_eq!(kv.mod_revision, INITIAL_REVISION + 1);
    assert_eq!(kv.create_revision, kv.mod_revision);
    assert_eq!(store.get("/a").await.unwrap(), Some(kv.clone()));
    assert_eq!(store.current_revision().await.unwrap(), kv.mod_revision);
}

pub async fn create_existing_is_already_exists(store: S) {
    store.create("/a", b"one".to_vec()).await.unwrap();
    let err = store.create("/a", b"two".to_vec()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists(ref k) if k == "/a"),
        "{err:?}"
    );
    assert_eq!(store.get("/a").await.unwrap().unwrap().value, b"one");
}

pub async fn update_compares_mod_revision(store: S) {
    let v1 = store.create("/a", b"1".to_vec()).await.unwrap();
    let v2 = store
        .update("/a", b"2".to_vec(), v1.mod_revision)
        .await
        .unwrap();
    assert!(v2.mod_revision > v1.mod_revision);
    assert_eq!(v2.create_revision, v1.create_revision);
    assert_eq!(store.get("/a").await.unwrap(), Some(v2.clone()));

    // A stale revision fails and reports what is there now.
    match store.update("/a", b"3".to_vec(), v1.mod_revision).await {
        Err(StoreError::Conflict { key, current }) => {
            assert_eq!(key, "/a");
            assert_eq!(current, Some(v2.clone()));
        }
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(store.get("/a").await.unwrap(), Some(v2));

    // Updating a key that does not exist is a conflict with nothing current.
    match store
        .update("/missing", b"x".to_vec(), v1.mod_revision)
        .await
    {
        Err(StoreError::Conflict { current: None, .. }) => {}
        other => panic!("expected conflict without current, got {other:?}"),
    }
}

pub async fn delete_with_and_without_cas(store: S) {
    let a = store.create("/a", b"a".to_vec()).await.unwrap();
    let b = store.create("/b", b"b".to_vec()).await.unwrap();

    let gone = store.delete("/a", None).await.unwrap();
    assert_eq!(gone.value, b"a", "delete returns the deleted value");
    assert_eq!(gone.create_revision, a.create_revision);
    assert!(
        gone.mod_revision > b.mod_revision,
        "delete has its own revision"
    );
    assert_eq!(store.current_revision().await.unwrap(), gone.mod_revision);
    assert_eq!(store.get("/a").await.unwrap(), None);
    assert!(
        matches!(store.delete("/a", None).await, Err(StoreError::NotFound(ref k)) if k == "/a")
    );
    assert!(matches!(
        store.delete("/a", Some(a.mod_revision)).await,
        Err(StoreError::Conflict { current: None, .. })
    ));

    match store.delete("/b", Some(b.mod_revision + 100)).await {
        Err(StoreError::Conflict { current, .. }) => assert_eq!(current, Some(b.clone())),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert!(store.get("/b").await.unwrap().is_some());
    let gone_b = store.delete("/b", Some(b.mod_revision)).await.unwrap();
    assert_eq!(gone_b.value, b"b");
    assert_eq!(store.get("/b").await.unwrap(), None);
}

pub async fn recreate_after_delete_starts_a_new_life(store: S) {
    let first = store.create("/a", b"1".to_vec()).await.unwrap();
    store.delete("/a", None).await.unwrap();
    let second = store.create("/a", b"2".to_vec()).await.unwrap();
    assert!(second.create_revision > first.create_revision);
    assert_eq!(second.create_revision, second.mod_revision);
    let mut watch = store.watch("/a", first.mod_revision).await.unwrap();
    let deleted = next_event(&mut watch).await;
    assert_eq!(deleted.event_type, EventType::Delete);
    let created = next_event(&mut watch).await;
    assert_eq!(created.event_type, EventType::Put);
    assert_eq!(created.prev, None, "a re-create has no previous version");
}

pub async fn list_is_ordered_and_prefix_isolated(store: S) {
    for key in [
        "/registry/pods/ns/c",
        "/registry/podsx/ns/a",
        "/registry/pods/ns/a",
        "/registry/pod",
        "/registry/pods/other/b",
        "/registry/pods",
        "/registry/pods/ns/b",
    ] {
        store.create(key, key.as_bytes().to_vec()).await.unwrap();
    }
    let list = store.list(prefix("/registry/pods/")).await.unwrap();
    assert_eq!(
        keys(&list.items),
        [
            "/registry/pods/ns/a",
            "/registry/pods/ns/b",
            "/registry/pods/ns/c",
            "/registry/pods/other/b"
        ]
    );
    assert!(!list.more);
    assert_eq!(list.remaining, 0);
    assert_eq!(list.revision, store.current_revision().await.unwrap());
    for kv in &list.items {
        assert_eq!(kv.value, kv.key.as_bytes());
    }
    let all = store.list(prefix("")).await.unwrap();
    assert_eq!(all.items.len(), 7);
    let sorted: Vec<_> = {
        let mut k = keys(&all.items);
        k.sort();
        k
    };
    assert_eq!(keys(&all.items), sorted);
    let ns = store.list(prefix("/registry/pods/ns/")).await.unwrap();
    assert_eq!(ns.items.len(), 3);
    assert_eq!(store.count("/registry/pods/").await.unwrap(), 4);
    assert_eq!(store.count("/registry/nothing/").await.unwrap(), 0);
    // Deleted keys are not listed.
    store.delete("/registry/pods/ns/b", None).await.unwrap();
    let ns = store.list(prefix("/registry/pods/ns/")).await.unwrap();
    assert_eq!(
        keys(&ns.items),
        ["/registry/pods/ns/a", "/registry/pods/ns/c"]
    );
}

pub async fn list_paginates_at_a_fixed_revision_while_writes_continue(store: S) {
    let mut expected = BTreeMap::new();
    for i in 0..25 {
        let key = format!("/p/{i:03}");
        let kv = store.create(&key, vec![i]).await.unwrap();
        expected.insert(key, kv);
    }
    store.create("/q/outside", b"x".to_vec()).await.unwrap();
    let first = store
        .list(ListOptions {
            prefix: "/p/".into(),
            limit: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first.items.len(), 10);
    assert!(first.more);
    assert_eq!(first.remaining, 15);
    let at = first.revision;
    // Without the count, `more` still tells that items follow.
    let uncounted = store
        .list(ListOptions {
            prefix: "/p/".into(),
            limit: Some(10),
            skip_remaining_count: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(uncounted.items, first.items);
    assert!(uncounted.more);
    assert_eq!(uncounted.remaining, 0);

    // The world moves on between pages.
    store.delete("/p/015", None).await.unwrap();
    let kv = expected["/p/020"].clone();
    store
        .update("/p/020", b"changed".to_vec(), kv.mod_revision)
        .await
        .unwrap();
    store.create("/p/0125", b"new".to_vec()).await.unwrap();
    store.create("/p/999", b"new".to_vec()).await.unwrap();

    let mut seen = first.items.clone();
    let mut last = first;
    while last.more {
        let cursor = last.items.last().unwrap().key.clone();
        let page = store
            .list(ListOptions {
                prefix: "/p/".into(),
                start_after: Some(cursor),
                limit: Some(10),
                revision: Some(at),
                skip_remaining_count: false,
            })
            .await
            .unwrap();
        assert_eq!(page.revision, at);
        assert_eq!(page.remaining as usize, 25 - seen.len() - page.items.len());
        seen.extend(page.items.clone());
        last = page;
    }
    assert_eq!(last.remaining, 0);
    let expected: Vec<KeyValue> = expected.into_values().collect();
    assert_eq!(
        seen, expected,
        "pages at a fixed revision show that revision exactly"
    );

    // The latest view has all the changes.
    let now = store.list(prefix("/p/")).await.unwrap();
    assert_eq!(now.items.len(), 26);
    // A limit of 0 means everything.
    let all = store
        .list(ListOptions {
            prefix: "/p/".into(),
            limit: Some(0),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.items.len(), 26);
    assert!(!all.more);
}

pub async fn list_at_an_old_revision(store: S) {
    let a1 = store.create("/o/a", b"a1".to_vec()).await.unwrap();
    let b1 = store.create("/o/b", b"b1".to_vec()).await.unwrap();
    let at = store.current_revision().await.unwrap();
    store
        .update("/o/a", b"a2".to_vec(), a1.mod_revision)
        .await
        .unwrap();
    store.delete("/o/b", None).await.unwrap();
    store.create("/o/c", b"c1".to_vec()).await.unwrap();

    let old = store
        .list(ListOptions {
            prefix: "/o/".into(),
            revision: Some(at),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(old.revision, at);
    assert_eq!(old.items, vec![a1.clone(), b1]);
    let before_b = store
        .list(ListOptions {
            prefix: "/o/".into(),
            revision: Some(a1.mod_revision),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(before_b.items, vec![a1]);
    let now = store.list(prefix("/o/")).await.unwrap();
    assert_eq!(keys(&now.items), ["/o/a", "/o/c"]);
    assert_eq!(now.items[0].value, b"a2");
}

pub async fn list_rejects_future_revisions(store: S) {
    store.create("/a", b"a".to_vec()).await.unwrap();
    let current = store.current_revision().await.unwrap();
    let err = store
        .list(ListOptions {
            revision: Some(current + 1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::FutureRevision { requested, current: c } if requested == current + 1 && c == current)
    );
    // 0 means "latest".
    let latest = store
        .list(ListOptions {
            revision: Some(0),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(latest.revision, current);
}

pub async fn revisions_are_monotonic_and_failed_writes_take_none(store: S) {
    let mut last = store.current_revision().await.unwrap();
    let a = store.create("/a", b"".to_vec()).await.unwrap();
    assert_eq!(a.mod_revision, last + 1);
    last = a.mod_revision;
    assert!(store.create("/a", b"".to_vec()).await.is_err());
    assert!(store.update("/a", b"".to_vec(), 0).await.is_err());
    assert!(store.delete("/nope", None).await.is_err());
    assert_eq!(store.current_revision().await.unwrap(), last);
    let a2 = store
        .update("/a", b"x".to_vec(), a.mod_revision)
        .await
        .unwrap();
    assert_eq!(a2.mod_revision, last + 1);
    let gone = store.delete("/a", None).await.unwrap();
    assert_eq!(gone.mod_revision, last + 2);
}

/// Writes a known sequence under /w/ and returns the events it must produce.
async fn write_sequence(store: &S) -> Vec<(EventType, String, Revision)> {
    let a = store.create("/w/a", b"a1".to_vec()).await.unwrap();
    let b = store.create("/w/b", b"b1".to_vec()).await.unwrap();
    let a2 = store
        .update("/w/a", b"a2".to_vec(), a.mod_revision)
        .await
        .unwrap();
    let gone = store.delete("/w/b", Some(b.mod_revision)).await.unwrap();
    vec![
        (EventType::Put, "/w/a".into(), a.mod_revision),
        (EventType::Put, "/w/b".into(), b.mod_revision),
        (EventType::Put, "/w/a".into(), a2.mod_revision),
        (EventType::Delete, "/w/b".into(), gone.mod_revision),
    ]
}

pub async fn watch_from_the_start(store: S) {
    let expected = write_sequence(&store).await;
    let mut watch = store.watch("/w/", 0).await.unwrap();
    let mut events = Vec::new();
    for _ in 0..expected.len() {
        events.push(next_event(&mut watch).await);
    }
    let got: Vec<_> = events
        .iter()
        .map(|e| (e.event_type, e.kv.key.clone(), e.kv.mod_revision))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(events[0].prev, None);
    assert_eq!(events[0].kv.value, b"a1");
    let update = &events[2];
    assert_eq!(update.kv.value, b"a2");
    assert_eq!(
        update.prev.as_ref().map(|p| p.value.as_slice()),
        Some(b"a1".as_slice())
    );
    assert_eq!(
        update.prev.as_ref().map(|p| p.mod_revision),
        Some(expected[0].2)
    );
    let delete = &events[3];
    assert_eq!(
        delete.kv.value, b"b1",
        "a delete event carries the deleted value"
    );
    assert_eq!(delete.kv.create_revision, expected[1].2);
    let prev = delete.prev.clone().unwrap();
    assert_eq!(
        (prev.value.as_slice(), prev.mod_revision),
        (b"b1".as_slice(), expected[1].2)
    );

    // Then live.
    assert_quiet(&mut watch).await;
    let c = store.create("/w/c", b"c".to_vec()).await.unwrap();
    let live = next_event(&mut watch).await;
    assert_eq!(live.kv, c);
}

pub async fn watch_from_the_middle(store: S) {
    let expected = write_sequence(&store).await;
    let mut watch = store.watch("/w/", expected[1].2).await.unwrap();
    let third = next_event(&mut watch).await;
    assert_eq!(third.kv.mod_revision, expected[2].2);
    let fourth = next_event(&mut watch).await;
    assert_eq!(fourth.kv.mod_revision, expected[3].2);
    assert_quiet(&mut watch).await;

    // Watching from "now" (or the future) sees only what comes next.
    let now = store.current_revision().await.unwrap();
    let mut from_now = store.watch("/w/", now).await.unwrap();
    let mut from_future = store.watch("/w/", now + 1).await.unwrap();
    assert_quiet(&mut from_now).await;
    let x = store.create("/w/x", b"x".to_vec()).await.unwrap();
    let y = store.create("/w/y", b"y".to_vec()).await.unwrap();
    assert_eq!(next_event(&mut from_now).await.kv, x);
    assert_eq!(next_event(&mut from_now).await.kv, y);
    assert_eq!(next_event(&mut from_future).await.kv, y);
}

pub async fn watch_is_prefix_isolated(store: S) {
    let mut watch = store.watch("/registry/pods/", 0).await.unwrap();
    store
        .create("/registry/podsx/a", b"x".to_vec())
        .await
        .unwrap();
    store.create("/registry/pod", b"x".to_vec()).await.unwrap();
    let mine = store
        .create("/registry/pods/a", b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(next_event(&mut watch).await.kv, mine);
    assert_quiet(&mut watch).await;
}

/// Checks a watch delivered exactly the given revisions, in increasing order.
fn assert_exact_revisions(events: &[Event], expected: &BTreeSet<Revision>) {
    let got: Vec<Revision> = events.iter().map(|e| e.kv.mod_revision).collect();
    for pair in got.windows(2) {
        assert!(pair[0] < pair[1], "out of order or duplicated: {pair:?}");
    }
    let got: BTreeSet<Revision> = got.into_iter().collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
}

pub async fn watch_switches_from_history_to_live_without_gaps_or_duplicates(store: S) {
    const WRITERS: usize = 8;
    const PER_WRITER: usize = 150;
    let start = store.current_revision().await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revisions = Vec::new();
            for i in 0..PER_WRITER {
                // Keys outside the prefix interleave to exercise filtering.
                let other = store
                    .create(&format!("/other/{w}/{i}"), vec![])
                    .await
                    .unwrap();
                let key = format!("/live/{w}/{i}");
                let kv = store.create(&key, vec![1]).await.unwrap();
                revisions.push(kv.mod_revision);
                if i % 3 == 0 {
                    let kv = store.update(&key, vec![2], kv.mod_revision).await.unwrap();
                    revisions.push(kv.mod_revision);
                }
                if i % 5 == 0 {
                    revisions.push(store.delete(&key, None).await.unwrap().mod_revision);
                }
                assert!(other.mod_revision > start);
            }
            revisions
        }));
    }
    // Start watches at different moments while writes are in flight.
    let mut watches = Vec::new();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(15)).await;
        watches.push(store.watch("/live/", start).await.unwrap());
    }
    let mut expected = BTreeSet::new();
    for task in tasks {
        expected.extend(task.await.unwrap());
    }
    for mut watch in watches {
        let mut events = Vec::new();
        while events.len() < expected.len() {
            events.push(next_event(&mut watch).await);
        }
        assert_quiet(&mut watch).await;
        assert_exact_revisions(&events, &expected);
    }
}

pub async fn slow_watcher_catches_up_without_blocking_writers(store: S) {
    // Far more single-write batches than the live feed buffers (1024).
    const WRITES: usize = 3000;
    let start = store.current_revision().await.unwrap();
    let mut watch = store.watch("/slow/", start).await.unwrap();
    let mut expected = BTreeSet::new();
    let writes = async {
        for i in 0..WRITES {
            let kv = store
                .create(&format!("/slow/{i:05}"), vec![0; 16])
                .await
                .unwrap();
            expected.insert(kv.mod_revision);
        }
    };
    // The watcher is not polled at all while writing: writers must not wait.
    tokio::time::timeout(Duration::from_secs(60), writes)
        .await
        .expect("writers blocked by a watcher that does not read");
    let mut events = Vec::new();
    while events.len() < WRITES {
        events.push(next_event(&mut watch).await);
    }
    assert_exact_revisions(&events, &expected);
    assert_quiet(&mut watch).await;
    let live = store.create("/slow/live", vec![]).await.unwrap();
    assert_eq!(next_event(&mut watch).await.kv, live);
}

pub async fn slow_watcher_ends_with_compacted_when_history_is_gone(store: S) {
    let start = store.current_revision().await.unwrap();
    let mut watch = store.watch("/gone/", start).await.unwrap();
    for i in 0..2000 {
        store
            .create(&format!("/gone/{i:05}"), vec![])
            .await
            .unwrap();
    }
    store
        .compact(store.current_revision().await.unwrap())
        .await
        .unwrap();
    // Whatever was still buffered may come first; then the stream must end
    // with Compacted rather than skip history silently.
    let mut delivered = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
            Ok(Some(Ok(_))) => delivered += 1,
            Ok(Some(Err(StoreError::Compacted {
                requested,
                compacted,
            }))) => {
                assert!(requested < compacted);
                break;
            }
            other => panic!("expected a Compacted error item, got {other:?}"),
        }
    }
    assert!(delivered < 2000, "it could not have seen everything");
    assert!(tokio::time::timeout(Duration::from_secs(1), watch.next())
        .await
        .unwrap()
        .is_none());
}

pub async fn compaction_forgets_old_revisions(store: S) {
    let a = store.create("/c/a", b"a1".to_vec()).await.unwrap();
    store.create("/c/b", b"b1".to_vec()).await.unwrap();
    store
        .update("/c/a", b"a2".to_vec(), a.mod_revision)
        .await
        .unwrap();
    store.delete("/c/b", None).await.unwrap();
    let at = store.current_revision().await.unwrap();
    let view_at = store
        .list(ListOptions {
            prefix: "/c/".into(),
            revision: Some(at),
            ..Default::default()
        })
        .await
        .unwrap();
    let after = store.create("/c/c", b"c1".to_vec()).await.unwrap();

    assert_eq!(store.compacted_revision().await.unwrap(), 0);
    store.compact(at).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), at);

    let err = store
        .list(ListOptions {
            prefix: "/c/".into(),
            revision: Some(at - 1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Compacted { requested, compacted } if requested == at - 1 && compacted == at)
    );
    // The compacted revision itself is still readable, and unchanged.
    let still = store
        .list(ListOptions {
            prefix: "/c/".into(),
            revision: Some(at),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(still.items, view_at.items);
    let now = store.list(prefix("/c/")).await.unwrap();
    assert_eq!(keys(&now.items), ["/c/a", "/c/c"]);

    assert!(matches!(
        store.watch("/c/", at - 1).await,
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(
        store.watch("/c/", 0).await,
        Err(StoreError::Compacted { .. })
    ));
    let mut watch = store.watch("/c/", at).await.unwrap();
    assert_eq!(next_event(&mut watch).await.kv, after);

    // Compacting again lower is a no-op; the future is refused.
    store.compact(at - 1).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), at);
    let current = store.current_revision().await.unwrap();
    assert!(matches!(
        store.compact(current + 1).await,
        Err(StoreError::FutureRevision { .. })
    ));
    // Latest state and further writes are unaffected.
    let a_now = store.get("/c/a").await.unwrap().unwrap();
    assert_eq!(a_now.value, b"a2");
    store
        .update("/c/a", b"a3".to_vec(), a_now.mod_revision)
        .await
        .unwrap();
    store.create("/c/b", b"b2".to_vec()).await.unwrap();
    store
        .compact(store.current_revision().await.unwrap())
        .await
        .unwrap();
    let end = store.list(prefix("/c/")).await.unwrap();
    assert_eq!(keys(&end.items), ["/c/a", "/c/b", "/c/c"]);
}

pub async fn concurrent_writers_get_distinct_revisions(store: S) {
    const TASKS: usize = 64;
    const PER_TASK: usize = 20;
    let start = store.current_revision().await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..PER_TASK {
                out.push(
                    store
                        .create(&format!("/many/{t:02}/{i:02}"), vec![t as u8, i as u8])
                        .await
                        .unwrap(),
                );
            }
            // A failed write in the middle of everyone else's batch fails alone.
            assert!(matches!(
                store.create(&format!("/many/{t:02}/00"), vec![]).await,
                Err(StoreError::AlreadyExists(_))
            ));
            out
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let revisions: BTreeSet<Revision> = all.iter().map(|kv| kv.mod_revision).collect();
    assert_eq!(
        revisions.len(),
        TASKS * PER_TASK,
        "every write has its own revision"
    );
    let expected: BTreeSet<Revision> =
        (start + 1..=start + (TASKS * PER_TASK) as Revision).collect();
    assert_eq!(revisions, expected, "revisions are consecutive");
    assert_eq!(
        store.current_revision().await.unwrap(),
        start + (TASKS * PER_TASK) as Revision
    );
    let list = store.list(prefix("/many/")).await.unwrap();
    assert_eq!(list.items.len(), TASKS * PER_TASK);
    for kv in &all {
        assert_eq!(store.get(&kv.key).await.unwrap().as_ref(), Some(kv));
    }
}
