//! One hollow node: the production kubelet (registration, Lease, status,
//! pod workers, probes, GC) over an in-process fake CRI runtime.
//!
//! ```text
//! shared kube::Client ──▶ kill switch ──▶ this node's kube::Client ──▶ kubelet agent
//!                                                  pod events (dispatch.rs) ──┘
//! FakeRuntime (system clock, no call log, optional latencies) ─────────────────┘
//! ```
//!
//! Killing a node cuts its API connection: heartbeats and status updates stop
//! at once, as when a machine loses power; the control plane has to notice.

use berth_kubelet::agent::SharedSources;
use berth_kubelet::{KubeletConfig, NodeCapacity};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The image every simulated pod uses; present on every hollow node.
pub const IMAGE: &str = "localhost/berth/echo:1";

/// What each hollow node offers and how slow its runtime is.
#[derive(Clone, Debug)]
pub struct NodeShape {
    pub capacity: NodeCapacity,
    pub max_pods: u32,
    /// Time RunPodSandbox and StartContainer take in the fake runtime.
    pub sandbox_latency: Duration,
    pub start_latency: Duration,
}

pub struct HollowNode {
    pub name: String,
    alive: Arc<AtomicBool>,
}

impl HollowNode {
    /// Registers the node and starts its agent; returns once the Node exists.
    pub async fn start(
        name: &str,
        index: usize,
        shared: &kube::Client,
        root: &Path,
        shape: &NodeShape,
        sources: SharedSources,
    ) -> Result<HollowNode, berth_kubelet::agent::AgentError> {
        let alive = Arc::new(AtomicBool::new(true));
        let client = node_client(shared.clone(), alive.clone());
        let runtime = berth_cri::FakeRuntime::new()
            .with_system_clock()
            .without_call_log()
            .with_latency("RunPodSandbox", shape.sandbox_latency)
            .with_latency("StartContainer", shape.start_latency);
        runtime.add_image(IMAGE, 2 << 20);
        let mut cfg = KubeletConfig::new(name, root.join(name), node_ip(index));
        runtime.add_image(&cfg.pause_image, 1 << 20);
        cfg.capacity = Some(shape.capacity);
        cfg.max_pods = shape.max_pods;
        cfg.serving_tls = None;
        // A hollow node's disk and memory are imaginary: the host's figures
        // (shared by 5,000 nodes and the build cache) must not taint it.
        cfg.eviction_hard = berth_kubelet::EvictionThresholds {
            memory_available_bytes: 0,
            nodefs_available_percent: 0.0,
            nodefs_inodes_free_percent: 0.0,
            imagefs_available_percent: 0.0,
            pid_available_percent: 0.0,
        };
        // Nor may the host's disk decide image GC: the kubelet measures the
        // image filesystem's capacity with statvfs, which for the fake
        // runtime is the host's, and a full build cache made hollow nodes
        // remove the simulated image (then ImagePullBackOff: the fake runtime
        // pulls nothing). 100% = never, as upstream.
        cfg.image_gc_high_threshold_percent = 100;
        cfg.manage_routes = false;
        // Hollow containers never exit by themselves, so the relister only
        // finds what the workers did; see "Departures" in benches/README.md.
        cfg.relist_period = Duration::from_secs(10);
        cfg.node_labels = vec![("berth.dev/hollow".into(), "true".into())];
        berth_kubelet::agent::start_with(cfg, client, Arc::new(runtime), sources).await?;
        Ok(HollowNode {
            name: name.to_string(),
            alive,
        })
    }

    /// The machine "dies": every later API call of this node fails.
    pub fn kill(&self) {
        self.alive.store(false, Ordering::SeqCst);
    }
}

/// 10.200.0.0/16 onwards: a distinct, never routed address per node.
fn node_ip(index: usize) -> String {
    let n = index as u32 + 1;
    format!("10.{}.{}.{}", 200 + (n >> 16), (n >> 8) & 0xff, n & 0xff)
}

/// Requests all hollow nodes together keep in flight.
const IN_FLIGHT: usize = 256;
static IN_FLIGHT_PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(IN_FLIGHT);

/// A client for one node that shares the connection pool of `shared` but can
/// be cut off: one pool for thousands of nodes, as kubemark's hollow nodes
/// would have one TCP connection each, which this machine cannot afford.
fn node_client(shared: kube::Client, alive: Arc<AtomicBool>) -> kube::Client {
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let shared = shared.clone();
        let alive = alive.clone();
        async move {
            if !alive.load(Ordering::SeqCst) {
                return Err::<http::Response<kube::client::Body>, tower::BoxError>(
                    "hollow node is down".into(),
                );
            }
            // Every hollow node together keeps at most IN_FLIGHT requests (and
            // so connections) open, as their real machines would each keep one.
            let _permit = IN_FLIGHT_PERMITS.acquire().await?;
            shared.send(request).await.map_err(tower::BoxError::from)
        }
    });
    kube::Client::new(service, "default")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ips_are_distinct_and_valid() {
        let ips: std::collections::HashSet<String> = (0..70_000).map(node_ip).collect();
        assert_eq!(ips.len(), 70_000);
        assert!(ips
            .iter()
            .all(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok()));
        assert_eq!(node_ip(0), "10.200.0.1");
    }
}
