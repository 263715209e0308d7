//! Downward API values for env vars: `fieldRef` and `resourceFieldRef`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ObjectFieldSelector, Pod, ResourceFieldSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{Allocatable, PodFacts};
use crate::podutil::{self, spec};
use crate::quantity;

/// Splits `metadata.labels['key']` into (`metadata.labels`, `key`).
fn split_subscript(path: &str) -> Option<(&str, &str)> {
    let inner = path.strip_suffix("']")?;
    let (base, key) = inner.split_once("['")?;
    (!base.is_empty()).then_some((base, key))
}

/// Go's `%q` for map values in `metadata.labels` / `metadata.annotations`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                let v = c as u32;
                if v <= 0xffff {
                    out.push_str(&format!("\\u{v:04x}"));
                } else {
                    out.push_str(&format!("\\U{v:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `key="value"` lines, sorted by key, as `fieldpath.FormatMap` writes them.
fn format_map(m: Option<&BTreeMap<String, String>>) -> String {
    m.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of a `fieldRef` env source (`podFieldSelectorRuntimeValue`).
/// Errors carry the kubelet's messages.
pub(crate) fn field_ref_value(
    fs: &ObjectFieldSelector,
    pod: &Pod,
    facts: &PodFacts,
) -> Result<String, String> {
    let version = fs.api_version.as_deref().unwrap_or("v1");
    if version != "v1" {
        return Err(format!("unsupported pod version: {version}"));
    }
    let path = fs.field_path.as_str();
    if let Some((base, key)) = split_subscript(path) {
        return match base {
            "metadata.annotations" => Ok(pod
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(key))
                .cloned()
                .unwrap_or_default()),
            "metadata.labels" => Ok(pod
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(key))
                .cloned()
                .unwrap_or_default()),
            _ => Err(format!("field label does not support subscript: {path}")),
        };
    }
    let s = spec(pod).get();
    let pod_ip = facts
        .pod_ips
        .first()
        .cloned()
        .unwrap_or_else(|| facts.pod_ip.clone());
    match path {
        "metadata.name" => Ok(podutil::name(pod).to_string()),
        "metadata.namespace" => Ok(podutil::namespace(pod).to_string()),
        "metadata.uid" => Ok(podutil::uid(pod).to_string()),
        "metadata.labels" => Ok(format_map(pod.metadata.labels.as_ref())),
        "metadata.annotations" => Ok(format_map(pod.metadata.annotations.as_ref())),
        "spec.nodeName" | "spec.host" => {
            // The pod is bound to this node; prefer what the pod says.
            let bound = s
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty());
            Ok(bound.unwrap_or_else(|| facts.node_name.clone()))
        }
        "spec.serviceAccountName" => Ok(s
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default()),
        "status.hostIP" | "status.hostIPs" => Ok(facts.host_ip.clone()),
        "status.podIP" => Ok(pod_ip),
        "status.podIPs" => {
            if facts.pod_ips.is_empty() {
                Ok(pod_ip)
            } else {
                Ok(facts.pod_ips.join(","))
            }
        }
        "spec.terminationGracePeriodSeconds" => Ok(s
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .to_string()),
        // Accepted by the API's label conversion but not resolvable from env.
        "spec.restartPolicy" | "spec.schedulerName" | "status.phase" => {
            Err(format!("unsupported fieldPath: {path}"))
        }
        _ => Err(format!("field label not supported: {path}")),
    }
}

/// The container's limit for `resource`, defaulting cpu/memory/ephemeral
/// storage to node allocatable when unset or zero (`defaultPodLimitsForDownwardAPI`).
fn defaulted_limit(c: &Container, resource: &str, alloc: &Allocatable) -> Option<Quantity> {
    let set = podutil::limit(c, resource).filter(|q| quantity::nano_value(q) != 0);
    if let Some(q) = set {
        return Some(q.clone());
    }
    let fallback = match resource {
        "cpu" => format!("{}m", alloc.cpu_millis),
        "memory" => alloc.memory_bytes.to_string(),
        "ephemeral-storage" => alloc.ephemeral_storage_bytes.to_string(),
        _ => return None,
    };
    Some(Quantity(fallback))
}

fn ceil_div(n: i64, d: i64) -> i64 {
    if d == 0 {
        return 0;
    }
    let q = n / d;
    if n % d != 0 && ((n > 0) == (d > 0)) {
        q + 1
    } else {
        q
    }
}

/// The value of a `resourceFieldRef` env source (`containerResourceRuntimeValue`):
/// cpu in ceil(milli / divisor milli), everything else in ceil(value / divisor).
pub(crate) fn resource_ref_value(
    fs: &ResourceFieldSelector,
    pod: &Pod,
    container: &Container,
    alloc: &Allocatable,
) -> Result<String, String> {
    let target = match fs.container_name.as_deref().filter(|n| !n.is_empty()) {
        None => container,
        Some(name) => {
            let s = spec(pod);
            s.containers()
                .iter()
                .chain(s.init_containers())
                .find(|c| c.name == name)
                .ok_or_else(|| format!("container {name} not found"))?
        }
    };
    let divisor = fs
        .divisor
        .clone()
        .filter(|d| quantity::nano_value(d) != 0)
        .unwrap_or_else(|| Quantity("1".into()));
    let (kind, resource) = fs
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported container resource : {}", fs.resource))?;
    let supported = matches!(resource, "cpu" | "memory" | "ephemeral-storage")
        || resource.starts_with("hugepages-");
    if !supported || !matches!(kind, "limits" | "requests") {
        return Err(format!("unsupported container resource : {}", fs.resource));
    }
    let amount = if kind == "limits" {
        defaulted_limit(target, resource, alloc)
            .or_else(|| podutil::limit(target, resource).cloned())
    } else {
        podutil::request(target, resource).cloned()
    };
    let amount = amount.unwrap_or_else(|| Quantity("0".into()));
    let v = if resource == "cpu" {
        ceil_div(
            quantity::milli_value(&amount),
            quantity::milli_value(&divisor),
        )
    } else {
        ceil_div(quantity::value(&amount), quantity::value(&divisor))
    };
    Ok(v.to_string())
}
