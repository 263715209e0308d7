//! The node phase: a `berth server` (API server + scheduler + controllers)
//! and a `berth agent` joined to it on this host as its own process (node
//! agent + containerd under its data dir), on a temporary dir; pod start
//! latency as seen by a watch, the CRI floor beside it, and the RSS of the
//! agent and of the server, each on its own.
//!
//! ```text
//! skip? (not root / no containerd / another `berth up` or `berth agent` in this netns)
//!   ─▶ spawn berth server ─▶ kubeconfig + node-token ─▶ spawn berth agent --server --token
//!   ─▶ Node Ready ─▶ idle 2 s ─▶ RSS of the agent ─▶ idle to 12 s ─▶ RSS of agent and server (0 pods)
//!   ─▶ CRI floor ×10 (straight to the agent's containerd)
//!   ─▶ watch pods ─▶ 10 × (create 1 pod → Ready, delete → gone)
//!   ─▶ 50 pods at once → all Ready ─▶ idle 2 s ─▶ RSS of agent and server (50 pods)
//!   ─▶ delete them ─▶ controllers phase (workloads.rs)
//!   ─▶ ALWAYS `berth down --data-dir <tmp>/node --purge`, then kill the server
//! ```

use crate::cri_floor::{self, CriFloor, ECHO_IMAGE};
use crate::server::{rss_kib_of, status_kib};
use crate::stats::Summary;
use anyhow::{bail, Context, Result};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use kube::api::{DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const NAMESPACE: &str = "bench-node";
const SINGLE_RUNS: usize = 10;
const BURST_PODS: usize = 50;
const CRI_FLOOR_RUNS: usize = 10;
/// Idle time after Node Ready before the settled RSS sample: covers a lease
/// renewal (10 s), a log-rotation pass (10 s) and five route syncs (2 s).
const IDLE_SETTLED: Duration = Duration::from_secs(12);

pub enum NodeOutcome {
    Skipped(String),
    Failed(String),
    Ran(Box<NodeRun>),
}

pub struct NodeRun {
    /// `berth agent` spawned → the Node reported Ready.
    pub node_ready: Duration,
    pub floor: std::result::Result<CriFloor, String>,
    /// VmRSS of the `berth agent` process, 0 pods, idle [`IDLE_SETTLED`]
    /// after Node Ready (the goal's figure).
    pub idle_rss_kib: u64,
    /// The same moment, split into anonymous and file-backed pages.
    pub idle_rss: Rss,
    /// The agent 2 s after Node Ready.
    pub idle_rss_early: Rss,
    /// VmRSS of the `berth server` process at the same moment.
    pub server_idle_rss_kib: u64,
    /// Create request sent → watch event with Ready=True, one pod at a time.
    pub single: Summary,
    pub burst: Burst,
    /// VmRSS of the agent with the 50 pods Ready, idle 2 s.
    pub rss_with_pods_kib: Option<u64>,
    pub rss_with_pods: Option<Rss>,
    pub server_rss_with_pods_kib: Option<u64>,
    pub first_error: Option<String>,
    /// The controllers phase (Deployment 50 / 100 / replace / rolling update).
    pub workloads: std::result::Result<crate::workloads::Workloads, String>,
}

/// A process's resident memory from /proc/<pid>/status.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rss {
    pub total_kib: u64,
    /// Heap, stacks, written data (RssAnon).
    pub anon_kib: u64,
    /// Mapped pages of files, i.e. of the executable's code and data (RssFile).
    pub file_kib: u64,
}

impl Rss {
    fn of(pid: u32) -> Result<Rss> {
        Ok(Rss {
            total_kib: rss_kib_of(pid)?,
            anon_kib: status_kib(pid, "RssAnon:")?,
            file_kib: status_kib(pid, "RssFile:")?,
        })
    }
}

#[derive(Default)]
pub struct Burst {
    pub wanted: usize,
    pub ready: usize,
    /// First create sent → last pod Ready (None if not all became Ready).
    pub all_ready: Option<Duration>,
    /// Per pod: its create sent → its Ready event.
    pub per_pod: Summary,
}

/// Why the phase cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string));
    if uid.as_deref() != Some("0") {
        return Some("not running as root (`berth up` runs containers)".into());
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("containerd").is_file()))
        .unwrap_or(false);
    if !on_path {
        return Some("`containerd` is not installed (`make up` installs it)".into());
    }
    if let Some((pid, what)) = other_node() {
        return Some(format!(
            "another `berth {what}` is running (pid {pid}); only one node per network namespace \
             (one CNI bridge, one cluster DNS address)"
        ));
    }
    None
}

