//! Ingress, IngressClass and NetworkPolicy.

use berth_api::status::FieldError;

use crate::apps::spec_of;
use crate::cluster::{is_valid_cidr, CIDR_ERR};
use crate::container::PROTOCOLS;
use crate::json::{Errors, Obj};
use crate::names::{
    is_dns1035_label, is_dns1123_subdomain, is_valid_port_name, is_valid_port_num,
    is_wildcard_dns1123_subdomain,
};
use crate::path::Path;
use crate::selector::validate_label_selector;

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];

fn validate_host(host: &str, path: &Path, errs: &mut Errors) {
    if host.parse::<std::net::IpAddr>().is_ok() {
        errs.push(FieldError::invalid(
            path,
            host,
            "must be a DNS name, not an IP address",
        ));
    }
    let msgs = if host.starts_with('*') {
        is_wildcard_dns1123_subdomain(host)
    } else {
        is_dns1123_subdomain(host)
    };
    for msg in msgs {
        errs.push(FieldError::invalid(path, host, msg));
    }
}

fn validate_backend(b: &Obj, errs: &mut Errors) {
    let service = b.obj("service", errs);
    let resource = b.obj("resource", errs);
    match (&service, &resource) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            b.path(),
            "",
            "cannot set both resource and service backends",
        )),
        (None, Some(r)) => {
            if r.str_or_empty("kind", errs).is_empty() {
                errs.push(FieldError::required(r.at("kind"), ""));
            }
            if r.str_or_empty("name", errs).is_empty() {
                errs.push(FieldError::required(r.at("name"), ""));
            }
        }
        (Some(s), None) => {
            let name = s.str_or_empty("name", errs);
            if name.is_empty() {
                errs.push(FieldError::required(s.at("name"), ""));
            } else {
                for msg in is_dns1035_label(name) {
                    errs.push(FieldError::invalid(s.at("name"), name, msg));
                }
            }
            let port = s.obj("port", errs);
            let port_name = port
                .as_ref()
                .map(|p| p.str_or_empty("name", errs))
                .unwrap_or("");
            let port_number = port
                .as_ref()
                .and_then(|p| p.int("number", errs))
                .unwrap_or(0);
            let port_path = s.at("port");
            if !port_name.is_empty() && port_number != 0 {
                errs.push(FieldError::invalid(
                    b.path(),
                    "",
                    "cannot set both port name & port number",
                ));
            } else if !port_name.is_empty() {
                for msg in is_valid_port_name(port_name) {
                    errs.push(FieldError::invalid(port_path.child("name"), port_name, msg));
                }
            } else if port_number != 0 {
                for msg in is_valid_port_num(port_number) {
                    errs.push(FieldError::invalid(
                        port_path.child("number"),
                        port_number,
                        msg,
                    ));
                }
            } else {
                errs.push(FieldError::required(
                    b.path(),
                    "port name or number is required",
                ));
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            b.path(),
            "",
            "resource or service backend is required",
        )),
    }
}

