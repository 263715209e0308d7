//! Linux security contexts for containers and sandboxes: users and groups,
//! capabilities, privilege, seccomp, AppArmor, masked /proc paths, namespaces.

use std::collections::HashMap;
use std::path::PathBuf;

use berth_cri::api;
use berth_cri::api::security_profile::ProfileType;
use k8s_openapi::api::core::v1::{
    AppArmorProfile, Capabilities, Container, Pod, SELinuxOptions, SeccompProfile,
};

use crate::error::SpecError;
use crate::podutil::{self, spec};

/// Node-level inputs to the security context that come from kubelet config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDefaults {
    /// Where `Localhost` seccomp profiles live (`<kubelet root>/seccomp`).
    pub seccomp_profile_root: PathBuf,
    /// The kubelet's `seccompDefault`: RuntimeDefault instead of Unconfined
    /// for containers that name no profile.
    pub seccomp_default: bool,
}

impl Default for SecurityDefaults {
    fn default() -> Self {
        SecurityDefaults {
            seccomp_profile_root: PathBuf::from("/var/lib/kubelet/seccomp"),
            seccomp_default: false,
        }
    }
}

/// The user an image runs as, from the runtime's ImageStatus (`uid` when the
/// image's USER is numeric, `username` when it is a name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    pub uid: Option<i64>,
    pub username: String,
}

impl Default for ImageUser {
    /// An image that names no user runs as root, as the kubelet assumes.
    fn default() -> Self {
        ImageUser {
            uid: Some(0),
            username: String::new(),
        }
    }
}

/// Paths the runtime masks in /proc and /sys unless `procMount: Unmasked`
/// (must match what the kubelet of the API version we serve sends).
pub const DEFAULT_MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths the runtime mounts read-only unless `procMount: Unmasked`.
pub const DEFAULT_READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The pod's security context merged with the container's (container wins),
/// like `securitycontext.DetermineEffectiveSecurityContext`.
#[derive(Debug, Default, Clone)]
struct Effective {
    selinux: Option<SELinuxOptions>,
    run_as_user: Option<i64>,
    run_as_group: Option<i64>,
    run_as_non_root: Option<bool>,
    capabilities: Option<Capabilities>,
    privileged: Option<bool>,
    read_only_root_filesystem: Option<bool>,
    allow_privilege_escalation: Option<bool>,
    proc_mount: Option<String>,
}

fn effective(pod: &Pod, container: &Container) -> Effective {
    let mut e = Effective::default();
    if let Some(p) = spec(pod).get().and_then(|s| s.security_context.as_ref()) {
        e.selinux = p.se_linux_options.clone();
        e.run_as_user = p.run_as_user;
        e.run_as_group = p.run_as_group;
        e.run_as_non_root = p.run_as_non_root;
    }
    if let Some(c) = container.security_context.as_ref() {
        if c.se_linux_options.is_some() {
            e.selinux = c.se_linux_options.clone();
        }
        e.run_as_user = c.run_as_user.or(e.run_as_user);
        e.run_as_group = c.run_as_group.or(e.run_as_group);
        e.run_as_non_root = c.run_as_non_root.or(e.run_as_non_root);
        e.capabilities = c.capabilities.clone();
        e.privileged = c.privileged;
        e.read_only_root_filesystem = c.read_only_root_filesystem;
        e.allow_privilege_escalation = c.allow_privilege_escalation;
        e.proc_mount = c.proc_mount.clone();
    }
    e
}

fn selinux(o: &SELinuxOptions) -> api::SeLinuxOption {
    api::SeLinuxOption {
        user: o.user.clone().unwrap_or_default(),
        role: o.role.clone().unwrap_or_default(),
        r#type: o.type_.clone().unwrap_or_default(),
        level: o.level.clone().unwrap_or_default(),
    }
}

/// Capabilities are passed through verbatim, as the kubelet does: the API
/// takes names without `CAP_` (e.g. `NET_ADMIN`, `ALL`) and the runtime adds
/// the prefix itself.
fn capabilities(c: &Capabilities) -> api::Capability {
    api::Capability {
        add_capabilities: c.add.clone().unwrap_or_default(),
        drop_capabilities: c.drop.clone().unwrap_or_default(),
        add_ambient_capabilities: Vec::new(),
    }
}

