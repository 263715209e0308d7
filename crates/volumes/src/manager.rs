//! The volume manager: sets up every volume of a pod under `<pods_root>/<pod-uid>` and tears
//! them down again. Calls for the same pod are serialised; different pods run in parallel.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::error::VolumeError;
use crate::layout;
use crate::mounts;
use crate::plugins;
use crate::pod_volumes::PodVolumes;
use crate::projection::ProjectionContext;
use crate::safe_path;
use crate::source::VolumeSource;
use crate::token_cache::TokenCache;

pub struct VolumeManager {
    pods_root: PathBuf,
    source: Arc<dyn VolumeSource>,
    node_allocatable: OnceLock<BTreeMap<String, Quantity>>,
    pod_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Service account tokens of projected volumes, reused until a refresh is due.
    tokens: TokenCache,
}

impl VolumeManager {
    /// `pods_root` is `<data-dir>/pods`; it is created on first use.
    pub fn new(pods_root: PathBuf, source: Arc<dyn VolumeSource>) -> Self {
        VolumeManager {
            pods_root,
            source,
            node_allocatable: OnceLock::new(),
            pod_locks: Mutex::new(HashMap::new()),
            tokens: TokenCache::default(),
        }
    }

    /// The node's allocatable resources, used for downward API `limits.*` of containers that
    /// set no limit. Without this the host's CPUs, memory and disk size are used.
    pub fn with_node_allocatable(self, allocatable: BTreeMap<String, Quantity>) -> Self {
        let _ = self.node_allocatable.set(allocatable);
        self
    }

    pub fn pods_root(&self) -> &Path {
        &self.pods_root
    }

    fn pod_lock(&self, pod_uid: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .pod_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(pod_uid.to_string()).or_default().clone()
    }

    /// Make every volume of the pod ready on the host (idempotent; call again to refresh
    /// configMap/secret/downwardAPI/projected contents). Every volume is attempted; failures
    /// are returned together (one [`VolumeError`] per failed volume, see
    /// [`VolumeError::failures`]).
    pub async fn setup(&self, pod: &Pod) -> Result<PodVolumes, VolumeError> {
        let pod_uid = pod
            .metadata
            .uid
            .clone()
            .filter(|uid| layout::is_path_element(uid))
            .ok_or_else(|| VolumeError::InvalidPod("pod has no usable metadata.uid".into()))?;
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let lock = self.pod_lock(&pod_uid);
        let _serialised = lock.lock().await;

        let pod_dir = layout::pod_dir(&self.pods_root, &pod_uid);
        let node_allocatable = self
            .node_allocatable
            .get_or_init(|| plugins::host_allocatable(&self.pods_root));
        let ctx = ProjectionContext {
            source: self.source.as_ref(),
            pod,
            namespace,
            node_allocatable,
            tokens: &self.tokens,
        };
        let fs_group = plugins::fs_group(pod);

        let mut ready = BTreeMap::new();
        let mut errors = Vec::new();
        let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
        for volume in volumes.into_iter().flatten() {
            if !layout::is_path_element(&volume.name) {
                errors.push(VolumeError::InvalidPod(format!(
                    "volume name {:?} cannot be a directory name",
                    volume.name
                )));
                continue;
            }
            let plan = match plugins::plan(&ctx, volume, fs_group.is_some()).await {
                Ok(plan) => plan,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let dir = pod_dir.clone();
            let name = volume.name.clone();
            let applied =
                tokio::task::spawn_blocking(move || plugins::apply(&dir, &name, plan, fs_group))
                    .await
                    .unwrap_or_else(|e| Err(VolumeError::set_up(&volume.name, e.to_string())));
            match applied {
                Ok(volume) => {
                    ready.insert(volume.name.clone(), volume);
                }
                Err(e) => errors.push(e),
            }
        }
        match errors.len() {
            0 => Ok(PodVolumes {
                pod_uid,
                pod_dir,
                volumes: ready,
            }),
            1 => Err(errors.remove(0)),
            _ => Err(VolumeError::Many(errors)),
        }
    }

    /// Unmount and remove the pod's directory (volumes, subPath bind mounts and all). Only
    /// what lies on the pods filesystem is deleted: hostPath and PV data are never touched,
    /// and anything still mounted stops the removal with an error instead.
    pub async fn teardown(&self, pod_uid: &str) -> Result<(), VolumeError> {
        if !layout::is_path_element(pod_uid) {
            return Err(VolumeError::InvalidPod(format!(
                "pod uid {pod_uid:?} cannot be a directory name"
            )));
        }
        let lock = self.pod_lock(pod_uid);
        let guard = lock.lock().await;
        let pod_dir = layout::pod_dir(&self.pods_root, pod_uid);
        let result = tokio::task::spawn_blocking(move || remove_pod_dir(&pod_dir))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
            .map_err(|message| VolumeError::TearDown {
                pod_uid: pod_uid.to_string(),
                message,
            });
        drop(guard);
        if result.is_ok() {
            self.tokens.forget_pod(pod_uid);
            let mut locks = self
                .pod_locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // Forget the lock unless someone is waiting on it right now.
            if locks
                .get(pod_uid)
                .is_some_and(|l| Arc::strong_count(l) <= 2)
            {
                locks.remove(pod_uid);
            }
        }
        result
    }

    /// Pod dirs on disk (for cleaning up orphans after an agent restart).
    pub fn pod_uids_on_disk(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.pods_root) else {
            return Vec::new();
        };
        let mut uids: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        uids.sort();
        uids
    }
}

/// Unmounts everything below the pod dir (deepest first), then deletes it without leaving
/// its filesystem.
fn remove_pod_dir(pod_dir: &Path) -> Result<(), String> {
    if !pod_dir.exists() {
        return Ok(());
    }
    let mounted = mounts::mounts_under(pod_dir).map_err(|e| e.to_string())?;
    for mount_point in mounted {
        mounts::unmount(&mount_point)
            .map_err(|e| format!("unmount of {} failed: {e}", mount_point.display()))?;
    }
    safe_path::remove_all_one_filesystem(pod_dir).map_err(|e| e.to_string())
}
