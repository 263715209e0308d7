//! The pure renderer: cluster objects + node facts → the whole desired table.

use crate::config::NodeFacts;
use crate::endpoints::SERVICE_NAME_LABEL;
use crate::policy::render_policies;
use crate::ruleset::Ruleset;
use crate::services::render_service;
use crate::skeleton;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::HashMap;
use std::sync::Arc;

/// Everything the table is derived from (what the reflector stores hold).
#[derive(Clone, Debug, Default)]
pub struct ClusterObjects {
    pub services: Vec<Arc<Service>>,
    pub endpoint_slices: Vec<Arc<EndpointSlice>>,
    pub network_policies: Vec<Arc<NetworkPolicy>>,
    pub pods: Vec<Arc<Pod>>,
    pub namespaces: Vec<Arc<Namespace>>,
}

/// The complete desired content of `table ip berth`.
pub fn render(node: &NodeFacts, objects: &ClusterObjects) -> Ruleset {
    let mut rs = Ruleset {
        skeleton: skeleton::render(node),
        ..Default::default()
    };
    let mut slices_by_service: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
    for slice in &objects.endpoint_slices {
        let namespace = slice.metadata.namespace.as_deref().unwrap_or("");
        let Some(service) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
        else {
            continue;
        };
        slices_by_service
            .entry((namespace, service.as_str()))
            .or_default()
            .push(slice);
    }
    for svc in &objects.services {
        let key = (
            svc.metadata.namespace.as_deref().unwrap_or(""),
            svc.metadata.name.as_deref().unwrap_or(""),
        );
        let slices = slices_by_service
            .get(&key)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        render_service(&mut rs, svc, slices, node);
    }
    render_policies(
        &mut rs,
        &objects.network_policies,
        &objects.pods,
        &objects.namespaces,
        &node.node_name,
    );
    rs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{node, ready, service, slice, unready, Ep};
    use crate::names;
    use crate::skeleton::{
        CLUSTER_IPS, MARK_FOR_MASQUERADE, NO_ENDPOINT_NODEPORTS, NO_ENDPOINT_SERVICES, SERVICE_IPS,
        SERVICE_NODEPORTS,
    };

    fn rs_for(services: Vec<Service>, slices: Vec<EndpointSlice>) -> Ruleset {
        let objects = ClusterObjects {
            services: services.into_iter().map(Arc::new).collect(),
            endpoint_slices: slices.into_iter().map(Arc::new).collect(),
            ..Default::default()
        };
        render(&node(), &objects)
    }

    fn el(rs: &Ruleset, container: &str, key: &str) -> Option<String> {
        rs.elements.get(container)?.get(key)?.clone()
    }

    fn base(port_name: &str, proto: &str) -> String {
        names::service_port_base("default", "web", proto, port_name)
    }

    fn ep_chain(port_name: &str, proto: &str, ip: &str, port: i32) -> String {
        names::endpoint_chain(&base(port_name, proto), ip, port)
    }

    const WEB_PORTS: &[(&str, &str, i32)] = &[("http", "TCP", 80)];
    const SLICE_PORTS: &[(&str, &str, i32)] = &[("http", "TCP", 8080)];

    fn web_slice(eps: &[Ep<'_>]) -> EndpointSlice {
        slice("default", "web", "web-abc", eps, SLICE_PORTS)
    }

    #[test]
    fn cluster_ip_spreads_over_ready_endpoints_only() {
        let rs = rs_for(
            vec![service("default", "web", "10.96.0.10", WEB_PORTS)],
            vec![web_slice(&[
                ready("10.42.0.5", "node-a"),
                ready("10.42.1.5", "node-b"),
                unready("10.42.0.6", "node-a"),
            ])],
        );
        let svc = names::service_chain(&base("http", "tcp"));
        assert_eq!(
            el(&rs, SERVICE_IPS, "10.96.0.10 . tcp . 80"),
            Some(format!("goto {svc}"))
        );
        assert!(rs.elements[CLUSTER_IPS].contains_key("10.96.0.10"));
        let e1 = ep_chain("http", "tcp", "10.42.0.5", 8080);
        let e2 = ep_chain("http", "tcp", "10.42.1.5", 8080);
        assert_eq!(
            rs.chains[&svc],
            vec![
                format!("ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.42.0.0/16 jump {MARK_FOR_MASQUERADE}"),
                format!("numgen random mod 2 == 0 goto {e1}"),
                format!("goto {e2}"),
            ]
        );
        assert_eq!(
            rs.chains[&e1],
            vec![
                format!("ip saddr 10.42.0.5 jump {MARK_FOR_MASQUERADE}"),
                "meta l4proto tcp dnat to 10.42.0.5:8080".to_string(),
            ]
        );
        assert!(!rs
            .chains
            .contains_key(&ep_chain("http", "tcp", "10.42.0.6", 8080)));
        assert_eq!(rs.chains.len(), 3);
    }

    #[test]
    fn service_table() {
        struct Case {
            name: &'static str,
            service: Service,
            eps: Vec<Ep<'static>>,
            /// (container, key, expected value or None for absent)
            elements: Vec<(&'static str, &'static str, Option<String>)>,
            chain_count: usize,
        }
        let svc_chain = names::service_chain(&base("http", "tcp"));
        let ext_chain = names::external_chain(&base("http", "tcp"));
        let mut nodeport = service("default", "web", "10.96.0.10", WEB_PORTS);
        if let Some(spec) = nodeport.spec.as_mut() {
            spec.type_ = Some("NodePort".into());
            spec.external_ips = Some(vec!["203.0.113.7".into()]);
            if let Some(p) = spec.ports.as_mut().and_then(|p| p.first_mut()) {
                p.node_port = Some(30080);
            }
        }
        let mut local_nodeport = nodeport.clone();
        if let Some(spec) = local_nodeport.spec.as_mut() {
            spec.external_traffic_policy = Some("Local".into());
        }
        let mut internal_local = service("default", "web", "10.96.0.10", WEB_PORTS);
        if let Some(spec) = internal_local.spec.as_mut() {
            spec.internal_traffic_policy = Some("Local".into());
        }
        let mut headless = service("default", "web", "None", WEB_PORTS);
        if let Some(spec) = headless.spec.as_mut() {
            spec.cluster_ips = Some(vec!["None".into()]);
        }
        let mut lb = service("default", "web", "10.96.0.10", WEB_PORTS);
        if let Some(spec) = lb.spec.as_mut() {
            spec.type_ = Some("LoadBalancer".into());
        }
        lb.status = serde_json::from_value(
            serde_json::json!({"loadBalancer": {"ingress": [{"ip": "198.51.100.9"}]}}),
        )
        .ok();
        let remote = ready("10.42.1.5", "node-b");
        let cases = vec![
            Case {
                name: "no endpoints: reject",
                service: service("default", "web", "10.96.0.10", WEB_PORTS),
                eps: vec![unready("10.42.0.6", "node-a")],
                elements: vec![
                    (
                        NO_ENDPOINT_SERVICES,
                        "10.96.0.10 . tcp . 80",
                        Some("goto reject-chain".into()),
                    ),
                    (SERVICE_IPS, "10.96.0.10 . tcp . 80", None),
                ],
                chain_count: 0,
            },
            Case {
                name: "node-local (cluster DNS): no rules at all",
                service: {
                    let mut dns = service("kube-system", "kube-dns", "10.96.0.10", WEB_PORTS);
                    dns.metadata.labels = Some(
                        [(
                            crate::services::NODE_LOCAL_LABEL.to_string(),
                            "true".to_string(),
                        )]
                        .into(),
                    );
                    dns
                },
                eps: vec![],
                elements: vec![],
                chain_count: 0,
            },
            Case {
                name: "headless: nothing",
                service: headless,
                eps: vec![remote],
                elements: vec![(SERVICE_IPS, "10.96.0.10 . tcp . 80", None)],
                chain_count: 0,
            },
            Case {
                name: "nodeport and external IP go through the external chain",
                service: nodeport,
                eps: vec![remote],
                elements: vec![
                    (
                        SERVICE_NODEPORTS,
                        "tcp . 30080",
                        Some(format!("goto {ext_chain}")),
                    ),
                    (
                        SERVICE_IPS,
                        "203.0.113.7 . tcp . 80",
                        Some(format!("goto {ext_chain}")),
                    ),
                    (
                        SERVICE_IPS,
                        "10.96.0.10 . tcp . 80",
                        Some(format!("goto {svc_chain}")),
                    ),
                ],
                chain_count: 3,
            },
            Case {
                name: "externalTrafficPolicy Local without local endpoints drops external traffic",
                service: local_nodeport,
                eps: vec![remote],
                elements: vec![
                    (
                        SERVICE_NODEPORTS,
                        "tcp . 30080",
                        Some(format!("goto {ext_chain}")),
                    ),
                    (NO_ENDPOINT_NODEPORTS, "tcp . 30080", Some("drop".into())),
                    (
                        NO_ENDPOINT_SERVICES,
                        "203.0.113.7 . tcp . 80",
                        Some("drop".into()),
                    ),
                    (
                        SERVICE_IPS,
                        "10.96.0.10 . tcp . 80",
                        Some(format!("goto {svc_chain}")),
                    ),
                ],
                chain_count: 3,
            },
            Case {
                name: "internalTrafficPolicy Local without local endpoints drops",
                service: internal_local,
                eps: vec![remote],
                elements: vec![
                    (
                        NO_ENDPOINT_SERVICES,
                        "10.96.0.10 . tcp . 80",
                        Some("drop".into()),
                    ),
                    (SERVICE_IPS, "10.96.0.10 . tcp . 80", None),
                ],
                chain_count: 0,
            },
            Case {
                name: "load balancer ingress IP",
                service: lb,
                eps: vec![remote],
                elements: vec![(
                    SERVICE_IPS,
                    "198.51.100.9 . tcp . 80",
                    Some(format!("goto {ext_chain}")),
                )],
                chain_count: 3,
            },
        ];
        for case in cases {
            let rs = rs_for(vec![case.service], vec![web_slice(&case.eps)]);
            for (container, key, want) in &case.elements {
                assert_eq!(
                    &el(&rs, container, key),
                    want,
                    "{}: {container}[{key}]",
                    case.name
                );
            }
            assert_eq!(
                rs.chains.len(),
                case.chain_count,
                "{}: {:?}",
                case.name,
                rs.chains.keys()
            );
        }
    }

    #[test]
    fn external_local_keeps_client_ip_and_short_circuits_pods() {
        let mut svc = service("default", "web", "10.96.0.10", WEB_PORTS);
        if let Some(spec) = svc.spec.as_mut() {
            spec.type_ = Some("NodePort".into());
            spec.external_traffic_policy = Some("Local".into());
            if let Some(p) = spec.ports.as_mut().and_then(|p| p.first_mut()) {
                p.node_port = Some(30080);
            }
        }
        let rs = rs_for(
            vec![svc],
            vec![web_slice(&[
                ready("10.42.0.5", "node-a"),
                ready("10.42.1.5", "node-b"),
            ])],
        );
        let b = base("http", "tcp");
        let (svc_c, local_c, ext_c) = (
            names::service_chain(&b),
            names::local_chain(&b),
            names::external_chain(&b),
        );
        let ext = &rs.chains[&ext_c];
        assert_eq!(
            ext[0],
            format!("ip saddr 10.42.0.0/16 goto {svc_c} comment \"short-circuit pod traffic\"")
        );
        assert_eq!(ext.last(), Some(&format!("goto {local_c}")));
        assert!(!ext
            .iter()
            .any(|r| r == &format!("jump {MARK_FOR_MASQUERADE}")));
        // Local chain: only the endpoint on this node, no masquerade.
        assert_eq!(
            rs.chains[&local_c],
            vec![format!(
                "goto {}",
                ep_chain("http", "tcp", "10.42.0.5", 8080)
            )]
        );
        assert_eq!(rs.chains[&svc_c].len(), 3);
    }

    #[test]
    fn terminating_serving_endpoints_are_a_fallback() {
        let terminating = Ep {
            ip: "10.42.0.7",
            node: "node-a",
            ready: false,
            serving: true,
            terminating: true,
        };
        let rs = rs_for(
            vec![service("default", "web", "10.96.0.10", WEB_PORTS)],
            vec![web_slice(&[terminating])],
        );
        assert!(rs
            .chains
            .contains_key(&ep_chain("http", "tcp", "10.42.0.7", 8080)));
        let rs = rs_for(
            vec![service("default", "web", "10.96.0.10", WEB_PORTS)],
            vec![web_slice(&[terminating, ready("10.42.1.5", "node-b")])],
        );
        assert!(!rs
            .chains
            .contains_key(&ep_chain("http", "tcp", "10.42.0.7", 8080)));
    }

    #[test]
    fn session_affinity_uses_per_endpoint_sets() {
        let mut svc = service("default", "web", "10.96.0.10", WEB_PORTS);
        svc.spec = svc.spec.map(|mut s| {
            s.session_affinity = Some("ClientIP".into());
            s.session_affinity_config =
                serde_json::from_value(serde_json::json!({"clientIP": {"timeoutSeconds": 60}}))
                    .ok();
            s
        });
        let rs = rs_for(vec![svc], vec![web_slice(&[ready("10.42.0.5", "node-a")])]);
        let b = base("http", "tcp");
        let set = names::affinity_set(&b, "10.42.0.5", 8080, 60);
        assert_eq!(
            rs.sets[&set],
            "type ipv4_addr; flags dynamic,timeout; timeout 60s;"
        );
        let ep = ep_chain("http", "tcp", "10.42.0.5", 8080);
        assert_eq!(
            rs.chains[&names::service_chain(&b)][1],
            format!("ip saddr @{set} goto {ep}")
        );
        assert_eq!(rs.chains[&ep][1], format!("update @{set} {{ ip saddr }}"));
    }

    #[test]
    fn ports_match_by_name_and_protocol() {
        let svc = service(
            "default",
            "web",
            "10.96.0.10",
            &[
                ("dns", "UDP", 53),
                ("dns-tcp", "TCP", 53),
                ("assoc", "SCTP", 9),
            ],
        );
        let sl = slice(
            "default",
            "web",
            "web-1",
            &[ready("10.42.0.5", "node-a")],
            &[
                ("dns", "UDP", 5353),
                ("dns-tcp", "TCP", 5354),
                ("assoc", "SCTP", 9999),
            ],
        );
        let rs = rs_for(vec![svc], vec![sl]);
        assert!(el(&rs, SERVICE_IPS, "10.96.0.10 . udp . 53").is_some());
        assert!(el(&rs, SERVICE_IPS, "10.96.0.10 . tcp . 53").is_some());
        assert!(el(&rs, SERVICE_IPS, "10.96.0.10 . sctp . 9").is_some());
        assert_eq!(
            rs.chains[&ep_chain("dns", "udp", "10.42.0.5", 5353)][1],
            "meta l4proto udp dnat to 10.42.0.5:5353"
        );
        assert_eq!(
            rs.chains[&ep_chain("assoc", "sctp", "10.42.0.5", 9999)][1],
            "meta l4proto sctp dnat to 10.42.0.5:9999"
        );
    }

    #[test]
    fn slices_of_other_services_are_ignored() {
        let rs = rs_for(
            vec![service("default", "web", "10.96.0.10", WEB_PORTS)],
            vec![slice(
                "default",
                "other",
                "other-1",
                &[ready("10.42.0.5", "node-a")],
                SLICE_PORTS,
            )],
        );
        assert_eq!(
            el(&rs, NO_ENDPOINT_SERVICES, "10.96.0.10 . tcp . 80"),
            Some("goto reject-chain".into())
        );
    }
}
