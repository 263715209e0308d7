//! Behaviour of the fake runtime, as the kubelet will rely on it.

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::api::*;
use crate::image::ImageService;
use crate::runtime::RuntimeService;

const PAUSE: &str = "registry.k8s.io/pause:3.10";
const BUSYBOX: &str = "busybox:1.36";

fn runtime() -> FakeRuntime {
    let rt = FakeRuntime::new();
    rt.add_image(PAUSE, 700_000);
    rt.add_image(BUSYBOX, 4_000_000);
    rt
}

fn sandbox_config(name: &str, host_network: bool) -> PodSandboxConfig {
    let network = if host_network {
        NamespaceMode::Node
    } else {
        NamespaceMode::Pod
    };
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.into(),
            uid: format!("uid-{name}"),
            namespace: "default".into(),
            attempt: 0,
        }),
        log_directory: format!("/var/log/pods/default_{name}_uid"),
        labels: HashMap::from([("app".to_string(), name.to_string())]),
        linux: Some(LinuxPodSandboxConfig {
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: network as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container_config(name: &str, image: &str, command: &[&str]) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: image.into(),
            ..Default::default()
        }),
        command: command.iter().map(|s| s.to_string()).collect(),
        log_path: format!("{name}/0.log"),
        labels: HashMap::from([("container".to_string(), name.to_string())]),
        ..Default::default()
    }
}

async fn run_sandbox(rt: &FakeRuntime, name: &str) -> String {
    rt.run_pod_sandbox(RunPodSandboxRequest {
        config: Some(sandbox_config(name, false)),
        runtime_handler: String::new(),
    })
    .await
    .expect("run sandbox")
    .pod_sandbox_id
}

async fn create(rt: &FakeRuntime, sandbox: &str, name: &str, image: &str, cmd: &[&str]) -> String {
    rt.create_container(CreateContainerRequest {
        pod_sandbox_id: sandbox.into(),
        config: Some(container_config(name, image, cmd)),
        sandbox_config: Some(sandbox_config("p", false)),
    })
    .await
    .expect("create container")
    .container_id
}

async fn status(rt: &FakeRuntime, id: &str) -> ContainerStatus {
    rt.container_status(ContainerStatusRequest {
        container_id: id.into(),
        verbose: false,
    })
    .await
    .expect("status")
    .status
    .expect("status present")
}

async fn start(rt: &FakeRuntime, id: &str) -> Result<StartContainerResponse, CriError> {
    rt.start_container(StartContainerRequest {
        container_id: id.into(),
    })
    .await
}

#[tokio::test]
async fn container_goes_created_running_exited_with_timestamps() {
    let rt = runtime();
    let sb = run_sandbox(&rt, "web").await;
    let id = create(&rt, &sb, "main", BUSYBOX, &["sleep", "3600"]).await;
    assert_eq!(id.len(), 64);

    let created = status(&rt, &id).await;
    assert_eq!(created.state, ContainerState::ContainerCreated as i32);
    assert!(created.created_at > 0);
    assert_eq!(created.started_at, 0);
    assert_eq!(created.log_path, "/var/log/pods/default_web_uid/main/0.log");
    assert_eq!(created.image_id, rt.add_image(BUSYBOX, 0));
    assert!(created
        .image_ref
        .starts_with("docker.io/library/busybox@sha256:"));

    start(&rt, &id).await.expect("start");
    let running = status(&rt, &id).await;
    assert_eq!(running.state, ContainerState::ContainerRunning as i32);
    assert!(running.started_at > running.created_at);

    // Starting twice is refused.
    let err = start(&rt, &id).await.expect_err("already running");
    assert_eq!(
        err.message(),
        format!(
            "failed to set starting state for container {id:?}: container is in \
             CONTAINER_RUNNING state"
        )
    );

    rt.stop_container(StopContainerRequest {
        container_id: id.clone(),
        timeout: 30,
    })
    .await
    .expect("stop");
    let exited = status(&rt, &id).await;
    assert_eq!(exited.state, ContainerState::ContainerExited as i32);
    assert_eq!(exited.exit_code, 0);
    assert_eq!(exited.reason, "Completed");
    assert!(exited.finished_at > exited.started_at);

    rt.remove_container(RemoveContainerRequest {
        container_id: id.clone(),
    })
    .await
    .expect("remove");
    let err = rt
        .container_status(ContainerStatusRequest {
            container_id: id.clone(),
            verbose: false,
        })
        .await
        .expect_err("removed");
    assert!(err.is_not_found(), "{err}");
    // Removing again succeeds, as in containerd.
    rt.remove_container(RemoveContainerRequest { container_id: id })
        .await
        .expect("idempotent remove");
}

