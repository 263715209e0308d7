//! What the Endpoints and EndpointSlice controllers share (upstream
//! pkg/controller/util/endpoint and k8s.io/endpointslice/util): which pods
//! back a Service, how a service port resolves on a pod, the
//! last-change-trigger-time tracker, and the pod → Services index.

use crate::informers::Informer;
use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Annotation upstream puts on Endpoints and EndpointSlices.
pub const LAST_CHANGE_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// Label upstream puts on Endpoints/EndpointSlices of headless Services.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// The selector of a Service this controller manages endpoints for; `None`
/// for selector-less and ExternalName Services, whose endpoints are the
/// user's (upstream skips both).
pub fn managed_selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref()
}

/// labels.SelectorFromSet: every pair must match; an empty set matches all.
pub fn selector_matches(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

pub fn is_headless(svc: &Service) -> bool {
    let ip = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref());
    matches!(ip, None | Some("") | Some("None"))
}

pub fn publish_not_ready(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

fn is_terminal(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// Pod IPs as reported in status (podIPs, falling back to podIP).
pub fn pod_ips(pod: &Pod) -> Vec<String> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let mut ips: Vec<String> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.clone())
        .filter(|ip| !ip.is_empty())
        .collect();
    if ips.is_empty() {
        ips.extend(status.pod_ip.clone().filter(|ip| !ip.is_empty()));
    }
    ips
}

pub fn is_ipv6(ip: &str) -> bool {
    ip.contains(':')
}

/// ShouldPodBeInEndpoints: not terminal, has an IP, and (unless
/// `include_terminating`) not being deleted.
pub fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if is_terminal(pod) || pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// A pod's `hostname` is published when its subdomain names the Service.
pub fn should_set_hostname(pod: &Pod, svc: &Service) -> bool {
    let spec = pod.spec.as_ref();
    let hostname = spec.and_then(|s| s.hostname.as_deref()).unwrap_or("");
    let subdomain = spec.and_then(|s| s.subdomain.as_deref()).unwrap_or("");
    !hostname.is_empty()
        && subdomain == svc.name_any()
        && pod.namespace().as_deref() == svc.namespace().as_deref()
}

fn protocol(p: Option<&String>) -> &str {
    p.map(String::as_str)
        .filter(|p| !p.is_empty())
        .unwrap_or("TCP")
}

/// FindPort: the pod port a service port's targetPort resolves to. A name is
/// looked up among the ports of containers and restartable (sidecar) init
/// containers with the same protocol; a number (or no targetPort) is used as is.
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && protocol(p.protocol.as_ref()) == protocol(port.protocol.as_ref())
                })
                .map(|p| p.container_port)
        }
    }
}

/// The service port's protocol, defaulted.
pub fn port_protocol(port: &ServicePort) -> String {
    protocol(port.protocol.as_ref()).to_string()
}

/// Pods in the Service's namespace its selector matches (any state).
pub fn selected_pods(pods: &Informer<Pod>, svc: &Service) -> Vec<std::sync::Arc<Pod>> {
    let Some(selector) = managed_selector(svc) else {
        return Vec::new();
    };
    let ns = svc.namespace().unwrap_or_default();
    pods.in_namespace(&ns)
        .into_iter()
        .filter(|p| selector_matches(selector, p.metadata.labels.as_ref()))
        .collect()
}

fn pod_trigger_time(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

#[derive(Default)]
struct TriggerState {
    pods: HashMap<String, Timestamp>,
    service: Option<Timestamp>,
}

/// TriggerTimeTracker: the earliest change (a pod's Ready transition, the
/// Service's creation) not yet reflected in a sync of the Service, for
/// `endpoints.kubernetes.io/last-change-trigger-time`.
#[derive(Default)]
pub struct TriggerTimeTracker {
    services: Mutex<HashMap<String, TriggerState>>,
}

impl TriggerTimeTracker {
    pub fn compute(&self, svc: &Service, pods: &[std::sync::Arc<Pod>]) -> Option<Timestamp> {
        let key = format!("{}/{}", svc.namespace().unwrap_or_default(), svc.name_any());
        let mut services = self.services.lock().unwrap_or_else(|p| p.into_inner());
        let old = services.remove(&key).unwrap_or_default();
        let mut min: Option<Timestamp> = None;
        let mut state = TriggerState::default();
        for pod in pods {
            if let Some(t) = pod_trigger_time(pod) {
                if old.pods.get(&pod.name_any()).is_none_or(|prev| t > *prev) {
                    min = Some(min.map_or(t, |m| m.min(t)));
                }
                state.pods.insert(pod.name_any(), t);
            }
        }
        let created = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(c) = created {
            if old.service.is_none_or(|prev| c > prev) {
                min = Some(min.map_or(c, |m| m.min(c)));
            }
        }
        state.service = created;
        services.insert(key, state);
        min
    }

    pub fn forget(&self, namespace: &str, name: &str) {
        self.services
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&format!("{namespace}/{name}"));
    }
}

/// Maps a pod event to the Services to sync: those selecting the pod now,
/// plus those that selected it at its previous event (so a label change or
/// deletion also updates the Services it left).
pub struct PodServiceIndex {
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    last: Mutex<HashMap<ObjectRef<Pod>, HashSet<ObjectRef<Service>>>>,
}

