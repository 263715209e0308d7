//! NetworkPolicies (networking.k8s.io/v1) → per-pod chains for the pods on
//! this node.
//!
//! ```text
//! forward hook ─▶ policy-egress  (prio filter-5): ip saddr vmap @policy-egress-pods
//!                                  └─ pol-eg-<pod>: allow rules … accept; drop
//!              ─▶ policy-ingress (prio filter+5): ip daddr vmap @policy-ingress-pods
//!                                  └─ pol-in-<pod>: allow rules … accept; drop
//! ```
//! Only pods selected by some policy of a direction get a chain (isolation);
//! replies pass by `ct state established,related accept`. Each node checks
//! the egress and the ingress of its own pods; traffic leaving a remote pod
//! was checked on its node. Peers are resolved to pod IPs here (anonymous
//! sets inside the rules); named ports resolve against the receiving pod for
//! ingress and against each peer pod for egress (`ip daddr . th dport` sets).

use crate::cidr::Ipv4Cidr;
use crate::names;
use crate::ruleset::Ruleset;
use crate::selector::matches;
use crate::skeleton::{POLICY_EGRESS_PODS, POLICY_INGRESS_PODS};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// What policies need to know about a pod.
struct PodView<'a> {
    namespace: &'a str,
    name: &'a str,
    labels: Option<&'a BTreeMap<String, String>>,
    ip: Ipv4Addr,
    local: bool,
    pod: &'a Pod,
}

impl PodView<'_> {
    /// The container port called `name` with `protocol`.
    fn named_port(&self, name: &str, protocol: &str) -> Option<i32> {
        let spec = self.pod.spec.as_ref()?;
        spec.containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| {
                p.name.as_deref() == Some(name)
                    && p.protocol.as_deref().unwrap_or("TCP") == protocol
            })
            .map(|p| p.container_port)
    }
}

fn pod_view<'a>(pod: &'a Pod, node_name: &str) -> Option<PodView<'a>> {
    let spec = pod.spec.as_ref()?;
    if spec.host_network == Some(true) {
        return None;
    }
    let status = pod.status.as_ref()?;
    if matches!(status.phase.as_deref(), Some("Succeeded") | Some("Failed")) {
        return None;
    }
    let ip = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.as_str())
        .chain(status.pod_ip.as_deref())
        .find_map(|s| s.parse::<Ipv4Addr>().ok())?;
    Some(PodView {
        namespace: pod.metadata.namespace.as_deref()?,
        name: pod.metadata.name.as_deref()?,
        labels: pod.metadata.labels.as_ref(),
        ip,
        local: spec.node_name.as_deref() == Some(node_name),
        pod,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    /// The address of the other side of the connection.
    fn peer_field(self) -> &'static str {
        match self {
            Direction::Ingress => "saddr",
            Direction::Egress => "daddr",
        }
    }
}

enum Peer<'p> {
    Any,
    Pods(Vec<&'p PodView<'p>>),
    Block(String),
}

enum PortMatch {
    Any,
    Proto(&'static str),
    Numbers(&'static str, String),
    Named(&'static str, &'static str, String),
}

fn proto_of(port: &NetworkPolicyPort) -> Option<(&'static str, &'static str)> {
    match port.protocol.as_deref().unwrap_or("TCP") {
        "TCP" => Some(("TCP", "tcp")),
        "UDP" => Some(("UDP", "udp")),
        "SCTP" => Some(("SCTP", "sctp")),
        _ => None,
    }
}

fn port_matches(ports: Option<&Vec<NetworkPolicyPort>>) -> Vec<PortMatch> {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        return vec![PortMatch::Any];
    };
    ports
        .iter()
        .filter_map(|p| {
            let (api, nft) = proto_of(p)?;
            Some(match &p.port {
                None => PortMatch::Proto(nft),
                Some(IntOrString::Int(n)) => match p.end_port {
                    Some(end) if end > *n => PortMatch::Numbers(nft, format!("{n}-{end}")),
                    _ => PortMatch::Numbers(nft, n.to_string()),
                },
                Some(IntOrString::String(name)) => match name.parse::<i32>() {
                    Ok(n) => PortMatch::Numbers(nft, n.to_string()),
                    Err(_) => PortMatch::Named(api, nft, name.clone()),
                },
            })
        })
        .collect()
}

fn ip_set(ips: impl Iterator<Item = String>) -> String {
    let mut v: Vec<String> = ips.collect();
    v.sort();
    v.dedup();
    format!("{{ {} }}", v.join(", "))
}

struct Resolver<'p> {
    pods: &'p [PodView<'p>],
    namespace_labels: HashMap<&'p str, Option<&'p BTreeMap<String, String>>>,
}

