//! The Node object: registration, status (capacity, conditions, addresses,
//! nodeInfo) and the Lease in kube-node-lease that says "still alive".
//!
//! ```text
//! register ──▶ POST Node (or reuse) ──▶ PATCH node/status
//! every 10 s ──▶ renew Lease            every 60 s ──▶ PATCH node/status (heartbeat)
//! ```

use crate::config::KubeletConfig;
use crate::host;
use crate::pressure::{self, Pressure};
use crate::stats::StatsProvider;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub const LEASE_DURATION_SECONDS: i32 = 40;
pub const LEASE_RENEW_INTERVAL: Duration = Duration::from_secs(10);
pub const STATUS_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(60);
pub const KUBELET_VERSION: &str = "v1.33.0+berth";

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn now_micro() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Capacity as the node reports it.
pub fn capacity(cfg: &KubeletConfig) -> Value {
    let size = cfg.node_capacity();
    let cpu = if size.cpu_millis % 1000 == 0 {
        (size.cpu_millis / 1000).to_string()
    } else {
        format!("{}m", size.cpu_millis)
    };
    json!({
        "cpu": cpu,
        "memory": format!("{}Ki", size.memory_bytes / 1024),
        "ephemeral-storage": format!("{}Ki", size.ephemeral_storage_bytes / 1024),
        "pods": cfg.max_pods.to_string(),
    })
}

fn condition(type_: &str, status: &str, reason: &str, message: &str, transition: &str) -> Value {
    json!({
        "type": type_, "status": status, "reason": reason, "message": message,
        "lastHeartbeatTime": now(), "lastTransitionTime": transition,
    })
}

/// The conditions a healthy kubelet posts, pressure as measured.
pub fn conditions(pressure: Pressure, previous: Option<&Value>) -> Value {
    let since = |t: &str, status: &str| -> String {
        previous
            .and_then(|p| p.as_array())
            .and_then(|a| a.iter().find(|c| c["type"] == t && c["status"] == status))
            .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_string))
            .unwrap_or_else(now)
    };
    let pick = |on: bool, yes: (&'static str, &'static str), no: (&'static str, &'static str)| {
        if on {
            ("True", yes.0, yes.1)
        } else {
            ("False", no.0, no.1)
        }
    };
    let (ms, mr, mm) = pick(
        pressure.memory,
        (
            "KubeletHasInsufficientMemory",
            "kubelet has insufficient memory available",
        ),
        (
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
    );
    let (ds, dr, dm) = pick(
        pressure.disk,
        ("KubeletHasDiskPressure", "kubelet has disk pressure"),
        ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    );
    let (ps, pr, pm) = pick(
        pressure.pid,
        (
            "KubeletHasInsufficientPID",
            "kubelet has insufficient PID available",
        ),
        (
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
    );
    json!([
        condition("MemoryPressure", ms, mr, mm, &since("MemoryPressure", ms)),
        condition("DiskPressure", ds, dr, dm, &since("DiskPressure", ds)),
        condition("PIDPressure", ps, pr, pm, &since("PIDPressure", ps)),
        condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
            &since("Ready", "True")
        ),
    ])
}

pub fn node_info(runtime_version: &str) -> Value {
    json!({
        "machineID": host::machine_id(),
        "systemUUID": host::machine_id(),
        "bootID": host::boot_id(),
        "kernelVersion": host::kernel_version(),
        "osImage": host::os_image(),
        "containerRuntimeVersion": runtime_version,
        "kubeletVersion": KUBELET_VERSION,
        "kubeProxyVersion": "",
        "operatingSystem": "linux",
        "architecture": host::arch(),
    })
}

pub struct NodeReporter {
    pub cfg: KubeletConfig,
    pub nodes: Api<Node>,
    pub leases: Api<Lease>,
    pub runtime_version: String,
    pub stats: Arc<StatsProvider>,
}

impl NodeReporter {
    pub fn new(
        cfg: KubeletConfig,
        client: kube::Client,
        runtime_version: String,
        stats: Arc<StatsProvider>,
    ) -> Self {
        Self {
            stats,
            nodes: Api::all(client.clone()),
            leases: Api::namespaced(client, "kube-node-lease"),
            cfg,
            runtime_version,
        }
    }

