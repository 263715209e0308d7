//! Events: expired a TTL after their last write (`--event-ttl`), and served
//! from the store rather than the watch cache — gets, lists with field and
//! label selectors, pagination, resourceVersion semantics, watches, and
//! namespace deletion must all work as before.

mod support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, Namespace, ObjectReference};
use k8s_openapi::api::events::v1::Event as EventV1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, DeleteParams, ListParams, PostParams, VersionMatch, WatchEvent, WatchParams};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::TestServer;

const DEADLINE: Duration = Duration::from_secs(20);

fn event(name: &str, ns: &str, pod: &str, uid: &str, reason: &str) -> Event {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    Event {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            labels: Some(BTreeMap::from([(
                "reason".to_string(),
                reason.to_lowercase(),
            )])),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(pod.into()),
            namespace: Some(ns.into()),
            uid: Some(uid.into()),
            ..Default::default()
        },
        reason: Some(reason.into()),
        message: Some(format!("{reason} {pod}")),
        type_: Some("Normal".into()),
        count: Some(1),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        ..Default::default()
    }
}

async fn ttl_server(ttl: Duration) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(berth_store::MemoryStore::new());
    TestServer::with_config(store, dir, |c| c.event_ttl = ttl).await
}

/// The next watch event, or a panic after `DEADLINE`.
async fn next_event<S>(stream: &mut S) -> WatchEvent<Event>
where
    S: futures::Stream<Item = kube::Result<WatchEvent<Event>>> + Unpin,
{
    tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("a watch event in time")
        .expect("the watch goes on")
        .expect("a decodable watch event")
}

async fn gone(events: &Api<Event>, name: &str) -> bool {
    matches!(events.get_opt(name).await, Ok(None))
}

