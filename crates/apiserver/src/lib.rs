//! berth's Kubernetes API server: HTTPS REST + watch over a revisioned store.
//! See README.md for the request pipeline.

pub mod admission;
pub mod body;
pub mod bootstrap;
pub mod cache;
pub mod controllers;
pub mod convert;
pub mod delete;
pub mod discovery;
pub mod events;
pub mod eviction;
pub mod join;
pub mod limit_ranger;
pub mod list;
pub mod metrics;
pub mod metrics_api;
pub mod object_index;
pub mod patch;
pub mod pki;
pub mod proxy;
pub mod request;
pub mod resource_quota;
pub mod rest;
pub mod review;
pub mod server;
pub mod service_account_admission;
pub mod service_account_token;
pub mod strategy;
pub mod subresource;
pub mod table;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token_request;
pub mod watch;
pub mod watch_encode;
pub mod watch_index;

use admission::Cidr;
use berth_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// kube-apiserver's `--event-ttl` default.
pub const DEFAULT_EVENT_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Settings of one API server.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    pub service_cidr: Cidr,
    pub node_port_range: (i64, i64),
    /// The address other machines reach this server at (the `kubernetes` Service's endpoint).
    pub advertise_address: String,
    /// Extra names/IPs for the serving certificate.
    pub tls_sans: Vec<String>,
    /// Events are deleted this long after their last write
    /// (kube-apiserver's `--event-ttl`); zero keeps them forever.
    pub event_ttl: std::time::Duration,
}

impl Config {
    pub fn new(data_dir: PathBuf, https_port: u16) -> Self {
        Self {
            data_dir,
            bind: SocketAddr::from(([0, 0, 0, 0], https_port)),
            service_cidr: Cidr {
                base: std::net::Ipv4Addr::new(10, 43, 0, 0),
                prefix: 16,
            },
            node_port_range: (30000, 32767),
            advertise_address: "127.0.0.1".into(),
            tls_sans: vec![],
            event_ttl: DEFAULT_EVENT_TTL,
        }
    }
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn system() -> Self {
        Self {
            name: "system:apiserver".into(),
            groups: vec!["system:masters".into()],
        }
    }
}

/// Shared state of the running API server.
pub struct Server {
    pub store: Arc<dyn Store>,
    pub cache: Arc<cache::WatchCache>,
    pub openapi: Arc<berth_openapi::OpenApi>,
    pub config: Config,
    pub metrics: metrics::Metrics,
    pub pki: pki::Pki,
    /// Signs and verifies service account tokens (`pki.service_account_key`).
    pub tokens: service_account_token::TokenSigner,
    /// Serializes Service IP / node-port allocation.
    pub alloc_lock: Mutex<()>,
    pub pending_ips: Mutex<Vec<String>>,
    /// Serializes quota admission per namespace (as upstream's evaluator
    /// queues a namespace's requests), so the server's own charges never
    /// conflict with each other.
    pub quota_locks: resource_quota::NamespaceLocks,
}

pub use server::{start, Running, StartError};
