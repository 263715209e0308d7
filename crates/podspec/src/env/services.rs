//! Service link variables (`FOO_SERVICE_HOST`, Docker-style `FOO_PORT_80_TCP`...).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;

/// `my-svc` → `MY_SVC`.
fn env_name(service_name: &str) -> String {
    service_name.replace('-', "_").to_uppercase()
}

fn cluster_ip(s: &Service) -> Option<&str> {
    s.spec
        .as_ref()
        .and_then(|spec| spec.cluster_ip.as_deref())
        .filter(|ip| !ip.is_empty() && *ip != "None")
}

/// `ip:port`, bracketing IPv6 addresses.
fn join_host_port(ip: &str, port: i32) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The variables one service contributes (`envvars.FromServices`).
fn service_vars(s: &Service, out: &mut BTreeMap<String, String>) {
    let Some(ip) = cluster_ip(s) else {
        return;
    };
    let prefix = env_name(s.metadata.name.as_deref().unwrap_or(""));
    let ports = s
        .spec
        .as_ref()
        .and_then(|spec| spec.ports.as_deref())
        .unwrap_or(&[]);
    out.insert(format!("{prefix}_SERVICE_HOST"), ip.to_string());
    let Some(first) = ports.first() else {
        return;
    };
    let port_var = format!("{prefix}_SERVICE_PORT");
    out.insert(port_var.clone(), first.port.to_string());
    for p in ports {
        if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
            out.insert(format!("{port_var}_{}", env_name(name)), p.port.to_string());
        }
    }
    for (i, p) in ports.iter().enumerate() {
        let protocol = p
            .protocol
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("TCP");
        let lower = protocol.to_lowercase();
        let url = format!("{lower}://{}", join_host_port(ip, p.port));
        if i == 0 {
            // Docker special-cases the first port.
            out.insert(format!("{prefix}_PORT"), url.clone());
        }
        let port_prefix = format!("{prefix}_PORT_{}_{}", p.port, protocol.to_uppercase());
        out.insert(format!("{port_prefix}_PROTO"), lower);
        out.insert(format!("{port_prefix}_PORT"), p.port.to_string());
        out.insert(format!("{port_prefix}_ADDR"), ip.to_string());
        out.insert(port_prefix, url);
    }
}

/// Service env for a pod in `namespace`: `kubernetes` from `default` always,
/// and, with `enableServiceLinks`, every service of the pod's own namespace
/// (a same-named service there wins over `default/kubernetes`). Services
/// without a cluster IP (headless, ExternalName) contribute nothing.
pub(crate) fn service_env(
    namespace: &str,
    enable_service_links: bool,
    default_services: &[Service],
    namespace_services: &[Service],
) -> BTreeMap<String, String> {
    let mut chosen: BTreeMap<String, &Service> = BTreeMap::new();
    for s in default_services {
        let name = s.metadata.name.as_deref().unwrap_or("");
        if name == "kubernetes" && cluster_ip(s).is_some() {
            chosen.entry(name.to_string()).or_insert(s);
        }
    }
    if enable_service_links {
        for s in namespace_services {
            if cluster_ip(s).is_none()
                || s.metadata
                    .namespace
                    .as_deref()
                    .is_some_and(|ns| ns != namespace)
            {
                continue;
            }
            chosen.insert(s.metadata.name.clone().unwrap_or_default(), s);
        }
    }
    let mut out = BTreeMap::new();
    for s in chosen.values() {
        service_vars(s, &mut out);
    }
    out
}
