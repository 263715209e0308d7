//! Resource vectors and a pod's effective requests, counted as kube-scheduler
//! counts them: app containers (and sidecars) run together so they add up,
//! classic init containers run one at a time so only the largest counts, and
//! the RuntimeClass overhead comes on top.

use crate::quantity;
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// The CPU a container without a CPU request is assumed to use when ranking.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory a container without a memory request is assumed to use when ranking.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Amounts of compute resources: CPU in millicores, the rest in units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Only meaningful for a node's allocatable (`pods`).
    pub allowed_pods: i64,
    /// Extended resources, hugepages and other scalar resources by name.
    pub scalar: BTreeMap<String, i64>,
}

/// Extended (`example.com/gpu`), hugepages and prefixed native resources:
/// the ones kube-scheduler tracks besides cpu, memory and ephemeral-storage.
pub fn is_scalar_resource_name(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("requests."))
}

impl Resource {
    /// A resource list (`requests`, `allocatable`, `overhead`) as a vector.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Self {
        let mut r = Resource::default();
        r.add_list(list);
        r
    }

    pub fn add_list(&mut self, list: &BTreeMap<String, Quantity>) {
        for (name, q) in list {
            match name.as_str() {
                "cpu" => self.milli_cpu += quantity::milli_value(q),
                "memory" => self.memory += quantity::value(q),
                "ephemeral-storage" => self.ephemeral_storage += quantity::value(q),
                "pods" => self.allowed_pods += quantity::value(q),
                other if is_scalar_resource_name(other) => {
                    *self.scalar.entry(other.to_string()).or_default() += quantity::value(q);
                }
                _ => {}
            }
        }
    }

    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pods += other.allowed_pods;
        for (name, v) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() += v;
        }
    }

    pub fn subtract(&mut self, other: &Resource) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pods -= other.allowed_pods;
        for (name, v) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_default();
            *entry -= v;
            if *entry == 0 {
                self.scalar.remove(name);
            }
        }
    }

    /// Per dimension, the larger of the two.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.max(other.allowed_pods);
        for (name, v) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_default();
            *entry = (*entry).max(*v);
        }
    }

    /// True when the pod asks for nothing NodeResourcesFit compares.
    pub fn requests_nothing(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// How to read containers that do not state a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingRequests {
    /// As written: a missing request is zero (filtering, balance).
    AsZero,
    /// A missing cpu/memory request counts as 100m/200Mi (LeastAllocated),
    /// so a node full of best-effort pods does not look empty.
    Defaulted,
}

fn container_requests(c: &Container, missing: MissingRequests) -> Resource {
    let empty = BTreeMap::new();
    let requests = c
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .unwrap_or(&empty);
    let mut r = Resource::from_list(requests);
    if missing == MissingRequests::Defaulted {
        if !requests.contains_key("cpu") {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !requests.contains_key("memory") {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

/// The pod's effective request: max(sum of app containers and sidecars,
/// each init container plus the sidecars started before it) + overhead.
pub fn pod_requests(pod: &Pod, missing: MissingRequests) -> Resource {
    let mut total = Resource::default();
    let Some(spec) = pod.spec.as_ref() else {
        return total;
    };
    for c in &spec.containers {
        total.add(&container_requests(c, missing));
    }
    let mut sidecars = Resource::default();
    let mut init_peak = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c, missing);
        if c.restart_policy.as_deref() == Some("Always") {
            // A sidecar keeps running next to the app containers.
            total.add(&r);
            sidecars.add(&r);
            init_peak.set_max(&sidecars);
        } else {
            let mut during = r;
            during.add(&sidecars);
            init_peak.set_max(&during);
        }
    }
    total.set_max(&init_peak);
    if let Some(overhead) = &spec.overhead {
        total.add_list(overhead);
    }
    total
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    pub fn container(name: &str, requests: &[(&str, &str)]) -> Container {
        Container {
            name: name.into(),
            image: Some("busybox".into()),
            resources: Some(ResourceRequirements {
                requests: Some(
                    requests
                        .iter()
                        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: Some(init),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn init_containers_count_as_their_maximum() {
        // Upstream's worked example: init 2/1G, 2/3G; app 2/1G, 1/1G → 3 cpu, 3G.
        let p = pod(
            vec![
                container("c1", &[("cpu", "2"), ("memory", "1G")]),
                container("c2", &[("cpu", "1"), ("memory", "1G")]),
            ],
            vec![
                container("i1", &[("cpu", "2"), ("memory", "1G")]),
                container("i2", &[("cpu", "2"), ("memory", "3G")]),
            ],
        );
        let r = pod_requests(&p, MissingRequests::AsZero);
        assert_eq!(r.milli_cpu, 3000);
        assert_eq!(r.memory, 3_000_000_000);
    }

    #[test]
    fn sidecars_add_to_app_containers_and_later_inits() {
        let mut sidecar = container("s", &[("cpu", "500m")]);
        sidecar.restart_policy = Some("Always".into());
        let p = pod(
            vec![container("c", &[("cpu", "1")])],
            vec![sidecar, container("i", &[("cpu", "1800m")])],
        );
        // app + sidecar = 1.5; init after sidecar = 1.8 + 0.5 = 2.3.
        assert_eq!(pod_requests(&p, MissingRequests::AsZero).milli_cpu, 2300);
    }

    #[test]
    fn overhead_and_extended_resources() {
        let mut p = pod(
            vec![container("c", &[("cpu", "1"), ("example.com/gpu", "2")])],
            vec![],
        );
        if let Some(spec) = p.spec.as_mut() {
            spec.overhead = Some([("cpu".to_string(), Quantity("250m".into()))].into());
        }
        let r = pod_requests(&p, MissingRequests::AsZero);
        assert_eq!(r.milli_cpu, 1250);
        assert_eq!(r.scalar.get("example.com/gpu"), Some(&2));
    }

    #[test]
    fn missing_requests_default_only_when_ranking() {
        let p = pod(
            vec![container("c", &[]), container("d", &[("cpu", "0")])],
            vec![],
        );
        assert!(pod_requests(&p, MissingRequests::AsZero).requests_nothing());
        let r = pod_requests(&p, MissingRequests::Defaulted);
        // An explicit zero stays zero; only a missing request is defaulted.
        assert_eq!(r.milli_cpu, 100);
        assert_eq!(r.memory, 2 * DEFAULT_MEMORY_REQUEST);
    }
}