fn profile(kind: ProfileType, localhost_ref: String) -> api::SecurityProfile {
    api::SecurityProfile {
        profile_type: kind as i32,
        localhost_ref,
    }
}

fn seccomp_field(
    p: &SeccompProfile,
    defaults: &SecurityDefaults,
) -> Result<api::SecurityProfile, SpecError> {
    match p.type_.as_str() {
        "RuntimeDefault" => Ok(profile(ProfileType::RuntimeDefault, String::new())),
        "Localhost" => match p.localhost_profile.as_deref() {
            Some(name) if !name.is_empty() => {
                let path = defaults.seccomp_profile_root.join(name);
                Ok(profile(
                    ProfileType::Localhost,
                    path.to_string_lossy().into_owned(),
                ))
            }
            _ => Err(SpecError::config(
                "localhostProfile must be set if seccompProfile type is Localhost.",
            )),
        },
        _ => Ok(profile(ProfileType::Unconfined, String::new())),
    }
}

/// Container seccomp: the container's field, else the pod's, else
/// RuntimeDefault with `seccompDefault`, else Unconfined.
fn seccomp(
    pod: &Pod,
    container: &Container,
    defaults: &SecurityDefaults,
) -> Result<api::SecurityProfile, SpecError> {
    let from_container = container
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref());
    let from_pod = spec(pod)
        .get()
        .and_then(|s| s.security_context.as_ref())
        .and_then(|s| s.seccomp_profile.as_ref());
    match from_container.or(from_pod) {
        Some(p) => seccomp_field(p, defaults),
        None if defaults.seccomp_default => Ok(profile(ProfileType::RuntimeDefault, String::new())),
        None => Ok(profile(ProfileType::Unconfined, String::new())),
    }
}

/// AppArmor: the container's field, else the deprecated per-container
/// annotation, else the pod's field. Returns the profile and the deprecated
/// string form (`runtime/default`, `unconfined`, `localhost/<name>`).
fn apparmor(
    pod: &Pod,
    container: &Container,
) -> Result<Option<(api::SecurityProfile, String)>, SpecError> {
    let annotation_key = format!(
        "container.apparmor.security.beta.kubernetes.io/{}",
        container.name
    );
    let from_annotation = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(&annotation_key))
        .and_then(|v| match v.as_str() {
            "runtime/default" => Some(AppArmorProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None,
            }),
            "unconfined" => Some(AppArmorProfile {
                type_: "Unconfined".into(),
                localhost_profile: None,
            }),
            other => other
                .strip_prefix("localhost/")
                .map(|name| AppArmorProfile {
                    type_: "Localhost".into(),
                    localhost_profile: Some(name.to_string()),
                }),
        });
    let chosen = container
        .security_context
        .as_ref()
        .and_then(|s| s.app_armor_profile.clone())
        .or(from_annotation)
        .or_else(|| {
            spec(pod)
                .get()
                .and_then(|s| s.security_context.as_ref())
                .and_then(|s| s.app_armor_profile.clone())
        });
    let Some(p) = chosen else {
        return Ok(None);
    };
    match p.type_.as_str() {
        "RuntimeDefault" => Ok(Some((
            profile(ProfileType::RuntimeDefault, String::new()),
            "runtime/default".into(),
        ))),
        "Unconfined" => Ok(Some((
            profile(ProfileType::Unconfined, String::new()),
            "unconfined".into(),
        ))),
        "Localhost" => match p.localhost_profile.as_deref() {
            Some(name) if !name.is_empty() => Ok(Some((
                profile(ProfileType::Localhost, name.to_string()),
                format!("localhost/{name}"),
            ))),
            _ => Err(SpecError::config("missing localhost apparmor profile name")),
        },
        other => Err(SpecError::config(format!(
            "unknown apparmor profile type: {other:?}"
        ))),
    }
}

