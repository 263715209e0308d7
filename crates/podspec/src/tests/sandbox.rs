use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::json;

use super::fixtures::{nginx, pod, pod_json, UID};
use crate::api::{self, security_profile::ProfileType, NamespaceMode, Protocol};
use crate::{pod_hostname, port_mappings, sandbox_config, SandboxOptions, SpecError};

fn opts() -> SandboxOptions {
    SandboxOptions {
        log_dir: PathBuf::from(format!("/var/lib/berth/pods/default_nginx_{UID}")),
        dns: Some(api::DnsConfig {
            servers: vec!["10.96.0.10".into()],
            searches: vec!["default.svc.cluster.local".into()],
            options: vec!["ndots:5".into()],
        }),
        cgroup_parent: Some("/kubepods/besteffort/pod7f3c".into()),
        attempt: 0,
        cluster_domain: "cluster.local".into(),
    }
}

fn linux(cfg: &api::PodSandboxConfig) -> &api::LinuxPodSandboxConfig {
    match cfg.linux.as_ref() {
        Some(l) => l,
        None => panic!("sandbox config without linux part"),
    }
}

fn ns_options(cfg: &api::PodSandboxConfig) -> api::NamespaceOption {
    linux(cfg)
        .security_context
        .as_ref()
        .and_then(|s| s.namespace_options.clone())
        .unwrap_or_default()
}

#[test]
fn nginx_sandbox_matches_kubelet() {
    let cfg = sandbox_config(&nginx(), &opts()).expect("nginx sandbox config");
    assert_eq!(
        cfg.metadata,
        Some(api::PodSandboxMetadata {
            name: "nginx".into(),
            uid: UID.into(),
            namespace: "default".into(),
            attempt: 0,
        })
    );
    assert_eq!(cfg.hostname, "nginx");
    assert_eq!(
        cfg.log_directory,
        format!("/var/lib/berth/pods/default_nginx_{UID}")
    );
    assert_eq!(cfg.dns_config, opts().dns);
    // Ports without hostPort are still passed; portmap ignores them.
    assert_eq!(
        cfg.port_mappings,
        vec![api::PortMapping {
            protocol: Protocol::Tcp as i32,
            container_port: 80,
            host_port: 0,
            host_ip: String::new(),
        }]
    );
    let labels: HashMap<String, String> = HashMap::from([
        ("io.kubernetes.pod.name".into(), "nginx".into()),
        ("io.kubernetes.pod.namespace".into(), "default".into()),
        ("io.kubernetes.pod.uid".into(), UID.into()),
    ]);
    assert_eq!(cfg.labels, labels);
    assert!(cfg.annotations.is_empty());

    let l = linux(&cfg);
    assert_eq!(l.cgroup_parent, "/kubepods/besteffort/pod7f3c");
    assert!(l.sysctls.is_empty());
    let sc = l.security_context.clone().unwrap_or_default();
    assert!(!sc.privileged);
    assert_eq!(sc.run_as_user, None);
    assert_eq!(
        sc.seccomp.map(|s| s.profile_type),
        Some(ProfileType::RuntimeDefault as i32)
    );
    let ns = ns_options(&cfg);
    assert_eq!(ns.network, NamespaceMode::Pod as i32);
    assert_eq!(ns.pid, NamespaceMode::Container as i32);
    assert_eq!(ns.ipc, NamespaceMode::Pod as i32);
    assert_eq!(
        ns.userns_options.map(|u| u.mode),
        Some(NamespaceMode::Node as i32)
    );
    // BestEffort pod: minimum shares, no quota, no memory limit.
    assert_eq!(
        l.resources,
        Some(api::LinuxContainerResources {
            cpu_shares: 2,
            cpu_period: 100_000,
            ..Default::default()
        })
    );
    assert_eq!(l.overhead, Some(api::LinuxContainerResources::default()));
}

