//! Watches pinned to a node (`pods?fieldSelector=spec.nodeName=<node>`, as
//! every kubelet runs) are woken only by their node's pod events, and see
//! exactly what a filtered watch saw before: ADDED when a pod arrives on the
//! node, DELETED when it leaves, every change in order after a lag, resume
//! from a resourceVersion, initial events with their bookmark.
//!
//! Pods are written straight to the store (this is about the cache and
//! watch path, not about pod validation); watches are opened in-process
//! through the same function the HTTP route calls.

mod support;

use axum::http::HeaderMap;
use berth_apiserver::request::Query;
use berth_apiserver::Server;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use support::TestServer;

const NS: &str = "default";
const NODES: usize = 1000;

fn key(name: &str) -> String {
    format!("/registry/core/pods/{NS}/{name}")
}

fn pod(name: &str, node: Option<&str>, generation: u64) -> Vec<u8> {
    let mut spec = json!({"containers": [{"name": "c", "image": "i"}]});
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}"),
            "annotations": {"generation": generation.to_string()}},
        "spec": spec, "status": {"phase": "Pending"}})
    .to_string()
    .into_bytes()
}

async fn put(server: &TestServer, name: &str, node: Option<&str>, generation: u64) -> i64 {
    let store = &server.store;
    let kv = match store.get(&key(name)).await.expect("get") {
        Some(kv) => store
            .update(&key(name), pod(name, node, generation), kv.mod_revision)
            .await
            .expect("update"),
        None => store
            .create(&key(name), pod(name, node, generation))
            .await
            .expect("create"),
    };
    kv.mod_revision
}

async fn delete(server: &TestServer, name: &str) {
    server.store.delete(&key(name), None).await.expect("delete");
}

/// A watch's body, read line by line.
struct Lines {
    body: axum::body::Body,
    buf: Vec<u8>,
}

impl Lines {
    async fn open(srv: &Arc<Server>, query: &str) -> Self {
        let info = berth_api::registry::lookup("", "v1", "pods").expect("pods registered");
        let q = Query::parse(Some(&format!("watch=true&{query}")));
        let resp = berth_apiserver::watch::watch(srv, info, None, None, &q, &HeaderMap::new())
            .await
            .expect("watch");
        Self {
            body: resp.into_body(),
            buf: Vec::new(),
        }
    }

    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return serde_json::from_slice(&line).ok();
            }
            let frame = tokio::time::timeout(Duration::from_secs(20), self.body.frame())
                .await
                .ok()??
                .ok()?;
            if let Some(d) = frame.data_ref() {
                self.buf.extend_from_slice(d);
            }
        }
    }
}

