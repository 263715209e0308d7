//! `berth down --data-dir D`: stop everything a cluster started on this
//! machine — its berth process, every pod sandbox and container (through CRI),
//! its containerd and shims, mounts under D, and the CNI state — so nothing
//! is left behind (k3s-killall's job).
//!
//! ```text
//! SIGTERM berth (--data-dir D) ─▶ containerd answering? (else start it) ─▶ stop+remove sandboxes
//!   ─▶ stop containerd, kill leftover shims ─▶ umount -R under D
//!   ─▶ (node dirs) CNI IPAM state, bridge, nftables table, node routes, DNS address
//! ```

use anyhow::{Context, Result};
use berth_cri::{api, RuntimeService};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Processes whose command line contains `needle`, except this one.
fn processes_matching(needle: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(needle) {
            out.push((pid, cmdline));
        }
    }
    out
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// SIGTERM, wait up to `grace`, then SIGKILL.
fn terminate(pid: i32, grace: Duration) {
    // SAFETY: kill(2) with a pid we found in /proc; failure (already gone) is fine.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let start = Instant::now();
    while alive(pid) && start.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

fn step(what: &str) {
    eprintln!("berth down: {what}");
}

pub async fn down(data_dir: &Path) -> Result<()> {
    let data_dir = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let d = data_dir.display().to_string();
    // 1. The berth process itself, so nothing restarts what we stop.
    for (pid, cmd) in processes_matching(&format!("--data-dir {d}")) {
        if cmd.contains("berth") && !cmd.contains(" down ") {
            step(&format!("stopping berth (pid {pid})"));
            terminate(pid, Duration::from_secs(15));
        }
    }
    // 2. Every sandbox, through CRI.
    let containerd_dir = data_dir.join("agent").join("containerd");
    let mut ccfg =
        berth_cri::containerd::ContainerdConfig::new(&containerd_dir, berth_images::PAUSE_IMAGE);
    ccfg.cni_conf_dir = data_dir.join("agent").join("cni");
    let mut temporary = None;
    let client =
        match berth_cri::CriClient::connect(&ccfg.socket.display().to_string(), Default::default())
            .await
        {
            Ok(c)
                if c.version(api::VersionRequest {
                    version: "v1".into(),
                })
                .await
                .is_ok() =>
            {
                Some(c)
            }
            _ if containerd_dir.join("config.toml").exists() => {
                step("starting containerd to stop its pods");
                match berth_cri::containerd::Containerd::start(ccfg.clone()).await {
                    Ok(c) => {
                        let client = c.client().clone();
                        temporary = Some(c);
                        Some(client)
                    }
                    Err(e) => {
                        step(&format!(
                            "could not start containerd ({e}); killing shims directly"
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
    if let Some(client) = &client {
        let sandboxes = client
            .list_pod_sandbox(api::ListPodSandboxRequest { filter: None })
            .await
            .map(|r| r.items)
            .unwrap_or_default();
        if !sandboxes.is_empty() {
            step(&format!("stopping {} pod sandbox(es)", sandboxes.len()));
        }
        for s in sandboxes {
            let _ = client
                .stop_pod_sandbox(api::StopPodSandboxRequest {
                    pod_sandbox_id: s.id.clone(),
                })
                .await;
            let _ = client
                .remove_pod_sandbox(api::RemovePodSandboxRequest {
                    pod_sandbox_id: s.id,
                })
                .await;
        }
    }
    if let Some(c) = temporary {
        let _ = c.stop().await;
    }
    // 3. containerd and any shim still serving this socket.
    let socket = ccfg.socket.display().to_string();
    for (pid, _) in processes_matching(&format!(
        "--config {}",
        containerd_dir.join("config.toml").display()
    )) {
        step(&format!("stopping containerd (pid {pid})"));
        terminate(pid, Duration::from_secs(10));
    }
    for (pid, _) in processes_matching(&socket)
        .into_iter()
        .filter(|(_, c)| c.contains("containerd-shim"))
    {
        step(&format!("killing shim (pid {pid})"));
        terminate(pid, Duration::from_secs(2));
    }
    // 4. Mounts under the data dir, deepest first.
    let mounts = mounts_under(&data_dir);
    if !mounts.is_empty() {
        step(&format!("unmounting {} mount(s)", mounts.len()));
    }
    for m in mounts {
        let Ok(c) = std::ffi::CString::new(m.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: umount2 on a path string we own; MNT_DETACH so busy mounts go too.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
    // 5. The node's network: IPAM records, bridge, service rules, routes to
    //    other nodes, the cluster DNS address. Only for a data dir that ran a
    //    node: a server-only dir must not touch another cluster's node.
    if data_dir.join("agent").exists() {
        let _ = std::fs::remove_dir_all(data_dir.join("agent").join("cni-ipam"));
        let legacy_ipam = PathBuf::from("/var/lib/cni/networks/berth");
        if legacy_ipam.exists() {
            let _ = std::fs::remove_dir_all(&legacy_ipam);
        }
        let bridge = Path::new("/sys/class/net").join(berth_kubelet::cni::BRIDGE);
        if bridge.exists() {
            let status = std::process::Command::new("ip")
                .args(["link", "delete", berth_kubelet::cni::BRIDGE])
                .status();
            if status.map(|s| s.success()).unwrap_or(false) {
                step(&format!("removed bridge {}", berth_kubelet::cni::BRIDGE));
            }
        }
        let removed =
            berth_kubelet::forward_rules::remove(&data_dir.join("agent").display().to_string());
        if removed > 0 {
            step(&format!("removed {removed} iptables FORWARD rule(s)"));
        }
        if berth_proxy::cleanup_table().is_ok() {
            step("removed nftables table ip berth");
        }
        berth_kubelet::routes::flush();
        // The cluster DNS address on lo (10.43.0.10 unless the service CIDR differs).
        let lo = std::process::Command::new("ip")
            .args(["-4", "-o", "addr", "show", "dev", "lo"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for addr in lo
            .split_whitespace()
            .filter(|w| w.ends_with("/32") && w.starts_with("10.43."))
        {
            let _ = std::process::Command::new("ip")
                .args(["addr", "del", addr, "dev", "lo"])
                .status();
        }
    }
    step("done");
    Ok(())
}

fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// Remove the data dir too (`berth down --purge`).
pub fn purge(data_dir: &Path) -> Result<()> {
    std::fs::remove_dir_all(data_dir).with_context(|| format!("removing {}", data_dir.display()))
}