/// A running `berth up` or `berth agent` (argv[0] ends in "berth") in this
/// network namespace (the multi-node tests run agents in their own).
fn other_node() -> Option<(u32, &'static str)> {
    let our_netns = std::fs::read_link("/proc/self/ns/net").ok()?;
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let raw = std::fs::read(e.path().join("cmdline")).ok()?;
        let what = berth_node_command(&raw)?;
        let netns = std::fs::read_link(e.path().join("ns/net")).ok()?;
        (netns == our_netns).then_some((pid, what))
    })
}

/// "up" or "agent" when a NUL-separated command line runs a node.
fn berth_node_command(cmdline: &[u8]) -> Option<&'static str> {
    let mut args = cmdline.split(|b| *b == 0);
    if !args.next()?.ends_with(b"berth") {
        return None;
    }
    match args.next()? {
        b"up" => Some("up"),
        b"agent" => Some("agent"),
        _ => None,
    }
}

/// The `berth server` and `berth agent` children and their temporary
/// directory (`server/`, the agent's data dir `node/`, logs).
struct Cluster {
    server: Child,
    server_pid: u32,
    agent: Option<Child>,
    agent_pid: u32,
    berth: PathBuf,
    server_dir: PathBuf,
    /// The agent's data dir (containerd, pods, its credentials).
    data_dir: PathBuf,
    server_log: PathBuf,
    agent_log: PathBuf,
    tmp: Option<tempfile::TempDir>,
}

