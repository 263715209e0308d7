//! Resource usage of the node, its pods and their containers, served as the
//! kubelet Summary API (GET /stats/summary on the node server; see summary.rs
//! for the JSON shape) and read by the node's pressure conditions and the
//! image garbage collector.
//!
//! ```text
//! every SAMPLE_PERIOD (or on demand when the last sample is older than MAX_AGE)
//!   /proc/stat, /proc/meminfo, /proc/vmstat, statvfs(root), sysinfo ─▶ node
//!   CRI ListPodSandbox + ListContainers + ListContainerStats (+ ListPodSandboxStats)
//!     └─ figures the runtime leaves out ─▶ the container's cgroup files (cgroup.rs)
//!   usageNanoCores = Δ usageCoreNanoSeconds / Δ time between two samples (per container, pod, node)
//! ```

pub mod cgroup;
pub mod machine;
pub mod summary;

use crate::config::KubeletConfig;
use crate::pod::runtime::{Runtime, POD_UID_LABEL};
use berth_cri::api;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use summary::{
    ContainerStats, CpuStats, FsStats, MemoryStats, NodeStats, PodReference, PodStats, RlimitStats,
    RuntimeStats, Summary,
};

/// How often the background sampler refreshes the summary (cAdvisor's housekeeping is 10 s too).
pub const SAMPLE_PERIOD: Duration = Duration::from_secs(10);
/// A request finding a sample older than this takes a new one first.
pub const MAX_AGE: Duration = Duration::from_secs(15);

/// Cores × 1e9 between two cumulative CPU readings `(time ns, cpu ns)`.
pub fn nano_cores(prev: (i64, u64), now: (i64, u64)) -> Option<u64> {
    let dt = now.0.checked_sub(prev.0).filter(|d| *d > 0)?;
    let dcpu = now.1.checked_sub(prev.1)?;
    Some((u128::from(dcpu) * 1_000_000_000 / dt as u128).min(u128::from(u64::MAX)) as u64)
}