    /// Create the Node if missing, then post its full status.
    pub async fn register(&self) -> Result<Node, kube::Error> {
        let name = &self.cfg.node_name;
        let mut labels = serde_json::Map::new();
        labels.insert("kubernetes.io/hostname".into(), json!(name));
        labels.insert("kubernetes.io/os".into(), json!("linux"));
        labels.insert("kubernetes.io/arch".into(), json!(host::arch()));
        labels.insert("beta.kubernetes.io/os".into(), json!("linux"));
        labels.insert("beta.kubernetes.io/arch".into(), json!(host::arch()));
        for (k, v) in &self.cfg.node_labels {
            labels.insert(k.clone(), json!(v));
        }
        match self.nodes.get_opt(name).await? {
            Some(_) => {
                // Re-registration: refresh labels we own.
                let patch = json!({"metadata": {"labels": labels}});
                self.nodes
                    .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
            None => {
                let node: Node = serde_json::from_value(json!({
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {},
                }))
                .map_err(kube::Error::SerdeError)?;
                match self.nodes.create(&PostParams::default(), &node).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 409 => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.post_status(None).await
    }

    /// PATCH node/status with capacity, conditions, addresses and nodeInfo.
    pub async fn post_status(
        &self,
        previous_conditions: Option<&Value>,
    ) -> Result<Node, kube::Error> {
        let cap = capacity(&self.cfg);
        let pressure = self.pressure().await;
        let status = json!({
            "status": {
                "capacity": cap,
                "allocatable": cap,
                "conditions": conditions(pressure, previous_conditions),
                "addresses": [
                    {"type": "InternalIP", "address": self.cfg.node_ip},
                    {"type": "Hostname", "address": self.cfg.node_name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self.cfg.server_port}},
                "nodeInfo": node_info(&self.runtime_version),
            }
        });
        self.nodes
            .patch_status(
                &self.cfg.node_name,
                &PatchParams::default(),
                &Patch::Merge(&status),
            )
            .await
    }

    /// Pressure judged from the latest stats sample (taking one if there is none).
    pub async fn pressure(&self) -> Pressure {
        let summary = match self.stats.latest() {
            Some(s) => s,
            None => self.stats.summary().await,
        };
        pressure::judge(&summary, &self.cfg.eviction_hard)
    }

    /// Create or renew the node's Lease.
    pub async fn renew_lease(&self) -> Result<(), kube::Error> {
        let name = &self.cfg.node_name;
        let spec = json!({
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": now_micro(),
        });
        // One request per renewal: patch, and create only when there is none.
        let patched = self
            .leases
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": spec})),
            )
            .await;
        match patched {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {
                let node = self.nodes.get(name).await?;
                let lease: Lease = serde_json::from_value(json!({
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [{
                        "apiVersion": "v1", "kind": "Node", "name": name,
                        "uid": node.metadata.uid.unwrap_or_default(),
                    }]},
                    "spec": spec,
                }))
                .map_err(kube::Error::SerdeError)?;
                match self.leases.create(&PostParams::default(), &lease).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 409 => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Heartbeats until the task is dropped.
    pub async fn run(self) {
        let mut lease_tick = tokio::time::interval(LEASE_RENEW_INTERVAL);
        let mut status_tick = tokio::time::interval(STATUS_HEARTBEAT_INTERVAL);
        status_tick.tick().await;
        let mut posted = self.pressure().await;
        loop {
            let post_now = tokio::select! {
                _ = lease_tick.tick() => {
                    if let Err(e) = self.renew_lease().await {
                        tracing::warn!("renewing node lease: {e}");
                    }
                    // A pressure change is posted at once, not at the next heartbeat.
                    self.pressure().await != posted
                }
                _ = status_tick.tick() => true,
            };
            if post_now {
                posted = self.pressure().await;
                let previous = self
                    .nodes
                    .get_status(&self.cfg.node_name)
                    .await
                    .ok()
                    .and_then(|n| serde_json::to_value(n.status.and_then(|s| s.conditions)).ok());
                if let Err(e) = self.post_status(previous.as_ref()).await {
                    tracing::warn!("posting node status: {e}");
                }
            }
        }
    }
}
