//! autoscaling HorizontalPodAutoscaler defaults. v1 only defaults
//! minReplicas; v2 also adds the CPU 80% metric when none is given and
//! completes scaling behavior rules when a behavior block is present.

use serde_json::{json, Map, Value};

use crate::json::{default_ptr, is_empty, is_unset, obj};

/// Target CPU utilization (percent) of an HPA that names no metric.
const DEFAULT_CPU_UTILIZATION: i64 = 80;

pub fn default_hpa_v1(spec: &mut Map<String, Value>) {
    default_ptr(spec, "minReplicas", json!(1));
}

pub fn default_hpa_v2(spec: &mut Map<String, Value>) {
    default_ptr(spec, "minReplicas", json!(1));
    if is_empty(spec.get("metrics")) {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]),
        );
    }
    if let Some(behavior) = obj(spec, "behavior") {
        complete_rules(behavior, "scaleUp", scale_up_rules());
        complete_rules(behavior, "scaleDown", scale_down_rules());
    }
}

/// Scale up: no stabilization, the larger of +4 pods or +100% per 15s.
fn scale_up_rules() -> Map<String, Value> {
    match json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15}]})
    {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Scale down: -100% per 15s; the stabilization window is left to the
/// controller's command-line setting, so it stays unset.
fn scale_down_rules() -> Map<String, Value> {
    match json!({"selectPolicy": "Max", "policies": [
        {"type": "Percent", "value": 100, "periodSeconds": 15}]})
    {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Replaces `behavior[key]` by the defaults overlaid with the user's set fields.
fn complete_rules(behavior: &mut Map<String, Value>, key: &str, mut rules: Map<String, Value>) {
    match behavior.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Object(given)) => {
            for (field, value) in given {
                if !is_unset(Some(value)) {
                    rules.insert(field.clone(), value.clone());
                }
            }
        }
        // Wrong type: leave it for validation.
        Some(_) => return,
    }
    behavior.insert(key.to_owned(), Value::Object(rules));
}
