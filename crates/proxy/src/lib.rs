//! berth-proxy: berth's kube-proxy. Services, EndpointSlices and
//! NetworkPolicies rendered into one nftables table, `table ip berth`,
//! applied atomically with `nft -f -`. See README.md for the table layout.

pub mod cidr;
pub mod config;
pub mod diff;
pub mod endpoints;
pub mod error;
pub mod fixtures;
pub mod names;
pub mod netns;
pub mod nft;
pub mod policy;
pub mod render;
pub mod ruleset;
pub mod runner;
pub mod selector;
pub mod services;
pub mod skeleton;
pub mod syncer;

pub use cidr::Ipv4Cidr;
pub use config::{NftTarget, NodeFacts, ProxyConfig};
pub use diff::diff_script;
pub use error::ProxyError;
pub use nft::{cleanup_table, Nft};
pub use render::{render, ClusterObjects};
pub use ruleset::{Ruleset, FAMILY, TABLE};
pub use runner::{cleanup, ensure_bridge_netfilter, run};
pub use syncer::{SyncKind, SyncReport, Syncer};
