//! Garbage collection on the node: dead containers (and their log files),
//! sandboxes and log directories of pods that are gone, container log
//! rotation, and unused images when the image filesystem fills up.
//!
//! ```text
//! every LOG_ROTATE_PERIOD: running containers ─▶ log > max size? rename ─▶ ReopenContainerLog ─▶ prune
//! every cfg.gc_period (once the pod list is known):
//!   ListContainers ─▶ containers::evictable ─▶ ContainerStatus (log path) ─▶ RemoveContainer ─▶ rm logs
//!   ListPodSandbox ─▶ not ready, no containers, pod gone or superseded ─▶ RemovePodSandbox
//!   pod-logs/<ns>_<name>_<uid> of pods with no worker and no sandbox ─▶ rm -r
//!   ImageFsInfo + statvfs ─▶ images::ImageRecords::to_free ─▶ RemoveImage
//! ```

pub mod containers;
pub mod images;
pub mod logrotate;

use crate::context::Context;
use crate::pod::runtime::{CONTAINER_NAME_LABEL, POD_UID_LABEL};
use crate::stats::machine;
use berth_cri::api;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often container logs are checked for rotation (containerLogMonitorInterval).
pub const LOG_ROTATE_PERIOD: Duration = Duration::from_secs(10);
/// A container created but never started is only garbage after this long
/// (the worker may be between CreateContainer and StartContainer).
const CREATED_GRACE: Duration = Duration::from_secs(120);

/// Uids of the pods the agent runs now; None until the first pod list arrived.
pub type ActivePods = Arc<dyn Fn() -> Option<HashSet<String>> + Send + Sync>;

pub struct GarbageCollector {
    ctx: Arc<Context>,
    active: ActivePods,
    images: std::sync::Mutex<images::ImageRecords>,
}

impl GarbageCollector {
    pub fn new(ctx: Arc<Context>, active: ActivePods) -> Self {
        Self {
            ctx,
            active,
            images: Default::default(),
        }
    }

