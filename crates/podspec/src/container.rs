//! CreateContainer's config (`generateContainerConfig`).

use std::collections::HashMap;

use berth_cri::api;
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::error::SpecError;
use crate::expand::expand;
use crate::image_name::apply_default_image_tag;
use crate::labels;
use crate::resources;
use crate::security::{self, ImageUser, SecurityDefaults};

/// What the node agent has resolved for one container start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerContext {
    /// Final environment, from [`crate::resolve_env`].
    pub env: Vec<(String, String)>,
    /// Volume mounts plus /etc/hosts, /dev/termination-log etc. The caller
    /// creates the termination-message file (an empty 0666 file under the
    /// pod's container dir) and adds its mount for
    /// `container.terminationMessagePath` here; this crate does no I/O.
    pub mounts: Vec<api::Mount>,
    pub restart_count: u32,
    /// Resolved image reference (the image ID/digest from PullImage); empty
    /// means use the container's image with the default tag applied.
    pub image: String,
    /// Log path relative to the sandbox log dir; empty means
    /// [`container_log_path`] (`<container>/<restartCount>.log`).
    pub log_path: String,
    /// The image's user from ImageStatus (for runAsUser and runAsNonRoot).
    pub image_user: ImageUser,
    /// Node memory capacity in bytes, for the Burstable OOM score.
    pub node_memory_capacity: i64,
    pub security: SecurityDefaults,
}

/// `<container>/<restartCount>.log`, relative to the sandbox log directory.
pub fn container_log_path(container_name: &str, restart_count: u32) -> String {
    format!("{container_name}/{restart_count}.log")
}

/// The CreateContainer config for `container` of `pod`.
///
/// Command and args get `$(VAR)` expansion against `ctx.env`; labels and
/// annotations are the kubelet's (see [`crate::labels`]). Fails with
/// `InvalidImageName` for an unparseable image and
/// `CreateContainerConfigError` for runAsNonRoot violations or bad
/// seccomp/AppArmor profiles, with the kubelet's messages.
pub fn container_config(
    pod: &Pod,
    container: &Container,
    ctx: &ContainerContext,
) -> Result<api::ContainerConfig, SpecError> {
    let user_image = container.image.clone().unwrap_or_default();
    let defaulted = apply_default_image_tag(&user_image)?;
    let image = if ctx.image.is_empty() {
        defaulted
    } else {
        ctx.image.clone()
    };

    security::verify_run_as_non_root(pod, container, &ctx.image_user)?;
    let security_context =
        security::security_context(pod, container, &ctx.security, &ctx.image_user)?;

    // Later duplicates win, as in the kubelet's env map.
    let env_map: HashMap<&str, &str> = ctx
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let lookup = |name: &str| env_map.get(name).map(|v| v.to_string());
    let expand_all = |list: &Option<Vec<String>>| -> Vec<String> {
        list.iter().flatten().map(|s| expand(s, &lookup)).collect()
    };

    let log_path = if ctx.log_path.is_empty() {
        container_log_path(&container.name, ctx.restart_count)
    } else {
        ctx.log_path.clone()
    };

    Ok(api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: container.name.clone(),
            attempt: ctx.restart_count,
        }),
        image: Some(api::ImageSpec {
            image,
            user_specified_image: user_image,
            ..Default::default()
        }),
        command: expand_all(&container.command),
        args: expand_all(&container.args),
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs: ctx
            .env
            .iter()
            .map(|(key, value)| api::KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        mounts: ctx.mounts.clone(),
        devices: Vec::new(),
        labels: labels::container_labels(pod, container),
        annotations: labels::container_annotations(pod, container, ctx.restart_count),
        log_path,
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        tty: container.tty.unwrap_or(false),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(resources::linux_resources(
                pod,
                container,
                ctx.node_memory_capacity,
            )),
            security_context: Some(security_context),
        }),
        windows: None,
        cdi_devices: Vec::new(),
    })
}
