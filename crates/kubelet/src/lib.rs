//! berth's node agent: registers the node, keeps its Lease, and runs the
//! pods bound to it through CRI. See README.md for the flow.

pub mod agent;
pub mod cni;
pub mod config;
pub mod context;
pub mod credentials;
pub mod events;
pub mod forward_rules;
pub mod gc;
pub mod host;
pub mod node;
pub mod pod;
pub mod pressure;
pub mod routes;
pub mod server;
pub mod service_cache;
pub mod sources;
pub mod stats;
pub mod ttl_cache;

#[cfg(test)]
mod testutil;

pub use config::{EvictionThresholds, KubeletConfig, NodeCapacity};