    pub async fn run(self) {
        let mut rotate = tokio::time::interval(LOG_ROTATE_PERIOD);
        let mut collect = tokio::time::interval(self.ctx.cfg.gc_period);
        rotate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        collect.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = rotate.tick() => self.rotate_logs().await,
                _ = collect.tick() => {
                    if let Some(active) = (self.active)() {
                        self.collect(&active).await;
                    }
                }
            }
        }
    }

    /// One full pass (containers, sandboxes, log dirs, images).
    pub async fn collect(&self, active: &HashSet<String>) {
        self.collect_containers(active).await;
        let sandbox_uids = self.collect_sandboxes(active).await;
        self.collect_log_dirs(active, &sandbox_uids);
        self.collect_images().await;
    }

    pub async fn collect_containers(&self, active: &HashSet<String>) -> Vec<String> {
        let rt = self.ctx.runtime.as_ref();
        let Ok(list) = rt
            .list_containers(api::ListContainersRequest { filter: None })
            .await
        else {
            return Vec::new();
        };
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let created_grace = CREATED_GRACE.as_nanos() as i64;
        let all: Vec<containers::DeadOrAlive> = list
            .containers
            .iter()
            .map(|c| {
                let fresh_created = c.state == api::ContainerState::ContainerCreated as i32
                    && now.saturating_sub(c.created_at) < created_grace;
                containers::DeadOrAlive {
                    id: c.id.clone(),
                    pod_uid: c.labels.get(POD_UID_LABEL).cloned().unwrap_or_default(),
                    name: c
                        .labels
                        .get(CONTAINER_NAME_LABEL)
                        .cloned()
                        .or_else(|| c.metadata.as_ref().map(|m| m.name.clone()))
                        .unwrap_or_default(),
                    running: c.state == api::ContainerState::ContainerRunning as i32
                        || fresh_created,
                    created_at: c.created_at,
                }
            })
            // Containers berth did not create are not ours to remove.
            .filter(|c| !c.pod_uid.is_empty())
            .collect();
        let victims = containers::evictable(&all, active, self.ctx.cfg.max_dead_per_container);
        for id in &victims {
            let log = rt
                .container_status(api::ContainerStatusRequest {
                    container_id: id.clone(),
                    verbose: false,
                })
                .await
                .ok()
                .and_then(|r| r.status)
                .map(|s| s.log_path)
                .filter(|p| !p.is_empty());
            if let Err(e) = rt
                .remove_container(api::RemoveContainerRequest {
                    container_id: id.clone(),
                })
                .await
            {
                tracing::debug!("GC: removing container {id}: {e}");
                continue;
            }
            if let Some(log) = log {
                remove_log_files(Path::new(&log));
            }
        }
        victims
    }

    /// Remove sandboxes that are not ready, hold no containers, and belong to
    /// a pod that is gone or has a newer sandbox. Returns the uids that still have one.
    pub async fn collect_sandboxes(&self, active: &HashSet<String>) -> HashSet<String> {
        let rt = self.ctx.runtime.as_ref();
        let Ok(list) = rt
            .list_pod_sandbox(api::ListPodSandboxRequest { filter: None })
            .await
        else {
            return HashSet::new();
        };
        let used: HashSet<String> = rt
            .list_containers(api::ListContainersRequest { filter: None })
            .await
            .map(|r| r.containers.into_iter().map(|c| c.pod_sandbox_id).collect())
            .unwrap_or_default();
        let mut newest: std::collections::HashMap<String, i64> = Default::default();
        for s in &list.items {
            let uid = s.labels.get(POD_UID_LABEL).cloned().unwrap_or_default();
            let e = newest.entry(uid).or_insert(s.created_at);
            *e = (*e).max(s.created_at);
        }
        let mut remaining = HashSet::new();
        for s in list.items {
            let uid = s.labels.get(POD_UID_LABEL).cloned().unwrap_or_default();
            let ready = s.state == api::PodSandboxState::SandboxReady as i32;
            let superseded = newest.get(&uid).is_some_and(|n| *n > s.created_at);
            let removable = !uid.is_empty()
                && !ready
                && !used.contains(&s.id)
                && (!active.contains(&uid) || superseded);
            if removable
                && rt
                    .remove_pod_sandbox(api::RemovePodSandboxRequest {
                        pod_sandbox_id: s.id.clone(),
                    })
                    .await
                    .is_ok()
            {
                continue;
            }
            remaining.insert(uid);
        }
        remaining
    }

    /// Log directories (`<ns>_<name>_<uid>`) of pods with no worker and no sandbox.
    pub fn collect_log_dirs(
        &self,
        active: &HashSet<String>,
        sandbox_uids: &HashSet<String>,
    ) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.ctx.cfg.logs_dir()) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(uid) = name.rsplit('_').next().filter(|u| !u.is_empty()) else {
                continue;
            };
            if active.contains(uid) || sandbox_uids.contains(uid) {
                continue;
            }
            if std::fs::remove_dir_all(e.path()).is_ok() {
                removed.push(e.path());
            }
        }
        removed
    }

    /// Image GC when the image filesystem is above the high threshold.
    pub async fn collect_images(&self) -> Vec<String> {
        let rt = self.ctx.runtime.as_ref();
        let cfg = &self.ctx.cfg;
        let Ok(list) = rt
            .list_images(api::ListImagesRequest { filter: None })
            .await
        else {
            return Vec::new();
        };
        let containers = rt
            .list_containers(api::ListContainersRequest { filter: None })
            .await
            .map(|r| r.containers)
            .unwrap_or_default();
        let mut used: HashSet<String> = HashSet::new();
        for c in &containers {
            used.insert(c.image_ref.clone());
            if let Some(i) = &c.image {
                used.insert(i.image.clone());
            }
        }
        let pause = berth_podspec::apply_default_image_tag(&cfg.pause_image)
            .unwrap_or_else(|_| cfg.pause_image.clone());
        let infos: Vec<images::ImageInfo> = list
            .images
            .iter()
            .map(|i| {
                let names = || {
                    std::iter::once(&i.id)
                        .chain(&i.repo_tags)
                        .chain(&i.repo_digests)
                };
                images::ImageInfo {
                    id: i.id.clone(),
                    size: i.size,
                    in_use: names().any(|n| used.contains(n)),
                    pinned: i.pinned || names().any(|n| *n == cfg.pause_image || *n == pause),
                }
            })
            .collect();
        let now = SystemTime::now();
        let (capacity, available) = self.image_fs().await;
        let victims = {
            let mut rec = self.images.lock().unwrap_or_else(|p| p.into_inner());
            rec.observe(&infos, now);
            rec.to_free(
                &infos,
                capacity,
                available,
                images::Policy {
                    high_percent: cfg.image_gc_high_threshold_percent,
                    low_percent: cfg.image_gc_low_threshold_percent,
                    min_age: cfg.image_minimum_gc_age,
                },
                now,
            )
        };
        let mut removed = Vec::new();
        for id in victims {
            match rt
                .remove_image(api::RemoveImageRequest {
                    image: Some(api::ImageSpec {
                        image: id.clone(),
                        ..Default::default()
                    }),
                })
                .await
            {
                Ok(_) => removed.push(id),
                Err(e) => tracing::warn!("image GC: removing {id}: {e}"),
            }
        }
        removed
    }

    /// (capacity, available) bytes of the image filesystem.
    async fn image_fs(&self) -> (u64, u64) {
        let mount = self
            .ctx
            .runtime
            .image_fs_info(api::ImageFsInfoRequest {})
            .await
            .ok()
            .and_then(|i| i.image_filesystems.into_iter().next())
            .and_then(|f| f.fs_id)
            .map(|id| PathBuf::from(id.mountpoint))
            .filter(|p| p.exists())
            .unwrap_or_else(|| self.ctx.cfg.root.join("containerd"));
        machine::fs_usage(&mount)
            .or_else(|| machine::fs_usage(&self.ctx.cfg.root))
            .map(|f| (f.capacity, f.available))
            .unwrap_or((0, 0))
    }

    /// Rotate the logs of running containers that grew past the limit.
    pub async fn rotate_logs(&self) {
        let rt = self.ctx.runtime.as_ref();
        let cfg = &self.ctx.cfg;
        let running = api::ContainerStateValue {
            state: api::ContainerState::ContainerRunning as i32,
        };
        let Ok(list) = rt
            .list_containers(api::ListContainersRequest {
                filter: Some(api::ContainerFilter {
                    state: Some(running),
                    ..Default::default()
                }),
            })
            .await
        else {
            return;
        };
        for c in list.containers {
            let Some(log) = rt
                .container_status(api::ContainerStatusRequest {
                    container_id: c.id.clone(),
                    verbose: false,
                })
                .await
                .ok()
                .and_then(|r| r.status)
                .map(|s| PathBuf::from(s.log_path))
                .filter(|p| !p.as_os_str().is_empty())
            else {
                continue;
            };
            logrotate::prune(&log, cfg.container_log_max_files);
            let Some(rotated) =
                logrotate::rotate_if_big(&log, cfg.container_log_max_size, chrono::Utc::now())
            else {
                continue;
            };
            if let Err(e) = rt
                .reopen_container_log(api::ReopenContainerLogRequest {
                    container_id: c.id.clone(),
                })
                .await
            {
                // The runtime still writes the renamed file: undo, as the kubelet does.
                tracing::warn!("reopening the log of container {}: {e}", c.id);
                let _ = std::fs::rename(&rotated, &log);
                continue;
            }
            logrotate::prune(&log, cfg.container_log_max_files);
        }
    }
}

/// A removed container's log file and its rotations.
fn remove_log_files(log: &Path) {
    let _ = std::fs::remove_file(log);
    for f in logrotate::rotated_files(log) {
        let _ = std::fs::remove_file(f);
    }
}

#[cfg(test)]
mod tests;