/// Namespace modes for every container of the pod and its sandbox: network
/// and IPC are the node's with hostNetwork/hostIPC, else the pod's; PID is the
/// node's with hostPID, the pod's with shareProcessNamespace, else per
/// container; the user namespace is the node's.
pub(crate) fn namespace_options(pod: &Pod) -> Result<api::NamespaceOption, String> {
    let s = spec(pod).get();
    let flag = |f: fn(&k8s_openapi::api::core::v1::PodSpec) -> Option<bool>| {
        s.and_then(f).unwrap_or(false)
    };
    if s.and_then(|s| s.host_users) == Some(false) {
        // User namespaces need id mappings the node agent does not allocate yet.
        return Err(
            "pods with hostUsers: false (user namespaces) are not supported on this node".into(),
        );
    }
    let mode = |node: bool| {
        if node {
            api::NamespaceMode::Node
        } else {
            api::NamespaceMode::Pod
        }
    };
    let pid = if flag(|s| s.host_pid) {
        api::NamespaceMode::Node
    } else if flag(|s| s.share_process_namespace) {
        api::NamespaceMode::Pod
    } else {
        api::NamespaceMode::Container
    };
    Ok(api::NamespaceOption {
        network: mode(flag(|s| s.host_network)) as i32,
        pid: pid as i32,
        ipc: mode(flag(|s| s.host_ipc)) as i32,
        target_id: String::new(),
        userns_options: Some(api::UserNamespace {
            mode: api::NamespaceMode::Node as i32,
            uids: Vec::new(),
            gids: Vec::new(),
        }),
    })
}

fn supplemental_groups_policy(pod: &Pod) -> Result<i32, String> {
    let policy = spec(pod)
        .get()
        .and_then(|s| s.security_context.as_ref())
        .and_then(|s| s.supplemental_groups_policy.as_deref());
    match policy {
        None | Some("Merge") => Ok(api::SupplementalGroupsPolicy::Merge as i32),
        Some("Strict") => Ok(api::SupplementalGroupsPolicy::Strict as i32),
        Some(other) => Err(format!("unsupported supplementalGroupsPolicy: {other}")),
    }
}

/// fsGroup first, then supplementalGroups, as the kubelet orders them.
fn pod_supplemental_groups(pod: &Pod) -> Vec<i64> {
    let Some(sc) = spec(pod).get().and_then(|s| s.security_context.as_ref()) else {
        return Vec::new();
    };
    sc.fs_group
        .into_iter()
        .chain(sc.supplemental_groups.iter().flatten().copied())
        .collect()
}

/// The container's Linux security context as the kubelet sends it in
/// CreateContainer. `image_user` fills `run_as_user`/`run_as_username` when
/// neither pod nor container sets `runAsUser`.
pub fn security_context(
    pod: &Pod,
    container: &Container,
    defaults: &SecurityDefaults,
    image_user: &ImageUser,
) -> Result<api::LinuxContainerSecurityContext, SpecError> {
    let e = effective(pod, container);
    let unmasked = e.proc_mount.as_deref() == Some("Unmasked");
    let (masked_paths, readonly_paths) = if unmasked {
        (Vec::new(), Vec::new())
    } else {
        (
            DEFAULT_MASKED_PATHS.iter().map(|p| p.to_string()).collect(),
            DEFAULT_READONLY_PATHS
                .iter()
                .map(|p| p.to_string())
                .collect(),
        )
    };
    let apparmor = apparmor(pod, container)?;
    let (run_as_user, run_as_username) = match e.run_as_user {
        Some(uid) => (Some(uid), String::new()),
        None => (image_user.uid, image_user.username.clone()),
    };
    #[allow(deprecated)] // apparmor_profile: still filled for older runtimes, like the kubelet does
    let sc = api::LinuxContainerSecurityContext {
        capabilities: e.capabilities.as_ref().map(capabilities),
        privileged: e.privileged.unwrap_or(false),
        namespace_options: Some(namespace_options(pod).map_err(SpecError::config)?),
        selinux_options: e.selinux.as_ref().map(selinux),
        run_as_user: run_as_user.map(|value| api::Int64Value { value }),
        run_as_group: e.run_as_group.map(|value| api::Int64Value { value }),
        run_as_username,
        readonly_rootfs: e.read_only_root_filesystem.unwrap_or(false),
        supplemental_groups: pod_supplemental_groups(pod),
        supplemental_groups_policy: supplemental_groups_policy(pod).map_err(SpecError::config)?,
        // no_new_privs only when allowPrivilegeEscalation is explicitly false.
        no_new_privs: e.allow_privilege_escalation == Some(false),
        masked_paths,
        readonly_paths,
        seccomp: Some(seccomp(pod, container, defaults)?),
        apparmor_profile: apparmor
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_default(),
        apparmor: apparmor.map(|(p, _)| p),
        seccomp_profile_path: String::new(),
    };
    Ok(sc)
}

