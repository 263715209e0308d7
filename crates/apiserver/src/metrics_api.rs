//! `metrics.k8s.io/v1beta1` (what metrics-server serves, so `kubectl top`
//! and HorizontalPodAutoscalers work): NodeMetrics and PodMetrics read on
//! demand from every node agent's `/stats/summary`.
//!
//! ```text
//! GET /apis/metrics.k8s.io/v1beta1/{nodes[/n] | pods | namespaces/{ns}/pods[/p]}
//!   ─▶ nodes from the watch cache ─▶ GET /stats/summary on each (in parallel, via proxy.rs)
//!   ─▶ node cpu/memory, or per-pod container cpu (usageNanoCores) / memory (workingSetBytes)
//!   ─▶ label / name filters ─▶ NodeMetricsList | PodMetricsList | one object (404 if absent)
//! ```

use crate::body::json_response;
use crate::request::Query;
use crate::Server;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use berth_api::selector::{labels_of, LabelSelector};
use berth_api::status::ApiError;
use serde_json::{json, Value};
use std::sync::Arc;

pub const GROUP: &str = "metrics.k8s.io";
pub const VERSION: &str = "v1beta1";
const PREFIX: &str = "/apis/metrics.k8s.io";
/// The window the kubelet's CPU rate covers (two samples ~10 s apart).
const WINDOW: &str = "10s";

fn resources() -> Vec<(&'static str, &'static str, &'static str, bool)> {
    // (plural, singular, kind, namespaced)
    vec![
        ("nodes", "", "NodeMetrics", false),
        ("pods", "", "PodMetrics", true),
    ]
}

/// The group's entry in aggregated discovery (`/apis`, apidiscovery v2).
pub fn aggregated_group() -> Value {
    let resources: Vec<Value> = resources()
        .into_iter()
        .map(|(plural, singular, kind, namespaced)| {
            json!({
                "resource": plural,
                "responseKind": {"group": GROUP, "version": VERSION, "kind": kind},
                "scope": if namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": singular,
                "verbs": ["get", "list"],
            })
        })
        .collect();
    json!({"metadata": {"name": GROUP, "creationTimestamp": null},
           "versions": [{"version": VERSION, "resources": resources, "freshness": "Current"}]})
}

/// The group's entry in the legacy `/apis` APIGroupList.
pub fn group_entry() -> Value {
    let gv = json!({"groupVersion": format!("{GROUP}/{VERSION}"), "version": VERSION});
    json!({"name": GROUP, "versions": [gv.clone()], "preferredVersion": gv})
}

fn resource_list() -> Value {
    let resources: Vec<Value> = resources()
        .into_iter()
        .map(|(plural, singular, kind, namespaced)| {
            json!({"name": plural, "singularName": singular, "namespaced": namespaced,
                   "kind": kind, "verbs": ["get", "list"]})
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1",
           "groupVersion": format!("{GROUP}/{VERSION}"), "resources": resources})
}

/// Requests under /apis/metrics.k8s.io; `None` for any other path.
pub async fn handle(
    srv: &Arc<Server>,
    path: &str,
    q: &Query,
) -> Option<Result<Response<Body>, ApiError>> {
    let rest = path.strip_prefix(PREFIX)?;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let ok = |v: Value| Ok(json_response(StatusCode::OK, &v));
    Some(match parts.as_slice() {
        [] => {
            let mut g = group_entry();
            g["kind"] = json!("APIGroup");
            g["apiVersion"] = json!("v1");
            ok(g)
        }
        [VERSION] => ok(resource_list()),
        [VERSION, "nodes"] => node_metrics(srv, None, q).await.and_then(ok),
        [VERSION, "nodes", name] => node_metrics(srv, Some(name), q).await.and_then(ok),
        [VERSION, "pods"] => pod_metrics(srv, None, None, q).await.and_then(ok),
        [VERSION, "namespaces", ns, "pods"] => {
            pod_metrics(srv, Some(ns), None, q).await.and_then(ok)
        }
        [VERSION, "namespaces", ns, "pods", name] => {
            pod_metrics(srv, Some(ns), Some(name), q).await.and_then(ok)
        }
        _ => Err(ApiError::not_found_path()),
    })
}

/// Every node in the watch cache.
fn nodes(srv: &Server) -> Vec<Value> {
    objects_under(srv, "/registry/core/nodes/")
}

