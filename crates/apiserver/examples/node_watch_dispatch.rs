//! What one pod event costs to dispatch when 5,000 kubelets each watch
//! `pods?fieldSelector=spec.nodeName=<node>`: with the node index (only the
//! pod's node's watcher wakes) against one broadcast to every watcher
//! (before: each of the 5,000 wakes and filters the event out).
//!
//! `cargo run --release -p berth-apiserver --example node_watch_dispatch [-- NODES EVENTS]`
//!
//! Prints figures; asserts nothing (timings depend on the machine).

use axum::http::HeaderMap;
use berth_apiserver::request::Query;
use berth_apiserver::testing::TestServer;
use berth_apiserver::Server;
use http_body_util::BodyExt;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// User + system CPU time of this process so far (Linux, clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

fn pod(name: &str, node: usize, generation: usize) -> Vec<u8> {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
            "annotations": {"generation": generation.to_string()}},
        "spec": {"nodeName": format!("node-{node}"), "containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running"}})
    .to_string()
    .into_bytes()
}

/// Opens `nodes` pinned watches; returns the count of lines they received.
async fn open_watchers(srv: &Arc<Server>, nodes: usize) -> Arc<AtomicUsize> {
    let received = Arc::new(AtomicUsize::new(0));
    let Some(info) = berth_api::registry::lookup("", "v1", "pods") else {
        return received;
    };
    let rev = srv.cache.revision();
    for n in 0..nodes {
        let q = Query::parse(Some(&format!(
            "watch=true&fieldSelector=spec.nodeName%3Dnode-{n}&resourceVersion={rev}"
        )));
        let resp = match berth_apiserver::watch::watch(srv, info, None, None, &q, &HeaderMap::new())
            .await
        {
            Ok(r) => r,
            Err(e) => {
                eprintln!("watch: {e}");
                return received;
            }
        };
        let received = received.clone();
        tokio::spawn(async move {
            let mut body = resp.into_body();
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(d) = frame.data_ref() {
                    let lines = d.iter().filter(|b| **b == b'\n').count();
                    received.fetch_add(lines, Ordering::Relaxed);
                }
            }
        });
    }
    received
}

/// `events` pod changes spread over the nodes; (wall, cpu) until every
/// watcher has its lines.
async fn run(
    server: &TestServer,
    nodes: usize,
    events: usize,
    indexed: bool,
) -> (Duration, Duration) {
    let srv = server.running.server.clone();
    srv.cache.set_node_index(indexed);
    let received = open_watchers(&srv, nodes).await;
    // Let the watch tasks reach their live loops.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (t, cpu) = (Instant::now(), cpu_time());
    let pods = nodes.max(1);
    for i in 0..events {
        let name = format!("p{}", i % pods);
        let key = format!("/registry/core/pods/default/{name}");
        let bytes = pod(&name, (i * 7919) % pods, i);
        let written = match server.store.get(&key).await {
            Ok(Some(kv)) => server.store.update(&key, bytes, kv.mod_revision).await,
            _ => server.store.create(&key, bytes).await,
        };
        if let Err(e) = written {
            eprintln!("write: {e}");
        }
    }
    // Each change reaches its node's watcher (a moved pod also its old node's).
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last = 0;
    loop {
        let now = received.load(Ordering::Relaxed);
        if nodes == 0 || (now >= events && now == last) || Instant::now() > deadline {
            break;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = (t.elapsed(), cpu_time().saturating_sub(cpu));
    srv.cache.set_node_index(true);
    elapsed
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let nodes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    println!("{nodes} node-pinned pod watchers, {events} pod changes");
    for (label, watchers, indexed) in [
        ("no watchers (write + cache cost alone)", 0, true),
        ("before: one broadcast, every watcher filters", nodes, false),
        ("now: node index, only the pod's node wakes", nodes, true),
    ] {
        // A fresh server each time, so earlier watchers do not count.
        let server = TestServer::memory().await;
        let (wall, cpu) = run(&server, watchers, events, indexed).await;
        println!(
            "{label}: {:.0} ms wall, {:.0} ms CPU = {:.1} µs wall / {:.1} µs CPU per event",
            wall.as_secs_f64() * 1000.0,
            cpu.as_secs_f64() * 1000.0,
            wall.as_secs_f64() * 1e6 / events as f64,
            cpu.as_secs_f64() * 1e6 / events as f64,
        );
    }
}
