use std::collections::HashMap;

use serde_json::json;

use super::fixtures::{first_container, nginx, pod, pod_json, UID};
use crate::api::{self, KeyValue};
use crate::labels::container_hash;
use crate::{container_config, ContainerContext, ImageUser, SpecError};

fn ctx() -> ContainerContext {
    ContainerContext {
        env: vec![("KUBERNETES_SERVICE_HOST".into(), "10.96.0.1".into())],
        mounts: vec![api::Mount {
            container_path: "/dev/termination-log".into(),
            host_path: format!("/var/lib/berth/pods/{UID}/containers/nginx/1a2b3c4d"),
            ..Default::default()
        }],
        restart_count: 0,
        image: "sha256:5a3221f0137beb960c34b9cf4455424b6210160fd618c5e79401a07d6e5a2ced".into(),
        log_path: String::new(),
        image_user: ImageUser::default(),
        node_memory_capacity: 8 << 30,
        security: Default::default(),
    }
}

#[test]
fn nginx_container_matches_kubelet() {
    let p = nginx();
    let c = first_container(&p);
    let cfg = container_config(&p, &c, &ctx()).expect("config");
    assert_eq!(
        cfg.metadata,
        Some(api::ContainerMetadata {
            name: "nginx".into(),
            attempt: 0
        })
    );
    let image = cfg.image.clone().unwrap_or_default();
    assert_eq!(image.image, ctx().image);
    assert_eq!(image.user_specified_image, "nginx:1.14.2");
    assert!(
        cfg.command.is_empty() && cfg.args.is_empty(),
        "image entrypoint is kept"
    );
    assert_eq!(cfg.working_dir, "");
    assert_eq!(
        cfg.envs,
        vec![KeyValue {
            key: "KUBERNETES_SERVICE_HOST".into(),
            value: "10.96.0.1".into()
        }]
    );
    assert_eq!(cfg.mounts, ctx().mounts);
    assert_eq!(cfg.log_path, "nginx/0.log");
    assert!(!cfg.stdin && !cfg.stdin_once && !cfg.tty);
    assert_eq!(
        cfg.labels,
        HashMap::from([
            ("io.kubernetes.pod.name".to_string(), "nginx".to_string()),
            (
                "io.kubernetes.pod.namespace".to_string(),
                "default".to_string()
            ),
            ("io.kubernetes.pod.uid".to_string(), UID.to_string()),
            (
                "io.kubernetes.container.name".to_string(),
                "nginx".to_string()
            ),
        ])
    );
    let a = &cfg.annotations;
    let get = |k: &str| a.get(k).map(String::as_str);
    assert_eq!(get("io.kubernetes.container.restartCount"), Some("0"));
    assert_eq!(
        get("io.kubernetes.container.terminationMessagePath"),
        Some("/dev/termination-log")
    );
    assert_eq!(
        get("io.kubernetes.container.terminationMessagePolicy"),
        Some("File")
    );
    assert_eq!(get("io.kubernetes.pod.terminationGracePeriod"), Some("30"));
    assert_eq!(
        get("io.kubernetes.container.ports"),
        Some(r#"[{"containerPort":80,"protocol":"TCP"}]"#)
    );
    assert_eq!(
        get("io.kubernetes.container.hash"),
        Some(format!("{:x}", container_hash(&c)).as_str())
    );
    assert_eq!(get("io.kubernetes.container.preStopHandler"), None);
    let linux = cfg.linux.clone().unwrap_or_default();
    assert_eq!(
        linux.resources.map(|r| (r.cpu_shares, r.oom_score_adj)),
        Some((2, 1000))
    );
    assert_eq!(
        linux.security_context.and_then(|s| s.run_as_user),
        Some(api::Int64Value { value: 0 })
    );
}

#[test]
fn command_and_args_are_expanded() {
    let p = pod(pod_json(
        "echo",
        "default",
        json!({
            "command": ["sh", "-c"],
            "args": ["echo $(GREETING) $$(GREETING) $(MISSING) $(POD_NAME)"],
            "workingDir": "/work",
            "stdin": true, "stdinOnce": true, "tty": true,
        }),
        json!({}),
    ));
    let ctx = ContainerContext {
        env: vec![
            ("GREETING".into(), "hi".into()),
            ("POD_NAME".into(), "old".into()),
            ("POD_NAME".into(), "echo".into()),
        ],
        ..ctx()
    };
    let cfg = container_config(&p, &first_container(&p), &ctx).expect("config");
    assert_eq!(cfg.command, vec!["sh", "-c"]);
    assert_eq!(cfg.args, vec!["echo hi $(GREETING) $(MISSING) echo"]);
    assert_eq!(cfg.working_dir, "/work");
    assert!(cfg.stdin && cfg.stdin_once && cfg.tty);
}

#[test]
fn restart_count_log_path_image_default_and_prestop() {
    let p = pod(pod_json(
        "web",
        "default",
        json!({ "name": "web", "image": "nginx", "lifecycle": { "preStop": { "exec": { "command": ["nginx", "-s", "quit"] } } } }),
        json!({}),
    ));
    let ctx = ContainerContext {
        restart_count: 3,
        image: String::new(),
        ..ctx()
    };
    let cfg = container_config(&p, &first_container(&p), &ctx).expect("config");
    assert_eq!(cfg.metadata.map(|m| m.attempt), Some(3));
    assert_eq!(cfg.log_path, "web/3.log");
    assert_eq!(
        cfg.annotations
            .get("io.kubernetes.container.restartCount")
            .map(String::as_str),
        Some("3")
    );
    assert_eq!(
        cfg.image.map(|i| (i.image, i.user_specified_image)),
        Some(("nginx:latest".into(), "nginx".into()))
    );
    assert_eq!(
        cfg.annotations
            .get("io.kubernetes.container.preStopHandler")
            .map(String::as_str),
        Some(r#"{"exec":{"command":["nginx","-s","quit"]}}"#)
    );
    let explicit = ContainerContext {
        log_path: "web/custom.log".into(),
        ..ctx
    };
    assert_eq!(
        container_config(&p, &first_container(&p), &explicit).map(|c| c.log_path),
        Ok("web/custom.log".into())
    );
}

#[test]
fn failures_carry_waiting_reasons() {
    let p = pod(pod_json(
        "bad",
        "default",
        json!({ "image": "Nginx:latest" }),
        json!({}),
    ));
    let err = container_config(&p, &first_container(&p), &ctx()).err();
    assert_eq!(
        err.as_ref().map(SpecError::reason),
        Some("InvalidImageName")
    );
    assert_eq!(
        err.as_ref().map(SpecError::message),
        Some("Failed to apply default image tag \"Nginx:latest\": couldn't parse image name \"Nginx:latest\": invalid reference format: repository name (library/Nginx) must be lowercase")
    );

    let p = pod(pod_json(
        "nonroot",
        "default",
        json!({}),
        json!({ "securityContext": { "runAsNonRoot": true } }),
    ));
    let err = container_config(&p, &first_container(&p), &ctx()).err();
    assert_eq!(
        err.as_ref().map(SpecError::reason),
        Some("CreateContainerConfigError")
    );
    assert_eq!(
        err.map(|e| e.to_string()),
        Some(format!("container has runAsNonRoot and image will run as root (pod: \"nonroot_default({UID})\", container: app)"))
    );
}
