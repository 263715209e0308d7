//! Node IPAM (upstream pkg/controller/nodeipam, range allocator): gives each
//! node without one a `spec.podCIDR`/`podCIDRs` carved from the cluster CIDR,
//! never the same to two nodes. The allocation map is rebuilt from the nodes'
//! existing CIDRs on every (re)list and a CIDR is freed when its node goes.
//!
//! ```text
//! Node watch ─ Init..InitDone ─▶ rebuild map from spec.podCIDRs ─▶ allocate for the rest
//!            ─ Apply ─▶ occupy its CIDR, or allocate next free + patch node
//!            ─ Delete ─▶ release its CIDR
//! ```

use crate::events;
use crate::runner::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "node-controller";

#[derive(Clone, Debug)]
pub struct NodeIpamConfig {
    /// --cluster-cidr.
    pub cluster_cidr: String,
    /// --node-cidr-mask-size.
    pub node_mask: u8,
}

impl Default for NodeIpamConfig {
    fn default() -> Self {
        Self {
            cluster_cidr: "10.42.0.0/16".into(),
            node_mask: 24,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    #[error("invalid CIDR {0:?}")]
    Invalid(String),
    #[error("node mask /{0} does not fit cluster CIDR {1}")]
    Mask(u8, String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub base: u32,
    pub prefix: u8,
}

impl Ipv4Cidr {
    pub fn parse(s: &str) -> Result<Self, CidrError> {
        let bad = || CidrError::Invalid(s.into());
        let (ip, prefix) = s.trim().split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Ok(Self {
            base: u32::from(ip) & mask(prefix),
            prefix,
        })
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// The node CIDRs of a cluster CIDR, by index; allocation continues after
/// the last one handed out (round robin, as upstream's cidrset).
#[derive(Debug)]
pub struct CidrSet {
    cluster: Ipv4Cidr,
    node_mask: u8,
    used: BTreeSet<u32>,
    next: u32,
}

impl CidrSet {
    pub fn new(cluster: &str, node_mask: u8) -> Result<Self, CidrError> {
        let cluster = Ipv4Cidr::parse(cluster)?;
        if node_mask < cluster.prefix || node_mask > 32 || node_mask - cluster.prefix > 24 {
            return Err(CidrError::Mask(node_mask, cluster.to_string()));
        }
        Ok(Self {
            cluster,
            node_mask,
            used: BTreeSet::new(),
            next: 0,
        })
    }

    fn size(&self) -> u32 {
        1u32 << (self.node_mask - self.cluster.prefix)
    }

    /// Index of `cidr` if it is one of this set's node CIDRs.
    fn index(&self, cidr: &str) -> Option<u32> {
        let c = Ipv4Cidr::parse(cidr).ok()?;
        let inside = c.base & mask(self.cluster.prefix) == self.cluster.base;
        (inside && c.prefix == self.node_mask)
            .then(|| (c.base - self.cluster.base) >> (32 - u32::from(self.node_mask)))
    }

    fn cidr(&self, index: u32) -> String {
        let base = self.cluster.base + (index << (32 - u32::from(self.node_mask)));
        Ipv4Cidr {
            base,
            prefix: self.node_mask,
        }
        .to_string()
    }

    /// Mark `cidr` taken; false if it is not from this set.
    pub fn occupy(&mut self, cidr: &str) -> bool {
        match self.index(cidr) {
            Some(i) => {
                self.used.insert(i);
                true
            }
            None => false,
        }
    }

    pub fn release(&mut self, cidr: &str) {
        if let Some(i) = self.index(cidr) {
            self.used.remove(&i);
        }
    }

    pub fn allocate(&mut self) -> Option<String> {
        let size = self.size();
        for k in 0..size {
            let i = (self.next + k) % size;
            if !self.used.contains(&i) {
                self.used.insert(i);
                self.next = (i + 1) % size;
                return Some(self.cidr(i));
            }
        }
        None
    }

    pub fn clear(&mut self) {
        self.used.clear();
    }
}

fn node_cidrs(node: &Node) -> Vec<String> {
    let spec = node.spec.as_ref();
    let mut cidrs: Vec<String> = spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
    if cidrs.is_empty() {
        cidrs.extend(spec.and_then(|s| s.pod_cidr.clone()));
    }
    cidrs.retain(|c| !c.is_empty());
    cidrs
}

struct Allocator {
    client: kube::Client,
    set: CidrSet,
    /// What each node holds (from its spec, or what we assigned to it).
    assigned: HashMap<String, String>,
    /// Nodes whose patch failed, retried periodically.
    pending: BTreeMap<String, Node>,
}

impl Allocator {
    fn observe(&mut self, node: &Node) -> bool {
        let name = node.name_any();
        let cidrs = node_cidrs(node);
        if cidrs.is_empty() {
            return false;
        }
        // The node's own CIDR wins over anything we had picked for it.
        if let Some(ours) = self.assigned.get(&name) {
            if !cidrs.contains(ours) {
                self.set.release(ours);
            }
        }
        for c in &cidrs {
            self.set.occupy(c);
        }
        self.assigned.insert(name.clone(), cidrs[0].clone());
        self.pending.remove(&name);
        true
    }

    async fn ensure(&mut self, node: &Node) {
        if self.observe(node) || node.metadata.deletion_timestamp.is_some() {
            return;
        }
        let name = node.name_any();
        let cidr = match self.assigned.get(&name) {
            Some(c) => c.clone(),
            None => match self.set.allocate() {
                Some(c) => c,
                None => {
                    events::record(
                        &self.client,
                        COMPONENT,
                        node,
                        "Normal",
                        "CIDRNotAvailable",
                        format!("Node {name} status is now: CIDRNotAvailable"),
                    )
                    .await;
                    self.pending.insert(name, node.clone());
                    return;
                }
            },
        };
        self.assigned.insert(name.clone(), cidr.clone());
        let api: Api<Node> = Api::all(self.client.clone());
        let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(n) => {
                self.observe(&n);
            }
            Err(kube::Error::Api(e)) if e.code == 404 => self.forget(&name),
            Err(err) => {
                tracing::warn!(%err, node = %name, %cidr, "assigning pod CIDR (will retry)");
                self.pending.insert(name, node.clone());
            }
        }
    }

    fn forget(&mut self, name: &str) {
        if let Some(c) = self.assigned.remove(name) {
            self.set.release(&c);
        }
        self.pending.remove(name);
    }

    async fn retry_pending(&mut self) {
        let pending: Vec<Node> = self.pending.values().cloned().collect();
        for node in pending {
            self.ensure(&node).await;
        }
    }
}

/// Run the node IPAM controller until the watch ends. An invalid config is
/// logged and the controller does not run.
pub async fn run_node_ipam_controller(
    client: kube::Client,
    ctx: Arc<Context>,
    config: NodeIpamConfig,
) {
    let set = match CidrSet::new(&config.cluster_cidr, config.node_mask) {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(%err, "node IPAM disabled");
            return;
        }
    };
    let mut alloc = Allocator {
        client: client.clone(),
        set,
        assigned: HashMap::new(),
        pending: BTreeMap::new(),
    };
    let nodes = ctx.informers.nodes();
    // Subscribe first, then take the synced cache as the map of what nodes
    // hold (occupied before anything new is handed out); the subscription
    // then replays every node once and every change after.
    let events = nodes.subscribe();
    nodes.ready().await;
    for n in nodes.list() {
        alloc.observe(&n);
    }
    let mut events = std::pin::pin!(events);
    let mut retry = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            ev = events.next() => {
                let Some(node) = ev else { return };
                let name = node.name_any();
                // Level-triggered: act on the node as the cache has it now.
                match nodes.get(None, &name) {
                    Some(current) => alloc.ensure(&current).await,
                    None => alloc.forget(&name),
                }
            }
            _ = retry.tick() => alloc.retry_pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_allocate_in_order_without_reuse() {
        assert_eq!(
            Ipv4Cidr::parse("10.42.7.9/16").map(|c| c.to_string()),
            Ok("10.42.0.0/16".into())
        );
        assert!(Ipv4Cidr::parse("10.42.0.0").is_err());
        assert!(Ipv4Cidr::parse("10.42.0.0/33").is_err());
        assert!(CidrSet::new("10.42.0.0/16", 8).is_err());

        let mut set = CidrSet::new("10.42.0.0/16", 24).expect("set");
        assert!(set.occupy("10.42.1.0/24"));
        assert!(!set.occupy("10.43.0.0/24"));
        assert!(!set.occupy("10.42.0.0/25"));
        assert_eq!(set.allocate().as_deref(), Some("10.42.0.0/24"));
        assert_eq!(set.allocate().as_deref(), Some("10.42.2.0/24"));
        set.release("10.42.0.0/24");
        // Round robin: a freed CIDR is not handed out again right away.
        assert_eq!(set.allocate().as_deref(), Some("10.42.3.0/24"));
    }

    #[test]
    fn exhaustion() {
        let mut set = CidrSet::new("10.0.0.0/30", 31).expect("set");
        assert_eq!(set.allocate().as_deref(), Some("10.0.0.0/31"));
        assert_eq!(set.allocate().as_deref(), Some("10.0.0.2/31"));
        assert_eq!(set.allocate(), None);
        set.release("10.0.0.2/31");
        assert_eq!(set.allocate().as_deref(), Some("10.0.0.2/31"));
    }
}
