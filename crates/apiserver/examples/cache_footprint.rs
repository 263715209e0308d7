//! How much memory the watch cache spends per pod, and how fast lists and
//! watch fan-out are, for 10,000 pods shaped like a Deployment's pods after
//! the kubelet reported their status.
//!
//! `cargo run --release -p berth-apiserver --example cache_footprint [-- PODS]`
//!
//! Prints figures; asserts nothing (timings depend on the machine).

use axum::http::HeaderMap;
use berth_apiserver::cache::WatchCache;
use berth_apiserver::request::Query;
use berth_store::{SqliteStore, Store};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NS: &str = "bench";
const HASH_A: &str = "5d4b7c9f8";
const HASH_B: &str = "7f6c8d5b4";

#[cfg(target_env = "gnu")]
extern "C" {
    fn malloc_trim(pad: usize) -> i32;
}

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::live;

/// Resident set size of this process, in bytes, after glibc returned the
/// free memory it can (so transient garbage from parsing does not count).
fn rss() -> u64 {
    // SAFETY: malloc_trim only releases free heap pages; it touches no live allocation.
    #[cfg(target_env = "gnu")]
    unsafe {
        malloc_trim(0);
    }
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn mib(b: i64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

/// A pod as the ReplicaSet controller created it, the scheduler bound it and
/// the kubelet reported its status (defaults and service-account volume included).
fn pod(i: usize, hash: &str, rs_uid: &str, restarts: u64) -> Value {
    let name = format!("web-{hash}-{i:05x}");
    let ip = format!("10.42.{}.{}", (i / 250) % 250, i % 250 + 2);
    let node = format!("node-{}", i % 50);
    let t = "2025-01-01T10:00:00Z";
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "generateName": format!("web-{hash}-"), "namespace": NS,
            "uid": format!("0f6a8c52-1b7e-4c3d-9a2f-{i:012x}"),
            "creationTimestamp": t,
            "labels": {"app": "web", "pod-template-hash": hash},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("web-{hash}"),
                "uid": rs_uid, "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {
            "containers": [{
                "name": "web", "image": "nginx:1.27",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": true,
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
            }],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default", "nodeName": node,
            "securityContext": {}, "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
            "priority": 0, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority",
            "volumes": [{"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ]}}],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": null, "lastTransitionTime": t},
                {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": t},
                {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": t},
                {"type": "ContainersReady", "status": "True", "lastProbeTime": null, "lastTransitionTime": t},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": t},
            ],
            "hostIP": "192.0.2.10", "hostIPs": [{"ip": "192.0.2.10"}],
            "podIP": ip, "podIPs": [{"ip": ip}], "startTime": t,
            "containerStatuses": [{
                "name": "web", "ready": true, "started": true, "restartCount": restarts,
                "state": {"running": {"startedAt": t}},
                "lastState": {},
                "image": "docker.io/library/nginx:1.27",
                "imageID": "docker.io/library/nginx@sha256:0a399eb16751829e1af26fea27b20c3ec28d7ab1fb72182879dcae1cca21206a",
                "containerID": format!("containerd://{:064x}", i),
                "volumeMounts": [{"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "readOnly": true, "recursiveReadOnly": "Disabled"}],
            }],
            "qosClass": "Burstable",
        },
    })
}

fn owners() -> Vec<(String, Value)> {
    let deploy_uid = "9e1d2c3b-0000-4000-8000-000000000001";
    let mut out = vec![
        (
            format!("/registry/core/namespaces/{NS}"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "uid": "9e1d2c3b-0000-4000-8000-0000000000ff"},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        ),
        (
            format!("/registry/apps/deployments/{NS}/web"),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS, "uid": deploy_uid},
               "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}),
        ),
    ];
    for hash in [HASH_A, HASH_B] {
        out.push((
            format!("/registry/apps/replicasets/{NS}/web-{hash}"),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": format!("web-{hash}"), "namespace": NS,
                   "uid": rs_uid(hash), "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                   "uid": deploy_uid, "controller": true, "blockOwnerDeletion": true}]},
                   "spec": {"selector": {"matchLabels": {"app": "web", "pod-template-hash": hash}},
                            "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": hash}},
                            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}),
        ));
    }
    out
}

