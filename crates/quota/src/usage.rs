//! What one object charges against quota (upstream
//! `pkg/quota/v1/evaluator/core` and the generic object-count evaluator).

use crate::pod_resources::{pod_limits, pod_requests, Overhead};
use crate::quantity::Amount;
use crate::resource_list::{to_list, Amounts, ResourceList};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

pub(crate) const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

/// An object that quota can measure.
#[derive(Debug, Clone, Copy)]
pub enum QuotaObject<'a> {
    Pod(&'a Pod),
    Service(&'a Service),
    PersistentVolumeClaim(&'a PersistentVolumeClaim),
    /// Any other kind: counted as `count/<resource>[.<group>]` (plus the
    /// legacy name for configmaps, secrets, replicationcontrollers and
    /// resourcequotas).
    Other {
        resource: &'a str,
        group: &'a str,
    },
}

/// `count/<resource>` for the core group, `count/<resource>.<group>` else.
pub fn object_count_name(resource: &str, group: &str) -> String {
    if group.is_empty() {
        format!("count/{resource}")
    } else {
        format!("count/{resource}.{group}")
    }
}

/// The pre-`count/` names upstream still accepts for core kinds.
pub(crate) fn legacy_count_alias(resource: &str, group: &str) -> Option<&'static str> {
    if !group.is_empty() {
        return None;
    }
    Some(match resource {
        "configmaps" => "configmaps",
        "secrets" => "secrets",
        "replicationcontrollers" => "replicationcontrollers",
        "resourcequotas" => "resourcequotas",
        _ => return None,
    })
}

fn one() -> Amount {
    Amount::from_int(1)
}

impl QuotaObject<'_> {
    pub(crate) fn amounts_at(&self, now: Timestamp) -> Amounts {
        match self {
            QuotaObject::Pod(pod) => pod_amounts(pod, now),
            QuotaObject::Service(svc) => service_amounts(svc),
            QuotaObject::PersistentVolumeClaim(pvc) => pvc_amounts(pvc),
            QuotaObject::Other { resource, group } => {
                let mut out = Amounts::from([(object_count_name(resource, group), one())]);
                if let Some(alias) = legacy_count_alias(resource, group) {
                    out.insert(alias.to_string(), one());
                }
                out
            }
        }
    }

    /// The usage this object charges, as of now.
    pub fn usage(&self) -> ResourceList {
        to_list(&self.amounts_at(now()))
    }
}

/// The wall clock as a jiff Timestamp (k8s-openapi's jiff has no `now`
/// without its std feature).
pub(crate) fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
        .unwrap_or(0);
    Timestamp::from_nanosecond(since_epoch).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Whether a pod still consumes compute quota: not Succeeded/Failed, and not
/// stuck terminating past its grace period (a lost node must not block
/// replacements).
pub fn pod_counts_for_compute(pod: &Pod, now: Timestamp) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return false;
    }
    if let (Some(deleted), Some(grace)) = (
        pod.metadata.deletion_timestamp.as_ref(),
        pod.metadata.deletion_grace_period_seconds,
    ) {
        let expiry = deleted.0.checked_add(SignedDuration::from_secs(grace));
        if expiry.is_ok_and(|expiry| now > expiry) {
            return false;
        }
    }
    true
}

/// Upstream `IsNativeResource`: no domain, or a `kubernetes.io/` one.
fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Extended resources are "domain/name" outside kubernetes.io and not
/// `requests.`-prefixed (upstream `IsExtendedResourceName`).
fn is_extended_resource(name: &str) -> bool {
    !is_native_resource(name) && !name.starts_with("requests.")
}

/// Quota names a container's (or pod's) requests and limits map to
/// (upstream `podComputeUsageHelper`).
pub(crate) fn compute_usage(requests: &Amounts, limits: &Amounts) -> Amounts {
    let mut out = Amounts::from([("pods".to_string(), one())]);
    for (resource, request) in requests {
        match resource.as_str() {
            "cpu" | "memory" | "ephemeral-storage" => {
                out.insert(resource.clone(), *request);
                out.insert(format!("requests.{resource}"), *request);
            }
            r if r.starts_with("hugepages-") => {
                out.insert(resource.clone(), *request);
                out.insert(format!("requests.{resource}"), *request);
            }
            r if is_extended_resource(r) => {
                out.insert(format!("requests.{resource}"), *request);
            }
            _ => {}
        }
    }
    for resource in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(limit) = limits.get(resource) {
            out.insert(format!("limits.{resource}"), *limit);
        }
    }
    out
}

