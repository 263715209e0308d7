//! Watches as kube-runtime consumes them: `watcher`, label-filtered
//! watchers, `reflector`, `metadata_watcher`, resuming `Api::watch` from an
//! older resourceVersion, streaming lists and watch timeouts.

use crate::common::*;
use crate::support::TestServer;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::PartialObjectMeta;
#[allow(deprecated)]
use kube::runtime::metadata_watcher;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{reflector, watcher as watch_stream};
use kube::ResourceExt;
use serde_json::json;
use std::time::{Duration, Instant};

type Events<K> = BoxStream<'static, Result<Event<K>, watcher::Error>>;

/// Consume the initial list (Init .. InitDone): the watcher is live after this.
async fn until_init_done<K: Send + 'static>(events: &mut Events<K>) {
    loop {
        match next_item(events, "InitDone").await.expect("watcher error") {
            Event::InitDone => return,
            Event::Init | Event::InitApply(_) => {}
            Event::Apply(_) | Event::Delete(_) => panic!("a change before the initial list ended"),
        }
    }
}

/// The next Apply or Delete (a relist's Init events are skipped).
async fn next_change<K: Send + 'static>(events: &mut Events<K>, what: &str) -> Event<K> {
    loop {
        match next_item(events, what).await.expect("watcher error") {
            Event::Init | Event::InitApply(_) | Event::InitDone => {}
            change => return change,
        }
    }
}

fn applied_name<K: ResourceExt>(ev: &Event<K>) -> Option<String> {
    match ev {
        Event::Apply(o) => Some(o.name_any()),
        _ => None,
    }
}

fn deleted_name<K: ResourceExt>(ev: &Event<K>) -> Option<String> {
    match ev {
        Event::Delete(o) => Some(o.name_any()),
        _ => None,
    }
}

#[tokio::test]
async fn watcher_sees_create_update_delete_after_start() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "w").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "w");
    cms.create(&PostParams::default(), &config_map("before", &[]))
        .await
        .expect("create before");
    let mut events: Events<ConfigMap> =
        watch_stream(cms.clone(), watcher::Config::default()).boxed();
    until_init_done(&mut events).await;

    cms.create(&PostParams::default(), &config_map("w1", &[("a", "1")]))
        .await
        .expect("create");
    let ev = next_change(&mut events, "Apply on create").await;
    assert_eq!(applied_name(&ev).as_deref(), Some("w1"));

    cms.patch(
        "w1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "2"}})),
    )
    .await
    .expect("patch");
    match next_change(&mut events, "Apply on update").await {
        Event::Apply(cm) => assert_eq!(cm.data, labels(&[("a", "2")])),
        other => panic!("expected Apply, got {other:?}"),
    }

    cms.delete("w1", &DeleteParams::default())
        .await
        .expect("delete");
    let ev = next_change(&mut events, "Delete").await;
    assert_eq!(deleted_name(&ev).as_deref(), Some("w1"));
}

#[tokio::test]
async fn label_filtered_watcher_sees_only_matching_objects() {
    let server = TestServer::sqlite().await;
    let client = server.client().await;
    namespace(&client, "wl").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "wl");
    let mut events: Events<ConfigMap> = watch_stream(
        cms.clone(),
        watcher::Config::default().labels("app=watched"),
    )
    .boxed();
    until_init_done(&mut events).await;

    // Written first: if the filter leaked, "plain" would arrive before "a".
    cms.create(
        &PostParams::default(),
        &labeled_config_map("plain", &[("app", "other")]),
    )
    .await
    .expect("create plain");
    cms.create(
        &PostParams::default(),
        &labeled_config_map("a", &[("app", "watched")]),
    )
    .await
    .expect("create a");
    let ev = next_change(&mut events, "Apply of a").await;
    assert_eq!(applied_name(&ev).as_deref(), Some("a"));

    // Leaving the selector is a delete for this watcher.
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "gone"}}})),
    )
    .await
    .expect("relabel");
    let ev = next_change(&mut events, "Delete of relabeled a").await;
    assert_eq!(deleted_name(&ev).as_deref(), Some("a"));

    // Entering the selector is an add.
    cms.patch(
        "plain",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "watched"}}})),
    )
    .await
    .expect("relabel plain");
    let ev = next_change(&mut events, "Apply of plain").await;
    assert_eq!(applied_name(&ev).as_deref(), Some("plain"));
}

