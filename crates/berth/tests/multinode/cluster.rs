//! A multi-node cluster on one machine: `berth server` on the host and one
//! `berth agent` per node, each in its own network namespace (its own
//! interfaces, bridge, pod subnet and containerd), joined with the token.
//!
//! ```text
//! host: bridge bmn<id> 10.99.<id>.1/24 ── berth server (advertise 10.99.<id>.1)
//!   ├─ netns berth-mn<id>-1: eth0 10.99.<id>.11 ── berth agent --node-name n1
//!   └─ netns berth-mn<id>-2: eth0 10.99.<id>.12 ── berth agent --node-name n2
//! host: fake upstream DNS 10.99.<id>.1:<port> (upstream_dns.rs) ◀─ every node's cluster DNS
//! process exit (atexit) ─▶ kill agents, berth down per node (inside its netns),
//!                          berth down for the server, delete netns and bridge
//! ```

#![allow(dead_code)] // tests use different subsets of the harness

#[path = "upstream_dns.rs"]
pub mod upstream_dns;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(60);
pub const KUBECTL: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";
pub const NODES: usize = 2;

pub struct Cluster {
    pub work: PathBuf,
    pub kubeconfig: PathBuf,
    pub server_url: String,
    pub token: String,
    /// Subnet id: the host side is 10.99.<id>.1.
    pub id: u8,
    /// Where every node's cluster DNS forwards names outside the cluster.
    pub upstream_dns: upstream_dns::UpstreamDns,
    nodes: Mutex<Vec<Node>>,
}

