//! Service defaults: type, session affinity, port protocol and targetPort,
//! traffic policies, plus the IP-family fields that the upstream service
//! registry fills in on a single-stack IPv4 cluster. Cluster IPs and node
//! ports are never allocated here.

use serde_json::{json, Map, Value};

use crate::json::{default_ptr, default_str, each_obj, is_empty, is_unset, len_of, obj, str_of};

/// Seconds of ClientIP session stickiness when none is given (3 hours).
const CLIENT_IP_TIMEOUT_SECONDS: i64 = 10800;

pub fn default_service(svc: &mut Map<String, Value>) {
    let Some(spec) = obj(svc, "spec") else {
        return;
    };
    default_session_affinity(spec);
    default_str(spec, "type", "ClusterIP");
    for port in each_obj(spec, "ports") {
        default_str(port, "protocol", "TCP");
        let target_unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_f64() == Some(0.0),
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        if target_unset {
            if let Some(p) = port.get("port").filter(|p| p.is_number()).cloned() {
                port.insert("targetPort".into(), p);
            }
        }
    }

    let service_type = str_of(spec, "type").to_owned();
    let externally_accessible = matches!(service_type.as_str(), "NodePort" | "LoadBalancer")
        || (service_type == "ClusterIP" && len_of(spec, "externalIPs") > 0);
    if externally_accessible {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(
        service_type.as_str(),
        "ClusterIP" | "NodePort" | "LoadBalancer"
    ) {
        default_ptr(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        default_ptr(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if service_type != "ExternalName" {
        default_cluster_ips(spec);
        default_ip_families(spec);
    }

    if service_type == "LoadBalancer" {
        if let Some(lb) = obj(svc, "status").and_then(|s| obj(s, "loadBalancer")) {
            for ingress in each_obj(lb, "ingress") {
                let has_ip = !str_of(ingress, "ip").is_empty();
                if has_ip {
                    default_ptr(ingress, "ipMode", json!("VIP"));
                }
            }
        }
    }
}

fn default_session_affinity(spec: &mut Map<String, Value>) {
    default_str(spec, "sessionAffinity", "None");
    match str_of(spec, "sessionAffinity") {
        // Upstream clears any config that does not apply.
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": CLIENT_IP_TIMEOUT_SECONDS}}),
                );
            }
        }
        _ => {}
    }
}

/// A create naming only the singular `clusterIP` (an old client) gets the
/// plural `clusterIPs` from it; never the other way round, as upstream.
fn default_cluster_ips(spec: &mut Map<String, Value>) {
    let cluster_ip = str_of(spec, "clusterIP").to_owned();
    if !cluster_ip.is_empty() && is_empty(spec.get("clusterIPs")) {
        spec.insert("clusterIPs".into(), json!([cluster_ip]));
    }
}

/// The IP-family fields as a single-stack IPv4 cluster's registry sets them.
fn default_ip_families(spec: &mut Map<String, Value>) {
    // Headless services without a selector may carry both families even on a
    // single-stack cluster, and default to doing so.
    let headless_selectorless =
        str_of(spec, "clusterIP") == "None" && len_of(spec, "selector") == 0;
    if is_unset(spec.get("ipFamilyPolicy")) {
        let dual = headless_selectorless
            || len_of(spec, "clusterIPs") == 2
            || len_of(spec, "ipFamilies") == 2;
        let policy = if dual {
            "RequireDualStack"
        } else {
            "SingleStack"
        };
        spec.insert("ipFamilyPolicy".into(), json!(policy));
    }
    if is_empty(spec.get("ipFamilies")) {
        let mut families: Vec<Value> = spec
            .get("clusterIPs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map_while(Value::as_str)
            .take_while(|ip| *ip != "None")
            .filter(|ip| !ip.is_empty())
            .map(|ip| json!(if ip.contains(':') { "IPv6" } else { "IPv4" }))
            .collect();
        if families.is_empty() {
            families.push(json!("IPv4"));
        }
        let single_stack =
            spec.get("ipFamilyPolicy").and_then(Value::as_str) == Some("SingleStack");
        if headless_selectorless && families.len() == 1 && !single_stack {
            let other = if families[0] == "IPv4" {
                "IPv6"
            } else {
                "IPv4"
            };
            families.push(json!(other));
        }
        spec.insert("ipFamilies".into(), Value::Array(families));
    }
}
