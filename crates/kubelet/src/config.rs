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
    pub cluster_dns: Vec<String>,
    pub cluster_domain: String,
    /// Extra labels for the Node object (e.g. the control-plane role for `berth up`).
    pub node_labels: Vec<(String, String)>,
    pub max_pods: u32,
    /// Port of the node server (logs, exec, port-forward); 0 picks a free one.
    pub server_port: u16,
    /// Serving certificate and client CA of the node server; `None`: no server.
    pub serving_tls: Option<crate::server::ServingTls>,
}

impl KubeletConfig {
    pub fn new(node_name: impl Into<String>, root: PathBuf, node_ip: impl Into<String>) -> Self {
        Self {
            node_name: node_name.into(),
            root,
            node_ip: node_ip.into(),
            default_pod_cidr: "10.42.0.0/24".into(),
            cluster_dns: vec!["10.43.0.10".into()],
            cluster_domain: "cluster.local".into(),
            node_labels: Vec::new(),
            max_pods: 110,
            server_port: 10250,
            serving_tls: None,
        }
    }
    pub fn pods_dir(&self) -> PathBuf {
        self.root.join("pods")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("pod-logs")
    }
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.root.join("cni")
    }
}
