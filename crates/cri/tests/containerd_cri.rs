//! Real containerd over CRI: start it from a generated config in a temp dir, import berth's
//! pause image (berth-images), run a hostNetwork pod with one container, and clean up.
//!
//! Needs root, `containerd`, `ctr` and `runc`; otherwise it prints why and passes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_cri::api::*;
use berth_cri::containerd::{Containerd, ContainerdConfig, ContainerdError};
use berth_cri::{CriClient, ImageService, RuntimeService};
use futures::FutureExt;

const PAUSE_IMAGE: &str = berth_images::PAUSE_IMAGE;

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    for tool in ["containerd", "ctr", "runc"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// berth's pause image (from berth-images) as an OCI archive in `work`.
fn write_pause_archive(work: &Path) -> PathBuf {
    let archive = work.join("pause.tar");
    let file = std::fs::File::create(&archive).expect("create archive");
    berth_images::pause()
        .write_oci_archive(std::io::BufWriter::new(file))
        .expect("write pause archive");
    archive
}

/// Unmounts everything containerd may have left under `root`, deepest first.
fn unmount_under(root: &Path) {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let root = root.display().to_string();
    let mut points: Vec<String> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|p| p.starts_with(&root))
        .map(str::to_string)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = Command::new("umount").arg("-R").arg(&point).status();
    }
}

