//! `FakeRuntime`: an in-memory CRI runtime for unit tests and the hollow-node simulator.
//!
//! It follows containerd 1.6's observable behaviour where the kubelet depends on it: state
//! transitions (CREATED → RUNNING → EXITED with exit codes and reasons `Completed`, `Error`,
//! `OOMKilled`, `StartError`), idempotent removes, NotFound for unknown ids, name reservation,
//! pulls that fail with NotFound for images no registry has. It never sleeps: a stop that would
//! wait out a grace period advances the fake clock instead.
//!
//! What a container does is chosen per image or per command with [`FakeBehaviour`].

mod container;
mod image;
mod sandbox;
mod service;
mod stats;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::api::{ExecSyncResponse, PodSandboxConfig};
use crate::error::{Code, CriError};

pub use image::normalize_image_ref;

/// What a fake container's process does once started.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FakeBehaviour {
    /// Runs until stopped; exits 0 on SIGTERM (137 when stopped with no grace period).
    #[default]
    RunForever,
    /// Runs until stopped and ignores SIGTERM: a stop takes the whole grace period, then the
    /// process is killed (137), like a PID 1 without a signal handler.
    IgnoreSigterm,
    /// Exits with this code as soon as it starts (`Completed` for 0, else `Error`).
    Exit(i32),
    /// Killed by the OOM killer right after starting: 137, reason `OOMKilled`.
    OomKilled,
    /// StartContainer fails with this runtime message; the container ends EXITED 128 with
    /// reason `StartError`, as containerd reports it.
    StartError(String),
}

/// Resource usage reported in stats for one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FakeUsage {
    pub cpu_nano_cores: u64,
    pub memory_working_set_bytes: u64,
}

/// The fake's notion of time: deterministic by default.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// Nanoseconds since the epoch; every state change moves it 1 ms forward.
    Manual(i64),
    System,
}

/// 2025-01-01T00:00:00Z: where the manual clock starts.
const MANUAL_CLOCK_START_NANOS: i64 = 1_735_689_600 * 1_000_000_000;
const TICK_NANOS: i64 = 1_000_000;

/// An in-memory CRI runtime. Clones share state.
#[derive(Clone)]
pub struct FakeRuntime {
    state: Arc<Mutex<State>>,
}

impl Default for FakeRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for FakeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("FakeRuntime")
            .field("sandboxes", &state.sandboxes.len())
            .field("containers", &state.containers.len())
            .field("images", &state.images.len())
            .finish()
    }
}

impl FakeRuntime {
    /// An empty runtime: no images, manual clock, pod network 10.88.0.0/16, network ready.
    pub fn new() -> Self {
        FakeRuntime {
            state: Arc::new(Mutex::new(State::new())),
        }
    }

    /// Timestamps from the system clock instead of the deterministic manual clock (for the
    /// hollow-node simulator, whose pod statuses show real times).
    pub fn with_system_clock(self) -> Self {
        self.lock().clock = Clock::System;
        self
    }

    /// Stops recording calls (see [`FakeRuntime::calls`]): a hollow node runs for
    /// hours and its relister alone makes a call every second.
    pub fn without_call_log(self) -> Self {
        {
            let mut state = self.lock();
            state.record_calls = false;
            state.calls = Vec::new();
        }
        self
    }

    /// Makes `op` (RunPodSandbox, PullImage, CreateContainer, StartContainer)
    /// take `latency` of real time before it acts, like a real runtime would.
    /// The only place the fake sleeps; unit tests leave it unset.
    pub fn with_latency(self, op: &'static str, latency: Duration) -> Self {
        self.lock().latencies.insert(op, latency);
        self
    }

    async fn latency(&self, op: &'static str) {
        let latency = self.lock().latencies.get(op).copied();
        if let Some(latency) = latency.filter(|l| !l.is_zero()) {
            tokio::time::sleep(latency).await;
        }
    }

    /// Makes an image present locally, as if pulled or imported. Returns its id.
    pub fn add_image(&self, reference: &str, size_bytes: u64) -> String {
        self.lock().add_image(reference, size_bytes)
    }

