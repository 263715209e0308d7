//! Pod QoS class and the OOM score adjustment the kubelet derives from it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::podutil::{self, spec};
use crate::quantity;

pub const GUARANTEED: &str = "Guaranteed";
pub const BURSTABLE: &str = "Burstable";
pub const BEST_EFFORT: &str = "BestEffort";

/// OOM score adjustment for Guaranteed and node-critical containers.
const GUARANTEED_OOM_SCORE_ADJ: i64 = -997;
/// OOM score adjustment for BestEffort containers.
const BEST_EFFORT_OOM_SCORE_ADJ: i64 = 1000;

/// The pod's QoS class: `status.qosClass` when set, else computed from the
/// cpu/memory requests and limits of its containers and init containers.
pub fn qos_class(pod: &Pod) -> &'static str {
    match pod.status.as_ref().and_then(|s| s.qos_class.as_deref()) {
        Some(GUARANTEED) => GUARANTEED,
        Some(BURSTABLE) => BURSTABLE,
        Some(BEST_EFFORT) => BEST_EFFORT,
        _ => compute_qos_class(pod),
    }
}

/// QoS only looks at these compute resources.
fn is_qos_resource(name: &str) -> bool {
    name == "cpu" || name == "memory"
}

fn compute_qos_class(pod: &Pod) -> &'static str {
    let spec = spec(pod);
    let mut requests: BTreeMap<String, i64> = BTreeMap::new();
    let mut limits: BTreeMap<String, i64> = BTreeMap::new();
    let mut guaranteed = true;
    for c in spec.containers().iter().chain(spec.init_containers()) {
        // Requests as the API server defaults them (missing request = limit).
        for (name, q) in podutil::effective_requests(c) {
            let v = quantity::nano_value(&q);
            if is_qos_resource(&name) && v > 0 {
                *requests.entry(name).or_default() += v;
            }
        }
        let mut found_cpu = false;
        let mut found_memory = false;
        for (name, q) in podutil::limits_map(c) {
            let v = quantity::nano_value(&q);
            if is_qos_resource(&name) && v > 0 {
                found_cpu |= name == "cpu";
                found_memory |= name == "memory";
                *limits.entry(name).or_default() += v;
            }
        }
        if !(found_cpu && found_memory) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return BEST_EFFORT;
    }
    if guaranteed
        && requests
            .iter()
            .all(|(name, req)| limits.get(name) == Some(req))
        && requests.len() == limits.len()
    {
        return GUARANTEED;
    }
    BURSTABLE
}

/// The kubelet's node-critical test: priority class `system-node-critical`
/// on a critical pod (static/mirror pod or priority >= 2e9).
fn is_node_critical(pod: &Pod) -> bool {
    let Some(spec) = spec(pod).get() else {
        return false;
    };
    if spec.priority_class_name.as_deref() != Some("system-node-critical") {
        return false;
    }
    let is_mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    is_mirror || spec.priority.is_some_and(|p| p >= 2_000_000_000)
}

fn is_sidecar(pod: &Pod, container: &Container) -> bool {
    podutil::is_restartable_init(container)
        && spec(pod)
            .init_containers()
            .iter()
            .any(|c| c.name == container.name)
}

fn memory_request(c: &Container) -> i64 {
    podutil::value_or_zero(podutil::request(c, "memory"))
}

/// The kubelet's `GetContainerOOMScoreAdjust`: -997 for Guaranteed (and
/// node-critical) pods, 1000 for BestEffort, and for Burstable
/// `1000 - 1000*memoryRequest/memoryCapacity` clamped into [3, 999]; a sidecar
/// never scores above the smallest regular container.
pub fn oom_score_adj(pod: &Pod, container: &Container, memory_capacity: i64) -> i64 {
    if is_node_critical(pod) {
        return GUARANTEED_OOM_SCORE_ADJ;
    }
    match qos_class(pod) {
        GUARANTEED => return GUARANTEED_OOM_SCORE_ADJ,
        BEST_EFFORT => return BEST_EFFORT_OOM_SCORE_ADJ,
        _ => {}
    }
    // A zero capacity would divide by zero; it only happens with a broken node
    // description, and then treats every request as negligible.
    let capacity = memory_capacity.max(1);
    let score_for = |request: i64| -> i64 {
        let share = (i128::from(request) * 1000) / i128::from(capacity);
        1000 - i64::try_from(share).unwrap_or(i64::MAX / 2)
    };
    let mut adj = score_for(memory_request(container));
    if is_sidecar(pod, container) {
        let containers = spec(pod).containers();
        if let Some(min_request) = containers.iter().map(memory_request).min() {
            adj = adj.min(score_for(min_request));
        }
    }
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ {
        return 1000 + GUARANTEED_OOM_SCORE_ADJ;
    }
    if adj == BEST_EFFORT_OOM_SCORE_ADJ {
        return adj - 1;
    }
    adj
}
