//! Configuration of the cluster DNS server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How `<a-b-c-d>.<ns>.pod.<zone>` names are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PodMode {
    /// CoreDNS `pods insecure`: any well-formed dashed IP gets its A/AAAA record,
    /// without checking that such a pod exists (what the spec's section 2.6 asks).
    #[default]
    Insecure,
    /// CoreDNS `pods verified`: only IPs of pods that exist in that namespace
    /// (needs a watch of all Pods).
    Verified,
    /// CoreDNS `pods disabled`: the pod subtree is NXDOMAIN.
    Disabled,
}

#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// UDP and TCP listen address. berth binds the cluster DNS Service IP
    /// (10.43.0.10:53); tests use 127.0.0.1:0 (both transports get the same port).
    pub bind: SocketAddr,
    /// Cluster domain, without trailing dot (e.g. `cluster.local`).
    pub zone: String,
    /// Where upstream nameservers for names outside the cluster are read from.
    pub upstream_resolv_conf: PathBuf,
    /// Upstreams given explicitly (with ports); when non-empty, resolv.conf is not read.
    pub upstream_servers: Vec<SocketAddr>,
    /// Total time budget for one forwarded query across all upstreams.
    pub upstream_timeout: Duration,
    /// TTL of every cluster record and of negative answers (CoreDNS: 5 s).
    pub ttl: u32,
    pub pods: PodMode,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            bind: SocketAddr::from(([10, 43, 0, 10], 53)),
            zone: "cluster.local".to_string(),
            upstream_resolv_conf: PathBuf::from("/etc/resolv.conf"),
            upstream_servers: Vec::new(),
            upstream_timeout: Duration::from_secs(2),
            ttl: 5,
            pods: PodMode::Insecure,
        }
    }
}