pub struct Node {
    pub name: String,
    pub netns: String,
    pub ip: String,
    pub data: PathBuf,
    child: Option<Child>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static TEARDOWN: OnceLock<(PathBuf, u8)> = OnceLock::new();

fn sh(cmd: &str) -> Result<(), String> {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{cmd}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The shared cluster, or `None` (skip) without root, containerd or kubectl.
pub fn cluster() -> Option<&'static Cluster> {
    cluster_with(&[])
}

/// Like `cluster`, with extra `berth server` flags (the first caller's win).
pub fn cluster_with(server_args: &'static [&'static str]) -> Option<&'static Cluster> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: multi-node tests need root");
        return None;
    }
    let found = Command::new("sh")
        .args([
            "-c",
            "command -v containerd && command -v ip && command -v nsenter",
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found || !Path::new(KUBECTL).exists() {
        eprintln!("skipping: containerd, ip or {KUBECTL} missing");
        return None;
    }
    match CLUSTER.get_or_init(|| start(server_args)) {
        Ok(c) => Some(c),
        Err(e) => panic!("multi-node cluster failed to start: {e}"),
    }
}

fn netns_name(id: u8, i: usize) -> String {
    format!("berth-mn{id}-{i}")
}

fn start(server_args: &[&str]) -> Result<Cluster, String> {
    // A subnet id no other run on this machine uses right now.
    let id = (100..200u8)
        .find(|id| !Path::new(&format!("/sys/class/net/bmn{id}")).exists())
        .ok_or("no free test subnet (leftover bmn* bridges?)")?;
    let work = std::env::temp_dir().join(format!("berth-mn-{}-{id}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let _ = TEARDOWN.set((work.clone(), id));
    // SAFETY: `teardown` is a plain extern "C" fn that does not unwind.
    unsafe {
        libc::atexit(teardown);
    }
    let bridge = format!("bmn{id}");
    sh(&format!(
        "ip link add {bridge} type bridge && ip addr add 10.99.{id}.1/24 dev {bridge} && ip link set {bridge} up"
    ))?;
    let upstream_dns = upstream_dns::UpstreamDns::start(std::net::Ipv4Addr::new(10, 99, id, 1))?;
    // The server, on the host, reachable from the node namespaces.
    let server_dir = work.join("server");
    std::fs::create_dir_all(&server_dir).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(work.join("server.log")).map_err(|e| e.to_string())?;
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["server", "--https-port", "0", "--exit-with-parent"])
        .args(["--advertise-address", &format!("10.99.{id}.1")])
        .args(server_args)
        .arg("--data-dir")
        .arg(&server_dir)
        .env("BERTH_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("spawning berth server: {e}"))?;
    let kubeconfig = server_dir.join("kubeconfig.yaml");
    let token_file = server_dir.join("node-token");
    let started = Instant::now();
    while !kubeconfig.exists() || !token_file.exists() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "berth server did not start: {}",
                std::fs::read_to_string(work.join("server.log")).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let token = std::fs::read_to_string(&token_file)
        .map_err(|e| e.to_string())?
        .trim()
        .to_string();
    let kc = std::fs::read_to_string(&kubeconfig).map_err(|e| e.to_string())?;
    let port = kc
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://127.0.0.1:"))
        .ok_or("no server URL in the kubeconfig")?
        .to_string();
    let cluster = Cluster {
        server_url: format!("https://10.99.{id}.1:{port}"),
        work,
        kubeconfig,
        token,
        id,
        upstream_dns,
        nodes: Mutex::new(Vec::new()),
    };
    for i in 1..=NODES {
        cluster.add_node(i)?;
    }
    let names: Vec<String> = (1..=NODES).map(|i| format!("n{i}")).collect();
    cluster.wait_nodes_ready(&names)?;
    Ok(cluster)
}

extern "C" fn teardown() {
    let Some((work, id)) = TEARDOWN.get() else {
        return;
    };
    if let Some(Ok(c)) = CLUSTER.get() {
        let mut nodes = c.nodes.lock().unwrap_or_else(|p| p.into_inner());
        for n in nodes.iter_mut() {
            n.stop_agent();
        }
    }
    for i in 1..=NODES {
        let ns = netns_name(*id, i);
        let data = work.join(format!("n{i}"));
        if Path::new(&format!("/run/netns/{ns}")).exists() {
            let _ = Command::new("nsenter")
                .arg(format!("--net=/run/netns/{ns}"))
                .args(["--", env!("CARGO_BIN_EXE_berth"), "down", "--data-dir"])
                .arg(&data)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = sh(&format!("ip netns del {ns}"));
        }
        let _ = sh(&format!("ip link del bmn{id}n{i} 2>/dev/null"));
    }
    let _ = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["down", "--data-dir"])
        .arg(work.join("server"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = sh(&format!("ip link del bmn{id}"));
    if std::env::var_os("BERTH_KEEP_TEST_DIRS").is_none() {
        let _ = std::fs::remove_dir_all(work);
    } else {
        eprintln!("multi-node test logs kept in {}", work.display());
    }
}

impl Node {
    fn stop_agent(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on a child we spawned.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }
}

impl Cluster {
    /// Create node `n<i>`'s namespace and start its agent.
    fn add_node(&self, i: usize) -> Result<(), String> {
        let id = self.id;
        let ns = netns_name(id, i);
        let veth = format!("bmn{id}n{i}");
        let ip = format!("10.99.{id}.{}", 10 + i);
        sh(&format!(
            "ip netns add {ns} && ip link add {veth} type veth peer name eth0 netns {ns} \
             && ip link set {veth} master bmn{id} up \
             && ip -n {ns} addr add {ip}/24 dev eth0 && ip -n {ns} link set eth0 up \
             && ip -n {ns} link set lo up && ip -n {ns} route add default via 10.99.{id}.1"
        ))?;
        let data = self.work.join(format!("n{i}"));
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        let mut node = Node {
            name: format!("n{i}"),
            netns: ns,
            ip,
            data,
            child: None,
        };
        self.start_agent(&mut node)?;
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(node);
        Ok(())
    }

    fn start_agent(&self, node: &mut Node) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.work.join(format!("{}.log", node.name)))
            .map_err(|e| e.to_string())?;
        // nsenter, not `ip netns exec`: only the network namespace changes;
        // `ip netns exec` remounts /sys, hiding the cgroup mount runc needs.
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", node.netns))
            .args(["--", env!("CARGO_BIN_EXE_berth"), "agent"])
            .args(["--server", &self.server_url, "--token", &self.token])
            .args(["--node-name", &node.name, "--node-ip", &node.ip])
            .args(["--dns-upstream", &self.upstream_dns.addr.to_string()])
            .arg("--exit-with-parent")
            .arg("--data-dir")
            .arg(&node.data)
            .env("BERTH_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawning berth agent: {e}"))?;
        node.child = Some(child);
        Ok(())
    }

    /// Kill node `name`'s agent (SIGKILL: no goodbye to the server). Its
    /// containers keep running, as on a machine whose agent crashed.
    pub fn kill_agent(&self, name: &str) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = nodes.iter_mut().find(|n| n.name == name) {
            n.stop_agent();
        }
    }

    /// Start node `name`'s agent again.
    pub fn restart_agent(&self, name: &str) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = nodes.iter_mut().find(|n| n.name == name) {
            if let Err(e) = self.start_agent(n) {
                panic!("restarting {name}: {e}");
            }
        }
    }

    /// Move the calling thread (only it) into node `name`'s network namespace,
    /// where its proxy rules make ClusterIPs reachable (nat output chain).
    pub fn enter_node_netns(&self, name: &str) -> Result<(), String> {
        let netns = self
            .nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.netns.clone())
            .ok_or_else(|| format!("no node {name}"))?;
        enter_netns(Path::new(&format!("/run/netns/{netns}")))
    }

    /// The network namespace of running pod `ns/pod`: `/proc/<pid>/ns/net` of
    /// its first container's process (found by the container ID in its cgroup
    /// path; pod IPs alone are ambiguous when other clusters run on the machine).
    pub fn pod_netns(&self, ns: &str, pod: &str) -> Result<PathBuf, String> {
        let pod_json = self.json(&["get", "pod", "-n", ns, pod]);
        let id = pod_json["status"]["containerStatuses"][0]["containerID"]
            .as_str()
            .and_then(|id| id.split("://").nth(1))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| format!("pod {ns}/{pod} has no running container"))?
            .to_string();
        let procs = std::fs::read_dir("/proc").map_err(|e| e.to_string())?;
        for entry in procs.flatten() {
            let dir = entry.path();
            let Ok(cgroup) = std::fs::read_to_string(dir.join("cgroup")) else {
                continue;
            };
            if cgroup.contains(&id) {
                return Ok(dir.join("ns/net"));
            }
        }
        Err(format!("no process of container {id} ({ns}/{pod})"))
    }

    pub fn node_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.work.join(format!("{name}.log"))).unwrap_or_default()
    }

    pub fn wait_nodes_ready(&self, names: &[String]) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let out = self.kubectl(&["get", "nodes", "-o", "json"], None);
            let nodes: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let ready: Vec<String> = nodes["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|n| condition(n, "Ready") == "True")
                .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
                .collect();
            if names.iter().all(|n| ready.contains(n)) {
                return Ok(());
            }
            if started.elapsed() > DEADLINE {
                let logs: Vec<String> = names
                    .iter()
                    .map(|n| format!("--- {n}:\n{}", self.node_log(n)))
                    .collect();
                return Err(format!(
                    "nodes {names:?} not Ready after {DEADLINE:?} (ready: {ready:?})\n{}",
                    logs.join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(KUBECTL);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.work.join("kubectl-cache"))
            .args(args)
            .env("HOME", &self.work)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("running kubectl: {e}"));
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let _ = pipe.write_all(input.as_bytes());
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("kubectl output: {e}"))
    }

    pub fn kubectl_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.kubectl_ok(&all, None);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("json of {args:?}: {e}"))
    }

    /// Poll `f` until it returns Some, or panic with `what` after `timeout`.
    pub fn wait<T>(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            if started.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Like `wait`, but on timeout the panic shows the namespace's pods and events.
    pub fn wait_in<T>(
        &self,
        ns: &str,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut() -> Option<T>,
    ) -> T {
        let started = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            if started.elapsed() > timeout {
                let pods = self.kubectl(&["get", "pods", "-o", "wide", "-n", ns], None);
                let events = self.kubectl(&["get", "events", "-n", ns], None);
                panic!(
                    "timed out after {timeout:?} waiting for {what}\npods:\n{}\nevents:\n{}",
                    String::from_utf8_lossy(&pods.stdout),
                    String::from_utf8_lossy(&events.stdout)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Pods of `ns` matching `selector` that are Running and Ready, with their node.
    pub fn ready_pods(&self, ns: &str, selector: &str) -> Vec<(String, String)> {
        let list = self.json(&["get", "pods", "-n", ns, "-l", selector]);
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .filter(|p| p["status"]["phase"] == "Running" && condition(p, "Ready") == "True")
            .map(|p| {
                (
                    p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    p["spec"]["nodeName"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

/// Move the calling thread (only it) into the network namespace at `path`.
pub fn enter_netns(path: &Path) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    // SAFETY: setns(2) with an open namespace fd; it affects this thread only.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "setns {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

pub fn condition(obj: &Value, type_: &str) -> String {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}
