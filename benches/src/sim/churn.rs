//! Scenario (b): steady churn — `rate` pod creations and as many deletions
//! per second for `duration`, each pod living about `lifetime`. Reports the
//! API's latency (client side and the server's histogram) and pod start-up
//! latency against the Kubernetes SLOs (mutating p99 ≤ 1 s, startup p99 ≤ 5 s).

use super::cluster::SimCluster;
use super::hollow::IMAGE;
use super::metrics::{self, Histograms};
use crate::stats::Summary;
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, PostParams};
use kube::Api;
use serde_json::json;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const NAMESPACE: &str = "sim-churn";

pub struct ChurnRun {
    pub rate: f64,
    pub duration: Duration,
    pub created: usize,
    pub deleted: usize,
    pub errors: usize,
    pub create_latency: Summary,
    pub delete_latency: Summary,
    pub startup: Summary,
    /// Pods created in the run that never reached Running before it ended.
    pub not_running: usize,
    pub api: Histograms,
}

fn pod(name: &str) -> Result<Pod> {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "churn"}},
        "spec": {
            "containers": [{"name": "echo", "image": IMAGE,
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
            "terminationGracePeriodSeconds": 1,
            // No token volume: see "Departures" in benches/README.md.
            "automountServiceAccountToken": false,
        },
    }))
    .context("building a churn pod")
}

#[derive(Default)]
struct Samples {
    create: Vec<Duration>,
    delete: Vec<Duration>,
    uids: Vec<String>,
    errors: usize,
}

pub async fn run(
    cluster: &SimCluster,
    rate: f64,
    duration: Duration,
    lifetime: Duration,
    progress: &(dyn Fn(String) + Sync),
) -> Result<ChurnRun> {
    crate::create_namespace(&cluster.admin, NAMESPACE).await?;
    let api: Api<Pod> = Api::namespaced(cluster.admin.clone(), NAMESPACE);
    let before = metrics::scrape(&cluster.admin).await;
    let samples = Arc::new(Mutex::new(Samples::default()));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.01)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut alive: VecDeque<(Instant, String)> = VecDeque::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut n = 0usize;
    let mut last_report = Instant::now();
    while started.elapsed() < duration {
        tick.tick().await;
        let name = format!("churn-{n:07}");
        n += 1;
        let (api_c, samples_c, body) = (api.clone(), samples.clone(), pod(&name)?);
        tasks.spawn(async move {
            let t = Instant::now();
            let result = api_c.create(&PostParams::default(), &body).await;
            let mut s = samples_c.lock().unwrap_or_else(|p| p.into_inner());
            match result {
                Ok(created) => {
                    s.create.push(t.elapsed());
                    s.uids.extend(created.metadata.uid);
                }
                Err(_) => s.errors += 1,
            }
        });
        alive.push_back((Instant::now(), name));
        // One deletion per creation once the first pods have lived their time.
        if alive
            .front()
            .is_some_and(|(born, _)| born.elapsed() >= lifetime)
        {
            if let Some((_, old)) = alive.pop_front() {
                tasks.spawn(delete(api.clone(), old, samples.clone()));
            }
        }
        while tasks.try_join_next().is_some() {}
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            let s = samples.lock().unwrap_or_else(|p| p.into_inner());
            progress(format!(
                "  {:>5.0}s: {} created, {} deleted, {} errors",
                started.elapsed().as_secs_f64(),
                s.create.len(),
                s.delete.len(),
                s.errors
            ));
        }
    }
    while tasks.join_next().await.is_some() {}
    let api_latency = metrics::scrape(&cluster.admin).await.since(&before);
    // Give the last pods a moment to start before judging start-up.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let tracks = cluster.dispatch.pods();
    let s = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
    let mut startup = Vec::new();
    let mut not_running = 0;
    for uid in &s.uids {
        match tracks.get(uid) {
            Some(t) => match t.running {
                Some(r) => startup.push(r.duration_since(t.first_seen)),
                None if !t.deleted => not_running += 1,
                None => {}
            },
            None => not_running += 1,
        }
    }
    // Clean up what is left, without timing it.
    for (_, name) in alive {
        let _ = api.delete(&name, &DeleteParams::default()).await;
    }
    Ok(ChurnRun {
        rate,
        duration,
        created: s.create.len(),
        deleted: s.delete.len(),
        errors: s.errors,
        create_latency: Summary::of(s.create),
        delete_latency: Summary::of(s.delete),
        startup: Summary::of(startup),
        not_running,
        api: api_latency,
    })
}

async fn delete(api: Api<Pod>, name: String, samples: Arc<Mutex<Samples>>) {
    let t = Instant::now();
    let result = api.delete(&name, &DeleteParams::default()).await;
    let mut s = samples.lock().unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(_) => s.delete.push(t.elapsed()),
        Err(_) => s.errors += 1,
    }
}
