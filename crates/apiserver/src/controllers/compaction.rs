//! Store compaction: every interval, forget history older than the revision
//! seen one interval ago (as kube-apiserver does with etcd every 5 minutes),
//! so watchers get at least one interval to resume.

use crate::Server;
use std::sync::Arc;
use std::time::Duration;

pub const INTERVAL: Duration = Duration::from_secs(300);

pub async fn run(srv: Arc<Server>) {
    let mut previous: Option<i64> = None;
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tick.tick().await;
        if let Some(rev) = previous {
            let started = std::time::Instant::now();
            match srv.store.compact(rev).await {
                Ok(()) => tracing::info!(
                    "compacted the store to revision {rev} in {:.1} ms",
                    started.elapsed().as_secs_f64() * 1000.0
                ),
                Err(e) => tracing::warn!("compaction to {rev}: {e}"),
            }
        }
        previous = srv.store.current_revision().await.ok();
    }
}