fn rs_uid(hash: &str) -> String {
    format!("9e1d2c3b-0000-4000-8000-{hash:0>12}")
}

/// Pods 0..n/2 belong to the first ReplicaSet, the rest to the second (a rollout half done).
fn hash_of(i: usize, n: usize) -> &'static str {
    if i < n / 2 {
        HASH_A
    } else {
        HASH_B
    }
}

fn pod_key(i: usize, n: usize) -> String {
    format!("/registry/core/pods/{NS}/web-{}-{i:05x}", hash_of(i, n))
}

async fn populate(store: &dyn Store, n: usize) {
    for (key, obj) in owners() {
        let _ = store.create(&key, obj.to_string().into_bytes()).await;
    }
    for i in 0..n {
        let hash = hash_of(i, n);
        let bytes = pod(i, hash, &rs_uid(hash), 0).to_string().into_bytes();
        if let Err(e) = store.create(&pod_key(i, n), bytes).await {
            eprintln!("create pod {i}: {e}");
        }
    }
}

/// The kubelet bumps every pod's status once (e.g. a restart): one ring event each.
async fn touch_all(store: &dyn Store, n: usize) {
    for i in 0..n {
        let key = pod_key(i, n);
        let Ok(Some(kv)) = store.get(&key).await else {
            continue;
        };
        let hash = hash_of(i, n);
        let bytes = pod(i, hash, &rs_uid(hash), 1).to_string().into_bytes();
        if let Err(e) = store.update(&key, bytes, kv.mod_revision).await {
            eprintln!("update pod {i}: {e}");
        }
    }
}

async fn wait_cache(cache: &WatchCache, store: &dyn Store) {
    if let Ok(rev) = store.current_revision().await {
        cache.wait_for(rev).await;
    }
}

/// A List, read only as far as counting its items.
#[derive(serde::Deserialize)]
struct ItemCount {
    items: Vec<serde::de::IgnoredAny>,
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

async fn time_list(srv: &Arc<berth_apiserver::Server>, query: &str) -> (Duration, usize, usize) {
    let Some(info) = berth_api::registry::lookup("", "v1", "pods") else {
        return (Duration::ZERO, 0, 0);
    };
    let q = Query::parse(Some(query));
    let mut headers = HeaderMap::new();
    headers.insert(
        axum::http::header::ACCEPT,
        axum::http::HeaderValue::from_static("application/json"),
    );
    let mut runs = Vec::new();
    let mut size = 0;
    let mut items = 0;
    for _ in 0..7 {
        let t = Instant::now();
        let resp = match berth_apiserver::list::list(srv, info, Some(NS), &q, &headers).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("list: {e}");
                return (Duration::ZERO, 0, 0);
            }
        };
        let body = match resp.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                eprintln!("list body: {e}");
                return (Duration::ZERO, 0, 0);
            }
        };
        runs.push(t.elapsed());
        size = body.len();
        items = serde_json::from_slice::<ItemCount>(&body)
            .map(|l| l.items.len())
            .unwrap_or(0);
    }
    (median(runs), items, size)
}

/// `watchers` watches on the namespace's pods; time until every one has seen `updates` changes.
async fn time_fanout(
    srv: &Arc<berth_apiserver::Server>,
    store: &dyn Store,
    n: usize,
    watchers: usize,
    updates: usize,
) -> Duration {
    let Some(info) = berth_api::registry::lookup("", "v1", "pods") else {
        return Duration::ZERO;
    };
    let rev = srv.cache.revision();
    let q = Query::parse(Some(&format!("watch=true&resourceVersion={rev}")));
    let headers = HeaderMap::new();
    let mut done = Vec::new();
    for _ in 0..watchers {
        let resp =
            match berth_apiserver::watch::watch(srv, info, Some(NS), None, &q, &headers).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("watch: {e}");
                    return Duration::ZERO;
                }
            };
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut body = resp.into_body();
            let mut lines = 0;
            while lines < updates {
                match body.frame().await {
                    Some(Ok(f)) => {
                        if let Some(d) = f.data_ref() {
                            lines += d.iter().filter(|b| **b == b'\n').count();
                        }
                    }
                    _ => break,
                }
            }
            let _ = tx.send(Instant::now());
        });
        done.push(rx);
    }
    let t = Instant::now();
    for i in 0..updates {
        let key = pod_key(i % n, n);
        let Ok(Some(kv)) = store.get(&key).await else {
            continue;
        };
        let hash = hash_of(i % n, n);
        let bytes = pod(i % n, hash, &rs_uid(hash), 2 + i as u64)
            .to_string()
            .into_bytes();
        let _ = store.update(&key, bytes, kv.mod_revision).await;
    }
    let mut last = t;
    for rx in done {
        if let Ok(at) = rx.await {
            last = last.max(at);
        }
    }
    last - t
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return;
        }
    };
    rt.block_on(run(n));
}