#[test]
fn host_ports_and_dedup() {
    let p = pod(pod_json(
        "web",
        "shop",
        json!({
            "name": "web",
            "ports": [
                { "name": "http", "containerPort": 8080, "hostPort": 80, "hostIP": "127.0.0.1", "protocol": "TCP" },
                { "name": "dns", "containerPort": 53, "hostPort": 5353, "protocol": "UDP" },
                { "name": "sctp", "containerPort": 9999, "hostPort": 9999, "protocol": "SCTP" },
                { "name": "http", "containerPort": 8081, "hostPort": 81, "protocol": "TCP" },
                { "containerPort": 9090, "hostPort": 9090, "hostIP": "::1", "protocol": "TCP" },
                { "containerPort": 9090, "hostPort": 9090, "hostIP": "::1", "protocol": "TCP" },
            ],
        }),
        json!({}),
    ));
    let want = vec![
        api::PortMapping {
            protocol: Protocol::Tcp as i32,
            container_port: 8080,
            host_port: 80,
            host_ip: "127.0.0.1".into(),
        },
        api::PortMapping {
            protocol: Protocol::Udp as i32,
            container_port: 53,
            host_port: 5353,
            host_ip: String::new(),
        },
        api::PortMapping {
            protocol: Protocol::Sctp as i32,
            container_port: 9999,
            host_port: 9999,
            host_ip: String::new(),
        },
        api::PortMapping {
            protocol: Protocol::Tcp as i32,
            container_port: 9090,
            host_port: 9090,
            host_ip: "::1".into(),
        },
    ];
    assert_eq!(port_mappings(&p), want);
    let cfg = sandbox_config(&p, &opts()).expect("config");
    assert_eq!(cfg.port_mappings, want);
}

#[test]
fn host_network_pod_has_no_hostname_and_node_namespaces() {
    let p = pod(pod_json(
        "agent",
        "kube-system",
        json!({ "name": "agent" }),
        json!({ "hostNetwork": true, "hostPID": true, "hostIPC": true, "dnsPolicy": "ClusterFirstWithHostNet" }),
    ));
    let cfg = sandbox_config(
        &p,
        &SandboxOptions {
            dns: None,
            ..opts()
        },
    )
    .expect("config");
    assert_eq!(cfg.hostname, "");
    assert_eq!(cfg.dns_config, None);
    let ns = ns_options(&cfg);
    assert_eq!(ns.network, NamespaceMode::Node as i32);
    assert_eq!(ns.pid, NamespaceMode::Node as i32);
    assert_eq!(ns.ipc, NamespaceMode::Node as i32);
}

#[test]
fn share_process_namespace_uses_pod_pid() {
    let p = pod(pod_json(
        "a",
        "default",
        json!({}),
        json!({ "shareProcessNamespace": true }),
    ));
    assert_eq!(
        ns_options(&sandbox_config(&p, &opts()).expect("config")).pid,
        NamespaceMode::Pod as i32
    );
}

#[test]
fn sandbox_security_context_users_groups_sysctls() {
    let p = pod(pod_json(
        "secure",
        "default",
        json!({ "name": "a", "securityContext": { "privileged": true } }),
        json!({
            "securityContext": {
                "runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
                "supplementalGroups": [4000, 5000],
                "supplementalGroupsPolicy": "Strict",
                "seLinuxOptions": { "level": "s0:c123,c456" },
                "sysctls": [{ "name": "net.core.somaxconn", "value": "1024" }, { "name": "kernel.shm_rmid_forced", "value": "0" }],
            },
        }),
    ));
    let cfg = sandbox_config(&p, &opts()).expect("config");
    let l = linux(&cfg);
    assert_eq!(
        l.sysctls,
        HashMap::from([
            ("net.core.somaxconn".to_string(), "1024".to_string()),
            ("kernel.shm_rmid_forced".to_string(), "0".to_string()),
        ])
    );
    let sc = l.security_context.clone().unwrap_or_default();
    assert_eq!(sc.run_as_user, Some(api::Int64Value { value: 1000 }));
    assert_eq!(sc.run_as_group, Some(api::Int64Value { value: 3000 }));
    assert_eq!(sc.supplemental_groups, vec![2000, 4000, 5000]);
    assert_eq!(
        sc.supplemental_groups_policy,
        api::SupplementalGroupsPolicy::Strict as i32
    );
    assert!(
        sc.privileged,
        "a privileged container makes the sandbox privileged"
    );
    assert_eq!(
        sc.selinux_options.map(|s| s.level),
        Some("s0:c123,c456".to_string())
    );
}