    /// Lets `PullImage` find this image in a "registry".
    pub fn add_registry_image(&self, reference: &str, size_bytes: u64) {
        let name = normalize_image_ref(reference);
        self.lock().registry.insert(name, size_bytes);
    }

    /// Containers from this image behave like this (unless a command rule matches).
    pub fn on_image(&self, reference: &str, behaviour: FakeBehaviour) {
        let name = normalize_image_ref(reference);
        self.lock().image_behaviours.insert(name, behaviour);
    }

    /// Containers whose argv (command then args) joined by spaces equals `command`, or whose
    /// argv[0] equals it, behave like this. Command rules win over image rules.
    pub fn on_command(&self, command: &str, behaviour: FakeBehaviour) {
        self.lock()
            .command_behaviours
            .insert(command.to_string(), behaviour);
    }

    /// `ExecSync` of this command (argv joined by spaces) answers this; others exit 0 silently.
    pub fn on_exec(&self, command: &str, stdout: &str, stderr: &str, exit_code: i32) {
        self.lock().exec_results.insert(
            command.to_string(),
            ExecSyncResponse {
                stdout: stdout.as_bytes().to_vec(),
                stderr: stderr.as_bytes().to_vec(),
                exit_code,
            },
        );
    }

    /// Sets the usage a container reports in stats.
    pub fn set_usage(&self, container_id: &str, usage: FakeUsage) {
        self.lock().usage.insert(container_id.to_string(), usage);
    }

    /// Flips the `NetworkReady` condition (false: CNI not initialized).
    pub fn set_network_ready(&self, ready: bool) {
        self.lock().network_ready = ready;
    }

    /// The next call of `op` (a CRI method name such as `"RunPodSandbox"`) fails like this.
    /// Several injections for one op fail successive calls.
    pub fn fail_next(&self, op: &'static str, code: Code, message: &str) {
        self.lock()
            .injected
            .entry(op)
            .or_default()
            .push_back((code, message.to_string()));
    }

    /// The running process of a container exits by itself (as observed by the runtime).
    pub fn exit_container(&self, container_id: &str, exit_code: i32) -> Result<(), CriError> {
        self.lock().process_exited(container_id, exit_code, None)
    }

    /// The kernel OOM-kills a running container.
    pub fn oom_kill(&self, container_id: &str) -> Result<(), CriError> {
        self.lock()
            .process_exited(container_id, 137, Some("OOMKilled"))
    }

    /// Moves the manual clock forward (no effect with the system clock).
    pub fn advance_clock(&self, by: Duration) {
        let nanos = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        let mut state = self.lock();
        if let Clock::Manual(now) = &mut state.clock {
            *now = now.saturating_add(nanos);
        }
    }

    /// CRI methods called so far, in order (e.g. `["RunPodSandbox", "CreateContainer"]`).
    pub fn calls(&self) -> Vec<&'static str> {
        self.lock().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state for a fake.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one CRI call against the state: records it, applies injected failures, ticks the
    /// clock.
    fn call<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut State) -> Result<T, CriError>,
    ) -> Result<T, CriError> {
        let mut state = self.lock();
        if state.record_calls {
            state.calls.push(op);
        }
        if let Some((code, message)) = state.injected.get_mut(op).and_then(VecDeque::pop_front) {
            return Err(CriError::status(op, code, message));
        }
        state.tick();
        f(&mut state)
    }
}

pub(crate) struct Sandbox {
    id: String,
    config: PodSandboxConfig,
    /// containerd's reserved name: name_namespace_uid_attempt.
    name: String,
    ready: bool,
    created_at: i64,
    ip: String,
    runtime_handler: String,
}

pub(crate) struct Container {
    id: String,
    sandbox_id: String,
    name: String,
    config: crate::api::ContainerConfig,
    log_path: String,
    image_id: String,
    image_ref: String,
    state: crate::api::ContainerState,
    created_at: i64,
    started_at: i64,
    finished_at: i64,
    exit_code: i32,
    reason: String,
    message: String,
    resources: Option<crate::api::LinuxContainerResources>,
    behaviour: FakeBehaviour,
}

