//! RunPodSandbox's config (`generatePodSandboxConfig`).

use std::collections::HashSet;
use std::path::PathBuf;

use berth_cri::api;
use k8s_openapi::api::core::v1::Pod;

use crate::error::SpecError;
use crate::labels;
use crate::podutil::{self, spec};
use crate::resources;
use crate::security;

/// Node-side inputs for a sandbox config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SandboxOptions {
    /// `<data>/pods/<ns>_<name>_<uid>`: where the runtime writes container logs.
    pub log_dir: PathBuf,
    /// From [`crate::dns_config`]; `None` lets the runtime copy the node's resolv.conf.
    pub dns: Option<api::DnsConfig>,
    /// The pod's cgroup (from the node's cgroup manager), if any.
    pub cgroup_parent: Option<String>,
    /// 0 for the pod's first sandbox, +1 for each re-creation.
    pub attempt: u32,
    /// Cluster domain, for `setHostnameAsFQDN` hostnames.
    pub cluster_domain: String,
}

/// Linux limits hostnames to 63 characters.
const HOSTNAME_MAX_LEN: usize = 63;
/// The kernel's nodename field holds 64 characters.
const FQDN_MAX_LEN: usize = 64;

/// The sandbox hostname (`GeneratePodHostNameAndDomain` + `GetNodenameForKernel`):
/// `spec.hostname` or the pod name, cut to 63 characters without a trailing
/// `-`/`.`; `<hostname>.<subdomain>.<ns>.svc.<domain>` with `setHostnameAsFQDN`.
pub fn pod_hostname(pod: &Pod, cluster_domain: &str) -> Result<String, SpecError> {
    let s = spec(pod).get();
    let pod_name = podutil::name(pod);
    let mut hostname = s
        .and_then(|s| s.hostname.as_deref())
        .filter(|h| !h.is_empty())
        .unwrap_or(pod_name)
        .to_string();
    if hostname.len() > HOSTNAME_MAX_LEN {
        let cut: String = hostname.chars().take(HOSTNAME_MAX_LEN).collect();
        let trimmed = cut.trim_end_matches(['-', '.']).to_string();
        if trimmed.is_empty() {
            return Err(SpecError::SandboxConfig(format!(
                "hostname for pod {pod_name:?} was invalid: {hostname:?}"
            )));
        }
        hostname = trimmed;
    }
    let subdomain = s
        .and_then(|s| s.subdomain.as_deref())
        .filter(|d| !d.is_empty());
    let as_fqdn = s.and_then(|s| s.set_hostname_as_fqdn).unwrap_or(false);
    if let (Some(subdomain), true) = (subdomain, as_fqdn) {
        let fqdn = format!(
            "{hostname}.{subdomain}.{}.svc.{cluster_domain}",
            podutil::namespace(pod)
        );
        if fqdn.len() > FQDN_MAX_LEN {
            return Err(SpecError::SandboxConfig(format!(
                "failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} is too long ({FQDN_MAX_LEN} characters is the max, {} characters requested)",
                fqdn.len()
            )));
        }
        return Ok(fqdn);
    }
    Ok(hostname)
}

fn protocol(p: Option<&str>) -> api::Protocol {
    match p {
        Some("UDP") => api::Protocol::Udp,
        Some("SCTP") => api::Protocol::Sctp,
        // TCP, and the kubelet's fallback for anything unknown.
        _ => api::Protocol::Tcp,
    }
}

/// Every declared container port (`MakePortMappings`), hostPort or not; the
/// CNI portmap plugin only acts on those with a host port. A port repeated
/// under the same name (or same family/protocol/IP/ports) is listed once.
pub fn port_mappings(pod: &Pod) -> Vec<api::PortMapping> {
    let mut out = Vec::new();
    for c in spec(pod).containers() {
        let mut seen = HashSet::new();
        for p in c.ports.iter().flatten() {
            let host_ip = p.host_ip.clone().unwrap_or_default();
            let host_port = p.host_port.unwrap_or(0);
            let key = match p.name.as_deref().filter(|n| !n.is_empty()) {
                Some(name) => name.to_string(),
                None => {
                    let family = if host_ip.is_empty() {
                        "any"
                    } else if host_ip.contains(':') {
                        "v6"
                    } else {
                        "v4"
                    };
                    let proto = p.protocol.as_deref().unwrap_or("");
                    format!(
                        "{family}-{proto}-{host_ip}:{}:{host_port}",
                        p.container_port
                    )
                }
            };
            if !seen.insert(key) {
                continue;
            }
            out.push(api::PortMapping {
                protocol: protocol(p.protocol.as_deref()) as i32,
                container_port: p.container_port,
                host_port,
                host_ip,
            });
        }
    }
    out
}

/// The RunPodSandbox config for `pod`: metadata, hostname (left empty for
/// hostNetwork pods: the runtime cannot set one without a private UTS
/// namespace), log directory, DNS, port mappings, labels, annotations, and
/// the Linux part (cgroup parent, namespaces, users/groups, sysctls,
/// runtime-default seccomp, pod resources and overhead).
pub fn sandbox_config(
    pod: &Pod,
    opts: &SandboxOptions,
) -> Result<api::PodSandboxConfig, SpecError> {
    let hostname = if spec(pod).host_network() {
        String::new()
    } else {
        pod_hostname(pod, &opts.cluster_domain)?
    };
    let (security_context, sysctls) =
        security::sandbox_security_context(pod).map_err(SpecError::SandboxConfig)?;
    Ok(api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: podutil::name(pod).to_string(),
            uid: podutil::uid(pod).to_string(),
            namespace: podutil::namespace(pod).to_string(),
            attempt: opts.attempt,
        }),
        hostname,
        log_directory: opts.log_dir.to_string_lossy().into_owned(),
        dns_config: opts.dns.clone(),
        port_mappings: port_mappings(pod),
        labels: labels::pod_labels(pod),
        annotations: labels::pod_annotations(pod),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: opts.cgroup_parent.clone().unwrap_or_default(),
            security_context: Some(security_context),
            sysctls,
            overhead: Some(resources::sandbox_overhead(pod)),
            resources: Some(resources::sandbox_resources(pod)),
        }),
        windows: None,
    })
}