impl PodServiceIndex {
    pub fn new(services: Arc<Informer<Service>>, pods: Arc<Informer<Pod>>) -> Self {
        Self {
            services,
            pods,
            last: Mutex::new(HashMap::new()),
        }
    }

    pub fn services_for(&self, pod: &Pod) -> Vec<ObjectRef<Service>> {
        let key = ObjectRef::from_obj(pod);
        let ns = pod.namespace().unwrap_or_default();
        let now: HashSet<ObjectRef<Service>> = self
            .services
            .in_namespace(&ns)
            .iter()
            .filter(|s| {
                managed_selector(s)
                    .is_some_and(|sel| selector_matches(sel, pod.metadata.labels.as_ref()))
            })
            .map(|s| ObjectRef::from_obj(s.as_ref()))
            .collect();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = last.remove(&key).unwrap_or_default();
        out.extend(now.iter().cloned());
        // The reflector has already applied this event: absent means deleted.
        if self.pods.get(key.namespace.as_deref(), &key.name).is_some() {
            last.insert(key, now);
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("pod")
    }

    fn svc_port(v: serde_json::Value) -> ServicePort {
        serde_json::from_value(v).expect("port")
    }

    #[test]
    fn find_port_by_number_name_and_protocol() {
        let p = pod(json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080},
                {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}],
            "initContainers": [{"name": "side", "restartPolicy": "Always",
                "ports": [{"name": "metrics", "containerPort": 9090}]}]}}));
        let cases = [
            (json!({"port": 80}), Some(80)),
            (json!({"port": 80, "targetPort": 9000}), Some(9000)),
            (json!({"port": 80, "targetPort": "http"}), Some(8080)),
            (
                json!({"port": 80, "targetPort": "http", "protocol": "UDP"}),
                None,
            ),
            (
                json!({"port": 53, "targetPort": "dns", "protocol": "UDP"}),
                Some(53),
            ),
            (json!({"port": 53, "targetPort": "dns"}), None),
            (json!({"port": 1, "targetPort": "metrics"}), Some(9090)),
            (json!({"port": 1, "targetPort": "missing"}), None),
        ];
        for (port, want) in cases {
            assert_eq!(find_port(&p, &svc_port(port.clone())), want, "{port}");
        }
    }

    #[test]
    fn which_pods_back_a_service() {
        let cases = [
            (json!({"status": {"podIP": "10.0.0.1"}}), false, true),
            (json!({"status": {}}), true, false),
            (
                json!({"status": {"podIP": "10.0.0.1", "phase": "Succeeded"}}),
                true,
                false,
            ),
            (
                json!({"status": {"podIPs": [{"ip": "10.0.0.1"}], "phase": "Running"}}),
                false,
                true,
            ),
            (
                json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"},
                       "status": {"podIP": "10.0.0.1"}}),
                false,
                false,
            ),
            (
                json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"},
                       "status": {"podIP": "10.0.0.1"}}),
                true,
                true,
            ),
        ];
        for (p, include_terminating, want) in cases {
            assert_eq!(
                should_pod_be_in_endpoints(&pod(p.clone()), include_terminating),
                want,
                "{p}"
            );
        }
    }

    #[test]
    fn hostname_needs_matching_subdomain() {
        let svc: Service = serde_json::from_value(
            json!({"metadata": {"name": "db", "namespace": "default"}, "spec": {}}),
        )
        .expect("svc");
        let with = |sub: &str| {
            pod(json!({"metadata": {"name": "p", "namespace": "default"},
                        "spec": {"hostname": "db-0", "subdomain": sub, "containers": []}}))
        };
        assert!(should_set_hostname(&with("db"), &svc));
        assert!(!should_set_hostname(&with("other"), &svc));
    }

    #[test]
    fn empty_selector_matches_everything_missing_label_nothing() {
        let sel: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        assert!(selector_matches(&sel, Some(&labels)));
        assert!(!selector_matches(&sel, None));
        assert!(selector_matches(&BTreeMap::new(), None));
    }

    #[test]
    fn trigger_time_is_earliest_unseen_change() {
        let svc: Service = serde_json::from_value(json!({"metadata": {"name": "s",
            "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"}}))
        .expect("svc");
        let ready = |name: &str, t: &str| {
            std::sync::Arc::new(pod(json!({"metadata": {"name": name}, "status": {
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t}]}})))
        };
        let tracker = TriggerTimeTracker::default();
        let first = tracker.compute(&svc, &[ready("a", "2024-01-01T00:01:00Z")]);
        assert_eq!(
            first.map(|t| t.to_string()).as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        // Nothing changed since: no trigger.
        assert_eq!(
            tracker.compute(&svc, &[ready("a", "2024-01-01T00:01:00Z")]),
            None
        );
        let later = tracker.compute(
            &svc,
            &[
                ready("a", "2024-01-01T00:03:00Z"),
                ready("b", "2024-01-01T00:02:00Z"),
            ],
        );
        assert_eq!(
            later.map(|t| t.to_string()).as_deref(),
            Some("2024-01-01T00:02:00Z")
        );
    }
}
