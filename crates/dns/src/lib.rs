//! berth-dns: the cluster DNS server (the equivalent of CoreDNS with its
//! `kubernetes` and `forward` plugins). See README.md.

mod config;
mod error;
pub mod fixtures;
mod forward;
mod handler;
mod model;
mod names;
mod pods;
mod records;
mod render;
mod resolv_conf;
mod server;
mod watch;

pub use config::{DnsConfig, PodMode};
pub use error::{DnsError, ForwardError};
pub use forward::Forwarder;
pub use handler::{DnsHandler, Reply};
pub use model::SERVICE_NAME_LABEL;
pub use names::{dashed_ip, ip_from_dashed, reverse_name};
pub use records::{ClusterRecords, Lookup, DNS_SCHEMA_VERSION};
pub use resolv_conf::{parse_nameservers, without_self};
pub use server::{serve, RunningDns};
pub use watch::{run, start, ClusterDns};

/// Re-export of the hickory crates the public API speaks in.
pub use hickory_server;
pub use hickory_server::proto;

use std::sync::Arc;

/// Builds the handler `cfg` describes: an empty cluster zone and the upstreams
/// (explicit ones, else the resolv.conf nameservers minus ourselves). A missing
/// resolv.conf leaves no upstream: outside names then get SERVFAIL at once.
pub fn handler_for(cfg: &DnsConfig) -> Result<DnsHandler, DnsError> {
    let records = Arc::new(ClusterRecords::new(&cfg.zone, cfg.ttl, cfg.pods)?);
    if !cfg.bind.ip().is_unspecified() {
        records.set_nameserver_address(Some(cfg.bind.ip()));
    }
    let upstreams = if cfg.upstream_servers.is_empty() {
        match resolv_conf::read_nameservers(&cfg.upstream_resolv_conf) {
            Ok(servers) => servers,
            Err(error) => {
                tracing::warn!(%error, "no upstream nameservers");
                Vec::new()
            }
        }
    } else {
        cfg.upstream_servers.clone()
    };
    let upstreams = without_self(upstreams, cfg.bind);
    tracing::info!(?upstreams, zone = %cfg.zone, "cluster DNS upstreams");
    let forwarder = Arc::new(Forwarder::new(upstreams, cfg.upstream_timeout));
    Ok(DnsHandler::new(records, forwarder))
}