#[tokio::test]
async fn behaviours_by_image_and_command() {
    let rt = runtime();
    rt.add_image("job:1", 10);
    rt.add_image("hog:1", 10);
    rt.on_image("job:1", FakeBehaviour::Exit(3));
    rt.on_image("hog:1", FakeBehaviour::OomKilled);
    rt.on_command("true", FakeBehaviour::Exit(0));
    rt.on_command(
        "/missing",
        FakeBehaviour::StartError("exec: \"/missing\": no such file or directory".into()),
    );
    let sb = run_sandbox(&rt, "batch").await;

    let job = create(&rt, &sb, "job", "job:1", &[]).await;
    start(&rt, &job).await.expect("start");
    let s = status(&rt, &job).await;
    assert_eq!(
        (s.state, s.exit_code, s.reason.as_str()),
        (ContainerState::ContainerExited as i32, 3, "Error")
    );

    let hog = create(&rt, &sb, "hog", "hog:1", &[]).await;
    start(&rt, &hog).await.expect("start");
    let s = status(&rt, &hog).await;
    assert_eq!((s.exit_code, s.reason.as_str()), (137, "OOMKilled"));

    // A command rule wins over the image (busybox runs forever by default).
    let ok = create(&rt, &sb, "ok", BUSYBOX, &["true"]).await;
    start(&rt, &ok).await.expect("start");
    let s = status(&rt, &ok).await;
    assert_eq!((s.exit_code, s.reason.as_str()), (0, "Completed"));

    let bad = create(&rt, &sb, "bad", BUSYBOX, &["/missing", "arg"]).await;
    let err = start(&rt, &bad).await.expect_err("start fails");
    assert_eq!(err.code(), Code::Unknown);
    assert!(err.message().contains("no such file"), "{err}");
    let s = status(&rt, &bad).await;
    assert_eq!(
        (s.state, s.exit_code, s.reason.as_str()),
        (ContainerState::ContainerExited as i32, 128, "StartError")
    );
    assert!(s.message.contains("no such file"));
    assert_eq!(s.started_at, 0);
}

#[tokio::test]
async fn stop_follows_grace_period_without_sleeping() {
    let rt = runtime();
    rt.on_command("stubborn", FakeBehaviour::IgnoreSigterm);
    let sb = run_sandbox(&rt, "p").await;
    let stubborn = create(&rt, &sb, "a", BUSYBOX, &["stubborn"]).await;
    let polite = create(&rt, &sb, "b", BUSYBOX, &["sleep"]).await;
    start(&rt, &stubborn).await.expect("start");
    start(&rt, &polite).await.expect("start");

    let wall = std::time::Instant::now();
    rt.stop_container(StopContainerRequest {
        container_id: stubborn.clone(),
        timeout: 30,
    })
    .await
    .expect("stop");
    assert!(wall.elapsed() < Duration::from_secs(1));
    let s = status(&rt, &stubborn).await;
    assert_eq!((s.exit_code, s.reason.as_str()), (137, "Error"));
    assert!(
        s.finished_at - s.started_at >= 30_000_000_000,
        "grace period elapsed on the fake clock"
    );

    // No grace period: killed.
    rt.stop_container(StopContainerRequest {
        container_id: polite.clone(),
        timeout: 0,
    })
    .await
    .expect("stop");
    assert_eq!(status(&rt, &polite).await.exit_code, 137);

    // Stopping an exited container changes nothing.
    let before = status(&rt, &polite).await;
    rt.stop_container(StopContainerRequest {
        container_id: polite.clone(),
        timeout: 10,
    })
    .await
    .expect("stop again");
    assert_eq!(status(&rt, &polite).await.finished_at, before.finished_at);
}

