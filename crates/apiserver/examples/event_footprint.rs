//! What one kubelet Event cost in the watch cache's map before Events were
//! served from the store, and what the TTL queue spends on it instead.
//!
//! `cargo run --release -p berth-apiserver --example event_footprint [-- EVENTS]`
//!
//! The Event is written through the API as the kubelet writes one, read back
//! as stored, then copied under EVENTS names into a map shaped like the
//! cache's. Prints figures; asserts nothing.

use berth_apiserver::cache::CachedObject;
use berth_apiserver::controllers::event_ttl::ExpiryQueue;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, PostParams};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::live;

/// An Event as the kubelet writes one (crates/kubelet/src/events.rs).
fn kubelet_event(pod: &str) -> Value {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{pod}.{:x}", 0x17f3_a2b4_c5d6_e7f8_u64), "namespace": "default"},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": "default",
            "uid": "0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f", "resourceVersion": "1234567",
            "fieldPath": "spec.containers{web}"},
        "reason": "Pulled",
        "message": "Container image \"registry.k8s.io/pause:3.10\" already present on machine",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "hollow-node-0042"},
        "firstTimestamp": at, "lastTimestamp": at, "count": 1,
        "reportingComponent": "kubelet", "reportingInstance": "hollow-node-0042",
    })
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let stored = runtime.block_on(async {
        let server = berth_apiserver::testing::TestServer::memory().await;
        let events: Api<Event> = Api::namespaced(server.client().await, "default");
        let ev: Event =
            serde_json::from_value(kubelet_event("web-7d4b9c8f6-x2k9p")).expect("an Event");
        let created = events
            .create(&PostParams::default(), &ev)
            .await
            .expect("create");
        let key = format!(
            "/registry/core/events/default/{}",
            created.metadata.name.unwrap_or_default()
        );
        let kv = server.store.get(&key).await.expect("get").expect("stored");
        berth_apiserver::cache::decode_stored(&kv.value, kv.mod_revision).expect("decodes")
    });

    let one_json = CachedObject::from_value("/k", &stored, 5)
        .map(|c| c.json.len())
        .unwrap_or(0);
    let values: Vec<(String, Value)> = (0..n)
        .map(|i| {
            let mut v = stored.clone();
            let name = format!("web-7d4b9c8f6-{i:05}.17f3a2b4c5d6e7f8");
            v["metadata"]["name"] = json!(name);
            v["involvedObject"]["name"] = json!(format!("web-7d4b9c8f6-{i:05}"));
            (format!("/registry/core/events/default/{name}"), v)
        })
        .collect();

    // As the cache held them: key → Arc<CachedObject> in a persistent map.
    let before = live();
    let mut map: imbl::OrdMap<String, Arc<CachedObject>> = imbl::OrdMap::new();
    for (key, v) in &values {
        if let Some(c) = CachedObject::from_value(key, v, 5) {
            map.insert(key.clone(), Arc::new(c));
        }
    }
    let cached = live() - before;
    let keys: Vec<String> = map.keys().cloned().collect();
    drop(map);

    // What the TTL queue keeps instead: the key, its revision, one expiry.
    let before = live();
    let mut queue = ExpiryQueue::new(Duration::from_secs(3600));
    let now = Instant::now();
    for (i, key) in keys.iter().enumerate() {
        queue.written(key, i as i64 + 2, now);
    }
    let queued = live() - before;

    let per = |bytes: i64| bytes as f64 / n as f64;
    println!("{n} kubelet Events (Pulled), stored as the API server stores them");
    println!("  served JSON per Event:                 {one_json} B");
    println!(
        "  watch cache map, per Event (before):   {:.0} B  (JSON + index + map entry)",
        per(cached)
    );
    println!(
        "  TTL queue, per Event (now):            {:.0} B",
        per(queued)
    );
    println!(
        "  750,000 Events: {:.0} MiB in the cache before, {:.0} MiB in the TTL queue now",
        per(cached) * 750_000.0 / (1 << 20) as f64,
        per(queued) * 750_000.0 / (1 << 20) as f64
    );
}