impl Cluster {
    /// Spawns the server; the agent follows in [`Cluster::spawn_agent`].
    fn spawn_server(berth: &Path) -> Result<Cluster> {
        let tmp = tempfile::Builder::new()
            .prefix("berth-bench-node-")
            .tempdir_in(std::env::temp_dir())
            .context("creating a temporary dir")?;
        let root = tmp.path().canonicalize()?;
        // `berth down` finds the agent by its canonical `--data-dir`; neither
        // dir name is a prefix of the other, so it never matches the server.
        let server_dir = root.join("server");
        let data_dir = root.join("node");
        let server_log = root.join("server.log");
        let agent_log = root.join("agent.log");
        let out = File::create(&server_log)
            .with_context(|| format!("creating {}", server_log.display()))?;
        let server = Command::new(berth)
            .arg("server")
            .arg("--data-dir")
            .arg(&server_dir)
            .args([
                "--https-port",
                "0",
                "--advertise-address",
                "127.0.0.1",
                "--exit-with-parent",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {} server", berth.display()))?;
        Ok(Cluster {
            server_pid: server.id(),
            server,
            agent: None,
            agent_pid: 0,
            berth: berth.to_path_buf(),
            server_dir,
            data_dir,
            server_log,
            agent_log,
            tmp: Some(tmp),
        })
    }

    /// Waits for the server's kubeconfig and join token, then starts a
    /// `berth agent` joined with that token, on this host.
    async fn spawn_agent(&mut self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        let kubeconfig = self.server_dir.join("kubeconfig.yaml");
        let token_file = self.server_dir.join("node-token");
        while !kubeconfig.exists() || !token_file.exists() {
            if let Some(status) = self.server.try_wait()? {
                bail!(
                    "berth server exited ({status}):\n{}",
                    tail(&self.server_log, 20)
                );
            }
            if started.elapsed() > limit {
                bail!(
                    "berth server wrote no kubeconfig/node-token in {limit:?}:\n{}",
                    tail(&self.server_log, 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The kubeconfig is written before the token; a token read too early is empty.
        let mut token = String::new();
        while token.is_empty() && started.elapsed() < limit {
            token = std::fs::read_to_string(&token_file)?.trim().to_string();
            if token.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let config = std::fs::read_to_string(&kubeconfig)?;
        let url = server_url(&config)
            .with_context(|| format!("no https://127.0.0.1:<port> in {}", kubeconfig.display()))?;
        let out = File::create(&self.agent_log)
            .with_context(|| format!("creating {}", self.agent_log.display()))?;
        let agent = Command::new(&self.berth)
            .arg("agent")
            .args(["--server", &url, "--token", &token])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args([
                "--node-ip",
                "127.0.0.1",
                "--kubelet-port",
                "0",
                "--exit-with-parent",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {} agent", self.berth.display()))?;
        self.agent_pid = agent.id();
        self.agent = Some(agent);
        Ok(())
    }

    fn log_tails(&self, lines: usize) -> String {
        format!(
            "--- berth agent log ---\n{}\n--- berth server log ---\n{}",
            tail(&self.agent_log, lines),
            tail(&self.server_log, lines)
        )
    }

    /// Waits for a Node with Ready=True, through the server's admin kubeconfig.
    async fn wait_node_ready(&mut self, limit: Duration) -> Result<Client> {
        let started = Instant::now();
        let kubeconfig = self.server_dir.join("kubeconfig.yaml");
        let mut client = None;
        loop {
            if let Some(status) = self.server.try_wait()? {
                bail!("berth server exited ({status}):\n{}", self.log_tails(20));
            }
            if let Some(agent) = self.agent.as_mut() {
                if let Some(status) = agent.try_wait()? {
                    bail!("berth agent exited ({status}):\n{}", self.log_tails(20));
                }
            }
            if started.elapsed() > limit {
                bail!("node not Ready after {limit:?}:\n{}", self.log_tails(20));
            }
            if client.is_none() {
                if let Ok(kc) = Kubeconfig::read_from(&kubeconfig) {
                    if let Ok(config) =
                        kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                            .await
                    {
                        client = Client::try_from(config).ok();
                    }
                }
            }
            if let Some(c) = &client {
                let nodes: Api<Node> = Api::all(c.clone());
                if let Ok(list) = nodes.list(&ListParams::default()).await {
                    if list.items.iter().any(node_ready) {
                        return Ok(c.clone());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `berth down --purge` for the agent's data dir, then the server is
    /// killed; the temporary dir is kept if `berth down` failed (mounts may remain).
    fn down(mut self) -> Result<()> {
        let out = File::options().append(true).open(&self.agent_log);
        let status = Command::new(&self.berth)
            .arg("down")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--purge")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out.map_or_else(|_| Stdio::null(), Stdio::from))
            .status();
        if let Some(mut agent) = self.agent.take() {
            let _ = agent.kill();
            let _ = agent.wait();
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
        match status {
            Ok(s) if s.success() => Ok(()),
            other => {
                let kept = self.tmp.take().map(|t| t.keep());
                bail!("berth down failed ({other:?}); left {kept:?} in place")
            }
        }
    }
}

/// The API server URL in a kubeconfig berth wrote (`server: https://127.0.0.1:<port>`).
fn server_url(kubeconfig: &str) -> Option<String> {
    kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .filter(|u| u.starts_with("https://"))
        .map(str::to_string)
}

fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn echo_pod(name: &str) -> Result<Pod> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "labels": { "app": "bench-node" } },
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{ "name": "echo", "image": ECHO_IMAGE, "imagePullPolicy": "IfNotPresent" }]
        }
    }))?)
}

/// What the pod watch has seen: first Ready=True per pod name, and deletions.
struct PodWatch {
    events: mpsc::UnboundedReceiver<(String, Instant, bool, bool)>,
    ready: HashMap<String, Instant>,
    gone: HashSet<String>,
}

impl PodWatch {
    async fn start(api: Api<Pod>) -> Result<PodWatch> {
        let rv = api
            .list(&ListParams::default())
            .await?
            .metadata
            .resource_version
            .unwrap_or_else(|| "0".into());
        let mut stream = api
            .watch(&WatchParams::default().timeout(290), &rv)
            .await?
            .boxed();
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(event)) = stream.try_next().await {
                let at = Instant::now();
                let (pod, deleted) = match event {
                    WatchEvent::Added(p) | WatchEvent::Modified(p) => (p, false),
                    WatchEvent::Deleted(p) => (p, true),
                    _ => continue,
                };
                let name = pod.metadata.name.clone().unwrap_or_default();
                if tx.send((name, at, pod_ready(&pod), deleted)).is_err() {
                    break;
                }
            }
        });
        Ok(PodWatch {
            events,
            ready: HashMap::new(),
            gone: HashSet::new(),
        })
    }

    /// Applies events until `done` holds; false on timeout or a closed watch.
    async fn until(&mut self, limit: Duration, done: impl Fn(&PodWatch) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !done(self) {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((name, at, ready, deleted))) => {
                    if deleted {
                        self.gone.insert(name);
                    } else if ready {
                        self.ready.entry(name).or_insert(at);
                    }
                }
                _ => return false,
            }
        }
        true
    }
}

/// Runs the phase if it can; `berth down` always follows a started cluster.
pub async fn run(berth: &Path, progress: impl Fn(&str)) -> NodeOutcome {
    if let Some(reason) = skip_reason() {
        return NodeOutcome::Skipped(reason);
    }
    let mut cluster = match Cluster::spawn_server(berth) {
        Ok(c) => c,
        Err(e) => return NodeOutcome::Failed(format!("{e:#}")),
    };
    progress(&format!("berth server pid {} starting", cluster.server_pid));
    let measured = measure(&mut cluster, &progress).await;
    let log = cluster.log_tails(15);
    progress("berth down --purge (agent), kill the server");
    let down = cluster.down();
    match (measured, down) {
        (Ok(run), Ok(())) => NodeOutcome::Ran(Box::new(run)),
        (Ok(_), Err(e)) => NodeOutcome::Failed(format!("{e:#}")),
        (Err(e), down) => NodeOutcome::Failed(format!(
            "{e:#}{}\n{log}",
            down.err()
                .map(|d| format!(" (and {d:#})"))
                .unwrap_or_default()
        )),
    }
}

async fn measure(cluster: &mut Cluster, progress: &impl Fn(&str)) -> Result<NodeRun> {
    cluster.spawn_agent(Duration::from_secs(30)).await?;
    let spawned = Instant::now();
    progress(&format!("berth agent pid {} joining", cluster.agent_pid));
    let client = cluster.wait_node_ready(Duration::from_secs(120)).await?;
    let node_ready = spawned.elapsed();
    progress(&format!(
        "node Ready {:.1} s after the agent was spawned; idle {} s",
        node_ready.as_secs_f64(),
        IDLE_SETTLED.as_secs()
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss_early = Rss::of(cluster.agent_pid)?;
    tokio::time::sleep(IDLE_SETTLED - Duration::from_secs(2)).await;
    let idle_rss = Rss::of(cluster.agent_pid)?;
    let server_idle_rss_kib = rss_kib_of(cluster.server_pid)?;

    progress(&format!(
        "CRI floor: {CRI_FLOOR_RUNS} × (sandbox + container) straight to containerd"
    ));
    let socket = cluster.data_dir.join("agent/containerd/containerd.sock");
    let floor = cri_floor::measure(
        &socket,
        &cluster.data_dir.join("bench-logs"),
        CRI_FLOOR_RUNS,
    )
    .await
    .map_err(|e| format!("{e:#}"));

    crate::create_namespace(&client, NAMESPACE).await?;
    wait_for_service_account(&client).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let mut watch = PodWatch::start(pods.clone()).await?;
    let mut first_error = None;

    progress(&format!("{SINGLE_RUNS} single pods, one at a time"));
    let mut single = Vec::new();
    for i in 0..SINGLE_RUNS {
        let name = format!("single-{i}");
        let sent = Instant::now();
        if let Err(e) = pods.create(&PostParams::default(), &echo_pod(&name)?).await {
            first_error.get_or_insert(format!("creating {name}: {e}"));
            break;
        }
        if !watch
            .until(Duration::from_secs(30), |w| w.ready.contains_key(&name))
            .await
        {
            first_error.get_or_insert(format!("{name} not Ready within 30 s"));
            break;
        }
        single.push(watch.ready[&name] - sent);
        let _ = pods
            .delete(&name, &DeleteParams::default().grace_period(0))
            .await;
        if !watch
            .until(Duration::from_secs(30), |w| w.gone.contains(&name))
            .await
        {
            first_error.get_or_insert(format!("{name} not gone within 30 s of delete"));
        }
    }

    progress(&format!("{BURST_PODS} pods created at once (64 in flight)"));
    let burst = burst(&pods, &mut watch, &mut first_error).await?;
    let (rss_with_pods, server_rss_with_pods_kib) = if burst.ready == BURST_PODS {
        tokio::time::sleep(Duration::from_secs(2)).await;
        (
            Some(Rss::of(cluster.agent_pid)?),
            Some(rss_kib_of(cluster.server_pid)?),
        )
    } else {
        (None, None)
    };
    // Make room (max 110 pods per node) before the controllers phase.
    let _ = pods
        .delete_collection(
            &DeleteParams::default().grace_period(0),
            &ListParams::default(),
        )
        .await;
    let _ = watch
        .until(Duration::from_secs(60), |w| {
            (0..BURST_PODS).all(|i| w.gone.contains(&format!("burst-{i}")))
        })
        .await;
    let workloads = crate::workloads::measure(&client, NAMESPACE, progress)
        .await
        .map_err(|e| format!("{e:#}"));
    Ok(NodeRun {
        workloads,
        node_ready,
        floor,
        idle_rss_kib: idle_rss.total_kib,
        idle_rss,
        idle_rss_early,
        server_idle_rss_kib,
        single: Summary::of(single),
        burst,
        rss_with_pods_kib: rss_with_pods.map(|r| r.total_kib),
        rss_with_pods,
        server_rss_with_pods_kib,
        first_error,
    })
}

async fn burst(
    pods: &Api<Pod>,
    watch: &mut PodWatch,
    first_error: &mut Option<String>,
) -> Result<Burst> {
    let names: Vec<String> = (0..BURST_PODS).map(|i| format!("burst-{i}")).collect();
    let bodies = names
        .iter()
        .map(|n| echo_pod(n))
        .collect::<Result<Vec<_>>>()?;
    let created: Vec<(String, Instant, std::result::Result<Pod, kube::Error>)> =
        futures::stream::iter(names.iter().zip(bodies))
            .map(|(name, body)| async move {
                let sent = Instant::now();
                (
                    name.clone(),
                    sent,
                    pods.create(&PostParams::default(), &body).await,
                )
            })
            .buffer_unordered(64)
            .collect()
            .await;
    let mut sent = HashMap::new();
    for (name, at, result) in created {
        match result {
            Ok(_) => {
                sent.insert(name, at);
            }
            Err(e) => {
                first_error.get_or_insert(format!("creating {name}: {e}"));
            }
        }
    }
    let all = watch
        .until(Duration::from_secs(60), |w| {
            sent.keys().all(|n| w.ready.contains_key(n))
        })
        .await;
    let per_pod: Vec<Duration> = sent
        .iter()
        .filter_map(|(n, at)| watch.ready.get(n).map(|r| *r - *at))
        .collect();
    let first_sent = sent.values().min().copied();
    let last_ready = sent.keys().filter_map(|n| watch.ready.get(n)).max();
    let ready = per_pod.len();
    if !all {
        first_error.get_or_insert(format!("only {ready}/{BURST_PODS} pods Ready within 60 s"));
    }
    Ok(Burst {
        wanted: BURST_PODS,
        ready,
        all_ready: match (all && sent.len() == BURST_PODS, first_sent, last_ready) {
            (true, Some(f), Some(l)) => Some(*l - f),
            _ => None,
        },
        per_pod: Summary::of(per_pod),
    })
}

/// A fresh namespace's `default` ServiceAccount may lag its creation; pods wait for it.
async fn wait_for_service_account(client: &Client) {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), NAMESPACE);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = sas.get_opt("default").await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_commands_are_up_and_agent_of_a_berth_binary() {
        assert_eq!(
            berth_node_command(b"/usr/bin/berth\0agent\0--server\0x"),
            Some("agent")
        );
        assert_eq!(berth_node_command(b"berth\0up\0"), Some("up"));
        assert_eq!(berth_node_command(b"/usr/bin/berth\0server\0"), None);
        assert_eq!(berth_node_command(b"/usr/bin/berth\0down\0"), None);
        assert_eq!(berth_node_command(b"/bin/sh\0agent\0"), None);
        assert_eq!(berth_node_command(b""), None);
    }

    #[test]
    fn the_server_url_comes_from_the_kubeconfig() {
        let kc = "clusters:\n- cluster:\n    certificate-authority-data: x\n    server: https://127.0.0.1:40123\n  name: berth\n";
        assert_eq!(server_url(kc).as_deref(), Some("https://127.0.0.1:40123"));
        assert_eq!(server_url("server: http://x"), None);
    }

    #[test]
    fn echo_pod_is_a_valid_pod_of_the_echo_image() {
        let pod = echo_pod("single-0").unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("single-0"));
        let spec = pod.spec.unwrap();
        assert_eq!(spec.containers[0].image.as_deref(), Some(ECHO_IMAGE));
        assert_eq!(spec.termination_grace_period_seconds, Some(0));
    }

    #[test]
    fn ready_needs_the_ready_condition_true() {
        let mut pod = echo_pod("p").unwrap();
        assert!(!pod_ready(&pod));
        pod.status = serde_json::from_value(serde_json::json!({
            "conditions": [{ "type": "ContainersReady", "status": "True" },
                           { "type": "Ready", "status": "False" }]
        }))
        .unwrap();
        assert!(!pod_ready(&pod));
        pod.status.as_mut().unwrap().conditions.as_mut().unwrap()[1].status = "True".into();
        assert!(pod_ready(&pod));
    }
}
