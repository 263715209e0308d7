//! berth's node agent: registers the node, keeps its Lease, and runs the
//! pods bound to it through CRI. See README.md for the flow.

pub mod agent;
pub mod cni;
pub mod config;
pub mod context;
pub mod events;
pub mod host;
pub mod node;
pub mod pod;
pub mod server;
pub mod sources;

pub use config::KubeletConfig;
