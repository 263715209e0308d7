//! Service, Endpoints and EndpointSlice.

use std::collections::HashSet;
use std::net::IpAddr;

use berth_api::status::FieldError;
use serde_json::Value;

use crate::apps::spec_of;
use crate::container::{validate_port_num_or_name, PROTOCOLS};
use crate::json::{too_many, Errors, Obj};
use crate::meta::validate_labels;
use crate::names::{is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_port_num};
use crate::path::Path;

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const NODE_PORT_RANGE: (i64, i64) = (30000, 32767);
const KUBELET_PORT: i64 = 10250;
pub const IP_ERR: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

fn is_headless(spec: &Obj) -> bool {
    let first_ips = spec
        .raw("clusterIPs")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str);
    spec.raw("clusterIP").and_then(Value::as_str) == Some("None") || first_ips == Some("None")
}

pub fn validate_service(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    let svc_type = spec.str("type", errs).unwrap_or("ClusterIP");
    let headless = is_headless(&spec);
    let ports = spec.objs("ports", errs);
    if ports.is_empty() && !headless && svc_type != "ExternalName" {
        errs.push(FieldError::required(spec.at("ports"), ""));
    }
    match svc_type {
        "LoadBalancer" | "NodePort" => {
            if headless {
                errs.push(FieldError::invalid(
                    spec.at("clusterIPs").index(0),
                    "None",
                    format!("may not be set to 'None' for {svc_type} services"),
                ));
            }
            if svc_type == "LoadBalancer" {
                for port in &ports {
                    if port.int("port", &mut Vec::new()) == Some(KUBELET_PORT) {
                        errs.push(FieldError::invalid(
                            port.path(),
                            KUBELET_PORT,
                            format!("may not expose port {KUBELET_PORT} externally since it is used by kubelet"),
                        ));
                    }
                }
            }
        }
        "ExternalName" => {
            if spec
                .raw("clusterIPs")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                errs.push(FieldError::forbidden(
                    spec.at("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec
                .raw("ipFamilies")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                errs.push(FieldError::forbidden(
                    spec.at("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.has("ipFamilyPolicy") {
                errs.push(FieldError::forbidden(
                    spec.at("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let external = spec.str_or_empty("externalName", errs);
            let cname = external.strip_suffix('.').unwrap_or(external);
            if cname.is_empty() {
                errs.push(FieldError::required(spec.at("externalName"), ""));
            } else {
                for msg in is_dns1123_subdomain(cname) {
                    errs.push(FieldError::invalid(spec.at("externalName"), cname, msg));
                }
            }
        }
        _ => {}
    }

    let mut names = HashSet::new();
    let mut node_ports = HashSet::new();
    let mut port_keys = HashSet::new();
    for port in &ports {
        let name = port.str_or_empty("name", errs);
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(port.at("name"), ""));
        } else if !name.is_empty() {
            for msg in is_dns1123_label(name) {
                errs.push(FieldError::invalid(port.at("name"), name, msg));
            }
            if !names.insert(name) {
                errs.push(FieldError::duplicate(port.at("name"), name));
            }
        }
        let number = port.int("port", errs).unwrap_or(0);
        for msg in is_valid_port_num(number) {
            errs.push(FieldError::invalid(port.at("port"), number, msg));
        }
        let protocol = port.str("protocol", errs).unwrap_or("TCP");
        if protocol.is_empty() {
            errs.push(FieldError::required(port.at("protocol"), ""));
        } else if !PROTOCOLS.contains(&protocol) {
            errs.push(FieldError::not_supported(
                port.at("protocol"),
                protocol,
                PROTOCOLS,
            ));
        }
        if port.has("targetPort") {
            validate_port_num_or_name(port.raw("targetPort"), &port.at("targetPort"), errs);
        }
        if let Some(app) = port.str("appProtocol", errs) {
            for msg in is_qualified_name(app) {
                errs.push(FieldError::invalid(port.at("appProtocol"), app, msg));
            }
        }
        let node_port = port.int("nodePort", errs).unwrap_or(0);
        if node_port != 0 {
            if svc_type == "ClusterIP" {
                errs.push(FieldError::forbidden(
                    port.at("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else if !(NODE_PORT_RANGE.0..=NODE_PORT_RANGE.1).contains(&node_port) {
                errs.push(FieldError::invalid(
                    port.at("nodePort"),
                    node_port,
                    format!(
                        "provided port is not in the valid range. The range of valid ports is {}-{}",
                        NODE_PORT_RANGE.0, NODE_PORT_RANGE.1
                    ),
                ));
            }
            if !node_ports.insert((protocol.to_string(), node_port)) {
                errs.push(FieldError::duplicate(port.at("nodePort"), node_port));
            }
        }
        if !port_keys.insert((protocol.to_string(), number)) {
            errs.push(FieldError::duplicate(
                port.path(),
                serde_json::json!({"port": number, "protocol": protocol}),
            ));
        }
    }

    let selector = spec.str_map("selector", errs);
    validate_labels(&selector, &spec.at("selector"), errs);

    match spec.str("sessionAffinity", errs) {
        Some("") => errs.push(FieldError::required(spec.at("sessionAffinity"), "")),
        Some(a) if !matches!(a, "ClientIP" | "None") => errs.push(FieldError::not_supported(
            spec.at("sessionAffinity"),
            a,
            &["ClientIP", "None"],
        )),
        Some("ClientIP") => {
            let timeout = spec
                .obj("sessionAffinityConfig", errs)
                .and_then(|c| c.obj("clientIP", errs))
                .and_then(|c| {
                    c.int("timeoutSeconds", errs)
                        .map(|t| (c.at("timeoutSeconds"), t))
                });
            if let Some((p, t)) = timeout {
                if !(1..=86400).contains(&t) {
                    errs.push(FieldError::invalid(
                        p,
                        t,
                        "must be greater than 0 and less than 86400",
                    ));
                }
            }
        }
        _ => {
            if spec.has("sessionAffinityConfig") {
                errs.push(FieldError::forbidden(
                    spec.at("sessionAffinityConfig"),
                    "must not be set when session affinity is None",
                ));
            }
        }
    }

    validate_cluster_ips(&spec, svc_type, errs);
    for (p, ip) in spec.strs("externalIPs", errs) {
        validate_endpoint_ip(ip, &p, errs);
    }
    if let Some(t) = spec.str("type", errs) {
        if t.is_empty() {
            errs.push(FieldError::required(spec.at("type"), ""));
        } else if !SERVICE_TYPES.contains(&t) {
            errs.push(FieldError::not_supported(spec.at("type"), t, SERVICE_TYPES));
        }
    }
    for f in ["externalTrafficPolicy", "internalTrafficPolicy"] {
        if let Some(p) = spec.str(f, errs) {
            if !matches!(p, "Cluster" | "Local") {
                errs.push(FieldError::not_supported(
                    spec.at(f),
                    p,
                    &["Cluster", "Local"],
                ));
            }
        }
    }
    if let Some(policy) = spec.str("ipFamilyPolicy", errs) {
        const POLICIES: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !POLICIES.contains(&policy) {
            errs.push(FieldError::not_supported(
                spec.at("ipFamilyPolicy"),
                policy,
                POLICIES,
            ));
        }
    }
    for (p, fam) in spec.strs("ipFamilies", errs) {
        if !matches!(fam, "IPv4" | "IPv6") {
            errs.push(FieldError::not_supported(p, fam, &["IPv4", "IPv6"]));
        }
    }

    if let Some(old) = old {
        let old_spec = spec_of(old, &mut Vec::new());
        validate_cluster_ip_update(&spec, &old_spec, svc_type, errs);
    }
}

fn validate_cluster_ips(spec: &Obj, svc_type: &str, errs: &mut Errors) {
    if svc_type == "ExternalName" {
        return;
    }
    let cluster_ip = spec.str_or_empty("clusterIP", errs);
    if !cluster_ip.is_empty() && cluster_ip != "None" && cluster_ip.parse::<IpAddr>().is_err() {
        errs.push(FieldError::invalid(
            spec.at("clusterIP"),
            cluster_ip,
            IP_ERR,
        ));
    }
    let ips = spec.strs("clusterIPs", errs);
    if let Some((_, first)) = ips.first() {
        if !cluster_ip.is_empty() && *first != cluster_ip {
            errs.push(FieldError::invalid(
                spec.at("clusterIPs"),
                spec.raw("clusterIPs").cloned().unwrap_or(Value::Null),
                "first value must match `clusterIP`",
            ));
        }
    }
    for (p, ip) in &ips {
        if *ip != "None" && ip.parse::<IpAddr>().is_err() {
            errs.push(FieldError::invalid(p, *ip, IP_ERR));
        }
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            spec.at("clusterIPs"),
            spec.raw("clusterIPs").cloned().unwrap_or(Value::Null),
            "may only hold up to 2 values",
        ));
    }
}

/// The allocated clusterIP cannot change (an empty one in the new object is
/// filled from the old by the server, so it is not a change).
fn validate_cluster_ip_update(spec: &Obj, old_spec: &Obj, svc_type: &str, errs: &mut Errors) {
    let old_type = old_spec.str("type", &mut Vec::new()).unwrap_or("ClusterIP");
    if svc_type == "ExternalName" || old_type == "ExternalName" {
        return;
    }
    if is_headless(spec) && is_headless(old_spec) {
        return;
    }
    let ips_of = |o: &Obj| -> Vec<String> {
        let ips: Vec<String> = o
            .strs("clusterIPs", &mut Vec::new())
            .into_iter()
            .map(|(_, s)| s.to_string())
            .collect();
        if !ips.is_empty() {
            return ips;
        }
        let single = o.str_or_empty("clusterIP", &mut Vec::new());
        if single.is_empty() {
            Vec::new()
        } else {
            vec![single.to_string()]
        }
    };
    let new_ips = ips_of(spec);
    let old_ips = ips_of(old_spec);
    if new_ips.is_empty() || old_ips.is_empty() {
        return;
    }
    if new_ips[0] != old_ips[0] {
        errs.push(FieldError::invalid(
            spec.at("clusterIPs").index(0),
            Value::from(new_ips.clone()),
            "may not change once set",
        ));
    } else if new_ips.len() == old_ips.len() && new_ips.get(1) != old_ips.get(1) {
        errs.push(FieldError::invalid(
            spec.at("clusterIPs").index(1),
            Value::from(new_ips),
            "may not change once set",
        ));
    }
}

/// Endpoint addresses may not be unspecified, loopback or link-local.
pub fn validate_endpoint_ip(ip: &str, path: &Path, errs: &mut Errors) {
    let Ok(addr) = ip.parse::<IpAddr>() else {
        errs.push(FieldError::invalid(path, ip, "must be a valid IP address"));
        return;
    };
    if addr.is_unspecified() {
        errs.push(FieldError::invalid(
            path,
            ip,
            format!("may not be unspecified ({ip})"),
        ));
    }
    if addr.is_loopback() {
        errs.push(FieldError::invalid(
            path,
            ip,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let link_local = match addr {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local {
        errs.push(FieldError::invalid(
            path,
            ip,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    let link_local_multicast = match addr {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => (v6.segments()[0] & 0xff0f) == 0xff02,
    };
    if link_local_multicast {
        errs.push(FieldError::invalid(
            path,
            ip,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
}

fn validate_endpoint_port(port: &Obj, require_name: bool, errs: &mut Errors) {
    let name = port.str_or_empty("name", errs);
    if require_name && name.is_empty() {
        errs.push(FieldError::required(port.at("name"), ""));
    } else if !name.is_empty() {
        for msg in is_dns1123_label(name) {
            errs.push(FieldError::invalid(port.at("name"), name, msg));
        }
    }
    let number = port.int("port", errs).unwrap_or(0);
    for msg in is_valid_port_num(number) {
        errs.push(FieldError::invalid(port.at("port"), number, msg));
    }
    match port.str("protocol", errs) {
        Some("") => errs.push(FieldError::required(port.at("protocol"), "")),
        Some(p) if !PROTOCOLS.contains(&p) => {
            errs.push(FieldError::not_supported(port.at("protocol"), p, PROTOCOLS))
        }
        _ => {}
    }
}

pub fn validate_endpoints(root: &Obj, errs: &mut Errors) {
    for subset in root.objs("subsets", errs) {
        for list in ["addresses", "notReadyAddresses"] {
            for addr in subset.objs(list, errs) {
                let ip = addr.str_or_empty("ip", errs);
                validate_endpoint_ip(ip, &addr.at("ip"), errs);
                let hostname = addr.str_or_empty("hostname", errs);
                if !hostname.is_empty() {
                    for msg in is_dns1123_label(hostname) {
                        errs.push(FieldError::invalid(addr.at("hostname"), hostname, msg));
                    }
                }
                if let Some(node) = addr.str("nodeName", errs) {
                    for msg in is_dns1123_subdomain(node) {
                        errs.push(FieldError::invalid(addr.at("nodeName"), node, msg));
                    }
                }
            }
        }
        let ports = subset.objs("ports", errs);
        for port in &ports {
            validate_endpoint_port(port, ports.len() > 1, errs);
        }
    }
}

const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];

pub fn validate_endpoint_slice(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let address_type = root.str_or_empty("addressType", errs);
    if address_type.is_empty() {
        errs.push(FieldError::required(root.at("addressType"), ""));
    } else if !ADDRESS_TYPES.contains(&address_type) {
        errs.push(FieldError::not_supported(
            root.at("addressType"),
            address_type,
            ADDRESS_TYPES,
        ));
    }
    let endpoints = root.objs("endpoints", errs);
    if endpoints.len() > 1000 {
        errs.push(too_many(&root.at("endpoints"), endpoints.len(), 1000));
    }
    for ep in &endpoints {
        let addresses = ep.strs("addresses", errs);
        if addresses.is_empty() {
            errs.push(FieldError::required(
                ep.at("addresses"),
                "must contain at least 1 address",
            ));
        } else if addresses.len() > 100 {
            errs.push(too_many(&ep.at("addresses"), addresses.len(), 100));
        }
        for (p, a) in &addresses {
            match address_type {
                "IPv4" => match a.parse::<IpAddr>() {
                    Ok(IpAddr::V4(_)) => validate_endpoint_ip(a, p, errs),
                    _ => errs.push(FieldError::invalid(p, *a, "must be a valid IPv4 address")),
                },
                "IPv6" => match a.parse::<IpAddr>() {
                    Ok(IpAddr::V6(_)) => validate_endpoint_ip(a, p, errs),
                    _ => errs.push(FieldError::invalid(p, *a, "must be a valid IPv6 address")),
                },
                "FQDN" => {
                    let name = a.strip_suffix('.').unwrap_or(a);
                    let msgs = is_dns1123_subdomain(name);
                    if !msgs.is_empty() {
                        errs.push(FieldError::invalid(p, name, msgs.join(",")));
                    }
                }
                _ => {}
            }
        }
        if let Some(node) = ep.str("nodeName", errs) {
            for msg in is_dns1123_subdomain(node) {
                errs.push(FieldError::invalid(ep.at("nodeName"), node, msg));
            }
        }
        if let Some(h) = ep.str("hostname", errs) {
            for msg in is_dns1123_label(h) {
                errs.push(FieldError::invalid(ep.at("hostname"), h, msg));
            }
        }
    }
    let ports = root.objs("ports", errs);
    if ports.len() > 20000 {
        errs.push(too_many(&root.at("ports"), ports.len(), 20000));
    }
    let mut names = HashSet::new();
    for port in &ports {
        let name = port.str_or_empty("name", errs);
        if !name.is_empty() {
            for msg in is_dns1123_label(name) {
                errs.push(FieldError::invalid(port.at("name"), name, msg));
            }
        }
        if !names.insert(name) {
            errs.push(FieldError::duplicate(port.at("name"), name));
        }
        match port.str("protocol", errs) {
            Some(p) if !PROTOCOLS.contains(&p) => {
                errs.push(FieldError::not_supported(port.at("protocol"), p, PROTOCOLS))
            }
            _ => {}
        }
        if let Some(n) = port.int("port", errs) {
            for msg in crate::names::inclusive_range_check(n, 0, 65535) {
                errs.push(FieldError::invalid(port.at("port"), n, msg));
            }
        }
        if let Some(app) = port.str("appProtocol", errs) {
            for msg in is_qualified_name(app) {
                errs.push(FieldError::invalid(port.at("appProtocol"), app, msg));
            }
        }
    }
    if let Some(old) = old {
        crate::meta::immutable(
            root.raw("addressType"),
            old.raw("addressType"),
            &root.at("addressType"),
            errs,
        );
    }
}
