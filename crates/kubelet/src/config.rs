//! What one node agent needs to know about itself.

use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct KubeletConfig {
    pub node_name: String,
    /// `<data-dir>/agent`: pod dirs, logs, CNI config, containerd state.
    pub root: PathBuf,
    /// The node's address other machines reach it at.
    pub node_ip: String,
    /// Pod CIDR used until the control plane assigns `node.spec.podCIDR`.
    pub default_pod_cidr: String,
    /// How long to wait for the control plane to assign `spec.podCIDR`.
    pub pod_cidr_wait: std::time::Duration,
    /// This agent owns the host's network: routes to the other nodes' pod
    /// CIDRs (routes.rs) and the FORWARD rules for its own (forward_rules.rs).
    /// Off for hollow nodes and tests that share a host.
    pub manage_routes: bool,
    pub cluster_dns: Vec<String>,
    pub cluster_domain: String,
    /// Extra labels for the Node object (e.g. the control-plane role for `berth up`).
    pub node_labels: Vec<(String, String)>,
    pub max_pods: u32,
    /// Port of the node server (logs, exec, port-forward); 0 picks a free one.
    pub server_port: u16,
    /// Serving certificate and client CA of the node server; `None`: no server.
    pub serving_tls: Option<crate::server::ServingTls>,
    /// The sandbox image the runtime uses; image GC never removes it.
    pub pause_image: String,
    /// Hard eviction thresholds: crossing one sets a pressure condition.
    pub eviction_hard: EvictionThresholds,
    /// Image GC starts when the image filesystem is this full (percent) …
    pub image_gc_high_threshold_percent: u8,
    /// … and frees images until it is this full.
    pub image_gc_low_threshold_percent: u8,
    /// Unused images younger than this are never removed.
    pub image_minimum_gc_age: std::time::Duration,
    /// A container log file bigger than this is rotated (containerLogMaxSize 10Mi).
    pub container_log_max_size: u64,
    /// Log files kept per container, the live one included (containerLogMaxFiles 5).
    pub container_log_max_files: usize,
    /// Dead instances kept per container name (MaxPerPodContainer 1: `logs --previous`).
    pub max_dead_per_container: usize,
    /// How often container and image garbage collection and log rotation run.
    pub gc_period: std::time::Duration,
    /// What the node offers; `None`: the host's CPUs, memory and disk. Hollow
    /// nodes of the simulator declare a size instead.
    pub capacity: Option<NodeCapacity>,
    /// How often all containers are listed to notice state changes (the
    /// PLEG's relist period, 1 s upstream).
    pub relist_period: std::time::Duration,
}

/// cpu, memory and ephemeral-storage a node reports as capacity and allocatable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeCapacity {
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    pub ephemeral_storage_bytes: i64,
}

impl NodeCapacity {
    /// The host's CPUs, memory and the disk holding `root`.
    pub fn of_host(root: &std::path::Path) -> Self {
        Self {
            cpu_millis: crate::host::cpu_count() as i64 * 1000,
            memory_bytes: crate::host::memory_bytes() as i64,
            ephemeral_storage_bytes: crate::host::disk_bytes(root).0 as i64,
        }
    }
}

/// Hard eviction thresholds: memory.available<100Mi, nodefs.available<5%,
/// nodefs.inodesFree<5%, imagefs.available<5%, pid.available<5%.
/// Departure: the disk thresholds are k3s's (5%), not the kubelet's 10%/15%:
/// on a single machine shared by the control plane and the node (berth up),
/// a large disk with 7% free is not under pressure, and a DiskPressure taint
/// would stop every pod from being scheduled.
#[derive(Clone, Debug, PartialEq)]
pub struct EvictionThresholds {
    pub memory_available_bytes: u64,
    pub nodefs_available_percent: f64,
    pub nodefs_inodes_free_percent: f64,
    pub imagefs_available_percent: f64,
    pub pid_available_percent: f64,
}

impl Default for EvictionThresholds {
    fn default() -> Self {
        Self {
            memory_available_bytes: 100 * 1024 * 1024,
            nodefs_available_percent: 5.0,
            nodefs_inodes_free_percent: 5.0,
            imagefs_available_percent: 5.0,
            pid_available_percent: 5.0,
        }
    }
}

impl KubeletConfig {
    pub fn new(node_name: impl Into<String>, root: PathBuf, node_ip: impl Into<String>) -> Self {
        Self {
            node_name: node_name.into(),
            root,
            node_ip: node_ip.into(),
            default_pod_cidr: "10.42.0.0/24".into(),
            pod_cidr_wait: std::time::Duration::from_secs(10),
            manage_routes: false,
            cluster_dns: vec!["10.43.0.10".into()],
            cluster_domain: "cluster.local".into(),
            node_labels: Vec::new(),
            max_pods: 110,
            server_port: 10250,
            serving_tls: None,
            pause_image: "localhost/berth/pause:3.10".into(),
            eviction_hard: EvictionThresholds::default(),
            image_gc_high_threshold_percent: 85,
            image_gc_low_threshold_percent: 80,
            image_minimum_gc_age: std::time::Duration::from_secs(120),
            container_log_max_size: 10 * 1024 * 1024,
            container_log_max_files: 5,
            max_dead_per_container: 1,
            gc_period: std::time::Duration::from_secs(60),
            capacity: None,
            relist_period: crate::pod::manager::RELIST_PERIOD,
        }
    }
    /// What the node offers: the configured size, else the host's.
    pub fn node_capacity(&self) -> NodeCapacity {
        self.capacity
            .unwrap_or_else(|| NodeCapacity::of_host(&self.root))
    }
    pub fn pods_dir(&self) -> PathBuf {
        self.root.join("pods")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("pod-logs")
    }
    /// host-local IPAM state (which pod IPs are taken on this node).
    pub fn cni_ipam_dir(&self) -> PathBuf {
        self.root.join("cni-ipam")
    }
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.root.join("cni")
    }
}
