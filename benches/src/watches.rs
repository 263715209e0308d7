//! Phase 3: many watchers on one namespace's ConfigMaps; one ConfigMap is
//! updated at a steady pace and every watcher timestamps every event.
//! Delay = event arrival − the moment the update's response was received.

use crate::stats::Summary;
use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

const TARGET: &str = "watched";
/// Watches opened at once (TLS handshakes); the rest queue.
const OPENING_AT_ONCE: usize = 64;

pub struct WatchRun {
    pub watchers_wanted: usize,
    pub watchers_open: usize,
    pub open_errors: usize,
    pub first_error: Option<String>,
    pub setup: Duration,
    pub updates: usize,
    pub update_latency: Summary,
    pub delivered: usize,
    pub expected: usize,
    /// Watchers that saw every update.
    pub complete_watchers: usize,
    /// Events that arrived before the client had the update's response.
    pub before_response: usize,
    pub delay: Summary,
    pub peak_connections: usize,
}

/// Arrival time per update sequence number, as one watcher saw them.
type Arrivals = Vec<Option<Instant>>;

pub async fn run(
    clients: &[Client],
    namespace: &str,
    watchers: usize,
    updates: usize,
    spacing: Duration,
    port: u16,
    progress: impl Fn(String),
) -> Result<WatchRun> {
    let api: Api<ConfigMap> = Api::namespaced(clients[0].clone(), namespace);
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(TARGET.to_string());
    cm.data = Some(BTreeMap::from([("seq".to_string(), "-1".to_string())]));
    api.create(&PostParams::default(), &cm)
        .await
        .context("creating the watched ConfigMap")?;
    let rv = api
        .list(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();

    let setup_started = Instant::now();
    let open = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(watchers);
    for w in 0..watchers {
        let api: Api<ConfigMap> = Api::namespaced(clients[w % clients.len()].clone(), namespace);
        let (open, failed, gate, rv) = (open.clone(), failed.clone(), gate.clone(), rv.clone());
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut arrivals: Arrivals = vec![None; updates];
            let permit = gate.acquire_owned().await;
            let stream = api.watch(&WatchParams::default().timeout(280), &rv).await;
            drop(permit);
            let mut stream = match stream {
                Ok(s) => s.boxed(),
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return (arrivals, Some(e.to_string()));
                }
            };
            open.fetch_add(1, Ordering::Relaxed);
            let mut seen = 0;
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    ev = stream.next() => {
                        let now = Instant::now();
                        match ev {
                            Some(Ok(WatchEvent::Modified(cm))) => {
                                if let Some(seq) = sequence(&cm).filter(|s| *s < updates) {
                                    if arrivals[seq].is_none() {
                                        arrivals[seq] = Some(now);
                                        seen += 1;
                                    }
                                }
                                if seen == updates {
                                    break;
                                }
                            }
                            Some(Ok(WatchEvent::Error(e))) => return (arrivals, Some(e.to_string())),
                            Some(Ok(_)) => {}
                            Some(Err(e)) => return (arrivals, Some(e.to_string())),
                            None => return (arrivals, Some("watch ended early".to_string())),
                        }
                    }
                }
            }
            (arrivals, None)
        }));
    }
    let open_deadline = Instant::now() + Duration::from_secs(90);
    let mut last_report = Instant::now();
    while open.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < watchers
        && Instant::now() < open_deadline
    {
        if last_report.elapsed() > Duration::from_secs(5) {
            progress(format!("{} watches open", open.load(Ordering::Relaxed)));
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let setup = setup_started.elapsed();
    let peak_connections = crate::server::established_connections(port);
    progress(format!(
        "{} watches open in {:.1} s; {} updates, {:?} apart",
        open.load(Ordering::Relaxed),
        setup.as_secs_f64(),
        updates,
        spacing
    ));

    // The writer: one merge patch every `spacing`, on its own client.
    let mut responded: Vec<Option<Instant>> = vec![None; updates];
    let mut update_latencies = Vec::with_capacity(updates);
    let writes_started = Instant::now();
    for (seq, slot) in responded.iter_mut().enumerate() {
        let patch = serde_json::json!({"data": {"seq": seq.to_string()}});
        let t0 = Instant::now();
        if api
            .patch(TARGET, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .is_ok()
        {
            let now = Instant::now();
            *slot = Some(now);
            update_latencies.push(now - t0);
        }
        tokio::time::sleep_until((writes_started + spacing * (seq as u32 + 1)).into()).await;
    }
    // Give stragglers time, then stop whoever is still waiting.
    let drain_deadline = Instant::now() + Duration::from_secs(15);
    while tasks.iter().any(|t| !t.is_finished()) && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);

    let mut result = WatchRun {
        watchers_wanted: watchers,
        watchers_open: open.load(Ordering::Relaxed),
        open_errors: failed.load(Ordering::Relaxed),
        first_error: None,
        setup,
        updates: responded.iter().flatten().count(),
        update_latency: Summary::of(update_latencies),
        delivered: 0,
        expected: 0,
        complete_watchers: 0,
        before_response: 0,
        delay: Summary::default(),
        peak_connections,
    };
    let mut delays = Vec::new();
    for task in tasks {
        let (arrivals, error) = match task.await {
            Ok(r) => r,
            Err(e) => (vec![None; updates], Some(e.to_string())),
        };
        if result.first_error.is_none() {
            result.first_error = error;
        }
        let mut complete = true;
        for (arrived, sent) in arrivals.iter().zip(&responded) {
            let Some(sent) = sent else { continue };
            result.expected += 1;
            match arrived {
                Some(at) => {
                    result.delivered += 1;
                    if at < sent {
                        result.before_response += 1;
                    }
                    delays.push(at.saturating_duration_since(*sent));
                }
                None => complete = false,
            }
        }
        if complete {
            result.complete_watchers += 1;
        }
    }
    result.delay = Summary::of(delays);
    Ok(result)
}

/// The update number carried in the ConfigMap's data.
fn sequence(cm: &ConfigMap) -> Option<usize> {
    cm.data.as_ref()?.get("seq")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_reads_the_update_number() {
        let mut cm = ConfigMap::default();
        assert_eq!(sequence(&cm), None);
        cm.data = Some(BTreeMap::from([("seq".to_string(), "-1".to_string())]));
        assert_eq!(sequence(&cm), None);
        cm.data = Some(BTreeMap::from([("seq".to_string(), "42".to_string())]));
        assert_eq!(sequence(&cm), Some(42));
    }
}
