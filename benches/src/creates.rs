//! Phase 1: sustained creates of small ConfigMaps by many concurrent tasks.
//!
//! kube 5's client speaks HTTP/1.1 only (hyper-util legacy pool, no h2), so a
//! single `kube::Client` does not serialize: it opens one pooled connection
//! per in-flight request. We still run the "N clients × M tasks" shape and
//! count the server's established connections to show what really happened.

use crate::server::established_connections;
use crate::stats::Summary;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct CreateRun {
    pub clients: usize,
    pub tasks_per_client: usize,
    pub ok: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub latency: Summary,
    /// Most server-side connections seen at once during the run, minus
    /// those already open before it (other clients' idle pools).
    pub peak_connections: usize,
}

impl CreateRun {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// ~100 bytes of data, like a small real ConfigMap.
pub fn small_configmap(name: String) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(BTreeMap::from([(
                "bench".to_string(),
                "create".to_string(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "config.txt".to_string(),
            "x".repeat(100),
        )])),
        ..Default::default()
    }
}

struct TaskOutcome {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

/// Every task creates ConfigMaps back to back until `duration` has passed.
pub async fn run(
    clients: &[Client],
    tasks_per_client: usize,
    namespace: &str,
    name_prefix: &str,
    duration: Duration,
    port: u16,
) -> CreateRun {
    let baseline = settled_connections(port).await;
    let deadline = Instant::now() + duration;
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(established_connections(port), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        for t in 0..tasks_per_client {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            let prefix = format!("{name_prefix}-{c}-{t}");
            tasks.push(tokio::spawn(async move {
                let mut out = TaskOutcome {
                    latencies: Vec::new(),
                    errors: 0,
                    first_error: None,
                };
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let cm = small_configmap(format!("{prefix}-{i}"));
                    i += 1;
                    let t0 = Instant::now();
                    match api.create(&PostParams::default(), &cm).await {
                        Ok(_) => out.latencies.push(t0.elapsed()),
                        Err(e) => {
                            out.errors += 1;
                            out.first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                out
            }));
        }
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(out) => {
                latencies.extend(out.latencies);
                errors += out.errors;
                if first_error.is_none() {
                    first_error = out.first_error;
                }
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let elapsed = started.elapsed();
    sampler.abort();
    CreateRun {
        clients: clients.len(),
        tasks_per_client,
        ok: latencies.len(),
        errors,
        first_error,
        elapsed,
        latency: Summary::of(latencies),
        peak_connections: peak.load(Ordering::Relaxed).saturating_sub(baseline),
    }
}

/// Server connections once earlier clients' pools have finished closing
/// (waits up to 2 s for the count to stop falling).
async fn settled_connections(port: u16) -> usize {
    let mut last = established_connections(port);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = established_connections(port);
        if now >= last {
            return now;
        }
        last = now;
    }
    last
}