#[test]
fn labels_annotations_attempt_and_resources() {
    let p = pod(pod_json(
        "api",
        "shop",
        json!({ "name": "api", "resources": { "requests": { "cpu": "250m" }, "limits": { "cpu": "1", "memory": "256Mi" } } }),
        json!({ "overhead": { "cpu": "250m", "memory": "120Mi" } }),
    ));
    let mut v = serde_json::to_value(&p).expect("pod json");
    super::fixtures::merge(
        &mut v,
        json!({ "metadata": { "labels": { "app": "api", "tier": "backend" }, "annotations": { "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z" } } }),
    );
    let p = pod(v);
    let cfg = sandbox_config(
        &p,
        &SandboxOptions {
            attempt: 2,
            ..opts()
        },
    )
    .expect("config");
    assert_eq!(cfg.metadata.as_ref().map(|m| m.attempt), Some(2));
    assert_eq!(cfg.labels.get("app").map(String::as_str), Some("api"));
    assert_eq!(cfg.labels.get("tier").map(String::as_str), Some("backend"));
    assert_eq!(
        cfg.labels.get("io.kubernetes.pod.name").map(String::as_str),
        Some("api")
    );
    assert_eq!(cfg.labels.len(), 5);
    assert_eq!(
        cfg.annotations
            .get("kubectl.kubernetes.io/restartedAt")
            .map(String::as_str),
        Some("2025-01-01T00:00:00Z")
    );
    let l = linux(&cfg);
    assert_eq!(
        l.resources,
        Some(api::LinuxContainerResources {
            cpu_shares: 256,
            cpu_period: 100_000,
            cpu_quota: 100_000,
            memory_limit_in_bytes: 268_435_456,
            ..Default::default()
        })
    );
    assert_eq!(
        l.overhead,
        Some(api::LinuxContainerResources {
            cpu_shares: 256,
            cpu_period: 100_000,
            cpu_quota: 25_000,
            memory_limit_in_bytes: 125_829_120,
            ..Default::default()
        })
    );
}

#[test]
fn hostnames() {
    let long = "a".repeat(60) + "-b-c";
    let cases: Vec<(serde_json::Value, &str, Result<String, SpecError>)> = vec![
        (json!({}), "web-0", Ok("web-0".into())),
        (json!({ "hostname": "custom" }), "web-0", Ok("custom".into())),
        // Subdomain alone does not change the kernel hostname.
        (json!({ "hostname": "web-0", "subdomain": "web" }), "web-0", Ok("web-0".into())),
        (
            json!({ "hostname": "web-0", "subdomain": "web", "setHostnameAsFQDN": true }),
            "web-0",
            Ok("web-0.web.shop.svc.cluster.local".into()),
        ),
        // Cut at 63 characters, trailing '-' removed.
        (json!({}), long.as_str(), Ok("a".repeat(60) + "-b")),
        (
            json!({ "hostname": "a-quite-long-hostname", "subdomain": "and-a-long-subdomain", "setHostnameAsFQDN": true }),
            "x",
            Err(SpecError::SandboxConfig(
                "failed to construct FQDN from pod hostname and cluster domain, FQDN a-quite-long-hostname.and-a-long-subdomain.shop.svc.cluster.local is too long (64 characters is the max, 65 characters requested)".into(),
            )),
        ),
    ];
    for (spec, name, want) in cases {
        let p = pod(pod_json(name, "shop", json!({}), spec.clone()));
        assert_eq!(pod_hostname(&p, "cluster.local"), want, "spec {spec}");
    }
}

#[test]
fn user_namespaces_are_refused() {
    let p = pod(pod_json(
        "a",
        "default",
        json!({}),
        json!({ "hostUsers": false }),
    ));
    let err = sandbox_config(&p, &opts()).err();
    assert!(matches!(err, Some(SpecError::SandboxConfig(m)) if m.contains("hostUsers")));
}
