//! The few fields of Services and EndpointSlices that DNS answers depend on,
//! extracted once per watch event.

use crate::names;
use hickory_server::proto::rr::Name;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::net::IpAddr;

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SliceKey {
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ServiceKind {
    /// ClusterIP, NodePort, LoadBalancer: the allocated cluster IPs (may be empty
    /// for a moment before allocation).
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: answered with the ready endpoints.
    Headless,
    /// CNAME to this name; None when the externalName is not a valid name.
    ExternalName(Option<Name>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PortModel {
    /// Empty for unnamed ports (which get no `_port._proto` SRV record).
    pub name: String,
    /// Lower-case protocol label: tcp, udp, sctp.
    pub protocol: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceModel {
    pub key: ServiceKey,
    pub kind: ServiceKind,
    pub ports: Vec<PortModel>,
    pub publish_not_ready: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointModel {
    pub ip: IpAddr,
    pub hostname: Option<String>,
    pub ready: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SliceModel {
    pub key: SliceKey,
    pub service: ServiceKey,
    pub endpoints: Vec<EndpointModel>,
    pub ports: Vec<PortModel>,
}

pub fn service_key(service: &Service) -> Option<ServiceKey> {
    Some(ServiceKey {
        namespace: service.metadata.namespace.clone()?,
        name: service.metadata.name.clone()?,
    })
}

pub fn slice_key(slice: &EndpointSlice) -> Option<SliceKey> {
    Some(SliceKey {
        namespace: slice.metadata.namespace.clone()?,
        name: slice.metadata.name.clone()?,
    })
}

impl ServiceModel {
    /// None for objects without namespace/name (never stored by an API server).
    pub fn from_service(service: &Service) -> Option<ServiceModel> {
        let key = service_key(service)?;
        let spec = service.spec.clone().unwrap_or_default();
        let kind = if spec.type_.as_deref() == Some("ExternalName") {
            ServiceKind::ExternalName(spec.external_name.as_deref().and_then(names::fqdn))
        } else if spec.cluster_ip.as_deref() == Some("None") {
            ServiceKind::Headless
        } else {
            // clusterIPs carries every family of a dual-stack Service; older
            // objects may only have clusterIP.
            let texts: Vec<String> = match spec.cluster_ips {
                Some(ips) if !ips.is_empty() => ips,
                _ => spec.cluster_ip.into_iter().collect(),
            };
            let mut ips: Vec<IpAddr> = Vec::new();
            for ip in texts.iter().filter_map(|text| text.parse::<IpAddr>().ok()) {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
            ServiceKind::ClusterIp(ips)
        };
        let ports = spec
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|port| {
                Some(PortModel {
                    name: port.name.unwrap_or_default().to_ascii_lowercase(),
                    protocol: protocol_label(port.protocol.as_deref()),
                    port: u16::try_from(port.port).ok()?,
                })
            })
            .collect();
        Some(ServiceModel {
            key,
            kind,
            ports,
            publish_not_ready: spec.publish_not_ready_addresses.unwrap_or(false),
        })
    }
}

impl SliceModel {
    /// None for slices that belong to no Service (no service-name label) or that
    /// carry FQDN addresses.
    pub fn from_slice(slice: &EndpointSlice) -> Option<SliceModel> {
        let key = slice_key(slice)?;
        let service_name = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
        let family_v4 = match slice.address_type.as_str() {
            "IPv4" => true,
            "IPv6" => false,
            _ => return None,
        };
        let mut endpoints = Vec::new();
        for endpoint in &slice.endpoints {
            // A nil ready condition means unknown, which consumers treat as ready.
            let ready = endpoint
                .conditions
                .as_ref()
                .and_then(|conditions| conditions.ready)
                .unwrap_or(true);
            let hostname = endpoint
                .hostname
                .as_ref()
                .filter(|hostname| names::is_dns_label(hostname))
                .map(|hostname| hostname.to_ascii_lowercase());
            for address in &endpoint.addresses {
                let Ok(ip) = address.parse::<IpAddr>() else {
                    continue;
                };
                if ip.is_ipv4() != family_v4 {
                    continue;
                }
                endpoints.push(EndpointModel {
                    ip,
                    hostname: hostname.clone(),
                    ready,
                });
            }
        }
        let ports = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|port| {
                Some(PortModel {
                    name: port.name.clone().unwrap_or_default().to_ascii_lowercase(),
                    protocol: protocol_label(port.protocol.as_deref()),
                    port: u16::try_from(port.port?).ok()?,
                })
            })
            .collect();
        Some(SliceModel {
            service: ServiceKey {
                namespace: key.namespace.clone(),
                name: service_name.clone(),
            },
            key,
            endpoints,
            ports,
        })
    }
}

fn protocol_label(protocol: Option<&str>) -> String {
    protocol.unwrap_or("TCP").to_ascii_lowercase()
}