pub fn rfc3339_nanos(ns: i64) -> String {
    chrono::DateTime::from_timestamp(ns.div_euclid(1_000_000_000), 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
}

fn val(v: &Option<api::UInt64Value>) -> Option<u64> {
    v.as_ref().map(|v| v.value)
}

pub struct StatsProvider {
    runtime: Arc<dyn Runtime>,
    node_name: String,
    nodefs: PathBuf,
    imagefs: PathBuf,
    cgroup_root: PathBuf,
    sampler: tokio::sync::Mutex<Sampler>,
    latest: std::sync::Mutex<Option<(Instant, Arc<Summary>)>>,
}

#[derive(Default)]
struct Sampler {
    /// Last cumulative CPU reading per container id, "pod/<uid>" and "node".
    cpu: HashMap<String, (i64, u64)>,
    /// cgroupsPath per container id, for the cgroup fallback.
    cgroups: HashMap<String, Option<String>>,
}

impl StatsProvider {
    pub fn new(runtime: Arc<dyn Runtime>, cfg: &KubeletConfig) -> Arc<Self> {
        Arc::new(Self {
            runtime,
            node_name: cfg.node_name.clone(),
            nodefs: cfg.root.clone(),
            imagefs: cfg.root.join("containerd"),
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            sampler: tokio::sync::Mutex::new(Sampler::default()),
            latest: std::sync::Mutex::new(None),
        })
    }

    /// The last sample, if any, without waiting.
    pub fn latest(&self) -> Option<Arc<Summary>> {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(_, s)| s.clone())
    }

    /// A summary no older than MAX_AGE (sampling now if needed).
    pub async fn summary(&self) -> Arc<Summary> {
        if let Some((at, s)) = self
            .latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            if at.elapsed() < MAX_AGE {
                return s;
            }
        }
        self.sample().await
    }

    /// Background sampling until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(SAMPLE_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.sample().await;
        }
    }

    /// Take a sample now (concurrent callers share one).
    pub async fn sample(&self) -> Arc<Summary> {
        let started = Instant::now();
        let mut sampler = self.sampler.lock().await;
        // Someone else sampled while we waited for the lock.
        if let Some((at, s)) = self
            .latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            if at >= started {
                return s;
            }
        }
        let node = self.node_stats(&mut sampler).await;
        let pods = self.pod_stats(&mut sampler).await;
        let summary = Arc::new(Summary { node, pods });
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), summary.clone()));
        summary
    }

    async fn node_stats(&self, sampler: &mut Sampler) -> NodeStats {
        let now = now_nanos();
        let time = rfc3339_nanos(now);
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpu = machine::parse_cpu_busy_nanos(&stat, machine::clock_ticks()).map(|busy| {
            let prev = sampler.cpu.insert("node".into(), (now, busy));
            CpuStats {
                time: time.clone(),
                usage_nano_cores: prev.and_then(|p| nano_cores(p, (now, busy))),
                usage_core_nano_seconds: Some(busy),
            }
        });
        let meminfo =
            machine::parse_meminfo(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default());
        let vmstat =
            machine::parse_flat_keyed(&std::fs::read_to_string("/proc/vmstat").unwrap_or_default());
        let memory = machine::node_memory(&meminfo).map(|m| MemoryStats {
            time: time.clone(),
            available_bytes: Some(m.available),
            usage_bytes: Some(m.usage),
            working_set_bytes: Some(m.working_set),
            rss_bytes: Some(m.rss),
            page_faults: vmstat.get("pgfault").copied(),
            major_page_faults: vmstat.get("pgmajfault").copied(),
        });
        let fs = machine::fs_usage(&self.nodefs).map(|f| fs_stats(&time, f, f.used));
        let image_fs = self.image_fs(&time).await;
        NodeStats {
            node_name: self.node_name.clone(),
            start_time: machine::parse_boot_time(&stat)
                .map(|s| rfc3339_nanos(s.saturating_mul(1_000_000_000)))
                .unwrap_or_else(|| time.clone()),
            cpu,
            memory,
            fs,
            runtime: Some(RuntimeStats { image_fs }),
            rlimit: Some(RlimitStats {
                time,
                maxpid: machine::pid_max(),
                curproc: machine::process_count(),
            }),
        }
    }

    /// The image filesystem: its size from statvfs, the bytes images use from CRI.
    async fn image_fs(&self, time: &str) -> Option<FsStats> {
        let info = self
            .runtime
            .image_fs_info(api::ImageFsInfoRequest {})
            .await
            .ok();
        let first = info.and_then(|i| i.image_filesystems.into_iter().next());
        let mount = first
            .as_ref()
            .and_then(|f| f.fs_id.as_ref())
            .map(|id| PathBuf::from(&id.mountpoint))
            .filter(|p| p.exists())
            .unwrap_or_else(|| self.imagefs.clone());
        let fs = machine::fs_usage(&mount).or_else(|| machine::fs_usage(&self.nodefs))?;
        let used = first
            .as_ref()
            .and_then(|f| val(&f.used_bytes))
            .unwrap_or(fs.used);
        let mut out = fs_stats(time, fs, used);
        if let Some(inodes) = first.as_ref().and_then(|f| val(&f.inodes_used)) {
            out.inodes_used = Some(inodes);
        }
        Some(out)
    }

    async fn pod_stats(&self, sampler: &mut Sampler) -> Vec<PodStats> {
        let rt = self.runtime.as_ref();
        let Ok(sandboxes) = rt
            .list_pod_sandbox(api::ListPodSandboxRequest { filter: None })
            .await
        else {
            return Vec::new();
        };
        // The newest ready sandbox of each pod.
        let mut pods: HashMap<String, (String, PodStats, i64)> = HashMap::new();
        for s in sandboxes.items {
            if s.state != api::PodSandboxState::SandboxReady as i32 {
                continue;
            }
            let meta = s.metadata.clone().unwrap_or_default();
            let uid = s
                .labels
                .get(POD_UID_LABEL)
                .cloned()
                .unwrap_or_else(|| meta.uid.clone());
            if pods.get(&uid).is_some_and(|(_, _, at)| *at > s.created_at) {
                continue;
            }
            let stats = PodStats {
                pod_ref: PodReference {
                    name: meta.name,
                    namespace: meta.namespace,
                    uid: uid.clone(),
                },
                start_time: rfc3339_nanos(s.created_at),
                ..Default::default()
            };
            pods.insert(uid, (s.id, stats, s.created_at));
        }
        let sandbox_to_uid: HashMap<String, String> = pods
            .iter()
            .map(|(uid, (id, _, _))| (id.clone(), uid.clone()))
            .collect();
        let containers = rt
            .list_containers(api::ListContainersRequest { filter: None })
            .await
            .map(|r| r.containers)
            .unwrap_or_default();
        let mut by_id: HashMap<String, api::ContainerStats> = rt
            .list_container_stats(api::ListContainerStatsRequest { filter: None })
            .await
            .map(|r| r.stats)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| Some((s.attributes.as_ref()?.id.clone(), s)))
            .collect();
        let mut live = std::collections::HashSet::new();
        for c in containers {
            if c.state != api::ContainerState::ContainerRunning as i32 {
                continue;
            }
            let Some(uid) = sandbox_to_uid.get(&c.pod_sandbox_id) else {
                continue;
            };
            live.insert(c.id.clone());
            let cri = by_id.remove(&c.id);
            let name = c
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default();
            let stats = self
                .container_stats(sampler, &c.id, name, c.created_at, cri)
                .await;
            if let Some((_, pod, _)) = pods.get_mut(uid) {
                pod.containers.push(stats);
            }
        }
        sampler
            .cpu
            .retain(|k, _| k == "node" || k.starts_with("pod/") || live.contains(k.as_str()));
        sampler.cgroups.retain(|k, _| live.contains(k.as_str()));
        let sandbox_stats: HashMap<String, api::PodSandboxStats> = rt
            .list_pod_sandbox_stats(api::ListPodSandboxStatsRequest { filter: None })
            .await
            .map(|r| r.stats)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| Some((s.attributes.as_ref()?.id.clone(), s)))
            .collect();
        let mut out: Vec<PodStats> = Vec::with_capacity(pods.len());
        for (uid, (sandbox_id, mut pod, _)) in pods {
            pod.containers.sort_by(|a, b| a.name.cmp(&b.name));
            let linux = sandbox_stats
                .get(&sandbox_id)
                .and_then(|s| s.linux.as_ref());
            let pod_cpu = linux
                .and_then(|l| l.cpu.as_ref())
                .filter(|c| c.usage_core_nano_seconds.is_some());
            pod.cpu = match pod_cpu {
                Some(c) => Some(cpu_from_cri(sampler, &format!("pod/{uid}"), c)),
                None => pod
                    .containers
                    .iter()
                    .filter_map(|c| c.cpu.clone())
                    .reduce(|a, b| a.plus(&b)),
            };
            let pod_memory = linux
                .and_then(|l| l.memory.as_ref())
                .filter(|m| m.working_set_bytes.is_some());
            pod.memory = match pod_memory {
                Some(m) => Some(memory_from_cri(m)),
                None => pod
                    .containers
                    .iter()
                    .filter_map(|c| c.memory.clone())
                    .reduce(|a, b| a.plus(&b)),
            };
            out.push(pod);
        }
        let keep: std::collections::HashSet<String> = out
            .iter()
            .map(|p| format!("pod/{}", p.pod_ref.uid))
            .collect();
        sampler
            .cpu
            .retain(|k, _| !k.starts_with("pod/") || keep.contains(k));
        out.sort_by(|a, b| {
            (&a.pod_ref.namespace, &a.pod_ref.name).cmp(&(&b.pod_ref.namespace, &b.pod_ref.name))
        });
        out
    }

    async fn container_stats(
        &self,
        sampler: &mut Sampler,
        id: &str,
        name: String,
        created_at: i64,
        cri: Option<api::ContainerStats>,
    ) -> ContainerStats {
        let mut out = ContainerStats {
            name,
            start_time: rfc3339_nanos(created_at),
            ..Default::default()
        };
        let cri = cri.unwrap_or_default();
        if let Some(c) = cri
            .cpu
            .as_ref()
            .filter(|c| c.usage_core_nano_seconds.is_some())
        {
            out.cpu = Some(cpu_from_cri(sampler, id, c));
        }
        if let Some(m) = cri
            .memory
            .as_ref()
            .filter(|m| m.working_set_bytes.is_some())
        {
            out.memory = Some(memory_from_cri(m));
        }
        if let Some(fs) = cri.writable_layer.as_ref() {
            out.rootfs = Some(FsStats {
                time: rfc3339_nanos(fs.timestamp),
                used_bytes: val(&fs.used_bytes),
                inodes_used: val(&fs.inodes_used),
                ..Default::default()
            });
        }
        if out.cpu.is_none() || out.memory.is_none() {
            self.fill_from_cgroup(sampler, id, &mut out).await;
        }
        out
    }

    /// The runtime left CPU or memory out: read the container's cgroup.
    async fn fill_from_cgroup(&self, sampler: &mut Sampler, id: &str, out: &mut ContainerStats) {
        if !sampler.cgroups.contains_key(id) {
            let path = self
                .runtime
                .container_status(api::ContainerStatusRequest {
                    container_id: id.to_string(),
                    verbose: true,
                })
                .await
                .ok()
                .and_then(|r| cgroup::cgroups_path_from_info(&r.info));
            sampler.cgroups.insert(id.to_string(), path);
        }
        let Some(Some(path)) = sampler.cgroups.get(id) else {
            return;
        };
        let Some(f) = cgroup::read_cgroup(&self.cgroup_root, path) else {
            return;
        };
        let now = now_nanos();
        let time = rfc3339_nanos(now);
        if out.memory.is_none() {
            out.memory = Some(MemoryStats {
                time: time.clone(),
                available_bytes: f.limit.map(|l| l.saturating_sub(f.working_set)),
                usage_bytes: Some(f.usage),
                working_set_bytes: Some(f.working_set),
                rss_bytes: Some(f.rss),
                page_faults: Some(f.page_faults),
                major_page_faults: Some(f.major_page_faults),
            });
        }
        if let (None, Some(cpu)) = (&out.cpu, f.cpu_nanos) {
            let prev = sampler.cpu.insert(id.to_string(), (now, cpu));
            out.cpu = Some(CpuStats {
                time,
                usage_nano_cores: prev.and_then(|p| nano_cores(p, (now, cpu))),
                usage_core_nano_seconds: Some(cpu),
            });
        }
    }
}

