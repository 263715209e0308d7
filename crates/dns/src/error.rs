//! Errors of the cluster DNS server.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("invalid DNS zone {zone:?}: {reason}")]
    InvalidZone { zone: String, reason: String },
    #[error("bind {addr} ({transport}): {source}")]
    Bind {
        addr: SocketAddr,
        transport: &'static str,
        source: std::io::Error,
    },
    #[error("read resolv.conf {path}: {source}")]
    ResolvConf {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("DNS server stopped: {0}")]
    Server(String),
}

/// Why one forwarded query got no usable answer (the client then gets SERVFAIL).
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no upstream nameserver configured")]
    NoUpstream,
    #[error("every upstream nameserver is marked unreachable")]
    AllUpstreamsDown,
    #[error("upstream {addr}: timed out")]
    Timeout { addr: SocketAddr },
    #[error("upstream {addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("upstream {addr}: malformed answer: {reason}")]
    Malformed { addr: SocketAddr, reason: String },
    #[error("encode query: {0}")]
    Encode(String),
}