fn sandbox_config(name: &str, logs: &Path) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.into(),
            uid: format!("uid-{name}"),
            namespace: "berth-test".into(),
            attempt: 0,
        }),
        log_directory: logs.display().to_string(),
        labels: HashMap::from([("berth.test/pod".to_string(), name.to_string())]),
        linux: Some(LinuxPodSandboxConfig {
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Node as i32,
                    pid: NamespaceMode::Container as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn spec(image: &str) -> Option<ImageSpec> {
    Some(ImageSpec {
        image: image.into(),
        ..Default::default()
    })
}

async fn pod_lifecycle(client: &CriClient, work: &Path) {
    let version = client
        .version(VersionRequest {
            version: "v1".into(),
        })
        .await
        .expect("version");
    assert_eq!(version.runtime_name, "containerd");
    assert_eq!(version.runtime_api_version, "v1");

    let status = client
        .status(StatusRequest { verbose: false })
        .await
        .expect("status")
        .status
        .expect("runtime status");
    let runtime_ready = status
        .conditions
        .iter()
        .find(|c| c.r#type == "RuntimeReady")
        .expect("RuntimeReady condition");
    assert!(runtime_ready.status, "{status:?}");
    // No CNI config was written: NetworkReady is false, which hostNetwork pods do not need.
    println!("conditions: {:?}", status.conditions);

    let image = client
        .image_status(ImageStatusRequest {
            image: spec(PAUSE_IMAGE),
            verbose: false,
        })
        .await
        .expect("image status")
        .image
        .expect("imported pause image is visible to CRI");
    assert!(
        image.repo_tags.contains(&PAUSE_IMAGE.to_string()),
        "{image:?}"
    );
    assert_eq!(image.uid.map(|u| u.value), Some(65535));
    let missing = client
        .image_status(ImageStatusRequest {
            image: spec("berth.test/absent:1"),
            verbose: false,
        })
        .await
        .expect("status of an absent image is not an error");
    assert!(missing.image.is_none());

    let logs = work.join("logs").join("pod-a");
    std::fs::create_dir_all(&logs).expect("log dir");

    // runc refuses a hostname without a UTS namespace (the fake mimics this).
    let mut bad = sandbox_config("bad", &logs);
    bad.hostname = "bad".into();
    let err = client
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(bad),
            runtime_handler: String::new(),
        })
        .await
        .expect_err("hostname with host network");
    println!("hostname + hostNetwork: {err}");
    assert!(err.message().contains("hostname"), "{err}");

    let started = Instant::now();
    let sandbox_id = client
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(sandbox_config("pod-a", &logs)),
            runtime_handler: String::new(),
        })
        .await
        .expect("run hostNetwork sandbox")
        .pod_sandbox_id;
    println!("RunPodSandbox (hostNetwork) took {:?}", started.elapsed());

    let sandbox = client
        .pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: sandbox_id.clone(),
            verbose: false,
        })
        .await
        .expect("sandbox status")
        .status
        .expect("sandbox status present");
    assert_eq!(sandbox.state, PodSandboxState::SandboxReady as i32);
    assert_eq!(sandbox.network.map(|n| n.ip).unwrap_or_default(), "");

    let container_id = client
        .create_container(CreateContainerRequest {
            pod_sandbox_id: sandbox_id.clone(),
            config: Some(ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: "main".into(),
                    attempt: 0,
                }),
                image: spec(PAUSE_IMAGE),
                log_path: "main/0.log".into(),
                labels: HashMap::from([("berth.test/container".to_string(), "main".to_string())]),
                ..Default::default()
            }),
            sandbox_config: Some(sandbox_config("pod-a", &logs)),
        })
        .await
        .expect("create container")
        .container_id;
    client
        .start_container(StartContainerRequest {
            container_id: container_id.clone(),
        })
        .await
        .expect("start container");

    let running = client
        .container_status(ContainerStatusRequest {
            container_id: container_id.clone(),
            verbose: false,
        })
        .await
        .expect("container status")
        .status
        .expect("present");
    assert_eq!(running.state, ContainerState::ContainerRunning as i32);
    assert!(running.started_at >= running.created_at && running.created_at > 0);
    assert_eq!(
        PathBuf::from(&running.log_path),
        logs.join("main").join("0.log")
    );

    let listed = client
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                pod_sandbox_id: sandbox_id.clone(),
                ..Default::default()
            }),
        })
        .await
        .expect("list containers")
        .containers;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, container_id);

    client
        .update_container_resources(UpdateContainerResourcesRequest {
            container_id: container_id.clone(),
            linux: Some(LinuxContainerResources {
                memory_limit_in_bytes: 64 << 20,
                cpu_shares: 256,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("update resources");
    let stats = client
        .container_stats(ContainerStatsRequest {
            container_id: container_id.clone(),
        })
        .await
        .expect("container stats");
    assert!(stats.stats.is_some());

    // Errors the kubelet branches on, with the messages the fake imitates.
    let err = client
        .container_status(ContainerStatusRequest {
            container_id: "0123456789ab".into(),
            verbose: false,
        })
        .await
        .expect_err("unknown container");
    println!("unknown container: {err}");
    assert!(err.is_not_found(), "{err}");
    let err = client
        .start_container(StartContainerRequest {
            container_id: container_id.clone(),
        })
        .await
        .expect_err("already running");
    println!("start twice: {err}");
    assert!(err.message().contains("CONTAINER_RUNNING"), "{err}");

    // The pause binary exits 0 on SIGTERM.
    client
        .stop_container(StopContainerRequest {
            container_id: container_id.clone(),
            timeout: 10,
        })
        .await
        .expect("stop container");
    let exited = client
        .container_status(ContainerStatusRequest {
            container_id: container_id.clone(),
            verbose: false,
        })
        .await
        .expect("container status")
        .status
        .expect("present");
    assert_eq!(exited.state, ContainerState::ContainerExited as i32);
    assert_eq!((exited.exit_code, exited.reason.as_str()), (0, "Completed"));
    assert!(exited.finished_at >= exited.started_at);

    let err = client
        .exec_sync(ExecSyncRequest {
            container_id: container_id.clone(),
            cmd: vec!["/pause".into()],
            timeout: 5,
        })
        .await
        .expect_err("exec in an exited container");
    println!("exec in exited container: {err}");
    let err = client
        .create_container(CreateContainerRequest {
            pod_sandbox_id: sandbox_id.clone(),
            config: Some(ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: "noimage".into(),
                    attempt: 0,
                }),
                image: spec("berth.test/absent:1"),
                ..Default::default()
            }),
            sandbox_config: Some(sandbox_config("pod-a", &logs)),
        })
        .await
        .expect_err("image not present");
    println!("create with absent image: {err}");
    let err = client
        .pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: "0123456789ab".into(),
            verbose: false,
        })
        .await
        .expect_err("unknown sandbox");
    println!("unknown sandbox: {err}");
    assert!(err.is_not_found(), "{err}");

    client
        .remove_container(RemoveContainerRequest {
            container_id: container_id.clone(),
        })
        .await
        .expect("remove container");
    client
        .remove_container(RemoveContainerRequest { container_id })
        .await
        .expect("removing twice succeeds");
    client
        .stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: sandbox_id.clone(),
        })
        .await
        .expect("stop sandbox");
    client
        .remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: sandbox_id,
        })
        .await
        .expect("remove sandbox");
    let left = client
        .list_pod_sandbox(ListPodSandboxRequest { filter: None })
        .await
        .expect("list sandboxes")
        .items;
    assert!(left.is_empty(), "{left:?}");
}

