//! What the proxy needs to know about its node and how it should behave.

use crate::cidr::Ipv4Cidr;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// Facts about this node that shape the static part of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFacts {
    /// `spec.nodeName` of pods on this node; endpoints with this `nodeName` are local.
    pub node_name: String,
    /// Addresses that accept NodePort traffic (never 127.0.0.1: like kube-proxy's
    /// nftables mode, localhost NodePorts are not supported).
    pub node_ips: Vec<Ipv4Addr>,
    /// The pod network of the whole cluster (e.g. 10.42.0.0/16). Traffic from
    /// outside it to a ClusterIP is masqueraded; pod traffic leaving it is
    /// masqueraded to the node address.
    pub cluster_cidr: Ipv4Cidr,
}

/// Where `nft` runs: the host, or a named network namespace (tests, benches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftTarget {
    pub program: PathBuf,
    /// `ip netns exec NAME nft ...` when set.
    pub netns: Option<String>,
}

impl Default for NftTarget {
    fn default() -> Self {
        NftTarget {
            program: PathBuf::from("nft"),
            netns: None,
        }
    }
}

/// Configuration of [`crate::run`].
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    pub node: NodeFacts,
    pub nft: NftTarget,
    /// Wait this long after a change for more changes before syncing.
    pub debounce: Duration,
    /// Flush and rebuild the whole table this often even without changes,
    /// repairing anything that edited the table behind our back.
    pub full_resync_period: Duration,
    /// Enforce NetworkPolicies (watches Pods, Namespaces, NetworkPolicies).
    pub network_policy: bool,
    /// Set `net.bridge.bridge-nf-call-iptables=1` so traffic between pods on
    /// the same bridge passes the ip-family hooks (see README).
    pub ensure_bridge_netfilter: bool,
}

impl ProxyConfig {
    pub fn new(node: NodeFacts) -> Self {
        ProxyConfig {
            node,
            nft: NftTarget::default(),
            debounce: Duration::from_millis(10),
            full_resync_period: Duration::from_secs(3600),
            network_policy: true,
            ensure_bridge_netfilter: true,
        }
    }
}
