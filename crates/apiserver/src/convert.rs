//! Conversion between served versions that share one stored object
//! (autoscaling/v1 and v2 HorizontalPodAutoscalers).

use berth_api::ResourceInfo;
use serde_json::{json, Value};

/// Convert a stored object into the version `info` serves.
pub fn to_served(info: &ResourceInfo, mut obj: Value) -> Value {
    if info.version == info.storage_version {
        return obj;
    }
    if info.kind == "HorizontalPodAutoscaler" && info.version == "v1" {
        obj = hpa_v2_to_v1(obj);
    }
    obj["apiVersion"] = json!(info.api_version());
    obj
}

/// Convert an object written through `info` into the stored version.
pub fn to_storage(info: &ResourceInfo, mut obj: Value) -> Value {
    if info.version == info.storage_version {
        return obj;
    }
    if info.kind == "HorizontalPodAutoscaler" && info.version == "v1" {
        obj = hpa_v1_to_v2(obj);
    }
    let (group, version) = (info.group, info.storage_version);
    obj["apiVersion"] = json!(if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    });
    obj
}

fn hpa_v1_to_v2(mut obj: Value) -> Value {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        if let Some(pct) = spec.remove("targetCPUUtilizationPercentage") {
            spec.insert(
                "metrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": pct}}}]),
            );
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(pct) = status.remove("currentCPUUtilizationPercentage") {
            status.insert(
                "currentMetrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": pct}}}]),
            );
        }
    }
    obj
}

fn hpa_v2_to_v1(mut obj: Value) -> Value {
    let cpu_of = |list: Option<&Value>, field: &str| -> Option<Value> {
        list?.as_array()?.iter().find_map(|m| {
            (m.pointer("/resource/name")? == "cpu").then(|| {
                m.pointer(&format!("/resource/{field}/averageUtilization"))
                    .cloned()
            })?
        })
    };
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let pct = cpu_of(spec.get("metrics"), "target");
        spec.remove("metrics");
        spec.remove("behavior");
        if let Some(p) = pct {
            spec.insert("targetCPUUtilizationPercentage".into(), p);
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        let pct = cpu_of(status.get("currentMetrics"), "current");
        status.remove("currentMetrics");
        status.remove("conditions");
        if let Some(p) = pct {
            status.insert("currentCPUUtilizationPercentage".into(), p);
        }
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_round_trips_cpu_target() {
        let v1 = berth_api::registry::lookup("autoscaling", "v1", "horizontalpodautoscalers");
        let Some(v1) = v1 else {
            panic!("autoscaling/v1 HPA not registered")
        };
        let obj = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"minReplicas": 2, "maxReplicas": 10, "targetCPUUtilizationPercentage": 50,
                     "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"}}});
        let stored = to_storage(v1, obj.clone());
        assert_eq!(stored["apiVersion"], "autoscaling/v2");
        assert_eq!(
            stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            50
        );
        assert_eq!(to_served(v1, stored), obj);
    }
}
