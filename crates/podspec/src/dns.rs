//! The pod's resolv.conf contents (`dnsPolicy` + `dnsConfig`), as the
//! kubelet's DNS configurer computes them for RunPodSandbox.

use berth_cri::api;
use k8s_openapi::api::core::v1::{Pod, PodDNSConfig};

use crate::podutil::{self, spec};

/// resolv.conf search list limits the kubelet enforces.
const MAX_SEARCH_PATHS: usize = 32;
const MAX_SEARCH_LINE_CHARS: usize = 2048;
const MAX_SEARCH_DOMAIN_CHARS: usize = 253;
const MAX_NAMESERVERS: usize = 3;
/// Options the kubelet sets for cluster DNS.
const CLUSTER_DNS_OPTIONS: &[&str] = &["ndots:5"];

/// Parsed resolv.conf: nameservers accumulate, the last `search` line wins,
/// `options` accumulate (a later value for the same option replaces it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

/// Parses resolv.conf text the way the kubelet does.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut out = ResolvConf::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["nameserver", server, ..] => out.nameservers.push((*server).to_string()),
            ["search", domains @ ..] => {
                // "example.com." and "example.com" are the same domain; "." is no domain.
                out.searches = domains
                    .iter()
                    .filter(|d| **d != ".")
                    .map(|d| d.trim_end_matches('.').to_string())
                    .collect();
            }
            ["options", opts @ ..] => {
                for o in opts {
                    merge_option(&mut out.options, o);
                }
            }
            _ => {}
        }
    }
    out
}

fn option_name(o: &str) -> &str {
    o.split_once(':').map_or(o, |(name, _)| name)
}

/// Sets option `o`, replacing an earlier one of the same name in place.
fn merge_option(options: &mut Vec<String>, o: &str) {
    match options
        .iter_mut()
        .find(|x| option_name(x) == option_name(o))
    {
        Some(existing) => *existing = o.to_string(),
        None => options.push(o.to_string()),
    }
}

fn push_unique(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

enum Policy {
    /// Cluster DNS servers + cluster search domains.
    Cluster,
    /// The node's resolv.conf.
    Host,
    /// Only what `dnsConfig` says.
    None,
}

fn policy(pod: &Pod) -> Policy {
    match spec(pod).get().and_then(|s| s.dns_policy.as_deref()) {
        Some("None") => Policy::None,
        Some("ClusterFirstWithHostNet") => Policy::Cluster,
        Some("Default") => Policy::Host,
        // ClusterFirst (the default) falls back to the node's DNS for hostNetwork pods.
        Some("ClusterFirst") | None if spec(pod).host_network() => Policy::Host,
        // ClusterFirst, and the kubelet's fallback for an unknown policy.
        _ => Policy::Cluster,
    }
}

/// The pod's DNS config for RunPodSandbox.
///
/// - `ClusterFirst` (and `ClusterFirstWithHostNet`): nameservers = `cluster_dns`,
///   searches = `<ns>.svc.<domain> svc.<domain> <domain>` + the node's
///   searches, options `ndots:5`. With no cluster DNS configured it falls back
///   to `Default`, as the kubelet does. `ClusterFirst` on a hostNetwork pod is
///   `Default`.
/// - `Default`: the node's resolv.conf (`host_resolv_conf` is its text).
/// - `None`: only `spec.dnsConfig`.
///
/// `spec.dnsConfig` is then merged in (servers and searches appended without
/// duplicates, options by name) and the result cut to the resolver limits
/// (3 nameservers, 32 search domains / 2048 characters).
///
/// Returns `None` when everything is empty; the runtime then copies the node's
/// /etc/resolv.conf, which is what an empty config means to it anyway.
pub fn dns_config(
    pod: &Pod,
    cluster_dns: &[String],
    cluster_domain: &str,
    host_resolv_conf: &str,
) -> Option<api::DnsConfig> {
    let host = parse_resolv_conf(host_resolv_conf);
    let mut cfg = match policy(pod) {
        Policy::None => api::DnsConfig::default(),
        Policy::Cluster if !cluster_dns.is_empty() => {
            let mut searches = Vec::new();
            if !cluster_domain.is_empty() {
                let ns = podutil::namespace(pod);
                searches.push(format!("{ns}.svc.{cluster_domain}"));
                searches.push(format!("svc.{cluster_domain}"));
                searches.push(cluster_domain.to_string());
            }
            push_unique(&mut searches, host.searches);
            api::DnsConfig {
                servers: cluster_dns.to_vec(),
                searches,
                options: CLUSTER_DNS_OPTIONS.iter().map(|o| o.to_string()).collect(),
            }
        }
        Policy::Cluster | Policy::Host => api::DnsConfig {
            servers: host.nameservers,
            searches: host.searches,
            options: host.options,
        },
    };
    if let Some(extra) = spec(pod).get().and_then(|s| s.dns_config.as_ref()) {
        merge_pod_dns_config(&mut cfg, extra);
    }
    fit_limits(&mut cfg);
    if cfg.servers.is_empty() && cfg.searches.is_empty() && cfg.options.is_empty() {
        return None;
    }
    Some(cfg)
}

fn merge_pod_dns_config(cfg: &mut api::DnsConfig, extra: &PodDNSConfig) {
    let mut servers = Vec::new();
    push_unique(&mut servers, std::mem::take(&mut cfg.servers));
    push_unique(&mut servers, extra.nameservers.iter().flatten().cloned());
    cfg.servers = servers;
    let mut searches = Vec::new();
    push_unique(&mut searches, std::mem::take(&mut cfg.searches));
    push_unique(&mut searches, extra.searches.iter().flatten().cloned());
    cfg.searches = searches;
    for o in extra.options.iter().flatten() {
        let Some(name) = o.name.as_deref() else {
            continue;
        };
        let text = match o.value.as_deref() {
            Some(v) if !v.is_empty() => format!("{name}:{v}"),
            _ => name.to_string(),
        };
        merge_option(&mut cfg.options, &text);
    }
}

fn fit_limits(cfg: &mut api::DnsConfig) {
    cfg.servers.truncate(MAX_NAMESERVERS);
    cfg.searches.truncate(MAX_SEARCH_PATHS);
    // Overlong domains abort some resolvers (glibc 2.28): drop them.
    cfg.searches.retain(|s| s.len() <= MAX_SEARCH_DOMAIN_CHARS);
    let line_len =
        |s: &[String]| s.iter().map(String::len).sum::<usize>() + s.len().saturating_sub(1);
    while line_len(&cfg.searches) > MAX_SEARCH_LINE_CHARS {
        cfg.searches.pop();
    }
}
