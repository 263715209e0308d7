//! The node agent loop: reflectors → debounce → render → sync.
//!
//! ```text
//! Services ──────┐
//! EndpointSlices ┤ reflector stores ─▶ Notify ─▶ wait debounce ─▶ render ─▶ Syncer ─▶ nft -f -
//! NetworkPolicies┤                                  ▲                          │
//! Pods, Namespaces┘          full_resync_period ────┘        error: retry in 1 s, full
//! ```
//! Nothing is written until every store has finished its first list, so a
//! restart never briefly applies a half-known cluster.

use crate::config::{NftTarget, ProxyConfig};
use crate::error::ProxyError;
use crate::nft::Nft;
use crate::render::{render, ClusterObjects};
use crate::syncer::{SyncKind, Syncer};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Resource};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

/// Aborts the reflector tasks when `run` ends (or its future is dropped).
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

fn spawn_reflector<K>(api: Api<K>, changed: Arc<Notify>, tasks: &mut Tasks) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (store, writer) = reflector::store();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    tasks.0.push(tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                // The initial list is one change, signalled when it is complete.
                Ok(watcher::Event::Init) | Ok(watcher::Event::InitApply(_)) => {}
                Ok(_) => changed.notify_one(),
                Err(err) => {
                    tracing::warn!(kind = %K::kind(&Default::default()), "watch error: {err}")
                }
            }
        }
    }));
    store
}

struct Stores {
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    policy: Option<(Store<NetworkPolicy>, Store<Pod>, Store<Namespace>)>,
}

impl Stores {
    async fn wait_until_ready(&self) {
        // A dropped writer means its task ended: the loop then works on what it has.
        let _ = self.services.wait_until_ready().await;
        let _ = self.slices.wait_until_ready().await;
        if let Some((policies, pods, namespaces)) = &self.policy {
            let _ = policies.wait_until_ready().await;
            let _ = pods.wait_until_ready().await;
            let _ = namespaces.wait_until_ready().await;
        }
    }

    fn snapshot(&self) -> ClusterObjects {
        let mut objects = ClusterObjects {
            services: self.services.state(),
            endpoint_slices: self.slices.state(),
            ..Default::default()
        };
        if let Some((policies, pods, namespaces)) = &self.policy {
            objects.network_policies = policies.state();
            objects.pods = pods.state();
            objects.namespaces = namespaces.state();
        }
        objects
    }
}

/// Run the proxy until the returned future is dropped: watch the cluster,
/// keep `table ip berth` in sync. Sync errors are logged and retried.
pub async fn run(client: Client, cfg: ProxyConfig) {
    if cfg.ensure_bridge_netfilter {
        if let Err(err) = ensure_bridge_netfilter(&cfg.nft) {
            tracing::warn!("could not enable bridge-nf-call-iptables (same-node pod traffic bypasses the table): {err}");
        }
    }
    let changed = Arc::new(Notify::new());
    let mut tasks = Tasks(Vec::new());
    let stores = Stores {
        services: spawn_reflector(Api::all(client.clone()), changed.clone(), &mut tasks),
        slices: spawn_reflector(Api::all(client.clone()), changed.clone(), &mut tasks),
        policy: cfg.network_policy.then(|| {
            (
                spawn_reflector(Api::all(client.clone()), changed.clone(), &mut tasks),
                spawn_reflector(Api::all(client.clone()), changed.clone(), &mut tasks),
                spawn_reflector(Api::all(client.clone()), changed.clone(), &mut tasks),
            )
        }),
    };
    stores.wait_until_ready().await;
    tracing::info!("proxy: caches synced, writing table ip berth");

    let node = Arc::new(cfg.node.clone());
    let mut syncer = Some(Syncer::new(Nft::new(cfg.nft.clone())));
    let mut last_full = Instant::now();
    loop {
        let objects = stores.snapshot();
        let node_facts = node.clone();
        let Some(mut current) = syncer.take() else {
            return;
        };
        let started = Instant::now();
        let joined = tokio::task::spawn_blocking(move || {
            let desired = render(&node_facts, &objects);
            let result = current.sync(desired);
            (current, result)
        })
        .await;
        let (returned, result) = match joined {
            Ok(pair) => pair,
            Err(err) => {
                tracing::error!("proxy sync task failed: {err}");
                return;
            }
        };
        syncer = Some(returned);
        let retry = match result {
            Ok(report) => {
                if report.kind == SyncKind::Full {
                    last_full = Instant::now();
                }
                if report.kind != SyncKind::Unchanged {
                    tracing::debug!(kind = ?report.kind, bytes = report.script_bytes, elapsed = ?started.elapsed(), "proxy synced");
                }
                false
            }
            Err(err) => {
                tracing::warn!("proxy sync failed, retrying with a full sync: {err}");
                true
            }
        };

        let until_full = cfg.full_resync_period.saturating_sub(last_full.elapsed());
        let wait = if retry { RETRY_AFTER_ERROR } else { until_full };
        tokio::select! {
            _ = changed.notified() => {}
            _ = tokio::time::sleep(wait) => {
                if !retry {
                    if let Some(s) = syncer.as_mut() { s.force_full(); }
                }
            }
        }
        // Let a burst of changes (a rollout touches many slices) land first.
        tokio::time::sleep(cfg.debounce).await;
    }
}

/// Make bridged IPv4 traffic (pod to pod on `berth0`) pass the ip-family
/// hooks, so DNAT replies are un-NATed and policies see same-node traffic.
pub fn ensure_bridge_netfilter(target: &NftTarget) -> Result<(), ProxyError> {
    const KNOB: &str = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    match &target.netns {
        None => std::fs::write(KNOB, "1").map_err(|source| ProxyError::Spawn {
            program: KNOB.into(),
            source,
        }),
        Some(ns) => {
            let status = std::process::Command::new("ip")
                .args(["netns", "exec", ns, "sh", "-c", &format!("echo 1 > {KNOB}")])
                .status()
                .map_err(|source| ProxyError::Spawn {
                    program: "ip".into(),
                    source,
                })?;
            if status.success() {
                Ok(())
            } else {
                Err(ProxyError::Nft {
                    status: status.to_string(),
                    stderr: format!("writing {KNOB} in netns {ns}"),
                })
            }
        }
    }
}

/// Remove the table (for `berth down`), from the host or the configured netns.
pub fn cleanup(target: &NftTarget) -> Result<(), ProxyError> {
    Nft::new(target.clone()).delete_table()
}
