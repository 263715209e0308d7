//! Loops the API server runs itself because they only touch stored objects:
//! garbage collection by ownerReferences, namespace lifecycle (incl. the
//! default ServiceAccount), and store compaction. Each is level-triggered:
//! a pass reads one cache snapshot, compares, acts; running it twice is safe.
//!
//! ```text
//! cache events ─▶ debounce (200 ms) ─┬▶ gc::pass
//! every 30 s ───────────────────────┴▶ namespace::pass
//! every 5 min ─▶ compaction::pass
//! ```

pub mod compaction;
pub mod gc;
pub mod namespace;

use crate::Server;
use berth_api::registry::{ResourceInfo, REGISTRY};
use std::sync::Arc;
use std::time::Duration;

pub fn spawn_all(srv: &Arc<Server>) {
    let s = srv.clone();
    tokio::spawn(async move { housekeeping(s).await });
    let s = srv.clone();
    tokio::spawn(async move { compaction::run(s).await });
}

async fn housekeeping(srv: Arc<Server>) {
    let mut events = srv.cache.subscribe();
    let mut resync = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = resync.tick() => {}
            r = events.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) { return; }
                // Gather a burst of changes into one pass.
                tokio::time::sleep(Duration::from_millis(200)).await;
                while events.try_recv().is_ok() {}
            }
        }
        gc::pass(&srv).await;
        namespace::pass(&srv).await;
    }
}

/// Which resource, namespace and name a store key belongs to.
pub fn locate(key: &str) -> Option<(&'static ResourceInfo, Option<String>, String)> {
    let info = REGISTRY
        .iter()
        .filter(|r| r.version == r.storage_version)
        .find(|r| key.starts_with(&r.storage_prefix()))?;
    let rest = &key[info.storage_prefix().len()..];
    if info.namespaced() {
        let (ns, name) = rest.split_once('/')?;
        Some((info, Some(ns.to_string()), name.to_string()))
    } else {
        Some((info, None, rest.to_string()))
    }
}