impl<'p> Resolver<'p> {
    fn peers(&self, policy_ns: &str, peers: Option<&Vec<NetworkPolicyPeer>>) -> Vec<Peer<'p>> {
        let Some(peers) = peers.filter(|p| !p.is_empty()) else {
            return vec![Peer::Any];
        };
        let mut out = Vec::new();
        for peer in peers {
            if let Some(block) = &peer.ip_block {
                let Ok(cidr) = block.cidr.parse::<Ipv4Cidr>() else {
                    continue;
                };
                let excepts: Vec<String> = block
                    .except
                    .iter()
                    .flatten()
                    .filter_map(|e| e.parse::<Ipv4Cidr>().ok())
                    .map(|e| e.to_string())
                    .collect();
                out.push(Peer::Block(if excepts.is_empty() {
                    format!("{cidr}")
                } else {
                    format!("{cidr} DIR != {}", ip_set(excepts.into_iter()))
                }));
                continue;
            }
            if peer.pod_selector.is_none() && peer.namespace_selector.is_none() {
                continue;
            }
            let selected: Vec<&PodView> = self
                .pods
                .iter()
                .filter(|pod| match &peer.namespace_selector {
                    None => pod.namespace == policy_ns,
                    Some(sel) => matches(
                        sel,
                        self.namespace_labels.get(pod.namespace).copied().flatten(),
                    ),
                })
                .filter(|pod| {
                    peer.pod_selector
                        .as_ref()
                        .is_none_or(|sel| matches(sel, pod.labels))
                })
                .collect();
            if !selected.is_empty() {
                out.push(Peer::Pods(selected));
            }
        }
        out
    }
}

