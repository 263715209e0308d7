//! berth-podspec: the pure translation from Kubernetes pods to CRI runtime.v1
//! configs, matching what the kubelet sends to containerd.
//!
//! Nothing here does I/O except [`resolve_env`], which reads ConfigMaps,
//! Secrets and Services through the caller's [`EnvSource`].

mod container;
mod dns;
mod env;
mod error;
mod expand;
mod image_name;
pub mod labels;
mod podutil;
mod qos;
mod quantity;
mod resources;
mod sandbox;
mod security;

#[cfg(test)]
mod tests;

pub use berth_cri::api;
pub use container::{container_config, container_log_path, ContainerContext};
pub use dns::{dns_config, parse_resolv_conf, ResolvConf};
pub use env::{resolve_env, Allocatable, EnvSource, PodFacts};
pub use error::SpecError;
pub use expand::expand;
pub use image_name::apply_default_image_tag;
pub use qos::{oom_score_adj, qos_class, BEST_EFFORT, BURSTABLE, GUARANTEED};
pub use resources::{
    linux_resources, milli_cpu_to_quota, milli_cpu_to_shares, sandbox_overhead, sandbox_resources,
    QUOTA_PERIOD,
};
pub use sandbox::{pod_hostname, port_mappings, sandbox_config, SandboxOptions};
pub use security::{
    security_context, verify_run_as_non_root, ImageUser, SecurityDefaults, DEFAULT_MASKED_PATHS,
    DEFAULT_READONLY_PATHS,
};