pub(crate) struct ImageRecord {
    id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    size: u64,
}

pub(crate) struct State {
    clock: Clock,
    next_serial: u64,
    sandboxes: BTreeMap<String, Sandbox>,
    containers: BTreeMap<String, Container>,
    /// By image id.
    images: BTreeMap<String, ImageRecord>,
    /// Normalized references `PullImage` can find, with their sizes.
    registry: BTreeMap<String, u64>,
    image_behaviours: HashMap<String, FakeBehaviour>,
    command_behaviours: HashMap<String, FakeBehaviour>,
    exec_results: HashMap<String, ExecSyncResponse>,
    usage: HashMap<String, FakeUsage>,
    network_ready: bool,
    pod_cidr: (Ipv4Addr, u8),
    next_ip_offset: u32,
    injected: HashMap<&'static str, VecDeque<(Code, String)>>,
    calls: Vec<&'static str>,
    /// Off for long simulations: the call log would grow without bound.
    record_calls: bool,
    /// Simulated time some calls take (the hollow-node simulator's knob).
    latencies: HashMap<&'static str, Duration>,
}

impl State {
    fn new() -> Self {
        State {
            clock: Clock::Manual(MANUAL_CLOCK_START_NANOS),
            next_serial: 0,
            sandboxes: BTreeMap::new(),
            containers: BTreeMap::new(),
            images: BTreeMap::new(),
            registry: BTreeMap::new(),
            image_behaviours: HashMap::new(),
            command_behaviours: HashMap::new(),
            exec_results: HashMap::new(),
            usage: HashMap::new(),
            network_ready: true,
            pod_cidr: (Ipv4Addr::new(10, 88, 0, 0), 16),
            next_ip_offset: 2,
            injected: HashMap::new(),
            calls: Vec::new(),
            record_calls: true,
            latencies: HashMap::new(),
        }
    }

    fn now(&self) -> i64 {
        match self.clock {
            Clock::Manual(nanos) => nanos,
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }

    fn tick(&mut self) {
        if let Clock::Manual(nanos) = &mut self.clock {
            *nanos += TICK_NANOS;
        }
    }

    /// A 64-hex-digit id like containerd's, deterministic per runtime.
    fn new_id(&mut self) -> String {
        self.next_serial += 1;
        hex_id(&self.next_serial.to_string())
    }
}

/// 64 hex digits derived from `seed` (splitmix64 over an FNV-1a hash; not cryptographic).
pub(crate) fn hex_id(seed: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut out = String::with_capacity(64);
    for _ in 0..4 {
        hash = hash.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = hash;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.push_str(&format!("{z:016x}"));
    }
    out
}

/// containerd's NotFound for an unknown container id.
fn container_not_found(op: &'static str, id: &str) -> CriError {
    CriError::status(
        op,
        Code::NotFound,
        format!("an error occurred when try to find container {id:?}: not found"),
    )
}

/// containerd's NotFound for an unknown sandbox id (it does not name the id).
fn sandbox_not_found(op: &'static str, _id: &str) -> CriError {
    CriError::status(
        op,
        Code::NotFound,
        "an error occurred when try to find sandbox: not found",
    )
}

/// Finds a key by exact id or unique prefix, as containerd's truncated-id index does.
fn resolve_id<'a, V>(map: &'a BTreeMap<String, V>, id: &str) -> Option<&'a str> {
    if id.is_empty() {
        return None;
    }
    if let Some((key, _)) = map.get_key_value(id) {
        return Some(key.as_str());
    }
    let mut matches = map
        .range(id.to_string()..)
        .take_while(|(k, _)| k.starts_with(id));
    let first = matches.next()?;
    if matches.next().is_some() {
        return None;
    }
    Some(first.0.as_str())
}

fn labels_match(selector: &HashMap<String, String>, labels: &HashMap<String, String>) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
}

#[cfg(test)]
mod tests;
