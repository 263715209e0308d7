//! Endpoints of one service port, read from its EndpointSlices, and the
//! choice of which of them traffic may use (kube-proxy's rules):
//!
//! - ready endpoints are used; when a scope (cluster-wide, or this node for
//!   `Local` policies) has none, its serving-and-terminating ones are used;
//! - `ready`/`serving` left unset count as true, `terminating` unset as false;
//! - the same address and port in two slices counts once.

use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointInfo {
    pub ip: Ipv4Addr,
    pub port: i32,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    pub local: bool,
}

/// All IPv4 endpoints of the service port named `port_name` with `protocol`,
/// sorted by address and port so that the rendering is stable.
pub fn endpoints_for_port<'a>(
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    port_name: &str,
    protocol: &str,
    node_name: &str,
) -> Vec<EndpointInfo> {
    let mut found: BTreeMap<(Ipv4Addr, i32), EndpointInfo> = BTreeMap::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        let Some(port) = slice.ports.iter().flatten().find(|p| {
            p.name.as_deref().unwrap_or("") == port_name
                && p.protocol.as_deref().unwrap_or("TCP") == protocol
        }) else {
            continue;
        };
        let Some(number) = port.port.filter(|p| (1..=65535).contains(p)) else {
            continue;
        };
        for endpoint in &slice.endpoints {
            let conditions = endpoint.conditions.as_ref();
            let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
            let serving = conditions.and_then(|c| c.serving).unwrap_or(ready);
            let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
            let local = endpoint.node_name.as_deref() == Some(node_name);
            // Only the first address is used, as upstream does.
            let Some(ip) = endpoint
                .addresses
                .first()
                .and_then(|a| a.parse::<Ipv4Addr>().ok())
            else {
                continue;
            };
            found.entry((ip, number)).or_insert(EndpointInfo {
                ip,
                port: number,
                ready,
                serving,
                terminating,
                local,
            });
        }
    }
    found.into_values().collect()
}

/// Which endpoints each traffic policy uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Categorized {
    /// Endpoints for `Cluster` policy (empty when the service never uses it).
    pub cluster: Vec<EndpointInfo>,
    /// Endpoints for `Local` policy (empty when the service never uses it).
    pub local: Vec<EndpointInfo>,
    /// Whether the service has a usable endpoint anywhere in the cluster.
    pub has_any: bool,
}

impl Categorized {
    /// Every endpoint a chain must exist for (union of both lists, sorted).
    pub fn reachable(&self) -> Vec<&EndpointInfo> {
        let mut all: BTreeMap<(Ipv4Addr, i32), &EndpointInfo> = BTreeMap::new();
        for ep in self.cluster.iter().chain(self.local.iter()) {
            all.insert((ep.ip, ep.port), ep);
        }
        all.into_values().collect()
    }
}

fn usable(endpoints: &[EndpointInfo], scope: impl Fn(&EndpointInfo) -> bool) -> Vec<EndpointInfo> {
    let in_scope: Vec<&EndpointInfo> = endpoints.iter().filter(|e| scope(e)).collect();
    let ready: Vec<EndpointInfo> = in_scope
        .iter()
        .filter(|e| e.ready)
        .map(|e| (*e).clone())
        .collect();
    if !ready.is_empty() {
        return ready;
    }
    in_scope
        .into_iter()
        .filter(|e| e.serving && e.terminating)
        .cloned()
        .collect()
}

pub fn categorize(endpoints: &[EndpointInfo], uses_cluster: bool, uses_local: bool) -> Categorized {
    let all = usable(endpoints, |_| true);
    Categorized {
        has_any: !all.is_empty(),
        cluster: if uses_cluster { all } else { Vec::new() },
        local: if uses_local {
            usable(endpoints, |e| e.local)
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};

    fn ep(
        ip: &str,
        node: &str,
        ready: Option<bool>,
        serving: Option<bool>,
        term: Option<bool>,
    ) -> Endpoint {
        Endpoint {
            addresses: vec![ip.into()],
            conditions: Some(EndpointConditions {
                ready,
                serving,
                terminating: term,
            }),
            node_name: Some(node.into()),
            ..Default::default()
        }
    }

    fn slice(endpoints: Vec<Endpoint>, port: (&str, i32)) -> EndpointSlice {
        EndpointSlice {
            address_type: "IPv4".into(),
            endpoints,
            ports: Some(vec![EndpointPort {
                name: Some(port.0.into()),
                port: Some(port.1),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn reads_conditions_with_upstream_defaults_and_dedupes() {
        let a = slice(
            vec![
                ep("10.42.0.2", "n1", None, None, None),
                ep("10.42.0.1", "n2", Some(false), Some(true), Some(true)),
            ],
            ("http", 8080),
        );
        let b = slice(
            vec![ep("10.42.0.2", "n1", None, None, None)],
            ("http", 8080),
        );
        let got = endpoints_for_port([&a, &b], "http", "TCP", "n1");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].ip.to_string(), "10.42.0.1");
        assert!(!got[0].ready && got[0].serving && got[0].terminating && !got[0].local);
        assert!(got[1].ready && got[1].serving && !got[1].terminating && got[1].local);
        assert_eq!(got[1].port, 8080);
        // Other port names and protocols do not match.
        assert!(endpoints_for_port([&a], "metrics", "TCP", "n1").is_empty());
        assert!(endpoints_for_port([&a], "http", "UDP", "n1").is_empty());
    }

    #[test]
    fn categorize_table() {
        let mk = |ip: &str, ready, serving, terminating, local| EndpointInfo {
            ip: ip.parse().unwrap(),
            port: 80,
            ready,
            serving,
            terminating,
            local,
        };
        struct Case {
            name: &'static str,
            eps: Vec<EndpointInfo>,
            cluster: Vec<&'static str>,
            local: Vec<&'static str>,
            has_any: bool,
        }
        let cases = vec![
            Case {
                name: "ready only, unready ignored",
                eps: vec![
                    mk("10.0.0.1", true, true, false, true),
                    mk("10.0.0.2", false, false, false, false),
                ],
                cluster: vec!["10.0.0.1"],
                local: vec!["10.0.0.1"],
                has_any: true,
            },
            Case {
                name: "all terminating: serving ones used",
                eps: vec![
                    mk("10.0.0.1", false, true, true, false),
                    mk("10.0.0.2", false, false, true, true),
                ],
                cluster: vec!["10.0.0.1"],
                local: vec![],
                has_any: true,
            },
            Case {
                name: "ready remote, terminating local: local falls back alone",
                eps: vec![
                    mk("10.0.0.1", true, true, false, false),
                    mk("10.0.0.2", false, true, true, true),
                ],
                cluster: vec!["10.0.0.1"],
                local: vec!["10.0.0.2"],
                has_any: true,
            },
            Case {
                name: "nothing usable",
                eps: vec![mk("10.0.0.1", false, false, false, true)],
                cluster: vec![],
                local: vec![],
                has_any: false,
            },
        ];
        for case in cases {
            let got = categorize(&case.eps, true, true);
            let ips = |v: &[EndpointInfo]| v.iter().map(|e| e.ip.to_string()).collect::<Vec<_>>();
            assert_eq!(ips(&got.cluster), case.cluster, "{}", case.name);
            assert_eq!(ips(&got.local), case.local, "{}", case.name);
            assert_eq!(got.has_any, case.has_any, "{}", case.name);
        }
    }
}
