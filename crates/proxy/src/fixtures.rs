//! Small builders of Services, EndpointSlices, Pods and policies for the
//! tests and the bench (plain k8s-openapi objects, nothing special).

use crate::config::NodeFacts;
use crate::endpoints::SERVICE_NAME_LABEL;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Pod, PodIP, PodSpec, PodStatus, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// Node `node-a`, IP 192.168.50.1, cluster CIDR 10.42.0.0/16.
pub fn node() -> NodeFacts {
    NodeFacts {
        node_name: "node-a".into(),
        node_ips: vec!["192.168.50.1"
            .parse()
            .unwrap_or(std::net::Ipv4Addr::LOCALHOST)],
        cluster_cidr: "10.42.0.0/16"
            .parse()
            .unwrap_or_else(|_| unreachable!("literal CIDR")),
    }
}

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(ns.into()),
        name: Some(name.into()),
        ..Default::default()
    }
}

/// A ClusterIP service; `ports` are (name, protocol, port).
pub fn service(ns: &str, name: &str, cluster_ip: &str, ports: &[(&str, &str, i32)]) -> Service {
    Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some(cluster_ip.into()),
            cluster_ips: Some(vec![cluster_ip.into()]),
            ports: Some(
                ports
                    .iter()
                    .map(|(n, proto, port)| ServicePort {
                        name: (!n.is_empty()).then(|| n.to_string()),
                        protocol: Some(proto.to_string()),
                        port: *port,
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One endpoint of a slice.
#[derive(Clone, Copy)]
pub struct Ep<'a> {
    pub ip: &'a str,
    pub node: &'a str,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
}

pub fn ready<'a>(ip: &'a str, node: &'a str) -> Ep<'a> {
    Ep {
        ip,
        node,
        ready: true,
        serving: true,
        terminating: false,
    }
}

pub fn unready<'a>(ip: &'a str, node: &'a str) -> Ep<'a> {
    Ep {
        ip,
        node,
        ready: false,
        serving: false,
        terminating: false,
    }
}

/// An EndpointSlice of `service`; `ports` are (name, protocol, port).
pub fn slice(
    ns: &str,
    service: &str,
    name: &str,
    eps: &[Ep<'_>],
    ports: &[(&str, &str, i32)],
) -> EndpointSlice {
    let mut m = meta(ns, name);
    m.labels = Some(BTreeMap::from([(
        SERVICE_NAME_LABEL.to_string(),
        service.to_string(),
    )]));
    EndpointSlice {
        metadata: m,
        address_type: "IPv4".into(),
        endpoints: eps
            .iter()
            .map(|e| Endpoint {
                addresses: vec![e.ip.into()],
                conditions: Some(EndpointConditions {
                    ready: Some(e.ready),
                    serving: Some(e.serving),
                    terminating: Some(e.terminating),
                }),
                node_name: Some(e.node.into()),
                ..Default::default()
            })
            .collect(),
        ports: Some(
            ports
                .iter()
                .map(|(n, proto, port)| EndpointPort {
                    name: Some(n.to_string()),
                    protocol: Some(proto.to_string()),
                    port: Some(*port),
                    ..Default::default()
                })
                .collect(),
        ),
    }
}

/// A running pod with `labels` and container `ports` (name, port), on `node`.
pub fn pod(
    ns: &str,
    name: &str,
    ip: &str,
    node: &str,
    labels: &[(&str, &str)],
    ports: &[(&str, i32)],
) -> Pod {
    let mut m = meta(ns, name);
    m.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    Pod {
        metadata: m,
        spec: Some(PodSpec {
            node_name: Some(node.into()),
            containers: vec![Container {
                name: "c".into(),
                ports: Some(
                    ports
                        .iter()
                        .map(|(n, p)| ContainerPort {
                            name: Some(n.to_string()),
                            container_port: *p,
                            protocol: Some("TCP".into()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some(ip.into()),
            pod_ips: Some(vec![PodIP { ip: ip.into() }]),
            ..Default::default()
        }),
    }
}