#[tokio::test]
async fn unknown_ids_are_not_found_with_containerd_messages() {
    let rt = runtime();
    let err = rt
        .stop_container(StopContainerRequest {
            container_id: "nope".into(),
            timeout: 1,
        })
        .await
        .expect_err("unknown");
    assert!(err.is_not_found());
    assert_eq!(
        err.message(),
        "an error occurred when try to find container \"nope\": not found"
    );
    let err = rt
        .pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: "nope".into(),
            verbose: false,
        })
        .await
        .expect_err("unknown");
    assert!(err.is_not_found());
    assert_eq!(
        err.message(),
        "an error occurred when try to find sandbox: not found"
    );
    let err = rt
        .create_container(CreateContainerRequest {
            pod_sandbox_id: "nope".into(),
            config: Some(container_config("c", BUSYBOX, &[])),
            sandbox_config: None,
        })
        .await
        .expect_err("no sandbox");
    assert!(err.is_not_found());
    // Removing unknown sandboxes succeeds.
    rt.remove_pod_sandbox(RemovePodSandboxRequest {
        pod_sandbox_id: "nope".into(),
    })
    .await
    .expect("idempotent");
}

#[tokio::test]
async fn sandbox_lifecycle_ip_and_name_reservation() {
    let rt = runtime();
    rt.update_runtime_config(UpdateRuntimeConfigRequest {
        runtime_config: Some(RuntimeConfig {
            network_config: Some(NetworkConfig {
                pod_cidr: "10.244.3.0/24".into(),
            }),
        }),
    })
    .await
    .expect("cidr");
    let a = run_sandbox(&rt, "a").await;
    let b = run_sandbox(&rt, "b").await;
    let ip = |id: String| {
        let rt = rt.clone();
        async move {
            rt.pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: id,
                verbose: false,
            })
            .await
            .expect("status")
            .status
            .expect("present")
        }
    };
    let sa = ip(a.clone()).await;
    assert_eq!(
        sa.network.as_ref().map(|n| n.ip.as_str()),
        Some("10.244.3.2")
    );
    assert_eq!(sa.state, PodSandboxState::SandboxReady as i32);
    let sb = ip(b.clone()).await;
    assert_eq!(
        sb.network.as_ref().map(|n| n.ip.as_str()),
        Some("10.244.3.3")
    );

    // Same metadata again: the name is reserved.
    let err = rt
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(sandbox_config("a", false)),
            runtime_handler: String::new(),
        })
        .await
        .expect_err("reserved");
    assert!(err.message().contains("is reserved for"), "{err}");

    // Host network: no IP; a hostname is refused as runc refuses it.
    let host = rt
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(sandbox_config("h", true)),
            runtime_handler: String::new(),
        })
        .await
        .expect("host network")
        .pod_sandbox_id;
    assert_eq!(ip(host).await.network.map(|n| n.ip), Some(String::new()));
    let mut with_hostname = sandbox_config("h2", true);
    with_hostname.hostname = "h2".into();
    let err = rt
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(with_hostname),
            runtime_handler: String::new(),
        })
        .await
        .expect_err("hostname with host network");
    assert!(err.message().contains("private UTS namespace"), "{err}");

    // Stop kills containers (137) and makes the sandbox NOTREADY; starting there fails.
    let c = create(&rt, &a, "c", BUSYBOX, &[]).await;
    start(&rt, &c).await.expect("start");
    let late = create(&rt, &a, "late", BUSYBOX, &[]).await;
    rt.stop_pod_sandbox(StopPodSandboxRequest {
        pod_sandbox_id: a.clone(),
    })
    .await
    .expect("stop");
    assert_eq!(status(&rt, &c).await.exit_code, 137);
    assert_eq!(
        ip(a.clone()).await.state,
        PodSandboxState::SandboxNotready as i32
    );
    let err = start(&rt, &late).await.expect_err("sandbox stopped");
    assert!(err.message().contains("is not running"), "{err}");

    let ready = rt
        .list_pod_sandbox(ListPodSandboxRequest {
            filter: Some(PodSandboxFilter {
                state: Some(PodSandboxStateValue {
                    state: PodSandboxState::SandboxReady as i32,
                }),
                ..Default::default()
            }),
        })
        .await
        .expect("list")
        .items;
    assert_eq!(ready.len(), 2, "b and the host-network sandbox");

    // Remove takes the containers with it and frees the name.
    rt.remove_pod_sandbox(RemovePodSandboxRequest {
        pod_sandbox_id: a.clone(),
    })
    .await
    .expect("remove");
    let left = rt
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                pod_sandbox_id: a,
                ..Default::default()
            }),
        })
        .await
        .expect("list")
        .containers;
    assert!(left.is_empty());
    run_sandbox(&rt, "a").await;
}