fn objects_under(srv: &Server, prefix: &str) -> Vec<Value> {
    let (_, objects) = srv.cache.snapshot();
    let lower = std::ops::Bound::Included(prefix.to_string());
    objects
        .range((lower, std::ops::Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(_, c)| c.value())
        .collect()
}

fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `/stats/summary` of every Ready node, fetched in parallel; nodes that do
/// not answer are left out (as metrics-server does).
async fn summaries(srv: &Arc<Server>, only: Option<&str>) -> Vec<(String, Value)> {
    let wanted: Vec<String> = nodes(srv)
        .iter()
        .map(|n| name_of(n).to_string())
        .filter(|n| only.is_none_or(|o| o == n))
        .collect();
    let fetches = wanted.into_iter().map(|node| async move {
        let body = crate::proxy::kubelet_get(srv, &node, "/stats/summary").await;
        match body.map(|b| serde_json::from_slice::<Value>(&b)) {
            Ok(Ok(summary)) => Some((node, summary)),
            Ok(Err(e)) => {
                tracing::debug!(node, "stats summary is not JSON: {e}");
                None
            }
            Err(e) => {
                tracing::debug!(node, "no stats summary: {e}");
                None
            }
        }
    });
    futures::future::join_all(fetches)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// cpu as nanocores ("123456n") and memory as KiB ("2048Ki"), as metrics-server writes them.
fn usage(stats: &Value) -> Value {
    let cpu = stats
        .pointer("/cpu/usageNanoCores")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mem = stats
        .pointer("/memory/workingSetBytes")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    json!({"cpu": format!("{cpu}n"), "memory": format!("{}Ki", mem / 1024)})
}

fn timestamp(stats: &Value) -> Value {
    stats
        .pointer("/cpu/time")
        .or_else(|| stats.pointer("/memory/time"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn selector(q: &Query) -> Result<Option<LabelSelector>, ApiError> {
    match q.get("labelSelector").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => LabelSelector::parse(s)
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {}", e.0))),
    }
}

async fn node_metrics(srv: &Arc<Server>, name: Option<&str>, q: &Query) -> Result<Value, ApiError> {
    let sel = selector(q)?;
    let labels: std::collections::HashMap<String, Value> = nodes(srv)
        .into_iter()
        .map(|n| (name_of(&n).to_string(), n))
        .collect();
    let mut items = Vec::new();
    for (node, summary) in summaries(srv, name).await {
        let obj = labels.get(&node);
        if let (Some(sel), Some(obj)) = (&sel, obj) {
            if !sel.matches(&labels_of(obj)) {
                continue;
            }
        }
        let stats = &summary["node"];
        items.push(json!({
            "kind": "NodeMetrics", "apiVersion": format!("{GROUP}/{VERSION}"),
            "metadata": {"name": node, "labels": obj.and_then(|o| o.pointer("/metadata/labels")).cloned().unwrap_or(json!({})),
                         "creationTimestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
            "timestamp": timestamp(stats), "window": WINDOW, "usage": usage(stats),
        }));
    }
    single_or_list(items, name, "NodeMetricsList", "nodes")
}

async fn pod_metrics(
    srv: &Arc<Server>,
    ns: Option<&str>,
    name: Option<&str>,
    q: &Query,
) -> Result<Value, ApiError> {
    let sel = selector(q)?;
    // The pods asked for, from the cache: their labels and nodes.
    let prefix = match ns {
        Some(ns) => format!("/registry/core/pods/{ns}/"),
        None => "/registry/core/pods/".to_string(),
    };
    let pods: Vec<Value> = objects_under(srv, &prefix)
        .into_iter()
        .filter(|p| name.is_none_or(|n| name_of(p) == n))
        .filter(|p| sel.as_ref().is_none_or(|s| s.matches(&labels_of(p))))
        .collect();
    let wanted: std::collections::HashSet<(String, String)> = pods
        .iter()
        .map(|p| {
            (
                p.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                name_of(p).to_string(),
            )
        })
        .collect();
    let labels: std::collections::HashMap<(String, String), Value> = pods
        .iter()
        .map(|p| {
            (
                (
                    p.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    name_of(p).to_string(),
                ),
                p.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
            )
        })
        .collect();
    let mut items = Vec::new();
    if !wanted.is_empty() {
        for (_, summary) in summaries(srv, None).await {
            for pod in summary["pods"].as_array().into_iter().flatten() {
                let key = (
                    pod.pointer("/podRef/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    pod.pointer("/podRef/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                );
                if !wanted.contains(&key) {
                    continue;
                }
                let containers: Vec<Value> = pod["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| json!({"name": c["name"], "usage": usage(c)}))
                    .collect();
                items.push(json!({
                    "kind": "PodMetrics", "apiVersion": format!("{GROUP}/{VERSION}"),
                    "metadata": {"name": key.1, "namespace": key.0,
                                 "labels": labels.get(&key).cloned().unwrap_or(json!({})),
                                 "creationTimestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
                    "timestamp": timestamp(&pod["containers"][0]), "window": WINDOW,
                    "containers": containers,
                }));
            }
        }
    }
    items.sort_by(|a, b| {
        (
            a["metadata"]["namespace"].as_str(),
            a["metadata"]["name"].as_str(),
        )
            .cmp(&(
                b["metadata"]["namespace"].as_str(),
                b["metadata"]["name"].as_str(),
            ))
    });
    single_or_list(items, name, "PodMetricsList", "pods")
}

fn single_or_list(
    mut items: Vec<Value>,
    name: Option<&str>,
    list_kind: &str,
    plural: &str,
) -> Result<Value, ApiError> {
    match name {
        Some(n) => {
            if items.is_empty() {
                Err(ApiError::not_found(GROUP, plural, n))
            } else {
                Ok(items.swap_remove(0))
            }
        }
        None => Ok(
            json!({"kind": list_kind, "apiVersion": format!("{GROUP}/{VERSION}"),
                          "metadata": {}, "items": items}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_written_as_metrics_server_does() {
        let stats = json!({"cpu": {"time": "2026-11-23T10:00:00Z", "usageNanoCores": 250_000_000u64},
                           "memory": {"workingSetBytes": 64u64 * 1024 * 1024}});
        assert_eq!(
            usage(&stats),
            json!({"cpu": "250000000n", "memory": "65536Ki"})
        );
        assert_eq!(timestamp(&stats), json!("2026-11-23T10:00:00Z"));
        assert_eq!(usage(&json!({})), json!({"cpu": "0n", "memory": "0Ki"}));
    }

    #[test]
    fn discovery_names_both_resources() {
        let g = aggregated_group();
        assert_eq!(g["metadata"]["name"], GROUP);
        let rs = g["versions"][0]["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(rs.len(), 2);
        assert_eq!(resource_list()["groupVersion"], "metrics.k8s.io/v1beta1");
    }

    #[test]
    fn a_missing_object_is_a_404() {
        let e = single_or_list(vec![], Some("web"), "PodMetricsList", "pods").err();
        assert_eq!(e.map(|e| e.code), Some(404));
    }
}
