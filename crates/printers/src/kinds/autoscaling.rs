//! autoscaling: HorizontalPodAutoscaler (v2 shape, with the v1 CPU-only shape understood too).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, at, created, int_at, name, opt_int, str_at};

pub(crate) const HPA_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Reference", "string", desc::HPA_REFERENCE),
    Column::new("Targets", "string", desc::HPA_TARGETS),
    Column::new("MinPods", "string", desc::HPA_MIN),
    Column::new("MaxPods", "string", desc::HPA_MAX),
    Column::new("Replicas", "string", desc::HPA_REPLICAS),
    AGE,
];

pub(crate) fn hpa_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        str_at(obj, &["spec", "scaleTargetRef", "kind"]),
        str_at(obj, &["spec", "scaleTargetRef", "name"])
    );
    let min_pods = opt_int(obj, &["spec", "minReplicas"])
        .map(|m| m.to_string())
        .unwrap_or_else(|| "<unset>".to_string());
    vec![
        json!(name(obj)),
        json!(reference),
        json!(format_metrics(obj)),
        json!(min_pods),
        json!(int_at(obj, &["spec", "maxReplicas"])),
        json!(int_at(obj, &["status", "currentReplicas"])),
        json!(since(created(obj), now)),
    ]
}

/// Go's `(*Quantity).String()`, which prints "<nil>" for an unset pointer.
fn quantity_ptr(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => crate::json::as_int(other)
            .map(|i| i.to_string())
            .unwrap_or_else(|| "<nil>".to_string()),
        None => "<nil>".to_string(),
    }
}

fn percent(v: Option<i64>) -> Option<String> {
    v.map(|p| format!("{p}%"))
}

/// Upstream `formatHPAMetrics`: at most two entries, then "+ N more...".
fn format_metrics(obj: &Value) -> String {
    const MAX: usize = 2;
    let (specs, statuses) = metrics(obj);
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        // The status entry at the same index, if it is of the expected source.
        let status = |source: &str| statuses.get(i).and_then(|s| at(s, &[source]));
        let entry = match str_at(spec, &["type"]) {
            "External" | "Object" => {
                let source = if str_at(spec, &["type"]) == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = at(spec, &[source, "target"]).unwrap_or(&Value::Null);
                if let Some(avg) = at(target, &["averageValue"]) {
                    let current = status(source)
                        .and_then(|s| at(s, &["current", "averageValue"]))
                        .map(|q| quantity_ptr(Some(q)))
                        .unwrap_or_else(|| "<unknown>".to_string());
                    format!("{current}/{} (avg)", quantity_ptr(Some(avg)))
                } else {
                    let current = status(source)
                        .map(|s| quantity_ptr(at(s, &["current", "value"])))
                        .unwrap_or_else(|| "<unknown>".to_string());
                    format!("{current}/{}", quantity_ptr(at(target, &["value"])))
                }
            }
            "Pods" => {
                let current = status("pods")
                    .map(|s| quantity_ptr(at(s, &["current", "averageValue"])))
                    .unwrap_or_else(|| "<unknown>".to_string());
                format!(
                    "{current}/{}",
                    quantity_ptr(at(spec, &["pods", "target", "averageValue"]))
                )
            }
            t @ ("Resource" | "ContainerResource") => {
                let source = if t == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let resource = str_at(spec, &[source, "name"]);
                let target = at(spec, &[source, "target"]).unwrap_or(&Value::Null);
                if let Some(avg) = at(target, &["averageValue"]) {
                    let current = status(source)
                        .map(|s| quantity_ptr(at(s, &["current", "averageValue"])))
                        .unwrap_or_else(|| "<unknown>".to_string());
                    format!("{resource}: {current}/{}", quantity_ptr(Some(avg)))
                } else {
                    let current = status(source)
                        .and_then(|s| percent(opt_int(s, &["current", "averageUtilization"])))
                        .unwrap_or_else(|| "<unknown>".to_string());
                    let target = percent(opt_int(target, &["averageUtilization"]))
                        .unwrap_or_else(|| "<auto>".to_string());
                    format!("{resource}: {current}/{target}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > MAX {
        list.truncate(MAX);
        format!("{} + {} more...", list.join(", "), count - MAX)
    } else {
        list.join(", ")
    }
}

/// Metric specs and statuses; an autoscaling/v1 object is read as its single CPU metric,
/// the way the v1 → internal conversion does.
fn metrics(obj: &Value) -> (Vec<Value>, Vec<Value>) {
    let specs = arr_at(obj, &["spec", "metrics"]);
    if !specs.is_empty() {
        return (
            specs.to_vec(),
            arr_at(obj, &["status", "currentMetrics"]).to_vec(),
        );
    }
    let Some(target) = opt_int(obj, &["spec", "targetCPUUtilizationPercentage"]) else {
        return (Vec::new(), Vec::new());
    };
    let spec = json!({"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": target}}});
    let statuses = match opt_int(obj, &["status", "currentCPUUtilizationPercentage"]) {
        Some(current) => vec![json!({"type": "Resource", "resource": {"name": "cpu",
            "current": {"averageUtilization": current}}})],
        None => Vec::new(),
    };
    (vec![spec], statuses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn cpu_utilization_hpa() {
        let hpa = json!({"metadata": {"name": "web", "creationTimestamp": "2025-01-01T11:00:00Z"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 10,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                         "target": {"type": "Utilization", "averageUtilization": 80}}}]},
            "status": {"currentReplicas": 2, "desiredReplicas": 2,
                       "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                           "current": {"averageUtilization": 23, "averageValue": "115m"}}}]}});
        assert_eq!(
            hpa_cells(&hpa, now()),
            vec![
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 23%/80%"),
                json!("1"),
                json!(10),
                json!(2),
                json!("60m"),
            ]
        );
    }

    #[test]
    fn unknown_current_and_overflow() {
        let hpa = json!({"metadata": {"name": "x"},
            "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "db"}, "maxReplicas": 5,
                     "metrics": [
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
                {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}}}]}});
        let c = hpa_cells(&hpa, now());
        assert_eq!(
            c[2],
            json!("memory: <unknown>/500Mi, <unknown>/10 + 1 more...")
        );
        assert_eq!(c[3], json!("<unset>"));
        assert_eq!(c[5], json!(0));
    }

    #[test]
    fn v1_shape_and_no_metrics() {
        let v1 = json!({"metadata": {"name": "x"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3,
                     "targetCPUUtilizationPercentage": 50},
            "status": {"currentCPUUtilizationPercentage": 12}});
        assert_eq!(hpa_cells(&v1, now())[2], json!("cpu: 12%/50%"));
        let none = json!({"metadata": {"name": "x"}, "spec": {}});
        assert_eq!(hpa_cells(&none, now())[2], json!("<none>"));
    }
}
