//! One real `berth up` cluster (API server + containerd + node agent) shared
//! by every test of the `agent` test binary, driven with the real kubectl.
//!
//! ```text
//! first test ─▶ berth up --data-dir D ─▶ kubeconfig ─▶ node Ready ─▶ tests (own namespaces)
//! process exit (atexit, also after failures) ─▶ berth down --data-dir D [--purge unless a test failed]
//! ```
//!
//! Only one `berth up` can run on a machine (one bridge, one pod subnet), and
//! statics are never dropped, so the cluster is stopped from an `atexit` hook.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Upper bound for any asynchronous effect a test waits for.
pub const DEADLINE: Duration = Duration::from_secs(40);
const POLL: Duration = Duration::from_millis(100);
const KUBECTL: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";

pub struct Agent {
    /// Holds the data dir `d`, berth's log and kubectl's cache.
    pub work: PathBuf,
    /// berth's `--data-dir`.
    pub data: PathBuf,
    pub kubeconfig: PathBuf,
    pub node_name: String,
    pub node_ip: String,
}

static AGENT: OnceLock<Result<Agent, String>> = OnceLock::new();
static FAILED: AtomicBool = AtomicBool::new(false);

/// Marks the run as failed when a test panics, so the data dir is kept for a look.
pub struct FailureFlag;

impl Drop for FailureFlag {
    fn drop(&mut self) {
        if std::thread::panicking() {
            FAILED.store(true, Ordering::SeqCst);
        }
    }
}

/// The shared cluster, started on first use; `None` (test skipped) when not
/// root or when containerd is not installed.
pub fn agent() -> Option<&'static Agent> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: the agent tests run containers and need root");
        return None;
    }
    if !Path::new(KUBECTL).exists() {
        eprintln!("skipping: {KUBECTL} is not installed");
        return None;
    }
    let found = Command::new("sh")
        .args(["-c", "command -v containerd && command -v ctr"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipping: containerd/ctr are not installed");
        return None;
    }
    match AGENT.get_or_init(start) {
        Ok(a) => Some(a),
        Err(e) => panic!("berth up failed: {e}"),
    }
}