async fn run(n: usize) {
    // tmpfs when there is one: SQLite's fsyncs would otherwise dominate the set-up.
    let dir = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir());
    let Ok(dir) = dir else {
        eprintln!("no temp dir");
        return;
    };
    let store: Arc<dyn Store> = match SqliteStore::open(dir.path().join("state.db")) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("sqlite: {e}");
            return;
        }
    };
    let t = Instant::now();
    populate(store.as_ref(), n).await;
    let sample = pod(0, HASH_A, &rs_uid(HASH_A), 0).to_string().len();
    println!(
        "stored {n} pods ({sample} bytes of JSON each) in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let n64 = n as i64;
    let (rss0, live0) = (rss() as i64, live());
    let t = Instant::now();
    let cache = match WatchCache::start(store.clone()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cache: {e}");
            return;
        }
    };
    let load = t.elapsed();
    let (rss1, live1) = (rss() as i64, live());
    println!(
        "cache of {} objects loaded in {} ms: heap +{} = {} bytes per pod; RSS +{} = {} bytes per pod",
        cache.len(),
        load.as_millis(),
        mib(live1 - live0),
        (live1 - live0) / n64,
        mib(rss1 - rss0),
        (rss1 - rss0) / n64
    );
    touch_all(store.as_ref(), n).await;
    wait_cache(&cache, store.as_ref()).await;
    let (rss2, live2) = (rss() as i64, live());
    println!(
        "+ one status update per pod ({n} ring events): heap +{} = {} bytes per event; RSS +{} = {} bytes per event",
        mib(live2 - live1),
        (live2 - live1) / n64,
        mib(rss2 - rss1),
        (rss2 - rss1) / n64
    );

    // A whole server on the same store for request latency.
    let mut config = berth_apiserver::Config::new(dir.path().join("server"), 0);
    config.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let running = match berth_apiserver::start(config, store.clone()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("server: {e}");
            return;
        }
    };
    let srv = running.server.clone();
    // Let the server's own loops (garbage collector indexes) take in the objects.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss3, live3) = (rss() as i64, live());
    println!(
        "a whole API server on the same store (its own cache, ring empty, GC indexes): heap +{} = {} bytes per pod; RSS +{}",
        mib(live3 - live2),
        (live3 - live2) / n64,
        mib(rss3 - rss2),
    );
    for (what, query) in [
        ("full list", ""),
        ("labelSelector=app=web (all)", "labelSelector=app%3Dweb"),
        (
            "labelSelector=pod-template-hash (half)",
            "labelSelector=pod-template-hash%3D5d4b7c9f8",
        ),
        ("limit=500", "limit=500"),
        (
            "fieldSelector=spec.nodeName=node-7",
            "fieldSelector=spec.nodeName%3Dnode-7",
        ),
    ] {
        let (d, items, size) = time_list(&srv, query).await;
        println!(
            "list {what}: {:.1} ms median of 7 ({items} items, {})",
            d.as_secs_f64() * 1000.0,
            mib(size as i64)
        );
    }
    let (watchers, updates) = (100, 500);
    let d = time_fanout(&srv, store.as_ref(), n, watchers, updates).await;
    println!(
        "watch fan-out: {updates} changes to {watchers} watchers in {:.0} ms = {:.1} µs per delivery",
        d.as_secs_f64() * 1000.0,
        d.as_secs_f64() * 1e6 / (watchers * updates) as f64
    );
}