#[tokio::test]
async fn reflector_store_converges_to_the_server_list() {
    let server = TestServer::sqlite().await;
    let client = server.client().await;
    namespace(&client, "refl").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "refl");
    for i in 0..3 {
        cms.create(
            &PostParams::default(),
            &config_map(&format!("old-{i}"), &[]),
        )
        .await
        .expect("create");
    }
    let (store, writer) = reflector::store::<ConfigMap>();
    let drive = reflector(
        writer,
        watch_stream(cms.clone(), watcher::Config::default()),
    );
    let task = tokio::spawn(async move {
        let _ = drive.try_for_each(|_| async { Ok(()) }).await;
    });
    tokio::time::timeout(DEADLINE, store.wait_until_ready())
        .await
        .expect("store ready in time")
        .expect("writer alive");

    for i in 0..4 {
        cms.create(
            &PostParams::default(),
            &config_map(&format!("new-{i}"), &[("i", "0")]),
        )
        .await
        .expect("create");
    }
    cms.delete("old-1", &DeleteParams::default())
        .await
        .expect("delete");
    cms.delete("new-3", &DeleteParams::default())
        .await
        .expect("delete");
    cms.patch(
        "new-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"i": "1"}})),
    )
    .await
    .expect("patch");

    let listed = cms.list(&ListParams::default()).await.expect("list");
    let want: Vec<(String, Option<String>)> = {
        let mut v: Vec<_> = listed
            .items
            .iter()
            .map(|c| (c.name_any(), c.resource_version()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(want.len(), 5);
    eventually("the reflector store to match the list", || async {
        let mut have: Vec<(String, Option<String>)> = store
            .state()
            .iter()
            .map(|c| (c.name_any(), c.resource_version()))
            .collect();
        have.sort();
        have == want
    })
    .await;
    task.abort();
}

/// Both spellings kube 5 offers: `Api<PartialObjectMeta<K>>` with `watcher`
/// (metadata-only requests), and the older `metadata_watcher` function.
#[tokio::test]
#[allow(deprecated)]
async fn metadata_watcher_streams_partial_object_metadata() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "meta").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "meta");
    let metas: Api<PartialObjectMeta<ConfigMap>> = Api::namespaced(client, "meta");
    let mut streams: Vec<Events<PartialObjectMeta<ConfigMap>>> = vec![
        watch_stream(metas, watcher::Config::default()).boxed(),
        metadata_watcher(cms.clone(), watcher::Config::default()).boxed(),
    ];
    for events in streams.iter_mut() {
        until_init_done(events).await;
    }

    cms.create(
        &PostParams::default(),
        &labeled_config_map("m", &[("team", "x")]),
    )
    .await
    .expect("create");
    for events in streams.iter_mut() {
        match next_change(events, "Apply of metadata").await {
            Event::Apply(pom) => {
                assert_eq!(pom.metadata.name.as_deref(), Some("m"));
                assert_eq!(
                    pom.metadata
                        .labels
                        .and_then(|l| l.get("team").cloned())
                        .as_deref(),
                    Some("x")
                );
                let types = pom.types.expect("typed as PartialObjectMetadata");
                assert_eq!(types.kind, "PartialObjectMetadata");
                assert_eq!(types.api_version, "meta.k8s.io/v1");
            }
            other => panic!("expected Apply, got {other:?}"),
        }
    }
    cms.delete("m", &DeleteParams::default())
        .await
        .expect("delete");
    for events in streams.iter_mut() {
        let ev = next_change(events, "Delete of metadata").await;
        assert_eq!(deleted_name(&ev).as_deref(), Some("m"));
    }
}

