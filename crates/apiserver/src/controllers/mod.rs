//! Loops the API server runs itself because they only touch stored objects:
//! garbage collection by ownerReferences, namespace lifecycle (incl. the
//! default ServiceAccount), store compaction, and Event expiry. Level-triggered and
//! incremental: each cache event yields only the work it implies.
//!
//! ```text
//! cache events ─▶ gc::Collector::observe ─▶ work set ─▶ process (deletes / edits)
//!              └▶ touches a namespace, or a delete while one terminates ─▶ namespace::pass
//! start, missed events (lag) ─▶ full rebuild      every 60 s ─▶ namespace::pass
//! every 5 min ─▶ compaction::pass
//! Event writes ─▶ event_ttl: expiry queue ─▶ delete a TTL after the last write
//! ```

pub mod compaction;
pub mod event_ttl;
pub mod gc;
pub mod namespace;

use crate::Server;
use berth_api::registry::{ResourceInfo, REGISTRY};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub fn spawn_all(srv: &Arc<Server>) {
    let s = srv.clone();
    tokio::spawn(async move { housekeeping(s).await });
    let s = srv.clone();
    tokio::spawn(async move { compaction::run(s).await });
    event_ttl::spawn(srv);
}

const NAMESPACES: &str = "/registry/core/namespaces/";

async fn housekeeping(srv: Arc<Server>) {
    let mut events = srv.cache.subscribe();
    let mut collector = gc::Collector::default();
    let (_, snapshot) = srv.cache.snapshot();
    let mut work: BTreeSet<gc::Work> = collector.rebuild(&snapshot);
    let mut namespaces_dirty = true;
    let mut resync = tokio::time::interval(Duration::from_secs(60));
    loop {
        if !work.is_empty() {
            for w in std::mem::take(&mut work) {
                collector.process(&srv, &w).await;
            }
        }
        if namespaces_dirty {
            namespaces_dirty = false;
            namespace::pass(&srv).await;
        }
        tokio::select! {
            _ = resync.tick() => namespaces_dirty = true,
            r = events.recv() => {
                let mut next = Some(r);
                // Take what is already queued, so a burst becomes one round of work.
                while let Some(r) = next.take() {
                    match r {
                        Ok(live) => {
                            let ev = &live.event;
                            collector.observe(ev, &mut work);
                            // Cheap checks first: the namespace scan only runs for deletions.
                            let deleted = ev.event_type == crate::cache::WatchEventType::Deleted;
                            if ev.key.starts_with(NAMESPACES) || (deleted && namespace::any_terminating(&srv)) {
                                namespaces_dirty = true;
                            }
                        }
                        Err(RecvError::Lagged(_)) => {
                            let (_, snapshot) = srv.cache.snapshot();
                            work = collector.rebuild(&snapshot);
                            namespaces_dirty = true;
                        }
                        Err(RecvError::Closed) => return,
                    }
                    if work.len() < 10_000 {
                        next = match events.try_recv() {
                            Ok(ev) => Some(Ok(ev)),
                            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                            Err(_) => None,
                        };
                    }
                }
            }
        }
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
