//! Periodic compaction, as kube-apiserver's `--etcd-compaction-interval`
//! (5 min): each tick compacts to the revision seen at the previous tick, so
//! at least one interval of history stays for watchers that resume.
//!
//! ```text
//! tick ─▶ compact(revision seen last tick) ─▶ log "compacted the store …" ─▶ remember current revision
//! ```

use crate::{Revision, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// kube-apiserver's default compaction interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// Compacts `store` every `interval` until the task is dropped.
pub async fn run(store: Arc<dyn Store>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut previous: Option<Revision> = None;
    loop {
        if let Some(revision) = previous {
            compact_once(store.as_ref(), revision).await;
        }
        match store.current_revision().await {
            Ok(current) => previous = Some(current),
            Err(e) => tracing::warn!("compactor: reading the store revision: {e}"),
        }
        tick.tick().await;
    }
}

/// One compaction to `revision`, logged with its duration.
pub async fn compact_once(store: &dyn Store, revision: Revision) {
    let already = store.compacted_revision().await.unwrap_or_default();
    if revision <= already {
        return;
    }
    let started = Instant::now();
    match store.compact(revision).await {
        Ok(()) => tracing::info!(
            revision,
            revisions = revision - already,
            millis = started.elapsed().as_millis() as u64,
            "compacted the store to revision {revision} ({} revisions) in {:.1} ms",
            revision - already,
            started.elapsed().as_secs_f64() * 1000.0
        ),
        Err(e) => tracing::warn!("compacting the store to revision {revision}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[tokio::test(start_paused = true)]
    async fn each_tick_compacts_to_the_revision_of_the_tick_before() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let first = store
            .create("/registry/a", b"1".to_vec())
            .await
            .unwrap()
            .mod_revision;
        let task = tokio::spawn(run(store.clone(), Duration::from_secs(300)));
        // First tick: nothing to compact yet, the current revision is remembered.
        tokio::time::sleep(Duration::from_secs(1)).await;
        store.create("/registry/b", b"2".to_vec()).await.unwrap();
        let last = store
            .create("/registry/c", b"3".to_vec())
            .await
            .unwrap()
            .mod_revision;
        let before = store.compacted_revision().await.unwrap();
        assert!(before < first);
        // Second tick: compacts to the first write's revision, not to the newest.
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert_eq!(store.compacted_revision().await.unwrap(), first);
        // Third tick: to the newest.
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert_eq!(store.compacted_revision().await.unwrap(), last);
        task.abort();
    }
}