fn pod_amounts(pod: &Pod, now: Timestamp) -> Amounts {
    // count/pods tracks every stored pod, whatever its phase.
    let mut out = Amounts::from([(object_count_name("pods", ""), one())]);
    if pod_counts_for_compute(pod, now) {
        let requests = pod_requests(pod, Overhead::Include);
        let limits = pod_limits(pod, Overhead::Include);
        crate::resource_list::add_into(&mut out, &compute_usage(&requests, &limits));
    }
    out
}

/// A pod's quota usage (count/pods always; compute resources and `pods`
/// unless terminal): requests of app containers plus sidecars or the peak
/// init container, plus overhead.
pub fn usage_of_pod(pod: &Pod) -> ResourceList {
    QuotaObject::Pod(pod).usage()
}

fn service_amounts(svc: &Service) -> Amounts {
    let spec = svc.spec.as_ref();
    let ports = spec.and_then(|s| s.ports.as_ref());
    let port_count = i64::try_from(ports.map_or(0, Vec::len)).unwrap_or(i64::MAX);
    let mut node_ports = Amount::zero();
    let mut load_balancers = Amount::zero();
    match spec.and_then(|s| s.type_.as_deref()) {
        Some("NodePort") => node_ports = Amount::from_int(port_count),
        Some("LoadBalancer") => {
            load_balancers = one();
            // With node port allocation off, only explicitly set node ports count.
            node_ports = if spec.and_then(|s| s.allocate_load_balancer_node_ports) == Some(false) {
                let explicit = ports
                    .into_iter()
                    .flatten()
                    .filter(|p| p.node_port.is_some_and(|n| n != 0))
                    .count();
                Amount::from_int(i64::try_from(explicit).unwrap_or(i64::MAX))
            } else {
                Amount::from_int(port_count)
            };
        }
        _ => {}
    }
    Amounts::from([
        (object_count_name("services", ""), one()),
        ("services".to_string(), one()),
        ("services.loadbalancers".to_string(), load_balancers),
        ("services.nodeports".to_string(), node_ports),
    ])
}

pub fn usage_of_service(svc: &Service) -> ResourceList {
    to_list(&service_amounts(svc))
}

fn pvc_amounts(pvc: &PersistentVolumeClaim) -> Amounts {
    let mut out = Amounts::from([
        ("persistentvolumeclaims".to_string(), one()),
        (object_count_name("persistentvolumeclaims", ""), one()),
    ]);
    let spec = pvc.spec.as_ref();
    let class = spec
        .and_then(|s| s.storage_class_name.clone())
        .or_else(|| {
            // The beta annotation still wins where the field is unset.
            pvc.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class").cloned())
        })
        .filter(|c| !c.is_empty());
    if let Some(class) = &class {
        out.insert(
            format!("{class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"),
            one(),
        );
    }
    // Whole bytes: the requested size, or the allocated size when larger.
    let requested = spec
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| Amount::lossy(q).round_up_to_units().0);
    let allocated = pvc
        .status
        .as_ref()
        .and_then(|s| s.allocated_resources.as_ref())
        .and_then(|r| r.get("storage"))
        .map(Amount::lossy);
    let storage = match (requested, allocated) {
        (Some(req), Some(alloc)) if alloc > req => Some(alloc.round_up_to_units().0),
        (req, _) => req,
    };
    if let Some(storage) = storage {
        out.insert("requests.storage".to_string(), storage);
        if let Some(class) = &class {
            out.insert(
                format!("{class}{STORAGE_CLASS_SUFFIX}requests.storage"),
                storage,
            );
        }
    }
    out
}