fn rv_number(rv: Option<String>) -> u64 {
    rv.and_then(|s| s.parse().ok())
        .expect("numeric resourceVersion")
}

#[tokio::test]
async fn watch_from_older_resource_version_replays_in_order() {
    let server = TestServer::sqlite().await;
    let client = server.client().await;
    namespace(&client, "hist").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "hist");
    let start = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("list resourceVersion");

    cms.create(&PostParams::default(), &config_map("h", &[("step", "1")]))
        .await
        .expect("create");
    let mut cur = cms.get("h").await.expect("get");
    cur.data = labels(&[("step", "2")]);
    cms.replace("h", &PostParams::default(), &cur)
        .await
        .expect("replace");
    cms.patch(
        "h",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"step": "3"}})),
    )
    .await
    .expect("patch");
    cms.delete("h", &DeleteParams::default())
        .await
        .expect("delete");

    let mut stream = cms
        .watch(&WatchParams::default().timeout(10), &start)
        .await
        .expect("watch")
        .boxed();
    let mut seen = Vec::new();
    let mut last_rv = rv_number(Some(start.clone()));
    while seen.len() < 4 {
        let ev = next_item(&mut stream, "replayed event")
            .await
            .expect("event");
        let (kind, cm) = match ev {
            WatchEvent::Added(cm) => ("ADDED", cm),
            WatchEvent::Modified(cm) => ("MODIFIED", cm),
            WatchEvent::Deleted(cm) => ("DELETED", cm),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        };
        let rv = rv_number(cm.resource_version());
        assert!(rv > last_rv, "resourceVersions rise: {rv} after {last_rv}");
        last_rv = rv;
        let step = cm
            .data
            .and_then(|d| d.get("step").cloned())
            .unwrap_or_default();
        seen.push((kind, step));
    }
    let expect = |k: &'static str, s: &str| (k, s.to_string());
    assert_eq!(
        seen,
        vec![
            expect("ADDED", "1"),
            expect("MODIFIED", "2"),
            expect("MODIFIED", "3"),
            expect("DELETED", "3"),
        ]
    );
}

#[tokio::test]
async fn watch_timeout_ends_the_stream() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let started = Instant::now();
    let stream = cms
        .watch(&WatchParams::default().timeout(2), "0")
        .await
        .expect("watch");
    // Bookmarks were requested (kube's default); the server sends them far less
    // often than this watch lives, so none is awaited here.
    let drained = tokio::time::timeout(Duration::from_secs(15), stream.try_collect::<Vec<_>>())
        .await
        .expect("the stream ends after timeoutSeconds");
    drained.expect("no stream error");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "ended before its timeout: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn streaming_list_ends_initial_events_with_a_bookmark() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "stream").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "stream");
    for name in ["a", "b", "c"] {
        cms.create(&PostParams::default(), &config_map(name, &[]))
            .await
            .expect("create");
    }
    let mut stream = cms
        .watch(&WatchParams::streaming_lists().timeout(10), "")
        .await
        .expect("streaming watch")
        .boxed();
    let mut added = Vec::new();
    loop {
        match next_item(&mut stream, "initial events")
            .await
            .expect("event")
        {
            WatchEvent::Added(cm) => added.push(cm.name_any()),
            WatchEvent::Bookmark(b) => {
                assert_eq!(
                    b.metadata
                        .annotations
                        .get("k8s.io/initial-events-end")
                        .map(String::as_str),
                    Some("true")
                );
                assert!(!b.metadata.resource_version.is_empty());
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    added.sort();
    assert_eq!(added, vec!["a", "b", "c"]);

    // kube's watcher in streaming-list mode reaches InitDone with the same objects.
    let mut events: Events<ConfigMap> =
        watch_stream(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        match next_item(&mut events, "streaming InitDone")
            .await
            .expect("watcher")
        {
            Event::InitApply(cm) => initial.push(cm.name_any()),
            Event::InitDone => break,
            _ => {}
        }
    }
    initial.sort();
    assert_eq!(initial, vec!["a", "b", "c"]);
}