#[tokio::test]
async fn an_event_older_than_the_ttl_is_deleted_and_watchers_see_it_go() {
    let server = ttl_server(Duration::from_secs(2)).await;
    let events: Api<Event> = Api::namespaced(server.client().await, "default");
    let created = events
        .create(
            &PostParams::default(),
            &event("old", "default", "p", "u1", "Pulled"),
        )
        .await
        .expect("create");
    let rv = created
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    let mut watch = events
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    let started = Instant::now();
    match next_event(&mut watch).await {
        WatchEvent::Deleted(e) => assert_eq!(e.metadata.name.as_deref(), Some("old")),
        other => panic!("expected DELETED, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "deleted after {waited:?}, before the TTL"
    );
    assert!(gone(&events, "old").await);
}

#[tokio::test]
async fn an_event_written_again_lives_a_ttl_from_its_last_write() {
    let ttl = Duration::from_secs(3);
    let server = ttl_server(ttl).await;
    let events: Api<Event> = Api::namespaced(server.client().await, "default");
    let created = events
        .create(
            &PostParams::default(),
            &event("repeat", "default", "p", "u1", "BackOff"),
        )
        .await
        .expect("create");
    let started = Instant::now();
    let rv = created
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    let mut watch = events
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut bumped = events.get("repeat").await.expect("still there");
    bumped.count = Some(2);
    bumped.last_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
    let rewritten = Instant::now();
    events
        .replace("repeat", &PostParams::default(), &bumped)
        .await
        .expect("update");
    // An update of an Event the cache does not hold is still a MODIFIED.
    match next_event(&mut watch).await {
        WatchEvent::Modified(e) => assert_eq!(e.count, Some(2)),
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    // Past a TTL from the create, not from the update: still there.
    tokio::time::sleep(
        (started + ttl + Duration::from_millis(700)).saturating_duration_since(Instant::now()),
    )
    .await;
    assert!(
        !gone(&events, "repeat").await,
        "a re-written event expired a TTL after its first write"
    );
    match next_event(&mut watch).await {
        WatchEvent::Deleted(e) => assert_eq!(e.count, Some(2)),
        other => panic!("expected DELETED, got {other:?}"),
    }
    assert!(rewritten.elapsed() >= ttl - Duration::from_millis(300));
}

#[tokio::test]
async fn events_are_listed_from_the_store_with_selectors_and_pages() {
    let server = TestServer::memory().await;
    let srv = &server.running.server;
    let client = server.client().await;
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    for i in 0..5 {
        events
            .create(
                &PostParams::default(),
                &event(&format!("web.{i}"), "default", "web", "uid-web", "Pulled"),
            )
            .await
            .expect("create");
    }
    for (i, reason) in ["Scheduled", "Started"].iter().enumerate() {
        events
            .create(
                &PostParams::default(),
                &event(&format!("db.{i}"), "default", "db", "uid-db", reason),
            )
            .await
            .expect("create");
    }
    // Another pod named "web" elsewhere, and a stale one with another uid.
    let client_ns: Api<Namespace> = Api::all(client.clone());
    client_ns
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some("other".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("namespace");
    let other: Api<Event> = Api::namespaced(client.clone(), "other");
    other
        .create(
            &PostParams::default(),
            &event("web.x", "other", "web", "uid-web-2", "Pulled"),
        )
        .await
        .expect("create");
    events
        .create(
            &PostParams::default(),
            &event("web.old", "default", "web", "uid-web-old", "Killing"),
        )
        .await
        .expect("create");

    // Nothing of it is held in the cache's map.
    assert!(srv
        .cache
        .get("/registry/core/events/default/web.0")
        .is_none());
    assert!(srv.cache.under("/registry/core/events/").is_empty());

    let got = events.get("db.1").await.expect("get");
    assert_eq!(got.reason.as_deref(), Some("Started"));

    // kubectl describe pod's query.
    let describe =
        "involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=uid-web";
    let found = events
        .list(&ListParams::default().fields(describe))
        .await
        .expect("list");
    let names: Vec<_> = found
        .items
        .iter()
        .filter_map(|e| e.metadata.name.clone())
        .collect();
    assert_eq!(names, ["web.0", "web.1", "web.2", "web.3", "web.4"]);
    let all: Api<Event> = Api::all(client.clone());
    let by_kind = all
        .list(&ListParams::default().fields("involvedObject.kind=Pod,involvedObject.name=web"))
        .await
        .expect("list");
    assert_eq!(by_kind.items.len(), 7, "both namespaces, every uid");
    let by_label = events
        .list(&ListParams::default().labels("reason in (scheduled,killing)"))
        .await
        .expect("list");
    let names: Vec<_> = by_label
        .items
        .iter()
        .filter_map(|e| e.metadata.name.clone())
        .collect();
    assert_eq!(names, ["db.0", "web.old"]);

    // Pages of 3 without a filter: remainingItemCount, and a continue token
    // that reads the same revision even after a write.
    let first = events
        .list(&ListParams::default().limit(3))
        .await
        .expect("page 1");
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.metadata.remaining_item_count, Some(5));
    let token = first.metadata.continue_.clone().expect("a continue token");
    events
        .create(
            &PostParams::default(),
            &event("late", "default", "x", "uid-x", "Pulled"),
        )
        .await
        .expect("create");
    let mut names: Vec<_> = first
        .items
        .iter()
        .filter_map(|e| e.metadata.name.clone())
        .collect();
    let mut token = Some(token);
    while let Some(t) = token.take() {
        let page = events
            .list(&ListParams::default().limit(3).continue_token(&t))
            .await
            .expect("next page");
        assert_eq!(
            page.metadata.resource_version,
            first.metadata.resource_version
        );
        names.extend(page.items.iter().filter_map(|e| e.metadata.name.clone()));
        token = page.metadata.continue_.filter(|c| !c.is_empty());
    }
    assert_eq!(
        names,
        ["db.0", "db.1", "web.0", "web.1", "web.2", "web.3", "web.4", "web.old"]
    );

    // Pages of a selective filter scan past non-matching events.
    let page = events
        .list(&ListParams::default().fields(describe).limit(2))
        .await
        .expect("filtered page");
    let names: Vec<_> = page
        .items
        .iter()
        .filter_map(|e| e.metadata.name.clone())
        .collect();
    assert_eq!(names, ["web.0", "web.1"]);
    assert_eq!(page.metadata.remaining_item_count, None);
    let rest = events
        .list(
            &ListParams::default()
                .fields(describe)
                .limit(10)
                .continue_token(page.metadata.continue_.as_deref().unwrap_or("")),
        )
        .await
        .expect("rest");
    assert_eq!(rest.items.len(), 3);
    assert!(rest.metadata.continue_.as_deref().unwrap_or("").is_empty());

    // resourceVersion semantics: "0" (any), Exact (as of then), too new.
    let any = events
        .list(&ListParams::default().match_any())
        .await
        .expect("rv=0");
    assert_eq!(any.items.len(), 9);
    let then = first.metadata.resource_version.clone().unwrap_or_default();
    let exact = events
        .list(
            &ListParams::default()
                .at(&then)
                .matching(VersionMatch::Exact),
        )
        .await
        .expect("exact");
    assert_eq!(exact.items.len(), 8, "as of the first page, before 'late'");
    // Newer than the store: 504 (asked in process: kube-rs retries 504s for minutes).
    let info = berth_api::registry::lookup("", "v1", "events").expect("events registered");
    let future = then.parse::<i64>().unwrap_or(0) + 1000;
    for q in [
        format!("resourceVersion={future}"),
        format!("resourceVersion={future}&resourceVersionMatch=NotOlderThan"),
        format!("resourceVersion={future}&resourceVersionMatch=Exact"),
    ] {
        let q = berth_apiserver::request::Query::parse(Some(&q));
        let filter = berth_apiserver::list::Filter::from_query(info, &q).expect("filter");
        let err = berth_apiserver::list::read_page(srv, info, Some("default"), &q, &filter)
            .await
            .err()
            .expect("too new");
        assert_eq!(err.code, 504, "{err:?}");
    }

    // A watch without a resourceVersion replays the stored events as ADDED,
    // then goes live.
    let mut watch = events
        .watch(&WatchParams::default().fields(describe), "0")
        .await
        .expect("watch")
        .boxed();
    let mut replayed = Vec::new();
    for _ in 0..5 {
        match next_event(&mut watch).await {
            WatchEvent::Added(e) => replayed.extend(e.metadata.name),
            other => panic!("expected ADDED, got {other:?}"),
        }
    }
    assert_eq!(replayed, ["web.0", "web.1", "web.2", "web.3", "web.4"]);
    events
        .create(
            &PostParams::default(),
            &event("web.5", "default", "web", "uid-web", "Pulled"),
        )
        .await
        .expect("create");
    match next_event(&mut watch).await {
        WatchEvent::Added(e) => assert_eq!(e.metadata.name.as_deref(), Some("web.5")),
        other => panic!("expected ADDED web.5, got {other:?}"),
    }
    events
        .delete("web.5", &DeleteParams::default())
        .await
        .expect("delete");
    match next_event(&mut watch).await {
        WatchEvent::Deleted(e) => assert_eq!(e.metadata.name.as_deref(), Some("web.5")),
        other => panic!("expected DELETED web.5, got {other:?}"),
    }

    // events.k8s.io/v1 is served from the store too.
    let v1: Api<EventV1> = Api::namespaced(client, "default");
    let mut ev = EventV1 {
        metadata: ObjectMeta {
            name: Some("new-api".into()),
            ..Default::default()
        },
        event_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
        reason: Some("Pulled".into()),
        action: Some("Pulling".into()),
        reporting_controller: Some("kubelet".into()),
        reporting_instance: Some("n1".into()),
        type_: Some("Normal".into()),
        ..Default::default()
    };
    ev.regarding = Some(ObjectReference {
        kind: Some("Pod".into()),
        name: Some("web".into()),
        namespace: Some("default".into()),
        ..Default::default()
    });
    v1.create(&PostParams::default(), &ev)
        .await
        .expect("create events.k8s.io");
    assert!(srv
        .cache
        .get("/registry/events.k8s.io/events/default/new-api")
        .is_none());
    let listed = v1
        .list(&ListParams::default())
        .await
        .expect("list events.k8s.io");
    assert_eq!(listed.items.len(), 1);
    let stream = v1
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch events.k8s.io");
    let first: Vec<_> = stream.take(1).try_collect().await.expect("one event");
    assert!(
        matches!(&first[0], WatchEvent::Added(e) if e.metadata.name.as_deref() == Some("new-api"))
    );
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_events() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some("doomed".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("namespace");
    let events: Api<Event> = Api::namespaced(client.clone(), "doomed");
    for i in 0..3 {
        events
            .create(
                &PostParams::default(),
                &event(&format!("e{i}"), "doomed", "p", "u", "Pulled"),
            )
            .await
            .expect("create");
    }
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete namespace");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let ns_gone = matches!(namespaces.get_opt("doomed").await, Ok(None));
        let left = server
            .store
            .list(berth_store::ListOptions {
                prefix: "/registry/core/events/doomed/".into(),
                ..Default::default()
            })
            .await
            .expect("store list")
            .items
            .len();
        if ns_gone && left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "namespace gone: {ns_gone}, events left: {left}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn after_a_restart_stored_events_expire_by_their_timestamps() {
    let store: Arc<dyn berth_store::Store> = Arc::new(berth_store::MemoryStore::new());
    let ago = |mins: i64| (chrono::Utc::now() - chrono::Duration::minutes(mins)).to_rfc3339();
    for (name, written) in [("stale", ago(90)), ("fresh", ago(5))] {
        let ev = serde_json::json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "default", "uid": name, "creationTimestamp": ago(120)},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Pulled", "count": 2, "firstTimestamp": ago(120), "lastTimestamp": written,
        });
        store
            .create(
                &format!("/registry/core/events/default/{name}"),
                serde_json::to_vec(&ev).expect("json"),
            )
            .await
            .expect("store create");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server =
        TestServer::with_config(store, dir, |c| c.event_ttl = Duration::from_secs(3600)).await;
    let events: Api<Event> = Api::namespaced(server.client().await, "default");
    let deadline = Instant::now() + DEADLINE;
    while !gone(&events, "stale").await {
        assert!(
            Instant::now() < deadline,
            "an event last written 90 min ago outlived a 1 h TTL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !gone(&events, "fresh").await,
        "an event written 5 min ago was expired"
    );
}
