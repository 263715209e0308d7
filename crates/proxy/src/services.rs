//! One Service → its chains and dispatch-map elements (kube-proxy's layout):
//!
//! ```text
//! service-ips[clusterIP . proto . port] ──goto──▶ svc-… (Cluster) / local-… (Local)
//! service-ips[externalIP|lbIP . …]     ─┐
//! service-nodeports[proto . nodePort]   ─┴goto──▶ ext-… ──▶ svc-… or local-…
//! svc-… / local-…: affinity lookups, then a numgen cascade ──goto──▶ ep-…
//! ep-…: hairpin masquerade mark, affinity update, dnat to ip:port
//! no usable endpoint: no-endpoint-services / -nodeports → reject-chain or drop
//! ```
//! The endpoint choice is a cascade of `numgen random mod k == 0` rules (k =
//! n, n-1, …, 1: uniform), not one `numgen … vmap { … }`: with thousands of
//! services, anonymous verdict maps made the kernel's loop check quadratic
//! (10,000 services took 33–60 s to load instead of 2 s).

use crate::config::NodeFacts;
use crate::endpoints::{categorize, endpoints_for_port, EndpointInfo};
use crate::names;
use crate::ruleset::Ruleset;
use crate::skeleton::{
    CLUSTER_IPS, MARK_FOR_MASQUERADE, NO_ENDPOINT_NODEPORTS, NO_ENDPOINT_SERVICES, REJECT_CHAIN,
    SERVICE_IPS, SERVICE_NODEPORTS,
};
use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::net::Ipv4Addr;

/// Upstream default of `sessionAffinityConfig.clientIP.timeoutSeconds`.
pub const DEFAULT_AFFINITY_TIMEOUT: i32 = 10800;

/// The Service facts shared by all its ports.
struct ServiceFacts<'a> {
    namespace: &'a str,
    name: &'a str,
    cluster_ip: Ipv4Addr,
    external_ips: Vec<Ipv4Addr>,
    lb_ips: Vec<Ipv4Addr>,
    node_ports_enabled: bool,
    internal_local: bool,
    external_policy_local: bool,
    affinity_timeout: Option<i32>,
}

fn first_ipv4<'a>(candidates: impl IntoIterator<Item = &'a String>) -> Option<Ipv4Addr> {
    candidates
        .into_iter()
        .find_map(|s| s.parse::<Ipv4Addr>().ok())
}

fn facts(svc: &Service) -> Option<ServiceFacts<'_>> {
    let namespace = svc.metadata.namespace.as_deref()?;
    let name = svc.metadata.name.as_deref()?;
    let spec = svc.spec.as_ref()?;
    let svc_type = spec.type_.as_deref().unwrap_or("ClusterIP");
    if svc_type == "ExternalName" {
        return None;
    }
    // Headless ("None") and not-yet-allocated services get no rules.
    let cluster_ip = first_ipv4(
        spec.cluster_ips
            .iter()
            .flatten()
            .chain(spec.cluster_ip.iter()),
    )?;
    let external_ips = spec
        .external_ips
        .iter()
        .flatten()
        .filter_map(|s| s.parse().ok())
        .collect();
    let lb_ips = if svc_type == "LoadBalancer" {
        svc.status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.as_deref()?.parse().ok())
            .collect()
    } else {
        Vec::new()
    };
    let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .filter(|t| *t > 0)
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT)
    });
    Some(ServiceFacts {
        namespace,
        name,
        cluster_ip,
        external_ips,
        lb_ips,
        node_ports_enabled: svc_type == "NodePort" || svc_type == "LoadBalancer",
        internal_local: spec.internal_traffic_policy.as_deref() == Some("Local"),
        external_policy_local: spec.external_traffic_policy.as_deref() == Some("Local"),
        affinity_timeout,
    })
}

/// Services labelled `berth.dev/node-local: "true"` are answered on every
/// node at a local address (berth's cluster DNS on 10.43.0.10): no rules, so
/// the traffic reaches the local socket instead of being DNAT'ed or rejected.
pub const NODE_LOCAL_LABEL: &str = "berth.dev/node-local";

