//! Scenario (a): pods through Deployments onto the hollow nodes, timed from
//! the first create until every pod is Running.

use super::cluster::SimCluster;
use super::hollow::IMAGE;
use super::metrics::{self, Histograms};
use crate::stats::Summary;
use anyhow::{bail, Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::PostParams;
use kube::Api;
use serde_json::json;
use std::time::{Duration, Instant};

pub const NAMESPACE: &str = "sim";
/// Pods tolerate an unreachable node this long before they are evicted
/// (Kubernetes' default is 300 s; scenario (c) would take minutes more).
pub const TOLERATION_SECONDS: i64 = 10;

pub fn deployment(name: &str, replicas: usize) -> Result<Deployment> {
    let toleration = |key: &str| {
        json!({"key": key, "operator": "Exists", "effect": "NoExecute",
               "tolerationSeconds": TOLERATION_SECONDS})
    };
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{
                        "name": "echo", "image": IMAGE,
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    }],
                    "tolerations": [
                        toleration("node.kubernetes.io/not-ready"),
                        toleration("node.kubernetes.io/unreachable"),
                    ],
                    // No token volume: see "Departures" in benches/README.md.
                    "automountServiceAccountToken": false,
                },
            },
        },
    }))
    .context("building a Deployment")
}

pub struct CreateRun {
    pub pods: usize,
    pub deployments: usize,
    /// First create sent → every pod Running.
    pub all_running: Duration,
    /// Bind rate over the whole run and over the busiest 10 s.
    pub scheduled_per_second: f64,
    pub peak_scheduled_per_second: f64,
    /// Pod first seen (created) → seen Running.
    pub startup: Summary,
    pub api: Histograms,
}

pub async fn run(
    cluster: &SimCluster,
    pods: usize,
    deployments: usize,
    limit: Duration,
    progress: &(dyn Fn(String) + Sync),
) -> Result<CreateRun> {
    crate::create_namespace(&cluster.admin, NAMESPACE).await?;
    let before = metrics::scrape(&cluster.admin).await;
    let api: Api<Deployment> = Api::namespaced(cluster.admin.clone(), NAMESPACE);
    let started = Instant::now();
    let per = pods / deployments.max(1);
    let mut remaining = pods;
    for i in 0..deployments {
        let replicas = if i + 1 == deployments { remaining } else { per };
        remaining -= replicas;
        api.create(
            &PostParams::default(),
            &deployment(&format!("sim-{i:04}"), replicas)?,
        )
        .await
        .with_context(|| format!("creating Deployment sim-{i:04}"))?;
    }
    let mut last_report = Instant::now();
    loop {
        let (seen, bound, running) = cluster.dispatch.counts();
        if running >= pods {
            break;
        }
        if started.elapsed() > limit {
            bail!(
                "after {:?}: {seen} pods created, {bound} scheduled, {running} Running of {pods}",
                limit
            );
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            progress(format!(
                "  {:>6.1}s: {seen} created, {bound} scheduled, {running} Running of {pods}",
                started.elapsed().as_secs_f64()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all_running = started.elapsed();
    let api_latency = metrics::scrape(&cluster.admin).await.since(&before);
    let tracks = cluster.dispatch.pods();
    let mut binds: Vec<Instant> = tracks.values().filter_map(|t| t.bound).collect();
    binds.sort_unstable();
    let startup = Summary::of(
        tracks
            .values()
            .filter_map(|t| t.running.map(|r| r.duration_since(t.first_seen)))
            .collect(),
    );
    Ok(CreateRun {
        pods,
        deployments,
        all_running,
        scheduled_per_second: rate(&binds),
        peak_scheduled_per_second: peak_rate(&binds, Duration::from_secs(10)),
        startup,
        api: api_latency,
    })
}

/// Events per second between the first and the last.
pub fn rate(sorted: &[Instant]) -> f64 {
    match (sorted.first(), sorted.last()) {
        (Some(first), Some(last)) if last > first => {
            sorted.len() as f64 / last.duration_since(*first).as_secs_f64()
        }
        _ => 0.0,
    }
}

/// The highest rate over any window of `window`.
pub fn peak_rate(sorted: &[Instant], window: Duration) -> f64 {
    let mut best = 0usize;
    let mut start = 0usize;
    for end in 0..sorted.len() {
        while sorted[end].duration_since(sorted[start]) > window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best as f64 / window.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_over_the_run_and_the_busiest_window() {
        let t0 = Instant::now();
        let mut times: Vec<Instant> = (0..100)
            .map(|i| t0 + Duration::from_millis(i * 10))
            .collect();
        times.push(t0 + Duration::from_secs(100));
        let overall = rate(&times);
        assert!((overall - 101.0 / 100.0).abs() < 1e-6, "{overall}");
        // 100 events inside the first second: a 10 s window holds all 100 of them.
        assert!((peak_rate(&times, Duration::from_secs(10)) - 10.0).abs() < 1e-6);
    }

    #[test]
    fn the_template_tolerates_a_lost_node_briefly() {
        let d = deployment("x", 3).unwrap();
        let spec = d.spec.unwrap().template.spec.unwrap();
        let tolerations = spec.tolerations.unwrap();
        assert_eq!(tolerations.len(), 2);
        assert!(tolerations
            .iter()
            .all(|t| t.toleration_seconds == Some(TOLERATION_SECONDS)));
    }
}