/// The accept rules of one policy rule for `target` (the local pod).
fn rule_lines(
    dir: Direction,
    target: &PodView<'_>,
    peers: &[Peer<'_>],
    ports: &[PortMatch],
    all_pods: &[PodView<'_>],
    out: &mut Vec<String>,
) {
    let field = dir.peer_field();
    for peer in peers {
        let peer_match = match peer {
            Peer::Any => String::new(),
            Peer::Pods(pods) => format!(
                "ip {field} {} ",
                ip_set(pods.iter().map(|p| p.ip.to_string()))
            ),
            Peer::Block(b) => format!("ip {field} {} ", b.replace("DIR", &format!("ip {field}"))),
        };
        for port in ports {
            let line = match port {
                PortMatch::Any => format!("{peer_match}accept"),
                PortMatch::Proto(p) => format!("{peer_match}meta l4proto {p} accept"),
                PortMatch::Numbers(p, n) => {
                    format!("{peer_match}meta l4proto {p} th dport {n} accept")
                }
                PortMatch::Named(api, p, name) if dir == Direction::Ingress => {
                    let Some(n) = target.named_port(name, api) else {
                        continue;
                    };
                    format!("{peer_match}meta l4proto {p} th dport {n} accept")
                }
                PortMatch::Named(api, p, name) => {
                    // Egress: the port is the one each destination pod calls `name`.
                    let candidates: Vec<&PodView> = match peer {
                        Peer::Any => all_pods.iter().collect(),
                        Peer::Pods(pods) => pods.clone(),
                        Peer::Block(_) => continue,
                    };
                    let pairs: Vec<String> = candidates
                        .iter()
                        .filter_map(|pod| {
                            pod.named_port(name, api)
                                .map(|n| format!("{} . {n}", pod.ip))
                        })
                        .collect();
                    if pairs.is_empty() {
                        continue;
                    }
                    format!(
                        "meta l4proto {p} ip daddr . th dport {} accept",
                        ip_set(pairs.into_iter())
                    )
                }
            };
            out.push(line);
        }
    }
}

fn policy_types(policy: &NetworkPolicy) -> (bool, bool) {
    let Some(spec) = policy.spec.as_ref() else {
        return (false, false);
    };
    match &spec.policy_types {
        Some(types) => (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        ),
        None => (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty())),
    }
}

/// Add chains and map elements for the policies that select pods on this node.
pub fn render_policies(
    rs: &mut Ruleset,
    policies: &[Arc<NetworkPolicy>],
    pods: &[Arc<Pod>],
    namespaces: &[Arc<Namespace>],
    node_name: &str,
) {
    if policies.is_empty() {
        return;
    }
    let views: Vec<PodView> = pods.iter().filter_map(|p| pod_view(p, node_name)).collect();
    let resolver = Resolver {
        pods: &views,
        namespace_labels: namespaces
            .iter()
            .filter_map(|ns| Some((ns.metadata.name.as_deref()?, ns.metadata.labels.as_ref())))
            .collect(),
    };
    let mut sorted: Vec<&NetworkPolicy> = policies.iter().map(|p| p.as_ref()).collect();
    sorted.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });

    for pod in views.iter().filter(|p| p.local) {
        let mut ingress: Option<Vec<String>> = None;
        let mut egress: Option<Vec<String>> = None;
        for policy in &sorted {
            let Some(spec) = policy.spec.as_ref() else {
                continue;
            };
            let policy_ns = policy.metadata.namespace.as_deref().unwrap_or("");
            if policy_ns != pod.namespace
                || !spec
                    .pod_selector
                    .as_ref()
                    .is_none_or(|sel| matches(sel, pod.labels))
            {
                continue;
            }
            let (is_ingress, is_egress) = policy_types(policy);
            if is_ingress {
                let lines = ingress.get_or_insert_with(Vec::new);
                for rule in spec.ingress.iter().flatten() {
                    let peers = resolver.peers(policy_ns, rule.from.as_ref());
                    let ports = port_matches(rule.ports.as_ref());
                    rule_lines(Direction::Ingress, pod, &peers, &ports, &views, lines);
                }
            }
            if is_egress {
                let lines = egress.get_or_insert_with(Vec::new);
                for rule in spec.egress.iter().flatten() {
                    let peers = resolver.peers(policy_ns, rule.to.as_ref());
                    let ports = port_matches(rule.ports.as_ref());
                    rule_lines(Direction::Egress, pod, &peers, &ports, &views, lines);
                }
            }
        }
        let ip = pod.ip.to_string();
        if let Some(mut lines) = ingress {
            lines.push("drop".into());
            let chain = names::policy_ingress_chain(pod.namespace, pod.name);
            rs.add_element(
                POLICY_INGRESS_PODS,
                ip.clone(),
                Some(format!("goto {chain}")),
            );
            rs.chains.insert(chain, lines);
        }
        if let Some(mut lines) = egress {
            lines.push("drop".into());
            let chain = names::policy_egress_chain(pod.namespace, pod.name);
            rs.add_element(POLICY_EGRESS_PODS, ip, Some(format!("goto {chain}")));
            rs.chains.insert(chain, lines);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::pod;

    fn pods() -> Vec<Arc<Pod>> {
        vec![
            pod(
                "default",
                "client",
                "10.42.0.11",
                "node-a",
                &[("app", "client")],
                &[],
            ),
            pod(
                "default",
                "server",
                "10.42.0.12",
                "node-a",
                &[("app", "server")],
                &[("http", 8080)],
            ),
            pod(
                "default",
                "remote-server",
                "10.42.1.12",
                "node-b",
                &[("app", "server")],
                &[("http", 9090)],
            ),
            pod(
                "other",
                "db",
                "10.42.1.20",
                "node-b",
                &[("app", "db")],
                &[("sql", 5432)],
            ),
        ]
        .into_iter()
        .map(Arc::new)
        .collect()
    }

    fn namespaces() -> Vec<Arc<Namespace>> {
        ["default", "other"]
            .iter()
            .filter_map(|n| {
                serde_json::from_value(
                    serde_json::json!({"metadata": {"name": n, "labels": {"name": n}}}),
                )
                .ok()
            })
            .map(Arc::new)
            .collect()
    }

    fn render_with(policy: serde_json::Value) -> Ruleset {
        let mut rs = Ruleset::default();
        let policy: NetworkPolicy = serde_json::from_value(policy).unwrap();
        render_policies(
            &mut rs,
            &[Arc::new(policy)],
            &pods(),
            &namespaces(),
            "node-a",
        );
        rs
    }

    #[test]
    fn policy_table() {
        let server_in = names::policy_ingress_chain("default", "server");
        let client_out = names::policy_egress_chain("default", "client");
        struct Case {
            name: &'static str,
            policy: serde_json::Value,
            chain: String,
            rules: Vec<&'static str>,
        }
        let cases = vec![
            Case {
                name: "deny all ingress",
                policy: serde_json::json!({"metadata": {"namespace": "default", "name": "p"},
                    "spec": {"podSelector": {"matchLabels": {"app": "server"}}}}),
                chain: server_in.clone(),
                rules: vec!["drop"],
            },
            Case {
                name: "pod selector + named port resolved on the target",
                policy: serde_json::json!({"metadata": {"namespace": "default", "name": "p"},
                    "spec": {"podSelector": {"matchLabels": {"app": "server"}},
                        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                                     "ports": [{"port": "http"}, {"protocol": "UDP", "port": 53}]}]}}),
                chain: server_in.clone(),
                rules: vec![
                    "ip saddr { 10.42.0.11 } meta l4proto tcp th dport 8080 accept",
                    "ip saddr { 10.42.0.11 } meta l4proto udp th dport 53 accept",
                    "drop",
                ],
            },
            Case {
                name: "namespace selector, ipBlock with except, port range",
                policy: serde_json::json!({"metadata": {"namespace": "default", "name": "p"},
                    "spec": {"podSelector": {"matchLabels": {"app": "server"}},
                        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"name": "other"}}},
                                              {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}],
                                     "ports": [{"port": 8000, "endPort": 8100}]}]}}),
                chain: server_in.clone(),
                rules: vec![
                    "ip saddr { 10.42.1.20 } meta l4proto tcp th dport 8000-8100 accept",
                    "ip saddr 192.168.0.0/16 ip saddr != { 192.168.1.0/24 } meta l4proto tcp th dport 8000-8100 accept",
                    "drop",
                ],
            },
            Case {
                name: "empty rule allows everything",
                policy: serde_json::json!({"metadata": {"namespace": "default", "name": "p"},
                    "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": [{}]}}),
                chain: server_in.clone(),
                rules: vec!["accept", "drop"],
            },
            Case {
                name: "peers that select nobody allow nothing",
                policy: serde_json::json!({"metadata": {"namespace": "default", "name": "p"},
                    "spec": {"podSelector": {"matchLabels": {"app": "server"}},
                        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "nobody"}}}]}]}}),
                chain: server_in.clone(),
                rules: vec!["drop"],
            },
            Case {
                name: "egress named port resolved on each destination pod",
                policy: serde_json::json!({"metadata": {"namespace": "default", "name": "p"},
                    "spec": {
                        "policyTypes": ["Egress"],"podSelector": {"matchLabels": {"app": "client"}},
                        "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "server"}}}],
                                    "ports": [{"port": "http"}]}]}}),
                chain: client_out.clone(),
                rules: vec![
                    "meta l4proto tcp ip daddr . th dport { 10.42.0.12 . 8080, 10.42.1.12 . 9090 } accept",
                    "drop",
                ],
            },
        ];
        for case in cases {
            let rs = render_with(case.policy);
            assert_eq!(
                rs.chains.get(&case.chain).cloned(),
                Some(case.rules.iter().map(|s| s.to_string()).collect()),
                "{}",
                case.name
            );
            assert_eq!(
                rs.chains.len(),
                1,
                "{}: only the selected local pod gets a chain",
                case.name
            );
        }
    }

    #[test]
    fn isolation_is_keyed_by_pod_ip_and_types_default_from_rules() {
        // Egress rules present, no policyTypes: both directions isolated.
        let rs = render_with(
            serde_json::json!({"metadata": {"namespace": "default", "name": "p"},
            "spec": {"podSelector": {}, "egress": [{}]}}),
        );
        let ingress = &rs.elements[POLICY_INGRESS_PODS];
        let egress = &rs.elements[POLICY_EGRESS_PODS];
        assert_eq!(
            ingress.keys().collect::<Vec<_>>(),
            vec!["10.42.0.11", "10.42.0.12"]
        );
        assert_eq!(egress.len(), 2);
        assert_eq!(
            ingress["10.42.0.12"],
            Some(format!(
                "goto {}",
                names::policy_ingress_chain("default", "server")
            ))
        );
        // Explicit Egress only: no ingress isolation.
        let rs = render_with(
            serde_json::json!({"metadata": {"namespace": "default", "name": "p"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}),
        );
        assert!(!rs.elements.contains_key(POLICY_INGRESS_PODS));
        assert_eq!(rs.elements[POLICY_EGRESS_PODS].len(), 2);
    }

    #[test]
    fn policies_of_other_namespaces_do_not_select() {
        let rs = render_with(
            serde_json::json!({"metadata": {"namespace": "other", "name": "p"},
            "spec": {"podSelector": {}}}),
        );
        assert!(
            rs.chains.is_empty(),
            "db is on another node, nothing in `other` is local"
        );
    }
}
