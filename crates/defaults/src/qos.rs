//! The QoS class of a pod, computed from its containers' CPU and memory
//! requests and limits the way the Pod strategy does on create.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::json::each_obj;
use crate::quantity::nanos;

/// Only these resources decide a QoS class.
const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// "Guaranteed", "Burstable" or "BestEffort" for a PodSpec (after defaulting,
/// so requests already carry the limits they were defaulted from).
pub fn qos_class(spec: &Map<String, Value>) -> &'static str {
    let mut spec = spec.clone();
    let mut requests: BTreeMap<String, i128> = BTreeMap::new();
    let mut limits: BTreeMap<String, i128> = BTreeMap::new();
    let mut guaranteed = true;
    for list in ["containers", "initContainers"] {
        for container in each_obj(&mut spec, list) {
            let resources = container.get("resources").and_then(Value::as_object);
            let positive = |key: &str| -> Vec<(String, i128)> {
                resources
                    .and_then(|r| r.get(key))
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .filter(|(name, _)| QOS_RESOURCES.contains(&name.as_str()))
                    .filter_map(|(name, q)| nanos(q).filter(|n| *n > 0).map(|n| (name.clone(), n)))
                    .collect()
            };
            for (name, n) in positive("requests") {
                *requests.entry(name).or_default() += n;
            }
            let container_limits = positive("limits");
            let found: BTreeSet<&str> = container_limits.iter().map(|(n, _)| n.as_str()).collect();
            if !QOS_RESOURCES.iter().all(|r| found.contains(r)) {
                guaranteed = false;
            }
            for (name, n) in container_limits {
                *limits.entry(name).or_default() += n;
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let matching = requests
        .iter()
        .all(|(name, req)| limits.get(name) == Some(req));
    if guaranteed && matching && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn class(spec: Value) -> &'static str {
        qos_class(spec.as_object().unwrap_or(&Map::new()))
    }

    #[test]
    fn no_resources_is_best_effort() {
        assert_eq!(class(json!({"containers": [{"name": "a"}]})), "BestEffort");
        assert_eq!(
            class(json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "0"}}}]})),
            "BestEffort"
        );
    }

    #[test]
    fn equal_cpu_and_memory_everywhere_is_guaranteed() {
        let r = json!({"cpu": "500m", "memory": "64Mi"});
        let spec = json!({"containers": [
            {"name": "a", "resources": {"limits": r, "requests": {"cpu": "0.5", "memory": "64Mi"}}},
            {"name": "b", "resources": {"limits": r, "requests": r}}]});
        assert_eq!(class(spec), "Guaranteed");
    }

    #[test]
    fn partial_or_unequal_is_burstable() {
        assert_eq!(
            class(
                json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}]})
            ),
            "Burstable"
        );
        assert_eq!(
            class(json!({"containers": [{"name": "a", "resources": {
                "limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}}]})),
            "Burstable"
        );
        assert_eq!(
            class(json!({"containers": [
                {"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}},
                {"name": "b"}]})),
            "Burstable"
        );
    }
}
