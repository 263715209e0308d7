//! One worker per pod: a loop that makes the runtime match the pod and
//! reports its status, woken by pod changes, probe results and timers.
//!
//! ```text
//! pod update ─┐
//! probe result ┼─▶ sync: volumes ─▶ sandbox ─▶ init containers (in order)
//! timer ──────┘        ─▶ containers (start | restart with back-off | leave)
//!                      ─▶ status (PATCH pods/status only when it changed)
//! deletion ──▶ kill (preStop, SIGTERM, grace, SIGKILL) ─▶ stop sandbox ─▶ confirm delete
//! ```

use super::backoff::Backoff;
use super::runtime::{self as rt, Runtime, Sandbox};
use super::status::{self, Instance, Observed, RunState};
use crate::context::Context;
use crate::events::Kind;
use berth_cri::api;
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How soon a worker retries after a failed or incomplete sync.
pub const RESYNC: Duration = Duration::from_secs(10);
/// How often a worker whose pod is as it should be re-syncs without a
/// trigger (upstream's `syncFrequency`, 1 min). Container state changes wake
/// it at once (the relister), probe results and API updates too; a 10 s
/// period cost 15,000 pod syncs/s at 150,000 pods.
pub const PERIODIC_SYNC: Duration = Duration::from_secs(60);
/// The shortest stop window after a preStop hook (minimumGracePeriodInSeconds).
pub const MINIMUM_GRACE_PERIOD: i64 = 2;
/// A postStart hook that runs longer than this counts as failed (upstream waits without limit).
pub const POST_START_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Worker {
    ctx: Arc<Context>,
    uid: String,
    backoff: Backoff,
    /// Why containers are not running (shown as waiting reasons).
    waiting: HashMap<String, (String, String)>,
    probes: HashMap<String, berth_probes::ContainerProbes>,
    ready: HashMap<String, bool>,
    started: HashMap<String, bool>,
    /// Containers whose liveness or startup probe failed: restart them (id, which probe).
    unhealthy: HashMap<String, (String, &'static str)>,
    last_status: Option<Value>,
    start_time: Option<String>,
    pulled: HashMap<String, bool>,
    /// When each image's last pull failed (the pull back-off counts from it).
    pull_failed_at: HashMap<String, std::time::SystemTime>,
    /// The last pull error per image, for the back-off's waiting message.
    pull_errors: HashMap<String, String>,
    probe_tx: mpsc::Sender<berth_probes::ProbeResult>,
    probe_rx: mpsc::Receiver<berth_probes::ProbeResult>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn pod_ref(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.uid.as_deref().unwrap_or("")
    )
}

fn field_path(c: &Container, init: bool) -> String {
    format!(
        "spec.{}{{{}}}",
        if init { "initContainers" } else { "containers" },
        c.name
    )
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{}m0s", s / 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Worker {
    pub fn new(ctx: Arc<Context>, uid: String) -> Self {
        let (probe_tx, probe_rx) = mpsc::channel(64);
        Self {
            ctx,
            uid,
            backoff: Backoff::default(),
            waiting: HashMap::new(),
            probes: HashMap::new(),
            ready: HashMap::new(),
            started: HashMap::new(),
            unhealthy: HashMap::new(),
            last_status: None,
            start_time: None,
            pulled: HashMap::new(),
            pull_failed_at: HashMap::new(),
            pull_errors: HashMap::new(),
            probe_tx,
            probe_rx,
        }
    }

    /// Run until the pod is gone from the API and from the runtime.
    pub async fn run(mut self, mut rx: watch::Receiver<Option<Pod>>) {
        loop {
            let pod = rx.borrow_and_update().clone();
            let Some(pod) = pod else {
                // Gone from the API (force-deleted): stop everything now.
                self.kill(None, 0).await;
                self.cleanup().await;
                return;
            };
            if pod.metadata.deletion_timestamp.is_some() {
                let grace = pod
                    .metadata
                    .deletion_grace_period_seconds
                    .unwrap_or(30)
                    .max(0);
                self.kill(Some(&pod), grace).await;
                self.post_status(&pod).await;
                self.confirm_delete(&pod).await;
                self.cleanup().await;
                return;
            }
            let next = match self.sync(&pod).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(pod = %pod_ref(&pod), "sync failed: {e}");
                    RESYNC
                }
            };
            self.post_status(&pod).await;
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        self.kill(None, 0).await;
                        self.cleanup().await;
                        return;
                    }
                }
                Some(result) = self.probe_rx.recv() => self.apply_probe(&pod, result).await,
                _ = tokio::time::sleep(next) => {}
            }
        }
    }

    async fn apply_probe(&mut self, pod: &Pod, r: berth_probes::ProbeResult) {
        use berth_probes::ProbeKind;
        if r.changed {
            match r.kind {
                ProbeKind::Readiness => {
                    self.ready.insert(r.container_name.clone(), r.success);
                }
                ProbeKind::Startup => {
                    self.started.insert(r.container_name.clone(), r.success);
                    if !r.success {
                        // A startup probe that gives up restarts the container, like liveness.
                        self.unhealthy.insert(
                            r.container_name.clone(),
                            (r.container_id.clone(), "startup"),
                        );
                    }
                }
                ProbeKind::Liveness => {
                    if !r.success {
                        self.unhealthy.insert(
                            r.container_name.clone(),
                            (r.container_id.clone(), "liveness"),
                        );
                    }
                }
            }
        }
        // Every failed run is an Unhealthy event, as the kubelet records them.
        if !r.success && !r.message.is_empty() {
            let c = pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.iter().find(|c| c.name == r.container_name));
            let fp = c.map(|c| field_path(c, false));
            self.ctx
                .recorder
                .pod(pod, fp.as_deref(), Kind::Warning, "Unhealthy", &r.message)
                .await;
        }
    }

    /// One pass: make the runtime match `pod`. Returns when to look again.
    async fn sync(&mut self, pod: &Pod) -> Result<Duration, String> {
        let runtime = self.ctx.runtime.clone();
        let rt: &dyn Runtime = runtime.as_ref();
        let Some(spec) = pod.spec.as_ref() else {
            return Ok(RESYNC);
        };
        let restart = spec
            .restart_policy
            .as_deref()
            .unwrap_or("Always")
            .to_string();
        if self.start_time.is_none() {
            self.start_time = pod
                .status
                .as_ref()
                .and_then(|s| serde_json::to_value(&s.start_time).ok())
                .and_then(|v| v.as_str().map(str::to_string))
                .or_else(|| Some(now()));
        }
        // A finished pod that won't restart keeps its containers stopped.
        if let Some(phase) = self.last_status.as_ref().and_then(|s| s["phase"].as_str()) {
            if matches!(phase, "Succeeded" | "Failed") && restart != "Always" {
                return Ok(PERIODIC_SYNC);
            }
        }

        let volumes = match self.ctx.volumes.setup(pod).await {
            Ok(v) => v,
            Err(e) => {
                let msg = e.to_string();
                self.ctx
                    .recorder
                    .pod(pod, None, Kind::Warning, "FailedMount", &msg)
                    .await;
                for c in &spec.containers {
                    self.waiting
                        .insert(c.name.clone(), ("ContainerCreating".into(), String::new()));
                }
                return Ok(Duration::from_secs(2));
            }
        };

        let sandbox = self.ensure_sandbox(pod, rt).await?;
        let Some(sandbox) = sandbox else {
            return Ok(Duration::from_secs(2));
        };
        let mut instances = rt::instances(rt, &sandbox.id)
            .await
            .map_err(|e| e.to_string())?;
        let facts = berth_podspec::PodFacts {
            node_name: self.ctx.cfg.node_name.clone(),
            host_ip: self.ctx.cfg.node_ip.clone(),
            pod_ip: sandbox.ip.clone().unwrap_or_default(),
            pod_ips: sandbox.ip.clone().into_iter().collect(),
        };
        let mut wake = PERIODIC_SYNC;

        // Init containers, one at a time, in order.
        for c in spec.init_containers.as_deref().unwrap_or_default() {
            let latest = instances.get(&c.name).and_then(|v| v.first()).cloned();
            match latest {
                Some(i) if i.state == RunState::Exited && i.exit_code == 0 => continue,
                Some(i) if i.state == RunState::Running || i.state == RunState::Created => {
                    return Ok(Duration::from_secs(1))
                }
                Some(i) if i.state == RunState::Exited => {
                    if restart == "Never" {
                        return Ok(RESYNC); // the pod has failed
                    }
                    if let Some(w) = self.back_off(pod, c, &i, true) {
                        return Ok(w);
                    }
                    self.start_container(pod, c, true, &sandbox, &volumes, &facts, i.attempt + 1)
                        .await;
                    return Ok(Duration::from_secs(1));
                }
                _ => {
                    self.start_container(pod, c, true, &sandbox, &volumes, &facts, 0)
                        .await;
                    return Ok(Duration::from_secs(1));
                }
            }
        }

        for c in &spec.containers {
            // A failed liveness probe restarts the container.
            if let Some((id, probe)) = self.unhealthy.remove(&c.name) {
                let msg = format!(
                    "Container {} failed {probe} probe, will be restarted",
                    c.name
                );
                self.ctx
                    .recorder
                    .pod(
                        pod,
                        Some(&field_path(c, false)),
                        Kind::Normal,
                        "Killing",
                        &msg,
                    )
                    .await;
                self.stop_container(pod, c, &id, grace_of(pod)).await;
                instances = rt::instances(rt, &sandbox.id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let latest: Option<Instance> = instances.get(&c.name).and_then(|v| v.first()).cloned();
            match latest {
                None => {
                    self.start_container(pod, c, false, &sandbox, &volumes, &facts, 0)
                        .await;
                    wake = wake.min(Duration::from_secs(1));
                }
                Some(i) if i.state == RunState::Running => {
                    self.waiting.remove(&c.name);
                    // Adopted from an earlier agent run: its probes start now.
                    if !self.probes.contains_key(&c.name) {
                        self.start_probes(pod, c, &i.id, &facts);
                    }
                }
                Some(i) if i.state == RunState::Exited => {
                    self.probes.remove(&c.name);
                    let again = match restart.as_str() {
                        "Always" => true,
                        "OnFailure" => i.exit_code != 0,
                        _ => false,
                    };
                    if !again {
                        self.waiting.remove(&c.name);
                        continue;
                    }
                    if let Some(w) = self.back_off(pod, c, &i, false) {
                        wake = wake.min(w);
                        continue;
                    }
                    self.start_container(pod, c, false, &sandbox, &volumes, &facts, i.attempt + 1)
                        .await;
                    wake = wake.min(Duration::from_secs(1));
                }
                Some(i) => {
                    // Created but never started (e.g. start failed): replace it.
                    let _ = rt
                        .remove_container(api::RemoveContainerRequest {
                            container_id: i.id.clone(),
                        })
                        .await;
                    self.start_container(pod, c, false, &sandbox, &volumes, &facts, i.attempt + 1)
                        .await;
                    wake = wake.min(Duration::from_secs(1));
                }
            }
        }
        Ok(wake)
    }

    /// Restart now (None) or wait (Some(remaining)): the first restart is
    /// immediate and each later one waits 10 s doubling to 5 min, as the
    /// kubelet's back-off does. A new waiting window is announced once.
    fn back_off(
        &mut self,
        pod: &Pod,
        c: &Container,
        last: &Instance,
        init: bool,
    ) -> Option<Duration> {
        let now = std::time::SystemTime::now();
        let finished =
            std::time::UNIX_EPOCH + Duration::from_nanos(last.finished_at_ns.max(0) as u64);
        let finished = if last.finished_at_ns > 0 {
            finished
        } else {
            now
        };
        let Some(left) = self.backoff.remaining(&c.name, finished, now) else {
            self.backoff.next(&c.name, finished);
            return None;
        };
        let delay = self.backoff.delay(&c.name).unwrap_or_default();
        let msg = format!(
            "back-off {} restarting failed container={} pod={}",
            fmt_secs(delay),
            c.name,
            pod_ref(pod)
        );
        let announce = self
            .waiting
            .get(&c.name)
            .is_none_or(|(reason, m)| reason != "CrashLoopBackOff" || m != &msg);
        self.waiting
            .insert(c.name.clone(), ("CrashLoopBackOff".into(), msg));
        if announce {
            let ctx = self.ctx.clone();
            let pod = pod.clone();
            let fp = field_path(c, init);
            let text = format!(
                "Back-off restarting failed container {} in pod {}",
                c.name,
                pod_ref(&pod)
            );
            tokio::spawn(async move {
                ctx.recorder
                    .pod(&pod, Some(&fp), Kind::Warning, "BackOff", &text)
                    .await
            });
        }
        Some(left)
    }

    async fn ensure_sandbox(
        &mut self,
        pod: &Pod,
        rt: &dyn Runtime,
    ) -> Result<Option<Sandbox>, String> {
        let existing = rt::sandboxes(rt, &self.uid)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(s) = existing.iter().find(|s| s.ready) {
            return Ok(Some(s.clone()));
        }
        let attempt = existing.iter().map(|s| s.attempt + 1).max().unwrap_or(0);
        for old in &existing {
            let _ = rt
                .stop_pod_sandbox(api::StopPodSandboxRequest {
                    pod_sandbox_id: old.id.clone(),
                })
                .await;
            let _ = rt
                .remove_pod_sandbox(api::RemovePodSandboxRequest {
                    pod_sandbox_id: old.id.clone(),
                })
                .await;
        }
        let config = self.sandbox_config(pod, attempt)?;
        match rt
            .run_pod_sandbox(api::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            })
            .await
        {
            Ok(_) => {
                let fresh = rt::sandboxes(rt, &self.uid)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(fresh.into_iter().find(|s| s.ready))
            }
            Err(e) => {
                let msg = format!("Failed to create pod sandbox: {}", e.message());
                self.ctx
                    .recorder
                    .pod(pod, None, Kind::Warning, "FailedCreatePodSandBox", &msg)
                    .await;
                Ok(None)
            }
        }
    }

    fn sandbox_config(&self, pod: &Pod, attempt: u32) -> Result<api::PodSandboxConfig, String> {
        let log_dir = self.ctx.pod_log_dir(pod);
        let _ = std::fs::create_dir_all(&log_dir);
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let dns = berth_podspec::dns_config(
            pod,
            &self.ctx.cfg.cluster_dns,
            &self.ctx.cfg.cluster_domain,
            &host_resolv,
        );
        let opts = berth_podspec::SandboxOptions {
            log_dir,
            dns,
            cgroup_parent: None,
            attempt,
            cluster_domain: self.ctx.cfg.cluster_domain.clone(),
        };
        berth_podspec::sandbox_config(pod, &opts).map_err(|e| e.to_string())
    }

    #[allow(clippy::too_many_arguments)]
    async fn start_container(
        &mut self,
        pod: &Pod,
        c: &Container,
        init: bool,
        sandbox: &Sandbox,
        volumes: &berth_volumes::PodVolumes,
        facts: &berth_podspec::PodFacts,
        attempt: u32,
    ) {
        let runtime = self.ctx.runtime.clone();
        let rt: &dyn Runtime = runtime.as_ref();
        let fp = field_path(c, init);
        let image = c.image.clone().unwrap_or_default();
        self.waiting
            .insert(c.name.clone(), ("ContainerCreating".into(), String::new()));

        // Image, honouring imagePullPolicy.
        let policy = c
            .image_pull_policy
            .clone()
            .unwrap_or_else(|| "IfNotPresent".into());
        let status = rt
            .image_status(api::ImageStatusRequest {
                image: Some(api::ImageSpec {
                    image: image.clone(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
            .ok()
            .and_then(|r| r.image);
        let present = status.is_some();
        let image_user = status
            .as_ref()
            .map(|i| berth_podspec::ImageUser {
                uid: i.uid.as_ref().map(|u| u.value),
                username: i.username.clone(),
            })
            .unwrap_or_default();
        let must_pull = policy == "Always" && !self.pulled.get(&image).copied().unwrap_or(false)
            || (!present && policy != "Never");
        if !present && policy == "Never" {
            let msg =
                format!("Container image \"{image}\" is not present with pull policy of Never");
            self.waiting
                .insert(c.name.clone(), ("ErrImageNeverPull".into(), msg.clone()));
            self.ctx
                .recorder
                .pod(pod, Some(&fp), Kind::Warning, "ErrImageNeverPull", &msg)
                .await;
            return;
        }
        if must_pull {
            let key = format!("pull:{image}");
            if let Some(_left) = self.backoff.remaining(
                &key,
                self.pull_failed_at
                    .get(&key)
                    .copied()
                    .unwrap_or(std::time::UNIX_EPOCH),
                std::time::SystemTime::now(),
            ) {
                let msg = format!("Back-off pulling image \"{image}\"");
                self.ctx
                    .recorder
                    .pod(pod, Some(&fp), Kind::Normal, "BackOff", &msg)
                    .await;
                // The waiting message carries the last pull error (kubelet ≥ 1.32).
                let waiting = match self.pull_errors.get(&key) {
                    Some(last) => format!("{msg}: {last}"),
                    None => msg,
                };
                self.waiting
                    .insert(c.name.clone(), ("ImagePullBackOff".into(), waiting));
                self.ctx
                    .recorder
                    .pod(
                        pod,
                        Some(&fp),
                        Kind::Warning,
                        "Failed",
                        "Error: ImagePullBackOff",
                    )
                    .await;
                return;
            }
            self.ctx
                .recorder
                .pod(
                    pod,
                    Some(&fp),
                    Kind::Normal,
                    "Pulling",
                    &format!("Pulling image \"{image}\""),
                )
                .await;
            let started = Instant::now();
            let creds = self.pull_credentials(pod, &image).await;
            let pull = |auth: Option<api::AuthConfig>| {
                rt.pull_image(api::PullImageRequest {
                    image: Some(api::ImageSpec {
                        image: image.clone(),
                        ..Default::default()
                    }),
                    auth,
                    sandbox_config: None,
                })
            };
            // Each matching credential in turn (the kubelet's order); anonymous without any.
            let pulled = if creds.is_empty() {
                pull(None).await
            } else {
                let mut last = None;
                for auth in creds {
                    match pull(Some(auth)).await {
                        Ok(r) => {
                            last = Some(Ok(r));
                            break;
                        }
                        Err(e) => last = Some(Err(e)),
                    }
                }
                match last {
                    Some(r) => r,
                    None => pull(None).await,
                }
            };
            match pulled {
                Ok(_) => {
                    self.pulled.insert(image.clone(), true);
                    self.backoff.forget(&key);
                    self.pull_errors.remove(&key);
                    let took = started.elapsed();
                    let size = rt
                        .image_status(api::ImageStatusRequest {
                            image: Some(api::ImageSpec {
                                image: image.clone(),
                                ..Default::default()
                            }),
                            verbose: false,
                        })
                        .await
                        .ok()
                        .and_then(|s| s.image)
                        .map(|i| i.size)
                        .unwrap_or_default();
                    let msg = format!(
                        "Successfully pulled image \"{image}\" in {} ({} including waiting). Image size: {size} bytes.",
                        go_duration_ms(took),
                        go_duration_ms(took),
                    );
                    self.ctx
                        .recorder
                        .pod(pod, Some(&fp), Kind::Normal, "Pulled", &msg)
                        .await;
                }
                Err(e) => {
                    let failed_at = std::time::SystemTime::now();
                    self.pull_failed_at.insert(key.clone(), failed_at);
                    self.backoff.next(&key, failed_at);
                    // The event names the image; the waiting message is the
                    // runtime's error as is (kubelet's evalCRIPullErr fallback).
                    let error = e.grpc_text();
                    let msg = format!("Failed to pull image \"{image}\": {error}");
                    self.pull_errors
                        .insert(key.clone(), format!("ErrImagePull: {error}"));
                    self.waiting
                        .insert(c.name.clone(), ("ErrImagePull".into(), error));
                    self.ctx
                        .recorder
                        .pod(pod, Some(&fp), Kind::Warning, "Failed", &msg)
                        .await;
                    self.ctx
                        .recorder
                        .pod(
                            pod,
                            Some(&fp),
                            Kind::Warning,
                            "Failed",
                            "Error: ErrImagePull",
                        )
                        .await;
                    return;
                }
            }
        } else if attempt == 0 {
            let msg = format!("Container image \"{image}\" already present on machine");
            self.ctx
                .recorder
                .pod(pod, Some(&fp), Kind::Normal, "Pulled", &msg)
                .await;
        }

        // Environment, mounts, config.
        let env = match berth_podspec::resolve_env(
            pod,
            c,
            self.ctx.env_source.as_ref(),
            facts,
            &self.ctx.allocatable,
        )
        .await
        {
            Ok(env) => env,
            Err(e) => {
                self.container_failed(pod, c, &fp, "CreateContainerConfigError", e.to_string())
                    .await;
                return;
            }
        };
        let mut mounts = match volumes.container_mounts(c, &env) {
            Ok(m) => m,
            Err(e) => {
                self.container_failed(pod, c, &fp, "CreateContainerConfigError", e.to_string())
                    .await;
                return;
            }
        };
        if let Some(m) = self.termination_message_mount(c) {
            mounts.push(m);
        }
        let log_path = format!("{}/{attempt}.log", c.name);
        let _ = std::fs::create_dir_all(self.ctx.pod_log_dir(pod).join(&c.name));
        let cctx = berth_podspec::ContainerContext {
            env,
            mounts,
            restart_count: attempt,
            image: image.clone(),
            log_path,
            image_user,
            node_memory_capacity: self.ctx.allocatable.memory_bytes,
            security: berth_podspec::SecurityDefaults::default(),
        };
        let config = match berth_podspec::container_config(pod, c, &cctx) {
            Ok(cfg) => cfg,
            Err(e) => {
                self.container_failed(pod, c, &fp, "CreateContainerConfigError", e.to_string())
                    .await;
                return;
            }
        };
        let sandbox_config = self.sandbox_config(pod, 0).ok();
        let created = rt
            .create_container(api::CreateContainerRequest {
                pod_sandbox_id: sandbox.id.clone(),
                config: Some(config),
                sandbox_config,
            })
            .await;
        let id = match created {
            Ok(r) => r.container_id,
            Err(e) => {
                self.container_failed(pod, c, &fp, "CreateContainerError", e.message().to_string())
                    .await;
                return;
            }
        };
        self.ctx
            .recorder
            .pod(
                pod,
                Some(&fp),
                Kind::Normal,
                "Created",
                &format!("Created container: {}", c.name),
            )
            .await;
        if let Err(e) = rt
            .start_container(api::StartContainerRequest {
                container_id: id.clone(),
            })
            .await
        {
            self.container_failed(pod, c, &fp, "RunContainerError", e.message().to_string())
                .await;
            return;
        }
        self.waiting.remove(&c.name);
        self.ctx
            .recorder
            .pod(
                pod,
                Some(&fp),
                Kind::Normal,
                "Started",
                &format!("Started container {}", c.name),
            )
            .await;
        if let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            let result =
                super::hooks::run(rt, pod, c, &id, hook, &facts.pod_ip, POST_START_TIMEOUT).await;
            if let Err(msg) = result {
                self.ctx
                    .recorder
                    .pod(
                        pod,
                        Some(&fp),
                        Kind::Warning,
                        "FailedPostStartHook",
                        "PostStartHook failed",
                    )
                    .await;
                self.ctx
                    .recorder
                    .pod(
                        pod,
                        Some(&fp),
                        Kind::Normal,
                        "Killing",
                        "FailedPostStartHook",
                    )
                    .await;
                self.stop_container(pod, c, &id, grace_of(pod)).await;
                // Shown while the container waits for its restart (never, with restartPolicy Never).
                let restarts = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.restart_policy.as_deref())
                    .is_none_or(|p| p != "Never");
                if restarts {
                    self.waiting
                        .insert(c.name.clone(), ("PostStartHookError".into(), msg));
                }
                return;
            }
        }
        if !init {
            self.start_probes(pod, c, &id, facts);
        }
    }

    /// Registry credentials for `image` from the pod's imagePullSecrets and
    /// its service account's; missing secrets are reported, not fatal.
    async fn pull_credentials(&self, pod: &Pod, image: &str) -> Vec<api::AuthConfig> {
        use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let mut names: Vec<String> = spec
            .and_then(|s| s.image_pull_secrets.as_ref())
            .into_iter()
            .flatten()
            .map(|r| r.name.clone())
            .collect();
        let sa = spec
            .and_then(|s| s.service_account_name.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into());
        let sas: Api<ServiceAccount> = Api::namespaced(self.ctx.client.clone(), &ns);
        if let Ok(Some(sa)) = sas.get_opt(&sa).await {
            for r in sa.image_pull_secrets.into_iter().flatten() {
                if !names.contains(&r.name) {
                    names.push(r.name);
                }
            }
        }
        if names.is_empty() {
            return Vec::new();
        }
        let secrets: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &ns);
        let mut entries = Vec::new();
        let mut missing = Vec::new();
        for name in names {
            match secrets.get_opt(&name).await {
                Ok(Some(s)) => entries.extend(crate::credentials::entries_of(&s)),
                _ => missing.push(name),
            }
        }
        if !missing.is_empty() {
            let msg = format!(
                "Unable to retrieve some image pull secrets ({}); attempting to pull the image may not succeed.",
                missing.join(", ")
            );
            self.ctx
                .recorder
                .pod(
                    pod,
                    None,
                    Kind::Warning,
                    "FailedToRetrieveImagePullSecret",
                    &msg,
                )
                .await;
        }
        crate::credentials::lookup(&entries, image)
    }

    /// A container that could not be started: show why (waiting reason) and say so (event).
    async fn container_failed(
        &mut self,
        pod: &Pod,
        c: &Container,
        field_path: &str,
        reason: &str,
        message: String,
    ) {
        self.ctx
            .recorder
            .pod(
                pod,
                Some(field_path),
                Kind::Warning,
                "Failed",
                &format!("Error: {message}"),
            )
            .await;
        self.waiting
            .insert(c.name.clone(), (reason.to_string(), message));
    }

    /// A fresh host file for this instance's termination message, mounted at its path.
    fn termination_message_mount(&self, c: &Container) -> Option<api::Mount> {
        let path = c
            .termination_message_path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/dev/termination-log".into());
        let file =
            super::termination::new_message_file(&self.ctx.cfg.pods_dir(), &self.uid, &c.name)
                .map_err(|e| tracing::warn!(uid = %self.uid, "termination message file: {e}"))
                .ok()?;
        Some(api::Mount {
            container_path: path,
            host_path: file.display().to_string(),
            ..Default::default()
        })
    }

    fn start_probes(
        &mut self,
        pod: &Pod,
        c: &Container,
        id: &str,
        facts: &berth_podspec::PodFacts,
    ) {
        use berth_probes::{ContainerProbes, Instant, Target};
        let _ = pod;
        self.probes.remove(&c.name);
        self.ready.remove(&c.name);
        self.started.remove(&c.name);
        if c.startup_probe.is_some() {
            self.started.insert(c.name.clone(), false);
        }
        if c.readiness_probe.is_some() {
            self.ready.insert(c.name.clone(), false);
        }
        let target = Target {
            pod_ip: facts.pod_ip.clone(),
            container_id: id.to_string(),
            container: c.clone(),
        };
        let probes = ContainerProbes::spawn(
            target,
            self.ctx.exec.clone(),
            Instant::now(),
            self.probe_tx.clone(),
        );
        self.probes.insert(c.name.clone(), probes);
    }

    /// The kubelet's killContainer: the preStop hook within the grace period,
    /// then StopContainer with what is left of it (at least 2 s).
    async fn stop_container(&self, pod: &Pod, c: &Container, id: &str, grace: i64) {
        let mut grace = grace.max(0);
        if let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) {
            if grace > 0 {
                let started = Instant::now();
                let pod_ip = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.pod_ip.clone())
                    .unwrap_or_default();
                let limit = Duration::from_secs(grace as u64);
                let run =
                    super::hooks::run(self.ctx.runtime.as_ref(), pod, c, id, hook, &pod_ip, limit);
                if let Ok(Err(msg)) = tokio::time::timeout(limit, run).await {
                    tracing::debug!(pod = %pod_ref(pod), "preStop hook failed: {msg}");
                    if pod.metadata.uid.is_some() {
                        self.ctx
                            .recorder
                            .pod(
                                pod,
                                Some(&field_path(c, false)),
                                Kind::Warning,
                                "FailedPreStopHook",
                                "PreStopHook failed",
                            )
                            .await;
                    }
                }
                grace -= started.elapsed().as_secs() as i64;
            }
            // Always a minimal shutdown window, so SIGTERM is not skipped.
            grace = grace.max(MINIMUM_GRACE_PERIOD);
        }
        let _ = self
            .ctx
            .runtime
            .stop_container(api::StopContainerRequest {
                container_id: id.to_string(),
                timeout: grace,
            })
            .await;
    }

    /// Stop every container (preStop, SIGTERM, grace, SIGKILL) and the sandbox.
    async fn kill(&mut self, pod: Option<&Pod>, grace: i64) {
        self.probes.clear();
        let runtime = self.ctx.runtime.clone();
        let rt: &dyn Runtime = runtime.as_ref();
        let Ok(sandboxes) = rt::sandboxes(rt, &self.uid).await else {
            return;
        };
        for s in &sandboxes {
            if let Ok(instances) = rt::instances(rt, &s.id).await {
                let mut stops = Vec::new();
                for (name, list) in &instances {
                    for i in list.iter().filter(|i| i.state == RunState::Running) {
                        let c = pod
                            .and_then(|p| p.spec.as_ref())
                            .and_then(|sp| sp.containers.iter().find(|c| &c.name == name))
                            .cloned();
                        if let (Some(p), Some(c)) = (pod, c.as_ref()) {
                            let msg = format!("Stopping container {}", c.name);
                            self.ctx
                                .recorder
                                .pod(
                                    p,
                                    Some(&field_path(c, false)),
                                    Kind::Normal,
                                    "Killing",
                                    &msg,
                                )
                                .await;
                        }
                        let c = c.unwrap_or_else(|| Container {
                            name: name.clone(),
                            ..Default::default()
                        });
                        let id = i.id.clone();
                        let p = pod.cloned();
                        let this = &*self;
                        stops.push(async move {
                            this.stop_container(
                                p.as_ref().unwrap_or(&Pod::default()),
                                &c,
                                &id,
                                grace,
                            )
                            .await
                        });
                    }
                }
                futures::future::join_all(stops).await;
            }
            let _ = rt
                .stop_pod_sandbox(api::StopPodSandboxRequest {
                    pod_sandbox_id: s.id.clone(),
                })
                .await;
        }
    }

    /// Remove the pod's sandboxes, containers and volumes from this node.
    async fn cleanup(&mut self) {
        let runtime = self.ctx.runtime.clone();
        let rt: &dyn Runtime = runtime.as_ref();
        if let Ok(sandboxes) = rt::sandboxes(rt, &self.uid).await {
            for s in sandboxes {
                if let Ok(instances) = rt::instances(rt, &s.id).await {
                    for i in instances.values().flatten() {
                        let _ = rt
                            .remove_container(api::RemoveContainerRequest {
                                container_id: i.id.clone(),
                            })
                            .await;
                    }
                }
                let _ = rt
                    .stop_pod_sandbox(api::StopPodSandboxRequest {
                        pod_sandbox_id: s.id.clone(),
                    })
                    .await;
                let _ = rt
                    .remove_pod_sandbox(api::RemovePodSandboxRequest {
                        pod_sandbox_id: s.id.clone(),
                    })
                    .await;
            }
        }
        if let Err(e) = self.ctx.volumes.teardown(&self.uid).await {
            tracing::warn!(uid = %self.uid, "tearing down volumes: {e}");
        }
    }

    /// The kubelet's final word on a deleted pod: delete it with grace 0.
    async fn confirm_delete(&self, pod: &Pod) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &ns);
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        if let Err(e) = api.delete(&name, &dp).await {
            if !matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 409) {
                tracing::warn!(pod = %pod_ref(pod), "confirming deletion: {e}");
            }
        }
    }

    async fn post_status(&mut self, pod: &Pod) {
        let runtime = self.ctx.runtime.clone();
        let rt: &dyn Runtime = runtime.as_ref();
        let sandboxes = rt::sandboxes(rt, &self.uid).await.unwrap_or_default();
        let sandbox = sandboxes.iter().find(|s| s.ready).or(sandboxes.first());
        let mut obs = Observed {
            sandbox_ready: sandbox.is_some_and(|s| s.ready),
            pod_ip: sandbox.and_then(|s| s.ip.clone()),
            waiting: self.waiting.clone(),
            ready: self.ready.clone(),
            started: self.started.clone(),
            start_time: self.start_time.clone(),
            // Transition times from the status this worker last posted: a pod
            // copy that predates that post would stamp `now` on every sync
            // and post again (≈1,850 redundant patches/s at 5,000 nodes).
            last_posted_conditions: self
                .last_status
                .as_ref()
                .map(|last| last["conditions"].clone())
                .filter(|c| c.is_array()),
            has_init_containers: pod
                .spec
                .as_ref()
                .and_then(|s| s.init_containers.as_ref())
                .is_some_and(|i| !i.is_empty()),
            ..Default::default()
        };
        if let Some(s) = sandbox {
            obs.instances = rt::instances(rt, &s.id).await.unwrap_or_default();
        }
        let qos = berth_podspec::qos_class(pod);
        let status = status::pod_status(pod, &obs, &self.ctx.cfg.node_ip, qos, &now());
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &ns);
        match api
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await
        {
            Ok(_) => self.last_status = Some(status),
            Err(e) => tracing::debug!(pod = %pod_ref(pod), "posting status: {e}"),
        }
    }
}

fn grace_of(pod: &Pod) -> i64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30)
}

/// A duration as Go prints `d.Truncate(time.Millisecond)`: `288ms`, `1.5s`, `2m3.004s`.
fn go_duration_ms(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (minutes, ms) = (ms / 60_000, ms % 60_000);
    let seconds = format!("{}.{:03}", ms / 1000, ms % 1000);
    let seconds = seconds.trim_end_matches('0').trim_end_matches('.');
    match minutes {
        0 => format!("{seconds}s"),
        m if m < 60 => format!("{m}m{seconds}s"),
        m => format!("{}h{}m{seconds}s", m / 60, m % 60),
    }
}

#[cfg(test)]
mod go_duration_tests {
    use super::go_duration_ms;
    use std::time::Duration;

    #[test]
    fn formats_like_go() {
        assert_eq!(go_duration_ms(Duration::from_micros(288_900)), "288ms");
        assert_eq!(go_duration_ms(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration_ms(Duration::from_millis(2000)), "2s");
        assert_eq!(go_duration_ms(Duration::from_millis(123_004)), "2m3.004s");
        assert_eq!(go_duration_ms(Duration::from_micros(10)), "0s");
    }
}
