//! Turns one Service (plus its EndpointSlices) into the DNS names and records it
//! owns. Runs on watch events, so queries only look names up.

use crate::model::{EndpointModel, PortModel, ServiceKind, ServiceModel, SliceModel};
use crate::names;
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, PTR, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Names a Service contributes, each with its records. An empty record list is
/// an empty non-terminal: the name exists (NODATA) but holds nothing.
pub type RenderedNames = BTreeMap<LowerName, Vec<Record>>;

/// One ready (or published) endpoint of a headless Service.
struct HeadlessEndpoint<'a> {
    ip: IpAddr,
    /// `<hostname-or-dashed-ip>.<svc>.<ns>.svc.<zone>.`
    name: Name,
    ports: &'a [PortModel],
}

pub fn render_service<'a>(
    service: &ServiceModel,
    slices: impl Iterator<Item = &'a SliceModel>,
    zone: &Name,
    ttl: u32,
) -> RenderedNames {
    let mut out = RenderedNames::new();
    let Some(namespace_name) =
        names::child(zone, "svc").and_then(|svc| names::child(&svc, &service.key.namespace))
    else {
        return out;
    };
    // The namespace label exists as long as one Service lives in it.
    out.insert(LowerName::new(&namespace_name), Vec::new());
    let Some(service_name) = names::child(&namespace_name, &service.key.name) else {
        return out;
    };
    match &service.kind {
        ServiceKind::ClusterIp(ips) => {
            render_cluster_ip(&mut out, service, &service_name, ips, ttl)
        }
        ServiceKind::Headless => {
            let endpoints = headless_endpoints(service, slices, &service_name);
            render_headless(&mut out, &service_name, &endpoints, ttl);
        }
        ServiceKind::ExternalName(target) => {
            let records = target
                .iter()
                .map(|target| {
                    Record::from_rdata(
                        service_name.clone(),
                        ttl,
                        RData::CNAME(CNAME(target.clone())),
                    )
                })
                .collect();
            out.insert(LowerName::new(&service_name), records);
        }
    }
    out
}

fn render_cluster_ip(
    out: &mut RenderedNames,
    service: &ServiceModel,
    service_name: &Name,
    ips: &[IpAddr],
    ttl: u32,
) {
    let addresses: Vec<Record> = ips
        .iter()
        .map(|ip| address_record(service_name, *ip, ttl))
        .collect();
    push(out, service_name, addresses);
    for ip in ips {
        push(
            out,
            &names::reverse_name(*ip),
            vec![ptr_record(*ip, service_name, ttl)],
        );
    }
    // SRV at the Service name for every port (a CoreDNS extension), and at
    // _<port>._<proto> for named ports (the spec).
    let targets: Vec<(&PortModel, &Name)> = service
        .ports
        .iter()
        .map(|port| (port, service_name))
        .collect();
    render_srv(out, service_name, &targets, ttl);
}

fn headless_endpoints<'a, 's>(
    service: &ServiceModel,
    slices: impl Iterator<Item = &'s SliceModel>,
    service_name: &Name,
) -> Vec<HeadlessEndpoint<'s>> {
    let mut seen: Vec<IpAddr> = Vec::new();
    let mut endpoints = Vec::new();
    for slice in slices {
        for endpoint in &slice.endpoints {
            if !(endpoint.ready || service.publish_not_ready) || seen.contains(&endpoint.ip) {
                continue;
            }
            let Some(name) = endpoint_name(endpoint, service_name) else {
                continue;
            };
            seen.push(endpoint.ip);
            endpoints.push(HeadlessEndpoint {
                ip: endpoint.ip,
                name,
                ports: &slice.ports,
            });
        }
    }
    endpoints
}

fn endpoint_name(endpoint: &EndpointModel, service_name: &Name) -> Option<Name> {
    let label = endpoint
        .hostname
        .clone()
        .unwrap_or_else(|| names::dashed_ip(endpoint.ip));
    names::child(service_name, &label)
}

fn render_headless(
    out: &mut RenderedNames,
    service_name: &Name,
    endpoints: &[HeadlessEndpoint<'_>],
    ttl: u32,
) {
    // The spec: no ready endpoints means the Service name does not exist.
    if endpoints.is_empty() {
        return;
    }
    for endpoint in endpoints {
        push(
            out,
            service_name,
            vec![address_record(service_name, endpoint.ip, ttl)],
        );
        push(
            out,
            &endpoint.name,
            vec![address_record(&endpoint.name, endpoint.ip, ttl)],
        );
        push(
            out,
            &names::reverse_name(endpoint.ip),
            vec![ptr_record(endpoint.ip, &endpoint.name, ttl)],
        );
    }
    // Headless SRV records carry the endpoint (target) port, one per endpoint.
    let targets: Vec<(&PortModel, &Name)> = endpoints
        .iter()
        .flat_map(|endpoint| {
            endpoint
                .ports
                .iter()
                .map(move |port| (port, &endpoint.name))
        })
        .collect();
    render_srv(out, service_name, &targets, ttl);
}

fn render_srv(
    out: &mut RenderedNames,
    service_name: &Name,
    targets: &[(&PortModel, &Name)],
    ttl: u32,
) {
    let mut by_name: BTreeMap<LowerName, (Name, Vec<(u16, Name)>)> = BTreeMap::new();
    for (port, target) in targets {
        let at_service = by_name
            .entry(LowerName::new(service_name))
            .or_insert_with(|| (service_name.clone(), Vec::new()));
        if !at_service
            .1
            .iter()
            .any(|(p, t)| *p == port.port && t == *target)
        {
            at_service.1.push((port.port, (*target).clone()));
        }
        if port.name.is_empty() {
            continue;
        }
        let Some(proto_name) = names::child(service_name, &format!("_{}", port.protocol)) else {
            continue;
        };
        let Some(port_name) = names::child(&proto_name, &format!("_{}", port.name)) else {
            continue;
        };
        out.entry(LowerName::new(&proto_name)).or_default();
        let entry = by_name
            .entry(LowerName::new(&port_name))
            .or_insert_with(|| (port_name.clone(), Vec::new()));
        if !entry.1.iter().any(|(p, t)| *p == port.port && t == *target) {
            entry.1.push((port.port, (*target).clone()));
        }
    }
    for (owner, srvs) in by_name.into_values() {
        // Equal priority; the weights split 100 between the targets like CoreDNS.
        let weight = u16::try_from((100 / srvs.len().max(1)).max(1)).unwrap_or(1);
        let records = srvs
            .into_iter()
            .map(|(port, target)| {
                Record::from_rdata(
                    owner.clone(),
                    ttl,
                    RData::SRV(SRV::new(0, weight, port, target)),
                )
            })
            .collect();
        push(out, &owner, records);
    }
}

fn push(out: &mut RenderedNames, name: &Name, records: Vec<Record>) {
    let entry = out.entry(LowerName::new(name)).or_default();
    for record in records {
        if !entry.contains(&record) {
            entry.push(record);
        }
    }
}

pub(crate) fn address_record(name: &Name, ip: IpAddr, ttl: u32) -> Record {
    let data = match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(name.clone(), ttl, data)
}

fn ptr_record(ip: IpAddr, target: &Name, ttl: u32) -> Record {
    Record::from_rdata(
        names::reverse_name(ip),
        ttl,
        RData::PTR(PTR(target.clone())),
    )
}