/// The kubelet's `verifyRunAsNonRoot`: with `runAsNonRoot: true` the effective
/// user must be provably non-zero.
pub fn verify_run_as_non_root(
    pod: &Pod,
    container: &Container,
    image_user: &ImageUser,
) -> Result<(), SpecError> {
    let e = effective(pod, container);
    if e.run_as_non_root != Some(true) {
        return Ok(());
    }
    let who = format!(
        "(pod: {:?}, container: {})",
        podutil::format_pod(pod),
        container.name
    );
    if let Some(uid) = e.run_as_user {
        if uid == 0 {
            return Err(SpecError::config(format!(
                "container's runAsUser breaks non-root policy {who}"
            )));
        }
        return Ok(());
    }
    match image_user.uid {
        Some(0) => Err(SpecError::config(format!("container has runAsNonRoot and image will run as root {who}"))),
        None if !image_user.username.is_empty() => Err(SpecError::config(format!(
            "container has runAsNonRoot and image has non-numeric user ({}), cannot verify user is non-root {who}",
            image_user.username
        ))),
        _ => Ok(()),
    }
}

/// Whether any container of the pod (init, regular, ephemeral) is privileged.
fn has_privileged_container(pod: &Pod) -> bool {
    let s = spec(pod);
    let privileged = |sc: Option<&k8s_openapi::api::core::v1::SecurityContext>| {
        sc.and_then(|sc| sc.privileged).unwrap_or(false)
    };
    s.containers()
        .iter()
        .chain(s.init_containers())
        .any(|c| privileged(c.security_context.as_ref()))
        || s.get()
            .and_then(|s| s.ephemeral_containers.as_ref())
            .is_some_and(|e| e.iter().any(|c| privileged(c.security_context.as_ref())))
}

/// The sandbox's security context and sysctls (`generatePodSandboxLinuxConfig`).
/// The sandbox always runs with the runtime's default seccomp profile.
pub(crate) fn sandbox_security_context(
    pod: &Pod,
) -> Result<(api::LinuxSandboxSecurityContext, HashMap<String, String>), String> {
    let sc = spec(pod).get().and_then(|s| s.security_context.as_ref());
    let sysctls = sc
        .and_then(|sc| sc.sysctls.as_ref())
        .map(|list| {
            list.iter()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    #[allow(deprecated)]
    let out = api::LinuxSandboxSecurityContext {
        namespace_options: Some(namespace_options(pod)?),
        selinux_options: sc.and_then(|sc| sc.se_linux_options.as_ref()).map(selinux),
        run_as_user: sc
            .and_then(|sc| sc.run_as_user)
            .map(|value| api::Int64Value { value }),
        run_as_group: sc
            .and_then(|sc| sc.run_as_group)
            .map(|value| api::Int64Value { value }),
        readonly_rootfs: false,
        supplemental_groups: pod_supplemental_groups(pod),
        supplemental_groups_policy: supplemental_groups_policy(pod)?,
        privileged: has_privileged_container(pod),
        seccomp: Some(profile(ProfileType::RuntimeDefault, String::new())),
        apparmor: None,
        seccomp_profile_path: String::new(),
    };
    Ok((out, sysctls))
}