fn summary(v: &Value) -> (String, String) {
    (
        v["type"].as_str().unwrap_or("").to_string(),
        v["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

fn node(i: usize) -> String {
    format!("node-{i}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_node_watchers_see_only_their_own_pods() {
    let server = TestServer::memory().await;
    let srv = server.running.server.clone();
    let rev = srv.cache.revision();
    let mut readers = Vec::new();
    for n in 0..NODES {
        let mut lines = Lines::open(
            &srv,
            &format!("fieldSelector=spec.nodeName%3Dnode-{n}&resourceVersion={rev}"),
        )
        .await;
        readers.push(tokio::spawn(async move {
            let sentinel = format!("end-{n}");
            let mut seen = Vec::new();
            while let Some(v) = lines.next().await {
                let s = summary(&v);
                if s.1 == sentinel {
                    return seen;
                }
                seen.push(s);
            }
            seen.push(("EOF".into(), String::new()));
            seen
        }));
    }
    assert_eq!(srv.cache.pinned_nodes(), NODES);
    // One unindexed watcher of the same namespace sees everything, as before.
    let mut all = Lines::open(&srv, &format!("resourceVersion={rev}")).await;

    let mut expected: HashMap<usize, Vec<(String, String)>> = HashMap::new();
    let mut expect = |n: usize, t: &str, name: &str| {
        expected
            .entry(n)
            .or_default()
            .push((t.to_string(), name.to_string()))
    };
    let mut writes = 0;
    // Pods created on a node.
    for i in 0..300 {
        let n = (i * 7) % NODES;
        put(&server, &format!("p{i}"), Some(&node(n)), 0).await;
        expect(n, "ADDED", &format!("p{i}"));
        writes += 1;
    }
    // Pending pods, then bound: the node's watchers see them arrive.
    for i in 0..20 {
        put(&server, &format!("q{i}"), None, 0).await;
        put(&server, &format!("q{i}"), Some(&node(i)), 1).await;
        expect(i, "ADDED", &format!("q{i}"));
        writes += 2;
    }
    // Moved to the next node: DELETED on the old one, ADDED on the new.
    for i in 0..50 {
        let (from, to) = ((i * 7) % NODES, (i * 7 + 1) % NODES);
        put(&server, &format!("p{i}"), Some(&node(to)), 1).await;
        expect(from, "DELETED", &format!("p{i}"));
        expect(to, "ADDED", &format!("p{i}"));
        writes += 1;
    }
    // Changed in place, then deleted.
    for i in 50..100 {
        put(&server, &format!("p{i}"), Some(&node((i * 7) % NODES)), 1).await;
        expect((i * 7) % NODES, "MODIFIED", &format!("p{i}"));
        writes += 1;
    }
    for i in 100..150 {
        delete(&server, &format!("p{i}")).await;
        expect((i * 7) % NODES, "DELETED", &format!("p{i}"));
        writes += 1;
    }
    for n in 0..NODES {
        put(&server, &format!("end-{n}"), Some(&node(n)), 0).await;
        writes += 1;
    }

    for (n, reader) in readers.into_iter().enumerate() {
        let seen = reader.await.expect("reader");
        let want = expected.remove(&n).unwrap_or_default();
        assert_eq!(seen, want, "watcher of {}", node(n));
    }
    for _ in 0..writes {
        assert!(
            all.next().await.is_some(),
            "unindexed watcher missed events"
        );
    }
    drop(all);
    // Watches that ended leave no node channel behind.
    for _ in 0..100 {
        if srv.cache.pinned_nodes() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(srv.cache.pinned_nodes(), 0);
}

#[tokio::test]
async fn a_lagging_node_watcher_catches_up_and_resumes_in_order() {
    let server = TestServer::memory().await;
    let srv = server.running.server.clone();
    let rev = srv.cache.revision();
    // Opened but not read while 1,400 changes happen (700 on its node):
    // its queue and its node channel overflow.
    let mut slow = Lines::open(
        &srv,
        &format!("fieldSelector=spec.nodeName%3Da&resourceVersion={rev}"),
    )
    .await;
    let mut revisions = Vec::new();
    for round in 0..7 {
        for i in 0..100 {
            revisions.push(put(&server, &format!("a{i}"), Some("a"), round).await);
            put(&server, &format!("b{i}"), Some("b"), round).await;
        }
    }
    let mut got = Vec::new();
    for _ in 0..700 {
        let v = slow.next().await.expect("event");
        let rv: i64 = v["object"]["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("resourceVersion");
        got.push((summary(&v).0, rv));
    }
    let want: Vec<(String, i64)> = revisions
        .iter()
        .enumerate()
        .map(|(i, rv)| {
            let t = if i < 100 { "ADDED" } else { "MODIFIED" };
            (t.to_string(), *rv)
        })
        .collect();
    assert_eq!(got, want);

    // Resume from the middle: only what came after, still only node a.
    let from = revisions[349];
    let mut resumed = Lines::open(
        &srv,
        &format!("fieldSelector=spec.nodeName%3Da&resourceVersion={from}"),
    )
    .await;
    for rv in &revisions[350..] {
        let v = resumed.next().await.expect("event");
        assert_eq!(
            v["object"]["metadata"]["resourceVersion"],
            json!(rv.to_string())
        );
    }

    // Initial events, then the bookmark that ends them, then live events.
    let mut initial = Lines::open(
        &srv,
        "fieldSelector=spec.nodeName%3Da&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
    )
    .await;
    for _ in 0..100 {
        let v = initial.next().await.expect("initial event");
        assert_eq!(summary(&v).0, "ADDED");
        assert!(summary(&v).1.starts_with('a'), "{v}");
    }
    let bookmark = initial.next().await.expect("bookmark");
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(
        bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    put(&server, "b0", Some("a"), 9).await;
    let moved = initial.next().await.expect("live event");
    assert_eq!(summary(&moved), ("ADDED".to_string(), "b0".to_string()));
}
