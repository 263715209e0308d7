//! Builders for the Service and EndpointSlice objects DNS reads, for tests and
//! benchmarks (of this crate and of berth) that feed `ClusterRecords` directly.

use crate::model::SERVICE_NAME_LABEL;
use k8s_openapi::api::core::v1::{Pod, PodIP, PodStatus, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// (name, protocol, port); an empty name is an unnamed port.
pub type PortSpec<'a> = (&'a str, &'a str, i32);

fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(namespace.to_string()),
        name: Some(name.to_string()),
        ..ObjectMeta::default()
    }
}

fn service_ports(ports: &[PortSpec<'_>]) -> Option<Vec<ServicePort>> {
    Some(
        ports
            .iter()
            .map(|(name, protocol, port)| ServicePort {
                name: (!name.is_empty()).then(|| name.to_string()),
                protocol: Some(protocol.to_string()),
                port: *port,
                ..ServicePort::default()
            })
            .collect(),
    )
}

/// A ClusterIP Service; several IPs make it dual-stack.
pub fn cluster_ip_service(
    namespace: &str,
    name: &str,
    ips: &[&str],
    ports: &[PortSpec<'_>],
) -> Service {
    Service {
        metadata: meta(namespace, name),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: ips.first().map(|ip| ip.to_string()),
            cluster_ips: Some(ips.iter().map(|ip| ip.to_string()).collect()),
            ports: service_ports(ports),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

pub fn headless_service(namespace: &str, name: &str, ports: &[PortSpec<'_>]) -> Service {
    Service {
        metadata: meta(namespace, name),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some("None".into()),
            cluster_ips: Some(vec!["None".into()]),
            ports: service_ports(ports),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

pub fn external_name_service(namespace: &str, name: &str, external_name: &str) -> Service {
    Service {
        metadata: meta(namespace, name),
        spec: Some(ServiceSpec {
            type_: Some("ExternalName".into()),
            external_name: Some(external_name.into()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// One endpoint: address, optional hostname, `ready` condition (None = unset).
pub type EndpointSpec<'a> = (&'a str, Option<&'a str>, Option<bool>);

/// An EndpointSlice labelled for `service`; the address type follows the first address.
pub fn endpoint_slice(
    namespace: &str,
    name: &str,
    service: &str,
    endpoints: &[EndpointSpec<'_>],
    ports: &[PortSpec<'_>],
) -> EndpointSlice {
    let mut metadata = meta(namespace, name);
    metadata.labels = Some(BTreeMap::from([(
        SERVICE_NAME_LABEL.to_string(),
        service.to_string(),
    )]));
    let v6 = endpoints.first().is_some_and(|(ip, _, _)| ip.contains(':'));
    EndpointSlice {
        metadata,
        address_type: if v6 { "IPv6" } else { "IPv4" }.into(),
        endpoints: endpoints
            .iter()
            .map(|(ip, hostname, ready)| Endpoint {
                addresses: vec![ip.to_string()],
                hostname: hostname.map(str::to_string),
                conditions: Some(EndpointConditions {
                    ready: *ready,
                    ..EndpointConditions::default()
                }),
                ..Endpoint::default()
            })
            .collect(),
        ports: Some(
            ports
                .iter()
                .map(|(name, protocol, port)| EndpointPort {
                    name: Some(name.to_string()),
                    protocol: Some(protocol.to_string()),
                    port: Some(*port),
                    ..EndpointPort::default()
                })
                .collect(),
        ),
    }
}

/// A Pod with the given IPs in its status (all DNS reads of a Pod).
pub fn pod_with_ips(namespace: &str, name: &str, ips: &[&str]) -> Pod {
    Pod {
        metadata: meta(namespace, name),
        spec: None,
        status: Some(PodStatus {
            pod_ip: ips.first().map(|ip| ip.to_string()),
            pod_ips: Some(ips.iter().map(|ip| PodIP { ip: ip.to_string() }).collect()),
            ..PodStatus::default()
        }),
    }
}