pub fn usage_of_pvc(pvc: &PersistentVolumeClaim) -> ResourceList {
    to_list(&pvc_amounts(pvc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{container, list, pod_with};
    use k8s_openapi::api::core::v1::{
        PersistentVolumeClaimSpec, PersistentVolumeClaimStatus, PodStatus, ServicePort,
        ServiceSpec, VolumeResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn pod_usage_maps_requests_and_limits_to_quota_names() {
        let pod = pod_with(
            vec![
                container(
                    "a",
                    &[("cpu", "500m"), ("memory", "1Gi")],
                    &[("cpu", "1"), ("memory", "1Gi")],
                ),
                container(
                    "b",
                    &[
                        ("cpu", "250m"),
                        ("ephemeral-storage", "1Gi"),
                        ("nvidia.com/gpu", "1"),
                        ("hugepages-2Mi", "4Mi"),
                    ],
                    &[],
                ),
            ],
            vec![],
        );
        assert_eq!(
            usage_of_pod(&pod),
            list(&[
                ("count/pods", "1"),
                ("cpu", "750m"),
                ("ephemeral-storage", "1Gi"),
                ("hugepages-2Mi", "4Mi"),
                ("limits.cpu", "1"),
                ("limits.memory", "1Gi"),
                ("memory", "1Gi"),
                ("pods", "1"),
                ("requests.cpu", "750m"),
                ("requests.ephemeral-storage", "1Gi"),
                ("requests.hugepages-2Mi", "4Mi"),
                ("requests.memory", "1Gi"),
                ("requests.nvidia.com/gpu", "1"),
            ])
        );
    }

    #[test]
    fn terminal_pods_only_count_as_objects() {
        for phase in ["Succeeded", "Failed"] {
            let mut pod = pod_with(vec![container("a", &[("cpu", "1")], &[])], vec![]);
            pod.status = Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            });
            assert_eq!(usage_of_pod(&pod), list(&[("count/pods", "1")]), "{phase}");
        }
        let mut running = pod_with(vec![container("a", &[("cpu", "1")], &[])], vec![]);
        running.status = Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        });
        assert_eq!(
            usage_of_pod(&running).get("pods"),
            Some(&list(&[("pods", "1")])["pods"])
        );
    }

    #[test]
    fn pods_stuck_terminating_past_grace_stop_counting() {
        let mut pod = pod_with(vec![container("a", &[("cpu", "1")], &[])], vec![]);
        let deleted: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap_or_default();
        pod.metadata.deletion_timestamp = Some(Time(deleted));
        pod.metadata.deletion_grace_period_seconds = Some(30);
        let within = deleted
            .checked_add(SignedDuration::from_secs(10))
            .unwrap_or(deleted);
        let after = deleted
            .checked_add(SignedDuration::from_secs(31))
            .unwrap_or(deleted);
        assert!(pod_counts_for_compute(&pod, within));
        assert!(!pod_counts_for_compute(&pod, after));
        assert_eq!(
            to_list(&QuotaObject::Pod(&pod).amounts_at(after)),
            list(&[("count/pods", "1")])
        );
    }

    fn service(type_: &str, ports: usize, allocate: Option<bool>) -> Service {
        Service {
            spec: Some(ServiceSpec {
                type_: Some(type_.into()),
                allocate_load_balancer_node_ports: allocate,
                ports: Some(
                    (0..ports)
                        .map(|i| ServicePort {
                            port: 80 + i32::try_from(i).unwrap_or(0),
                            node_port: (i == 0).then_some(30000),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn service_usage_counts_node_ports_and_load_balancers() {
        let base = [("count/services", "1"), ("services", "1")];
        let with = |extra: &[(&str, &str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            list(&all)
        };
        assert_eq!(
            usage_of_service(&service("ClusterIP", 2, None)),
            with(&[("services.loadbalancers", "0"), ("services.nodeports", "0")])
        );
        assert_eq!(
            usage_of_service(&service("NodePort", 2, None)),
            with(&[("services.loadbalancers", "0"), ("services.nodeports", "2")])
        );
        assert_eq!(
            usage_of_service(&service("LoadBalancer", 3, None)),
            with(&[("services.loadbalancers", "1"), ("services.nodeports", "3")])
        );
        assert_eq!(
            usage_of_service(&service("LoadBalancer", 3, Some(false))),
            with(&[("services.loadbalancers", "1"), ("services.nodeports", "1")])
        );
    }

    #[test]
    fn pvc_usage_charges_storage_per_class_in_whole_bytes() {
        let mut pvc = PersistentVolumeClaim {
            spec: Some(PersistentVolumeClaimSpec {
                storage_class_name: Some("gold".into()),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(list(&[("storage", "1.5")])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            usage_of_pvc(&pvc),
            list(&[
                ("count/persistentvolumeclaims", "1"),
                (
                    "gold.storageclass.storage.k8s.io/persistentvolumeclaims",
                    "1"
                ),
                ("gold.storageclass.storage.k8s.io/requests.storage", "2"),
                ("persistentvolumeclaims", "1"),
                ("requests.storage", "2"),
            ])
        );
        pvc.status = Some(PersistentVolumeClaimStatus {
            allocated_resources: Some(list(&[("storage", "10Gi")])),
            ..Default::default()
        });
        assert_eq!(usage_of_pvc(&pvc)["requests.storage"].0, "10Gi");
    }

    #[test]
    fn other_kinds_count_objects() {
        let deploy = QuotaObject::Other {
            resource: "deployments",
            group: "apps",
        };
        assert_eq!(deploy.usage(), list(&[("count/deployments.apps", "1")]));
        let cm = QuotaObject::Other {
            resource: "configmaps",
            group: "",
        };
        assert_eq!(
            cm.usage(),
            list(&[("configmaps", "1"), ("count/configmaps", "1")])
        );
    }
}