fn start() -> Result<Agent, String> {
    // One cluster per machine: another one's bridge means its pods share our subnet.
    if Path::new("/sys/class/net/berth0").exists() {
        return Err(
            "bridge berth0 exists: another `berth up` cluster is running on this machine \
                    (stop it with `berth down --data-dir <its dir>`)"
                .into(),
        );
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let work = std::env::temp_dir().join(format!("berth-agent-{}-{nanos}", std::process::id()));
    let data = work.join("d");
    std::fs::create_dir_all(&data).map_err(|e| format!("creating {}: {e}", data.display()))?;
    let log_path = work.join("berth-up.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    // Registered before anything runs, so a half-started cluster is stopped too.
    let _ = WORK.set(work.clone());
    // SAFETY: `teardown` is a plain extern "C" fn that does not unwind.
    unsafe {
        libc::atexit(teardown);
    }
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "up",
            "--https-port",
            "0",
            "--exit-with-parent",
            "--data-dir",
        ])
        .arg(&data)
        .env("BERTH_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("spawning berth up: {e}"))?;
    let kubeconfig = data.join("kubeconfig.yaml");
    let mut agent = Agent {
        work,
        data,
        kubeconfig,
        node_name: String::new(),
        node_ip: String::new(),
    };
    let started = Instant::now();
    let berth_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    loop {
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "no Ready node after 60 s; berth's log:\n{}",
                berth_log()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
        if !agent.kubeconfig.exists() {
            continue;
        }
        let out = agent.kubectl(&["get", "nodes", "-o", "json"], None);
        let Ok(nodes) = serde_json::from_slice::<Value>(&out.stdout) else {
            continue;
        };
        let ready = nodes["items"].as_array().and_then(|items| {
            items.iter().find(|n| {
                n["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
        });
        if let Some(node) = ready {
            agent.node_name = node["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            agent.node_ip = node["status"]["addresses"]
                .as_array()
                .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
                .and_then(|a| a["address"].as_str())
                .unwrap_or_default()
                .to_string();
            return Ok(agent);
        }
    }
}

static WORK: OnceLock<PathBuf> = OnceLock::new();

/// At process exit: `berth down` (pods, containerd, mounts, bridge), then
/// remove the work dir unless a test failed.
extern "C" fn teardown() {
    let Some(work) = WORK.get() else { return };
    let data = work.join("d");
    let log = std::fs::File::create(work.join("berth-down.log"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(["down", "--data-dir"])
        .arg(&data)
        .stdin(Stdio::null());
    cmd.stdout(Stdio::null());
    match log {
        Ok(f) => cmd.stderr(f),
        Err(_) => cmd.stderr(Stdio::null()),
    };
    let ok = cmd.status().is_ok_and(|s| s.success());
    if FAILED.load(Ordering::SeqCst) || !ok {
        eprintln!(
            "agent tests: cluster stopped ({}); data and logs kept in {}",
            if ok {
                "berth down ok"
            } else {
                "berth down FAILED"
            },
            work.display()
        );
    } else {
        let _ = std::fs::remove_dir_all(work);
    }
}

impl Agent {
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
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("running kubectl: {e}"),
        };
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let _ = pipe.write_all(input.as_bytes());
        }
        match child.wait_with_output() {
            Ok(o) => o,
            Err(e) => panic!("kubectl output: {e}"),
        }
    }

    /// kubectl that must succeed; returns stdout.
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

    pub fn namespace(&self, name: &str) -> String {
        self.kubectl_ok(&["create", "namespace", name], None);
        name.to_string()
    }

    /// `kubectl create -f -` of one object in `ns`; pods are bound to the node
    /// (there is no scheduler).
    pub fn create(&self, ns: &str, mut object: Value) {
        object["metadata"]["namespace"] = json!(ns);
        if object["kind"] == "Pod" {
            object["spec"]["nodeName"] = json!(self.node_name);
        }
        self.kubectl_ok(&["create", "-f", "-"], Some(&object.to_string()));
    }

    pub fn pod(&self, ns: &str, name: &str) -> Value {
        let out = self.kubectl_ok(&["get", "pod", name, "-n", ns, "-o", "json"], None);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("pod json: {e}: {out}"))
    }

    /// The STATUS column of `kubectl get pod`.
    pub fn status_column(&self, ns: &str, name: &str) -> String {
        let out = self.kubectl_ok(&["get", "pod", name, "-n", ns, "--no-headers"], None);
        out.split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_string()
    }

    /// Poll the pod until `pred` holds; on timeout fail with its status and events.
    pub fn wait_pod(
        &self,
        ns: &str,
        name: &str,
        what: &str,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let pod = self.pod(ns, name);
            if pred(&pod) {
                return pod;
            }
            if start.elapsed() > DEADLINE {
                panic!(
                    "{ns}/{name}: timed out waiting for {what}\nstatus: {:#}\nevents:\n{}",
                    pod["status"],
                    self.event_lines(ns, name)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Like `wait_pod`, but returns the last version seen (Err) at the timeout.
    pub fn try_wait_pod(
        &self,
        ns: &str,
        name: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Result<Value, Value> {
        let start = Instant::now();
        loop {
            let pod = self.pod(ns, name);
            if pred(&pod) {
                return Ok(pod);
            }
            if start.elapsed() > timeout {
                return Err(pod);
            }
            std::thread::sleep(POLL);
        }
    }

    pub fn wait_running_ready(&self, ns: &str, name: &str) -> Value {
        self.wait_pod(ns, name, "Running and Ready", |p| {
            p["status"]["phase"] == "Running" && condition(p, "Ready") == "True"
        })
    }

    /// Events whose involvedObject is the pod `name`, oldest first.
    pub fn events(&self, ns: &str, name: &str) -> Vec<Value> {
        let out = self.kubectl_ok(&["get", "events", "-n", ns, "-o", "json"], None);
        let list: Value = serde_json::from_str(&out).unwrap_or_default();
        list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|e| e["involvedObject"]["name"] == name)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn event_lines(&self, ns: &str, name: &str) -> String {
        self.events(ns, name)
            .iter()
            .map(|e| {
                format!(
                    "  {} {} [{}] {}",
                    e["type"].as_str().unwrap_or(""),
                    e["reason"].as_str().unwrap_or(""),
                    e["involvedObject"]["fieldPath"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The text of a container's log (CRI format) for one restart count.
    pub fn log(&self, pod: &Value, container: &str, restart: u32) -> String {
        let dir = format!(
            "{}_{}_{}",
            pod["metadata"]["namespace"].as_str().unwrap_or(""),
            pod["metadata"]["name"].as_str().unwrap_or(""),
            pod["metadata"]["uid"].as_str().unwrap_or("")
        );
        let path = self
            .data
            .join("agent/pod-logs")
            .join(dir)
            .join(container)
            .join(format!("{restart}.log"));
        cri_log_text(&std::fs::read_to_string(path).unwrap_or_default())
    }

    /// Wait until the container's log contains `marker`; returns the log.
    pub fn wait_log(
        &self,
        ns: &str,
        name: &str,
        container: &str,
        restart: u32,
        marker: &str,
    ) -> String {
        let start = Instant::now();
        loop {
            let pod = self.pod(ns, name);
            let text = self.log(&pod, container, restart);
            if text.contains(marker) {
                return text;
            }
            if start.elapsed() > DEADLINE {
                panic!(
                    "{ns}/{name}/{container}: log {restart}.log never showed {marker:?}; it has:\n{text}\nstatus: {:#}\nevents:\n{}",
                    pod["status"],
                    self.event_lines(ns, name)
                );
            }
            std::thread::sleep(POLL * 2);
        }
    }

    /// IDs of the containers (sandboxes too) containerd has for a pod uid.
    pub fn runtime_containers(&self, uid: &str) -> Vec<String> {
        let out = Command::new("ctr")
            .arg("-a")
            .arg(self.data.join("agent/containerd/containerd.sock"))
            .args(["-n", "k8s.io", "containers", "ls", "-q"])
            .arg(format!("labels.\"io.kubernetes.pod.uid\"=={uid}"))
            .output();
        match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect(),
            Ok(o) => panic!("ctr containers ls: {}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => panic!("ctr: {e}"),
        }
    }
}

/// CRI log lines (`<time> <stream> <P|F> <text>`) back to the text the container wrote.
pub fn cri_log_text(raw: &str) -> String {
    let mut text = String::new();
    for line in raw.lines() {
        let mut parts = line.splitn(4, ' ');
        let (_time, _stream, tag) = (parts.next(), parts.next(), parts.next());
        text.push_str(parts.next().unwrap_or(""));
        if tag != Some("P") {
            text.push('\n');
        }
    }
    text
}

/// One container's status by name (init containers too), or Null.
pub fn cstatus<'a>(pod: &'a Value, name: &str) -> &'a Value {
    for key in ["containerStatuses", "initContainerStatuses"] {
        if let Some(s) = pod["status"][key]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name))
        {
            return s;
        }
    }
    &Value::Null
}

/// A pod condition's status ("True"/"False"), or "" when absent.
pub fn condition(pod: &Value, type_: &str) -> String {
    pod["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_))
        .and_then(|c| c["status"].as_str())
        .unwrap_or_default()
        .to_string()
}

pub fn waiting_reason(pod: &Value, container: &str) -> String {
    cstatus(pod, container)["state"]["waiting"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn restart_count(pod: &Value, container: &str) -> u64 {
    cstatus(pod, container)["restartCount"]
        .as_u64()
        .unwrap_or(0)
}

/// A pod manifest with these containers and extra spec fields.
pub fn pod_manifest(name: &str, containers: Value, extra_spec: Value) -> Value {
    let mut spec = json!({"containers": containers});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
}

pub const BUSYBOX: &str = "localhost/berth/busybox:1";
pub const HTTPD: &str = "localhost/berth/httpd:1";
pub const ECHO: &str = "localhost/berth/echo:1";

/// A busybox container running `sh -c script`.
pub fn busybox(name: &str, script: &str) -> Value {
    json!({"name": name, "image": BUSYBOX, "command": ["sh", "-c", script]})
}

/// HTTP/1.0 GET from the host; retried until the deadline (a server may need a moment).
pub fn http_get(ip: &str, port: u16, path: &str) -> String {
    let addr: SocketAddr = match format!("{ip}:{port}").parse() {
        Ok(a) => a,
        Err(e) => panic!("bad address {ip}:{port}: {e}"),
    };
    let start = Instant::now();
    let mut last_error = String::new();
    while start.elapsed() < Duration::from_secs(10) {
        match get_once(addr, path) {
            Ok(body) => return body,
            Err(e) => last_error = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("GET http://{addr}{path} from the host failed: {last_error}");
}

fn get_once(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// Soft assertions: a test records every way berth differs from Kubernetes
/// and reports them all at the end, instead of stopping at the first.
pub struct Checks {
    test: &'static str,
    failures: std::cell::RefCell<Vec<String>>,
}

impl Checks {
    pub fn new(test: &'static str) -> Self {
        Self {
            test,
            failures: Default::default(),
        }
    }

    pub fn that(&self, ok: bool, what: impl std::fmt::Display) -> bool {
        if !ok {
            self.failures.borrow_mut().push(what.to_string());
        }
        ok
    }

    /// Wait up to `timeout` for an event; a soft failure (with the events seen) if none comes.
    pub fn event(&self, a: &Agent, ns: &str, pod: &str, type_: &str, reason: &str, text: &str) {
        let start = Instant::now();
        loop {
            let found = a.events(ns, pod).into_iter().any(|e| {
                e["type"] == type_
                    && e["reason"] == reason
                    && e["message"].as_str().is_some_and(|m| m.contains(text))
            });
            if found {
                return;
            }
            if start.elapsed() > Duration::from_secs(12) {
                self.that(
                    false,
                    format!(
                        "{ns}/{pod}: no `{type_} {reason}` event containing {text:?}; events:\n{}",
                        a.event_lines(ns, pod)
                    ),
                );
                return;
            }
            std::thread::sleep(POLL * 3);
        }
    }

    /// Panic with every recorded failure.
    pub fn finish(self) {
        let failures = self.failures.take();
        assert!(
            failures.is_empty(),
            "{}: {} difference(s) from Kubernetes:\n- {}",
            self.test,
            failures.len(),
            failures.join("\n- ")
        );
    }
}

impl Drop for Checks {
    fn drop(&mut self) {
        let failures = self.failures.borrow();
        if std::thread::panicking() && !failures.is_empty() {
            eprintln!(
                "{}: also recorded before the panic:\n- {}",
                self.test,
                failures.join("\n- ")
            );
        }
    }
}

/// `kubectl get pod NAME -w -o json` in the background: every version of the
/// pod the API server sends, so short-lived states are not missed.
pub struct PodWatch {
    child: std::process::Child,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl PodWatch {
    pub fn start(a: &Agent, ns: &str, name: &str) -> Self {
        let mut child = Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(&a.kubeconfig)
            .arg("--cache-dir")
            .arg(a.work.join("kubectl-cache"))
            .args(["get", "pod", name, "-n", ns, "-w", "-o", "json"])
            .env("HOME", &a.work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("kubectl -w: {e}"));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            let sink = seen.clone();
            std::thread::spawn(move || {
                for v in serde_json::Deserializer::from_reader(out).into_iter::<Value>() {
                    let Ok(v) = v else { break };
                    sink.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                }
            });
        }
        Self { child, seen }
    }

    pub fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Wait until some version of the pod satisfies `pred`; returns it, or None at the deadline.
    pub fn wait(&self, timeout: Duration, mut pred: impl FnMut(&Value) -> bool) -> Option<Value> {
        let start = Instant::now();
        loop {
            if let Some(v) = self.seen().into_iter().find(|v| pred(v)) {
                return Some(v);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// The distinct waiting reasons of a container, in the order they were seen.
    pub fn waiting_reasons(&self, container: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for v in self.seen() {
            let r = waiting_reason(&v, container);
            if !r.is_empty() && out.last() != Some(&r) {
                out.push(r);
            }
        }
        out
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
