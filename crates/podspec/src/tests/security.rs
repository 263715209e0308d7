use std::path::PathBuf;

use serde_json::{json, Value};

use super::fixtures::{first_container, nginx, pod, pod_json, UID};
use crate::api::{self, security_profile::ProfileType};
use crate::{
    security_context, verify_run_as_non_root, ImageUser, SecurityDefaults, SpecError,
    DEFAULT_MASKED_PATHS,
};

fn sc_for(
    container: Value,
    spec: Value,
    defaults: &SecurityDefaults,
    user: &ImageUser,
) -> Result<api::LinuxContainerSecurityContext, SpecError> {
    let p = pod(pod_json("nginx", "default", container, spec));
    security_context(&p, &first_container(&p), defaults, user)
}

fn seccomp_of(sc: &api::LinuxContainerSecurityContext) -> (i32, String) {
    sc.seccomp
        .clone()
        .map(|s| (s.profile_type, s.localhost_ref))
        .unwrap_or_default()
}

#[test]
fn nginx_defaults() {
    let p = nginx();
    let sc = security_context(
        &p,
        &first_container(&p),
        &SecurityDefaults::default(),
        &ImageUser::default(),
    )
    .expect("sc");
    // The image runs as root: the kubelet passes uid 0 explicitly.
    assert_eq!(sc.run_as_user, Some(api::Int64Value { value: 0 }));
    assert_eq!(sc.run_as_group, None);
    assert!(!sc.privileged && !sc.readonly_rootfs && !sc.no_new_privs);
    assert_eq!(sc.capabilities, None);
    assert_eq!(sc.masked_paths.len(), DEFAULT_MASKED_PATHS.len());
    assert_eq!(
        sc.masked_paths.first().map(String::as_str),
        Some("/proc/asound")
    );
    assert_eq!(
        sc.readonly_paths,
        vec![
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger"
        ]
    );
    assert_eq!(
        seccomp_of(&sc),
        (ProfileType::Unconfined as i32, String::new())
    );
    assert_eq!(sc.apparmor, None);
    assert!(sc.supplemental_groups.is_empty());
    assert_eq!(
        sc.namespace_options.map(|n| n.pid),
        Some(api::NamespaceMode::Container as i32)
    );
}