fn is_node_local(svc: &Service) -> bool {
    svc.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(NODE_LOCAL_LABEL))
        .is_some_and(|v| v == "true")
}

/// Add everything `svc` needs to `rs`. `slices` are the service's EndpointSlices.
pub fn render_service(
    rs: &mut Ruleset,
    svc: &Service,
    slices: &[&EndpointSlice],
    node: &NodeFacts,
) {
    if is_node_local(svc) {
        return;
    }
    let Some(facts) = facts(svc) else {
        return;
    };
    rs.add_element(CLUSTER_IPS, facts.cluster_ip.to_string(), None);
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
    for port in ports.into_iter().flatten() {
        render_port(rs, &facts, port, slices, node);
    }
}

fn render_port(
    rs: &mut Ruleset,
    f: &ServiceFacts<'_>,
    port: &ServicePort,
    slices: &[&EndpointSlice],
    node: &NodeFacts,
) {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    let proto = match protocol {
        "TCP" => "tcp",
        "UDP" => "udp",
        "SCTP" => "sctp",
        _ => return,
    };
    let port_name = port.name.as_deref().unwrap_or("");
    let node_port = port
        .node_port
        .filter(|p| f.node_ports_enabled && (1..=65535).contains(p));

    let externally_accessible =
        node_port.is_some() || !f.external_ips.is_empty() || !f.lb_ips.is_empty();
    let external_local = externally_accessible && f.external_policy_local;
    let uses_cluster = !f.internal_local || externally_accessible;
    let uses_local = f.internal_local || external_local;

    let endpoints =
        endpoints_for_port(slices.iter().copied(), port_name, protocol, &node.node_name);
    let cat = categorize(&endpoints, uses_cluster, uses_local);

    let base = names::service_port_base(f.namespace, f.name, proto, port_name);
    let cluster_chain = names::service_chain(&base);
    let local_chain = names::local_chain(&base);
    let ext_chain = names::external_chain(&base);

    let has_internal = if f.internal_local {
        !cat.local.is_empty()
    } else {
        cat.has_any
    };
    let has_external = if external_local {
        !cat.local.is_empty()
    } else {
        cat.has_any
    };
    let internal_chain = if f.internal_local {
        &local_chain
    } else {
        &cluster_chain
    };
    let uses_ext_chain = cat.has_any && externally_accessible;
    let reject = format!("goto {REJECT_CHAIN}");
    let internal_verdict = if cat.has_any {
        "drop".to_string()
    } else {
        reject.clone()
    };
    let external_verdict = internal_verdict.clone();

    let key = |ip: Ipv4Addr| format!("{ip} . {proto} . {}", port.port);

    // ClusterIP.
    if has_internal {
        rs.add_element(
            SERVICE_IPS,
            key(f.cluster_ip),
            Some(format!("goto {internal_chain}")),
        );
    } else {
        rs.add_element(
            NO_ENDPOINT_SERVICES,
            key(f.cluster_ip),
            Some(internal_verdict),
        );
    }
    // ExternalIPs and LoadBalancer ingress IPs.
    for ip in f.external_ips.iter().chain(f.lb_ips.iter()) {
        if cat.has_any {
            rs.add_element(SERVICE_IPS, key(*ip), Some(format!("goto {ext_chain}")));
        }
        if !has_external {
            rs.add_element(
                NO_ENDPOINT_SERVICES,
                key(*ip),
                Some(external_verdict.clone()),
            );
        }
    }
    // NodePort.
    if let Some(np) = node_port {
        let np_key = format!("{proto} . {np}");
        if cat.has_any {
            rs.add_element(
                SERVICE_NODEPORTS,
                np_key.clone(),
                Some(format!("goto {ext_chain}")),
            );
        }
        if !has_external {
            rs.add_element(NO_ENDPOINT_NODEPORTS, np_key, Some(external_verdict));
        }
    }

    // Session affinity sets, one per reachable endpoint.
    let affinity = |ep: &EndpointInfo| {
        f.affinity_timeout
            .map(|t| names::affinity_set(&base, &ep.ip.to_string(), ep.port, t))
    };
    for ep in cat.reachable() {
        if let (Some(set), Some(t)) = (affinity(ep), f.affinity_timeout) {
            rs.sets.insert(
                set,
                format!("type ipv4_addr; flags dynamic,timeout; timeout {t}s;"),
            );
        }
    }

    // Policy chains: traffic from outside the pod network to the ClusterIP is
    // masqueraded (the reply must come back through this node).
    let masquerade_outsiders = format!(
        "ip daddr {} {proto} dport {} ip saddr != {} jump {MARK_FOR_MASQUERADE}",
        f.cluster_ip, port.port, node.cluster_cidr
    );
    if uses_cluster && !cat.cluster.is_empty() {
        let mut rules = Vec::new();
        if !f.internal_local {
            rules.push(masquerade_outsiders.clone());
        }
        dispatch_rules(&mut rules, &base, &cat.cluster, &affinity);
        rs.chains.insert(cluster_chain.clone(), rules);
    }
    if uses_local && !cat.local.is_empty() {
        let mut rules = Vec::new();
        if f.internal_local {
            rules.push(masquerade_outsiders);
        }
        dispatch_rules(&mut rules, &base, &cat.local, &affinity);
        rs.chains.insert(local_chain.clone(), rules);
    }

    // External chain.
    if uses_ext_chain {
        let mut rules = Vec::new();
        if !external_local {
            rules.push(format!("jump {MARK_FOR_MASQUERADE}"));
            rules.push(format!("goto {cluster_chain}"));
        } else {
            // Pods and the node itself behave as if they went out to a load
            // balancer and came back in: Cluster endpoints, masquerade for the node.
            rules.push(format!(
                "ip saddr {} goto {cluster_chain} comment \"short-circuit pod traffic\"",
                node.cluster_cidr
            ));
            rules.push(format!(
                "fib saddr type local jump {MARK_FOR_MASQUERADE} comment \"masquerade local traffic\""
            ));
            rules.push(format!(
                "fib saddr type local goto {cluster_chain} comment \"short-circuit local traffic\""
            ));
            if has_external {
                // No masquerade: the client address is kept.
                rules.push(format!("goto {local_chain}"));
            }
        }
        rs.chains.insert(ext_chain, rules);
    }

    // Endpoint chains.
    for ep in cat.reachable() {
        let mut rules = vec![format!("ip saddr {} jump {MARK_FOR_MASQUERADE}", ep.ip)];
        if let Some(set) = affinity(ep) {
            rules.push(format!("update @{set} {{ ip saddr }}"));
        }
        rules.push(format!(
            "meta l4proto {proto} dnat to {}:{}",
            ep.ip, ep.port
        ));
        rs.chains.insert(
            names::endpoint_chain(&base, &ep.ip.to_string(), ep.port),
            rules,
        );
    }
}

/// Affinity lookups, then a uniform random pick among `endpoints`.
fn dispatch_rules(
    rules: &mut Vec<String>,
    base: &str,
    endpoints: &[EndpointInfo],
    affinity: &dyn Fn(&EndpointInfo) -> Option<String>,
) {
    let chain = |ep: &EndpointInfo| names::endpoint_chain(base, &ep.ip.to_string(), ep.port);
    for ep in endpoints {
        if let Some(set) = affinity(ep) {
            rules.push(format!("ip saddr @{set} goto {}", chain(ep)));
        }
    }
    let n = endpoints.len();
    for (i, ep) in endpoints.iter().enumerate() {
        let left = n - i;
        if left == 1 {
            rules.push(format!("goto {}", chain(ep)));
        } else {
            rules.push(format!("numgen random mod {left} == 0 goto {}", chain(ep)));
        }
    }
}