/// A second containerd may not take a live socket; a dropped one does not outlive its owner.
async fn ownership(first: &Containerd, work: &Path) {
    let mut same_socket = ContainerdConfig::new(work.join("second"), PAUSE_IMAGE);
    same_socket.socket = first.socket().to_path_buf();
    let err = Containerd::start(same_socket)
        .await
        .expect_err("socket in use");
    assert!(matches!(err, ContainerdError::SocketInUse(_)), "{err}");

    let other = Containerd::start(ContainerdConfig::new(work.join("third"), PAUSE_IMAGE))
        .await
        .expect("start a second containerd");
    let pid = other.pid().expect("owned");
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(other);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "containerd {pid} still runs after drop"
    );
}

/// Best effort after a failure: stop and remove every sandbox so no shim outlives the test.
async fn remove_all_pods(client: &CriClient) {
    let Ok(list) = client
        .list_pod_sandbox(ListPodSandboxRequest { filter: None })
        .await
    else {
        return;
    };
    for sandbox in list.items {
        let _ = client
            .stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: sandbox.id.clone(),
            })
            .await;
        let _ = client
            .remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: sandbox.id,
            })
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containerd_runs_a_host_network_pod() {
    if let Some(reason) = skip_reason() {
        println!("SKIPPED containerd_runs_a_host_network_pod: {reason}");
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter("berth_cri=debug")
        .with_test_writer()
        .try_init();

    let tmp = tempfile::Builder::new()
        .prefix("berth-cri-")
        .tempdir_in("/var/tmp")
        .expect("tempdir");
    let work = tmp.path().to_path_buf();
    let archive = write_pause_archive(&work);

    let config = ContainerdConfig::new(work.join("containerd"), PAUSE_IMAGE);
    let started = Instant::now();
    let containerd = Containerd::start(config).await.expect("start containerd");
    println!(
        "containerd {} answered CRI after {:?} (pid {:?})",
        containerd.version().runtime_version,
        started.elapsed(),
        containerd.pid()
    );

    berth_images::import_archive(&archive, containerd.socket()).expect("import pause image");

    let client = containerd.client().clone();
    let outcome = std::panic::AssertUnwindSafe(async {
        pod_lifecycle(&client, &work).await;
        ownership(&containerd, &work).await;
    })
    .catch_unwind()
    .await;
    if outcome.is_err() {
        remove_all_pods(&client).await;
        println!("containerd log tail:\n{}", containerd.log_tail(30));
    }

    let exit = tokio::time::timeout(Duration::from_secs(30), containerd.stop())
        .await
        .expect("containerd stops in time")
        .expect("stop containerd");
    println!("containerd exited: {exit}");
    unmount_under(&work);
    drop(tmp);
    assert!(!work.exists(), "temp dir removed");

    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