#[test]
fn users_groups_capabilities_and_privileges() {
    let sc = sc_for(
        json!({ "securityContext": {
            "runAsUser": 2000,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": { "add": ["NET_ADMIN", "SYS_TIME"], "drop": ["ALL"] },
        } }),
        json!({ "securityContext": { "runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000, "supplementalGroups": [4000] } }),
        &SecurityDefaults::default(),
        &ImageUser::default(),
    )
    .expect("sc");
    assert_eq!(
        sc.run_as_user,
        Some(api::Int64Value { value: 2000 }),
        "container overrides pod"
    );
    assert_eq!(
        sc.run_as_group,
        Some(api::Int64Value { value: 3000 }),
        "pod's group is inherited"
    );
    assert_eq!(sc.run_as_username, "");
    assert_eq!(sc.supplemental_groups, vec![2000, 4000], "fsGroup first");
    assert!(sc.no_new_privs);
    assert!(sc.readonly_rootfs);
    assert_eq!(
        sc.capabilities,
        Some(api::Capability {
            add_capabilities: vec!["NET_ADMIN".into(), "SYS_TIME".into()],
            drop_capabilities: vec!["ALL".into()],
            add_ambient_capabilities: vec![],
        })
    );

    let cases: Vec<(Value, bool, bool)> = vec![
        // (container securityContext, privileged, no_new_privs)
        (json!({}), false, false),
        (json!({ "allowPrivilegeEscalation": true }), false, false),
        (json!({ "allowPrivilegeEscalation": false }), false, true),
        (json!({ "privileged": true }), true, false),
        (
            json!({ "privileged": false, "allowPrivilegeEscalation": false }),
            false,
            true,
        ),
    ];
    for (c, privileged, nnp) in cases {
        let sc = sc_for(
            json!({ "securityContext": c.clone() }),
            json!({}),
            &SecurityDefaults::default(),
            &ImageUser::default(),
        )
        .expect("sc");
        assert_eq!((sc.privileged, sc.no_new_privs), (privileged, nnp), "{c}");
    }
}

#[test]
fn image_user_fills_in_when_unset() {
    let named = ImageUser {
        uid: None,
        username: "nginx".into(),
    };
    let sc = sc_for(json!({}), json!({}), &SecurityDefaults::default(), &named).expect("sc");
    assert_eq!(sc.run_as_user, None);
    assert_eq!(sc.run_as_username, "nginx");
    let numeric = ImageUser {
        uid: Some(101),
        username: String::new(),
    };
    let sc = sc_for(json!({}), json!({}), &SecurityDefaults::default(), &numeric).expect("sc");
    assert_eq!(sc.run_as_user, Some(api::Int64Value { value: 101 }));
}

/// (case, container securityContext, pod securityContext, defaults, expected seccomp)
type SeccompCase<'a> = (
    &'a str,
    Value,
    Value,
    &'a SecurityDefaults,
    Result<(i32, String), SpecError>,
);

#[test]
fn seccomp_profiles() {
    let root = SecurityDefaults {
        seccomp_profile_root: PathBuf::from("/var/lib/berth/seccomp"),
        seccomp_default: false,
    };
    let with_default = SecurityDefaults {
        seccomp_default: true,
        ..root.clone()
    };
    let cases: Vec<SeccompCase> = vec![
        (
            "none set",
            json!({}),
            json!({}),
            &root,
            Ok((ProfileType::Unconfined as i32, String::new())),
        ),
        (
            "seccompDefault",
            json!({}),
            json!({}),
            &with_default,
            Ok((ProfileType::RuntimeDefault as i32, String::new())),
        ),
        (
            "pod RuntimeDefault",
            json!({}),
            json!({ "securityContext": { "seccompProfile": { "type": "RuntimeDefault" } } }),
            &root,
            Ok((ProfileType::RuntimeDefault as i32, String::new())),
        ),
        (
            "container Unconfined beats pod RuntimeDefault",
            json!({ "securityContext": { "seccompProfile": { "type": "Unconfined" } } }),
            json!({ "securityContext": { "seccompProfile": { "type": "RuntimeDefault" } } }),
            &with_default,
            Ok((ProfileType::Unconfined as i32, String::new())),
        ),
        (
            "Localhost",
            json!({ "securityContext": { "seccompProfile": { "type": "Localhost", "localhostProfile": "profiles/audit.json" } } }),
            json!({}),
            &root,
            Ok((
                ProfileType::Localhost as i32,
                "/var/lib/berth/seccomp/profiles/audit.json".into(),
            )),
        ),
        (
            "Localhost without a profile",
            json!({ "securityContext": { "seccompProfile": { "type": "Localhost" } } }),
            json!({}),
            &root,
            Err(SpecError::CreateContainerConfigError(
                "localhostProfile must be set if seccompProfile type is Localhost.".into(),
            )),
        ),
    ];
    for (name, c, s, defaults, want) in cases {
        let got = sc_for(c, s, defaults, &ImageUser::default()).map(|sc| seccomp_of(&sc));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn proc_mount_and_apparmor() {
    let sc = sc_for(
        json!({ "securityContext": { "procMount": "Unmasked" } }),
        json!({}),
        &SecurityDefaults::default(),
        &ImageUser::default(),
    )
    .expect("sc");
    assert!(sc.masked_paths.is_empty() && sc.readonly_paths.is_empty());

    let sc = sc_for(
        json!({ "securityContext": { "appArmorProfile": { "type": "Localhost", "localhostProfile": "k8s-apparmor-example-deny-write" } } }),
        json!({ "securityContext": { "appArmorProfile": { "type": "RuntimeDefault" } } }),
        &SecurityDefaults::default(),
        &ImageUser::default(),
    )
    .expect("sc");
    assert_eq!(
        sc.apparmor.map(|a| (a.profile_type, a.localhost_ref)),
        Some((
            ProfileType::Localhost as i32,
            "k8s-apparmor-example-deny-write".into()
        ))
    );
    #[allow(deprecated)]
    let deprecated = sc.apparmor_profile.clone();
    assert_eq!(deprecated, "localhost/k8s-apparmor-example-deny-write");

    let mut v = pod_json("nginx", "default", json!({ "name": "nginx" }), json!({}));
    super::fixtures::merge(
        &mut v,
        json!({ "metadata": { "annotations": { "container.apparmor.security.beta.kubernetes.io/nginx": "unconfined" } } }),
    );
    let p = pod(v);
    let sc = security_context(
        &p,
        &first_container(&p),
        &SecurityDefaults::default(),
        &ImageUser::default(),
    )
    .expect("sc");
    assert_eq!(
        sc.apparmor.map(|a| a.profile_type),
        Some(ProfileType::Unconfined as i32)
    );
}

#[test]
fn run_as_non_root() {
    let who = format!("(pod: \"nginx_default({UID})\", container: app)");
    let root = ImageUser::default();
    let named = ImageUser {
        uid: None,
        username: "www".into(),
    };
    let nonroot = ImageUser {
        uid: Some(101),
        username: String::new(),
    };
    let cases: Vec<(Value, Value, &ImageUser, Result<(), SpecError>)> = vec![
        (json!({}), json!({}), &root, Ok(())),
        (json!({}), json!({ "securityContext": { "runAsNonRoot": true } }), &nonroot, Ok(())),
        (
            json!({}),
            json!({ "securityContext": { "runAsNonRoot": true } }),
            &root,
            Err(SpecError::CreateContainerConfigError(format!("container has runAsNonRoot and image will run as root {who}"))),
        ),
        (
            json!({ "securityContext": { "runAsNonRoot": true, "runAsUser": 0 } }),
            json!({}),
            &nonroot,
            Err(SpecError::CreateContainerConfigError(format!("container's runAsUser breaks non-root policy {who}"))),
        ),
        (json!({ "securityContext": { "runAsNonRoot": true } }), json!({ "securityContext": { "runAsUser": 1000 } }), &root, Ok(())),
        (
            json!({ "securityContext": { "runAsNonRoot": true } }),
            json!({}),
            &named,
            Err(SpecError::CreateContainerConfigError(format!(
                "container has runAsNonRoot and image has non-numeric user (www), cannot verify user is non-root {who}"
            ))),
        ),
        // The container can switch the pod's policy off.
        (json!({ "securityContext": { "runAsNonRoot": false } }), json!({ "securityContext": { "runAsNonRoot": true } }), &root, Ok(())),
    ];
    for (c, s, user, want) in cases {
        let p = pod(pod_json("nginx", "default", c.clone(), s.clone()));
        assert_eq!(
            verify_run_as_non_root(&p, &first_container(&p), user),
            want,
            "container {c} pod {s}"
        );
    }
}