#[tokio::test]
async fn images_pull_status_remove() {
    let rt = FakeRuntime::new();
    rt.add_registry_image("nginx:1.27", 50_000_000);

    let err = rt
        .pull_image(PullImageRequest {
            image: Some(ImageSpec {
                image: "nginx:nope".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("unknown image");
    assert!(err.is_not_found());
    assert_eq!(
        err.message(),
        "failed to pull and unpack image \"docker.io/library/nginx:nope\": failed to resolve \
         reference \"docker.io/library/nginx:nope\": docker.io/library/nginx:nope: not found"
    );

    let spec = |image: &str| {
        Some(ImageSpec {
            image: image.into(),
            ..Default::default()
        })
    };
    let absent = rt
        .image_status(ImageStatusRequest {
            image: spec("nginx:1.27"),
            verbose: false,
        })
        .await
        .expect("status");
    assert!(absent.image.is_none());

    let pulled = rt
        .pull_image(PullImageRequest {
            image: spec("nginx:1.27"),
            ..Default::default()
        })
        .await
        .expect("pull")
        .image_ref;
    assert!(pulled.starts_with("sha256:"));
    let image = rt
        .image_status(ImageStatusRequest {
            image: spec("docker.io/library/nginx:1.27"),
            verbose: false,
        })
        .await
        .expect("status")
        .image
        .expect("present");
    assert_eq!(image.id, pulled);
    assert_eq!(image.repo_tags, vec!["docker.io/library/nginx:1.27"]);
    assert_eq!(image.size, 50_000_000);

    // The kubelet creates containers by image id.
    let sb = run_sandbox(&rt, "p").await;
    let c = create(&rt, &sb, "c", &pulled, &[]).await;
    assert_eq!(status(&rt, &c).await.image_id, pulled);

    let fs = rt.image_fs_info(ImageFsInfoRequest {}).await.expect("fs");
    assert_eq!(
        fs.image_filesystems[0].used_bytes.map(|u| u.value),
        Some(50_000_000)
    );

    rt.remove_image(RemoveImageRequest {
        image: spec(&pulled),
    })
    .await
    .expect("remove");
    assert!(rt
        .list_images(ListImagesRequest { filter: None })
        .await
        .expect("list")
        .images
        .is_empty());
    // Creating from a missing image is NotFound.
    let err = rt
        .create_container(CreateContainerRequest {
            pod_sandbox_id: sb,
            config: Some(container_config("d", "nginx:1.27", &[])),
            sandbox_config: None,
        })
        .await
        .expect_err("image gone");
    assert!(err.is_not_found(), "{err}");
    assert_eq!(
        err.message(),
        "failed to resolve image \"nginx:1.27\": not found"
    );
}

#[tokio::test]
async fn exec_injection_events_and_stats() {
    let rt = runtime();
    rt.on_exec("cat /ready", "ok\n", "", 0);
    rt.on_exec("false", "", "boom", 1);
    let sb = run_sandbox(&rt, "p").await;
    let c = create(&rt, &sb, "c", BUSYBOX, &[]).await;

    let exec = |cmd: &[&str]| ExecSyncRequest {
        container_id: c.clone(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        timeout: 1,
    };
    let err = rt
        .exec_sync(exec(&["true"]))
        .await
        .expect_err("not running");
    assert!(err.message().contains("CONTAINER_CREATED"), "{err}");
    start(&rt, &c).await.expect("start");
    let out = rt.exec_sync(exec(&["cat", "/ready"])).await.expect("exec");
    assert_eq!((out.stdout.as_slice(), out.exit_code), (&b"ok\n"[..], 0));
    let out = rt.exec_sync(exec(&["false"])).await.expect("exec");
    assert_eq!((out.stderr.as_slice(), out.exit_code), (&b"boom"[..], 1));
    let url = rt
        .exec(ExecRequest {
            container_id: c.clone(),
            cmd: vec!["sh".into()],
            stdout: true,
            ..Default::default()
        })
        .await
        .expect("exec url")
        .url;
    assert!(url.starts_with("http://127.0.0.1:"));

    rt.set_usage(
        &c,
        FakeUsage {
            cpu_nano_cores: 250_000_000,
            memory_working_set_bytes: 64 << 20,
        },
    );
    rt.advance_clock(Duration::from_secs(4));
    let stats = rt
        .list_container_stats(ListContainerStatsRequest { filter: None })
        .await
        .expect("stats")
        .stats;
    let cpu = stats[0].cpu.expect("cpu");
    assert_eq!(cpu.usage_nano_cores.map(|v| v.value), Some(250_000_000));
    assert!(cpu.usage_core_nano_seconds.map_or(0, |v| v.value) >= 1_000_000_000);
    let pod = rt
        .pod_sandbox_stats(PodSandboxStatsRequest {
            pod_sandbox_id: sb.clone(),
        })
        .await
        .expect("pod stats")
        .stats
        .and_then(|s| s.linux)
        .and_then(|l| l.memory)
        .and_then(|m| m.working_set_bytes)
        .map(|v| v.value);
    assert_eq!(pod, Some(64 << 20));

    // The process dies on its own (PLEG would see EXITED).
    rt.exit_container(&c, 2).expect("exit");
    let s = status(&rt, &c).await;
    assert_eq!((s.exit_code, s.reason.as_str()), (2, "Error"));
    assert!(rt.oom_kill(&c).is_err(), "already exited");

    // Injected failures hit the next call only.
    rt.fail_next(
        "RunPodSandbox",
        Code::Unknown,
        "failed to setup network for sandbox",
    );
    let err = rt
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(sandbox_config("q", false)),
            runtime_handler: String::new(),
        })
        .await
        .expect_err("injected");
    assert_eq!(err.message(), "failed to setup network for sandbox");
    run_sandbox(&rt, "q").await;
    let calls = rt.calls();
    assert_eq!(
        &calls[calls.len() - 2..],
        &["RunPodSandbox", "RunPodSandbox"]
    );
}

#[tokio::test]
async fn status_update_resources_and_filters() {
    let rt = runtime();
    let st = rt
        .status(StatusRequest { verbose: false })
        .await
        .expect("status");
    let conditions = st.status.expect("status").conditions;
    assert!(conditions.iter().all(|c| c.status));
    rt.set_network_ready(false);
    let st = rt
        .status(StatusRequest { verbose: false })
        .await
        .expect("status");
    let net = st
        .status
        .expect("status")
        .conditions
        .into_iter()
        .find(|c| c.r#type == "NetworkReady")
        .expect("network condition");
    assert!(!net.status);
    assert_eq!(net.reason, "NetworkPluginNotReady");

    let sb = run_sandbox(&rt, "p").await;
    let a = create(&rt, &sb, "a", BUSYBOX, &[]).await;
    let b = create(&rt, &sb, "b", BUSYBOX, &[]).await;
    start(&rt, &a).await.expect("start");
    rt.update_container_resources(UpdateContainerResourcesRequest {
        container_id: a.clone(),
        linux: Some(LinuxContainerResources {
            memory_limit_in_bytes: 128 << 20,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .expect("update");
    let limit = status(&rt, &a)
        .await
        .resources
        .and_then(|r| r.linux)
        .map(|l| l.memory_limit_in_bytes);
    assert_eq!(limit, Some(128 << 20));

    let list = |filter: ContainerFilter| {
        let rt = rt.clone();
        async move {
            rt.list_containers(ListContainersRequest {
                filter: Some(filter),
            })
            .await
            .expect("list")
            .containers
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
        }
    };
    let running = list(ContainerFilter {
        state: Some(ContainerStateValue {
            state: ContainerState::ContainerRunning as i32,
        }),
        ..Default::default()
    })
    .await;
    assert_eq!(running, vec![a.clone()]);
    let by_label = list(ContainerFilter {
        label_selector: HashMap::from([("container".to_string(), "b".to_string())]),
        ..Default::default()
    })
    .await;
    assert_eq!(by_label, vec![b.clone()]);
    // Truncated ids resolve like containerd's.
    assert_eq!(status(&rt, &b[..12]).await.id, b);
}

#[test]
fn ids_are_deterministic() {
    assert_eq!(hex_id("1"), hex_id("1"));
    assert_ne!(hex_id("1"), hex_id("2"));
    assert_eq!(hex_id("x").len(), 64);
}