/// CPU from CRI, with usageNanoCores from our previous reading under `key`
/// (the runtime's own figure when we have none yet).
fn cpu_from_cri(sampler: &mut Sampler, key: &str, c: &api::CpuUsage) -> CpuStats {
    let total = val(&c.usage_core_nano_seconds).unwrap_or(0);
    let ts = if c.timestamp > 0 {
        c.timestamp
    } else {
        now_nanos()
    };
    let prev = sampler.cpu.insert(key.to_string(), (ts, total));
    let rate = prev
        .and_then(|p| nano_cores(p, (ts, total)))
        .or_else(|| val(&c.usage_nano_cores).filter(|v| *v > 0));
    CpuStats {
        time: rfc3339_nanos(ts),
        usage_nano_cores: rate,
        usage_core_nano_seconds: Some(total),
    }
}

fn memory_from_cri(m: &api::MemoryUsage) -> MemoryStats {
    MemoryStats {
        time: rfc3339_nanos(if m.timestamp > 0 {
            m.timestamp
        } else {
            now_nanos()
        }),
        available_bytes: val(&m.available_bytes),
        usage_bytes: val(&m.usage_bytes),
        working_set_bytes: val(&m.working_set_bytes),
        rss_bytes: val(&m.rss_bytes),
        page_faults: val(&m.page_faults),
        major_page_faults: val(&m.major_page_faults),
    }
}

fn fs_stats(time: &str, f: machine::FsUsage, used: u64) -> FsStats {
    FsStats {
        time: time.to_string(),
        available_bytes: Some(f.available),
        capacity_bytes: Some(f.capacity),
        used_bytes: Some(used),
        inodes_free: Some(f.inodes_free),
        inodes: Some(f.inodes),
        inodes_used: Some(f.inodes.saturating_sub(f.inodes_free)),
    }
}

#[cfg(test)]
mod tests;
