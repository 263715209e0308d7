//! A pod with what every plugin needs worked out once per scheduling cycle
//! (kube-scheduler's PreFilter state): requests, ranking requests, host ports.

use crate::affinity_term::{compile_terms, compile_weighted, AffinityTerm, WeightedAffinityTerm};
use crate::plugins::image_locality::normalized_image_name;
use crate::resources::{pod_requests, MissingRequests, Resource};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The scheduler name a pod gets when it names none.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// One host port a pod claims on its node.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    /// "0.0.0.0" when the pod names no host IP (all addresses).
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    pub const ANY_IP: &'static str = "0.0.0.0";

    /// Two claims collide on the same protocol and port when either binds all
    /// addresses or both bind the same one.
    pub fn conflicts_with(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == Self::ANY_IP || other.ip == Self::ANY_IP)
    }
}

#[derive(Clone, Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub uid: String,
    /// "namespace/name", for messages and logs.
    pub key: String,
    /// Requests as written (NodeResourcesFit filter, BalancedAllocation).
    pub requests: Resource,
    /// Requests with missing cpu/memory defaulted (LeastAllocated).
    pub ranking_requests: Resource,
    pub host_ports: Vec<HostPort>,
    pub priority: i32,
    pub namespace: String,
    /// Being deleted (not counted by topology spread; a preemption in
    /// progress when it was a victim).
    pub terminating: bool,
    /// `status.startTime` (preemption prefers to evict the newest).
    pub start_time: Option<Timestamp>,
    /// Images of init and app containers, canonical (ImageLocality).
    pub images: Vec<String>,
    pub required_affinity_terms: Vec<AffinityTerm>,
    pub required_anti_affinity_terms: Vec<AffinityTerm>,
    pub preferred_affinity_terms: Vec<WeightedAffinityTerm>,
    pub preferred_anti_affinity_terms: Vec<WeightedAffinityTerm>,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> Self {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let key = pod_key(&pod);
        let requests = pod_requests(&pod, MissingRequests::AsZero);
        let ranking_requests = pod_requests(&pod, MissingRequests::Defaulted);
        let host_ports = host_ports(&pod);
        let priority = priority(&pod);
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let labels = pod.metadata.labels.as_ref();
        let spec = pod.spec.as_ref();
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let pod_affinity = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let images = spec
            .into_iter()
            .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers))
            .filter_map(|c| c.image.as_deref())
            .map(normalized_image_name)
            .collect();
        PodInfo {
            required_affinity_terms: compile_terms(
                &namespace,
                labels,
                pod_affinity.and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                }),
            ),
            required_anti_affinity_terms: compile_terms(
                &namespace,
                labels,
                anti.and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                }),
            ),
            preferred_affinity_terms: compile_weighted(
                &namespace,
                labels,
                pod_affinity.and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                }),
            ),
            preferred_anti_affinity_terms: compile_weighted(
                &namespace,
                labels,
                anti.and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                }),
            ),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            start_time: pod
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(|t| t.0),
            images,
            namespace,
            pod,
            uid,
            key,
            requests,
            ranking_requests,
            host_ports,
            priority,
        }
    }

    pub fn labels(&self) -> Option<&BTreeMap<String, String>> {
        self.pod.metadata.labels.as_ref()
    }

    /// Any pod (anti-)affinity term at all (upstream's PodsWithAffinity).
    pub fn has_affinity(&self) -> bool {
        !self.required_affinity_terms.is_empty()
            || !self.required_anti_affinity_terms.is_empty()
            || !self.preferred_affinity_terms.is_empty()
            || !self.preferred_anti_affinity_terms.is_empty()
    }

    pub fn has_required_anti_affinity(&self) -> bool {
        !self.required_anti_affinity_terms.is_empty()
    }

    /// `status.nominatedNodeName`: where preemption made room for it.
    pub fn nominated_node(&self) -> Option<&str> {
        self.pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .filter(|n| !n.is_empty())
    }
}

pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// `spec.priority` as admission resolved it from the PriorityClass; 0 without one.
pub fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// Host ports of app containers (as kube-scheduler counts them: init
/// containers are not included).
fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|hp| *hp > 0)?;
            Some(HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| HostPort::ANY_IP.to_string()),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_string()),
                port,
            })
        })
        .collect()
}

/// Succeeded or Failed: the pod holds no resources any more.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// A pod with scheduling gates waits until they are all removed.
pub fn is_gated(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
}

/// A pod this scheduler should place: unassigned, for "default-scheduler"
/// (or naming none), not gated, not being deleted, not finished.
pub fn needs_scheduling(pod: &Pod) -> bool {
    let ours = pod
        .spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .filter(|n| !n.is_empty())
        .is_none_or(|n| n == DEFAULT_SCHEDULER_NAME);
    ours && node_name(pod).is_none()
        && !is_gated(pod)
        && pod.metadata.deletion_timestamp.is_none()
        && !is_terminal(pod)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, PodStatus};

    fn pod_with(spec: PodSpec) -> Pod {
        Pod {
            spec: Some(spec),
            ..Default::default()
        }
    }

    #[test]
    fn which_pods_are_ours() {
        assert!(needs_scheduling(&pod_with(PodSpec::default())));
        let mut other = PodSpec {
            scheduler_name: Some("my-scheduler".into()),
            ..Default::default()
        };
        assert!(!needs_scheduling(&pod_with(other.clone())));
        other.scheduler_name = Some(DEFAULT_SCHEDULER_NAME.into());
        assert!(needs_scheduling(&pod_with(other)));
        let bound = PodSpec {
            node_name: Some("n1".into()),
            ..Default::default()
        };
        assert!(!needs_scheduling(&pod_with(bound)));
        let mut done = pod_with(PodSpec::default());
        done.status = Some(PodStatus {
            phase: Some("Succeeded".into()),
            ..Default::default()
        });
        assert!(!needs_scheduling(&done));
        let gated = PodSpec {
            scheduling_gates: Some(vec![k8s_openapi::api::core::v1::PodSchedulingGate {
                name: "example.com/wait".into(),
            }]),
            ..Default::default()
        };
        assert!(!needs_scheduling(&pod_with(gated)));
    }

    #[test]
    fn host_ports_default_ip_and_protocol() {
        let p = pod_with(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                ports: Some(vec![
                    ContainerPort {
                        container_port: 80,
                        host_port: Some(8080),
                        ..Default::default()
                    },
                    ContainerPort {
                        container_port: 53,
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }],
            ..Default::default()
        });
        let info = PodInfo::new(Arc::new(p));
        assert_eq!(
            info.host_ports,
            vec![HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 8080
            }]
        );
    }

    #[test]
    fn port_conflicts() {
        let hp = |ip: &str, proto: &str, port| HostPort {
            ip: ip.into(),
            protocol: proto.into(),
            port,
        };
        assert!(hp("0.0.0.0", "TCP", 80).conflicts_with(&hp("10.0.0.1", "TCP", 80)));
        assert!(hp("10.0.0.1", "TCP", 80).conflicts_with(&hp("10.0.0.1", "TCP", 80)));
        assert!(!hp("10.0.0.1", "TCP", 80).conflicts_with(&hp("10.0.0.2", "TCP", 80)));
        assert!(!hp("0.0.0.0", "TCP", 80).conflicts_with(&hp("0.0.0.0", "UDP", 80)));
        assert!(!hp("0.0.0.0", "TCP", 80).conflicts_with(&hp("0.0.0.0", "TCP", 81)));
    }
}