pub fn validate_ingress(root: &Obj, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    let rules = spec.objs("rules", errs);
    let default_backend = spec.obj("defaultBackend", errs);
    if rules.is_empty() && default_backend.is_none() {
        errs.push(FieldError::invalid(
            spec.path(),
            spec.raw("rules")
                .cloned()
                .unwrap_or(serde_json::Value::Null),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = &default_backend {
        validate_backend(b, errs);
    }
    for rule in &rules {
        let host = rule.str_or_empty("host", errs);
        if !host.is_empty() {
            validate_host(host, &rule.at("host"), errs);
        }
        let Some(http) = rule.obj("http", errs) else {
            continue;
        };
        let paths = http.objs("paths", errs);
        if paths.is_empty() {
            errs.push(FieldError::required(http.at("paths"), ""));
        }
        for p in &paths {
            let path_type = p.str_or_empty("pathType", errs);
            let path = p.str_or_empty("path", errs);
            if path_type.is_empty() {
                errs.push(FieldError::required(
                    p.at("pathType"),
                    "pathType must be specified",
                ));
            } else if !PATH_TYPES.contains(&path_type) {
                errs.push(FieldError::not_supported(
                    p.at("pathType"),
                    path_type,
                    PATH_TYPES,
                ));
            }
            if matches!(path_type, "Exact" | "Prefix") || !path.is_empty() {
                if !path.starts_with('/') {
                    errs.push(FieldError::invalid(
                        p.at("path"),
                        path,
                        "must be an absolute path",
                    ));
                } else if matches!(path_type, "Exact" | "Prefix")
                    && (path.contains("//")
                        || path.contains("/./")
                        || path.contains("/../")
                        || path.ends_with("/..")
                        || path.ends_with("/."))
                {
                    errs.push(FieldError::invalid(
                        p.at("path"),
                        path,
                        "must not contain '//', '/./', '/../', or end with '/..' or '/.'",
                    ));
                }
            }
            match p.obj("backend", errs) {
                Some(b) => validate_backend(&b, errs),
                None => errs.push(FieldError::invalid(
                    p.at("backend"),
                    "",
                    "resource or service backend is required",
                )),
            }
        }
    }
    for tls in spec.objs("tls", errs) {
        for (p, host) in tls.strs("hosts", errs) {
            let msgs = if host.starts_with('*') {
                is_wildcard_dns1123_subdomain(host)
            } else {
                is_dns1123_subdomain(host)
            };
            for msg in msgs {
                errs.push(FieldError::invalid(&p, host, msg));
            }
        }
    }
    if let Some(class) = spec.str("ingressClassName", errs) {
        for msg in is_dns1123_subdomain(class) {
            errs.push(FieldError::invalid(spec.at("ingressClassName"), class, msg));
        }
    }
}

pub fn validate_ingress_class(root: &Obj, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    let controller = spec.str_or_empty("controller", errs);
    if controller.is_empty() {
        errs.push(FieldError::required(spec.at("controller"), ""));
    } else {
        let mut parts = controller.splitn(2, '/');
        let domain = parts.next().unwrap_or("");
        let rest = parts.next().unwrap_or("");
        if domain.is_empty() || rest.is_empty() {
            errs.push(FieldError::invalid(
                spec.at("controller"),
                controller,
                "must be a domain-prefixed path (such as \"acme.io/foo\")",
            ));
        } else {
            for msg in is_dns1123_subdomain(domain) {
                errs.push(FieldError::invalid(spec.at("controller"), domain, msg));
            }
        }
        if controller.len() > 250 {
            errs.push(FieldError::too_long(spec.at("controller"), controller, 250));
        }
    }
}

pub fn validate_network_policy(root: &Obj, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    if let Some(sel) = spec.obj("podSelector", errs) {
        validate_label_selector(&sel, errs);
    }
    for (list, peers_key) in [("ingress", "from"), ("egress", "to")] {
        for rule in spec.objs(list, errs) {
            for port in rule.objs("ports", errs) {
                validate_np_port(&port, errs);
            }
            for peer in rule.objs(peers_key, errs) {
                validate_peer(&peer, errs);
            }
        }
    }
    let types = spec.strs("policyTypes", errs);
    for (p, t) in &types {
        if !matches!(*t, "Ingress" | "Egress") {
            errs.push(FieldError::not_supported(p, *t, &["Egress", "Ingress"]));
        }
    }
    if types.len() > 2 {
        errs.push(FieldError::invalid(
            spec.at("policyTypes"),
            spec.raw("policyTypes").cloned().unwrap_or_default(),
            "may not specify more than two policyTypes",
        ));
    }
}

fn validate_np_port(port: &Obj, errs: &mut Errors) {
    if let Some(proto) = port.str("protocol", errs) {
        if !PROTOCOLS.contains(&proto) {
            errs.push(FieldError::not_supported(
                port.at("protocol"),
                proto,
                PROTOCOLS,
            ));
        }
    }
    let end_port = port.int("endPort", errs);
    match port.raw("port") {
        Some(serde_json::Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            for msg in is_valid_port_num(n) {
                errs.push(FieldError::invalid(port.at("port"), n, msg));
            }
            if let Some(end) = end_port {
                if end < n {
                    errs.push(FieldError::invalid(
                        port.at("endPort"),
                        end,
                        "must be greater than or equal to `port`",
                    ));
                }
                for msg in is_valid_port_num(end) {
                    errs.push(FieldError::invalid(port.at("endPort"), end, msg));
                }
            }
        }
        Some(serde_json::Value::String(s)) => {
            if end_port.is_some() {
                errs.push(FieldError::forbidden(
                    port.at("endPort"),
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for msg in is_valid_port_name(s) {
                errs.push(FieldError::invalid(port.at("port"), s.as_str(), msg));
            }
        }
        _ => {
            if end_port.is_some() {
                errs.push(FieldError::forbidden(
                    port.at("endPort"),
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
}

fn validate_peer(peer: &Obj, errs: &mut Errors) {
    let mut count = 0;
    if let Some(sel) = peer.obj("podSelector", errs) {
        count += 1;
        validate_label_selector(&sel, errs);
    }
    if let Some(sel) = peer.obj("namespaceSelector", errs) {
        count += 1;
        validate_label_selector(&sel, errs);
    }
    if let Some(block) = peer.obj("ipBlock", errs) {
        if count > 0 {
            errs.push(FieldError::forbidden(
                peer.path(),
                "may not specify both ipBlock and another peer",
            ));
            return;
        }
        count += 1;
        let cidr = block.str_or_empty("cidr", errs);
        if cidr.is_empty() {
            errs.push(FieldError::required(block.at("cidr"), ""));
        } else if !is_valid_cidr(cidr) {
            errs.push(FieldError::invalid(block.at("cidr"), cidr, CIDR_ERR));
        }
        for (p, except) in block.strs("except", errs) {
            if !is_valid_cidr(except) {
                errs.push(FieldError::invalid(&p, except, CIDR_ERR));
            } else if is_valid_cidr(cidr) && !cidr_strict_subset(except, cidr) {
                errs.push(FieldError::invalid(
                    &p,
                    except,
                    "must be a strict subset of `cidr`",
                ));
            }
        }
    }
    if count == 0 {
        errs.push(FieldError::required(peer.path(), "must specify a peer"));
    }
}

fn cidr_parts(c: &str) -> Option<(u128, u32, bool)> {
    let (ip, bits) = c.split_once('/')?;
    let bits: u32 = bits.parse().ok()?;
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => Some((u128::from(u32::from(v4)) << 96, bits, true)),
        std::net::IpAddr::V6(v6) => Some((u128::from(v6), bits, false)),
    }
}

/// Whether `inner` lies inside `outer` and is smaller.
fn cidr_strict_subset(inner: &str, outer: &str) -> bool {
    let (Some((i_ip, i_bits, i_v4)), Some((o_ip, o_bits, o_v4))) =
        (cidr_parts(inner), cidr_parts(outer))
    else {
        return false;
    };
    if i_v4 != o_v4 || i_bits <= o_bits {
        return false;
    }
    // IPv4 addresses sit in the top 32 bits, so one mask shape serves both.
    let mask = if o_bits == 0 {
        0
    } else {
        u128::MAX << (128 - o_bits.min(128))
    };
    (i_ip & mask) == (o_ip & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_subsets() {
        assert!(cidr_strict_subset("10.0.1.0/24", "10.0.0.0/16"));
        assert!(!cidr_strict_subset("10.1.0.0/24", "10.0.0.0/16"));
        assert!(!cidr_strict_subset("10.0.0.0/16", "10.0.0.0/16"));
        assert!(cidr_strict_subset("fd00::/64", "fd00::/48"));
    }
}
