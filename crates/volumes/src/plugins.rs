//! Per-plugin set-up, in two steps: `plan` (async: read API objects through the
//! [`VolumeSource`], build file payloads) and `apply` (blocking: make it so on disk).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeSpec, Pod, Volume};

use crate::atomic_writer::{self, Payload};
use crate::error::VolumeError;
use crate::layout::{self, VolumeKind};
use crate::pod_volumes::ReadyVolume;
use crate::projection::{self, ProjectionContext, DEFAULT_MODE};
use crate::{host_path, mounts, ownership, quantity};

/// emptyDir (and the directories of wrapped plugins) are world-writable like upstream's.
const EMPTY_DIR_MODE: u32 = 0o777;

/// What a volume needs on disk, decided before touching the disk.
#[derive(Debug)]
pub enum Plan {
    EmptyDir {
        memory: bool,
        size_limit: Option<u64>,
    },
    HostPath {
        path: String,
        path_type: Option<String>,
    },
    /// configMap / secret / downwardAPI / projected: files written by the atomic writer,
    /// on a tmpfs for secret and projected (as upstream wraps them in a Memory emptyDir).
    Projection {
        kind: VolumeKind,
        tmpfs: bool,
        payload: Payload,
    },
    /// A PVC bound to a hostPath or local PV.
    PersistentVolume {
        path: String,
        host_path_type: Option<String>,
        read_only: bool,
    },
}

/// The name upstream uses for a volume source berth does not implement, if it is one.
fn unsupported_kind(volume: &Volume) -> Option<&'static str> {
    let v = volume;
    [
        (v.aws_elastic_block_store.is_some(), "awsElasticBlockStore"),
        (v.azure_disk.is_some(), "azureDisk"),
        (v.azure_file.is_some(), "azureFile"),
        (v.cephfs.is_some(), "cephfs"),
        (v.cinder.is_some(), "cinder"),
        (v.csi.is_some(), "csi"),
        (v.fc.is_some(), "fc"),
        (v.flex_volume.is_some(), "flexVolume"),
        (v.flocker.is_some(), "flocker"),
        (v.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (v.git_repo.is_some(), "gitRepo"),
        (v.glusterfs.is_some(), "glusterfs"),
        (v.image.is_some(), "image"),
        (v.iscsi.is_some(), "iscsi"),
        (v.nfs.is_some(), "nfs"),
        (v.photon_persistent_disk.is_some(), "photonPersistentDisk"),
        (v.portworx_volume.is_some(), "portworxVolume"),
        (v.quobyte.is_some(), "quobyte"),
        (v.rbd.is_some(), "rbd"),
        (v.scale_io.is_some(), "scaleIO"),
        (v.storageos.is_some(), "storageos"),
        (v.vsphere_volume.is_some(), "vsphereVolume"),
    ]
    .into_iter()
    .find_map(|(present, name)| present.then_some(name))
}

fn unsupported_pv_kind(spec: &PersistentVolumeSpec) -> &'static str {
    let s = spec;
    [
        (s.aws_elastic_block_store.is_some(), "awsElasticBlockStore"),
        (s.azure_disk.is_some(), "azureDisk"),
        (s.azure_file.is_some(), "azureFile"),
        (s.cephfs.is_some(), "cephfs"),
        (s.cinder.is_some(), "cinder"),
        (s.csi.is_some(), "csi"),
        (s.fc.is_some(), "fc"),
        (s.flex_volume.is_some(), "flexVolume"),
        (s.flocker.is_some(), "flocker"),
        (s.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (s.glusterfs.is_some(), "glusterfs"),
        (s.iscsi.is_some(), "iscsi"),
        (s.nfs.is_some(), "nfs"),
        (s.photon_persistent_disk.is_some(), "photonPersistentDisk"),
        (s.portworx_volume.is_some(), "portworxVolume"),
        (s.quobyte.is_some(), "quobyte"),
        (s.rbd.is_some(), "rbd"),
        (s.scale_io.is_some(), "scaleIO"),
        (s.storageos.is_some(), "storageos"),
        (s.vsphere_volume.is_some(), "vsphereVolume"),
    ]
    .into_iter()
    .find_map(|(present, name)| present.then_some(name))
    .unwrap_or("unknown persistent volume source")
}

/// Decides what `volume` needs, fetching API objects as required.
pub async fn plan(
    ctx: &ProjectionContext<'_>,
    volume: &Volume,
    fs_group_set: bool,
) -> Result<Plan, VolumeError> {
    let name = volume.name.as_str();
    let fail = |message: String| VolumeError::set_up(name, message);
    if let Some(kind) = unsupported_kind(volume) {
        return Err(VolumeError::Unsupported {
            volume: name.to_string(),
            kind: kind.to_string(),
        });
    }
    if let Some(source) = &volume.host_path {
        return Ok(Plan::HostPath {
            path: source.path.clone(),
            path_type: source.type_.clone(),
        });
    }
    if let Some(source) = &volume.config_map {
        let payload = projection::config_map_payload(ctx, source)
            .await
            .map_err(fail)?;
        return Ok(Plan::Projection {
            kind: VolumeKind::ConfigMap,
            tmpfs: false,
            payload,
        });
    }
    if let Some(source) = &volume.secret {
        let payload = projection::secret_payload(ctx, source)
            .await
            .map_err(fail)?;
        return Ok(Plan::Projection {
            kind: VolumeKind::Secret,
            tmpfs: true,
            payload,
        });
    }
    if let Some(source) = &volume.downward_api {
        let default_mode = source
            .default_mode
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(DEFAULT_MODE);
        let payload = projection::downward_api_payload(
            ctx.pod,
            source.items.as_ref(),
            default_mode,
            ctx.node_allocatable,
        )
        .map_err(fail)?;
        return Ok(Plan::Projection {
            kind: VolumeKind::DownwardApi,
            tmpfs: false,
            payload,
        });
    }
    if let Some(source) = &volume.projected {
        let payload = projection::projected_payload(ctx, source, fs_group_set)
            .await
            .map_err(fail)?;
        return Ok(Plan::Projection {
            kind: VolumeKind::Projected,
            tmpfs: true,
            payload,
        });
    }
    if let Some(source) = &volume.persistent_volume_claim {
        return plan_claim(
            ctx,
            name,
            &source.claim_name,
            source.read_only.unwrap_or(false),
            false,
        )
        .await;
    }
    if volume.ephemeral.is_some() {
        // A generic ephemeral volume is a PVC named <pod>-<volume>, owned by the pod.
        let pod_name = ctx.pod.metadata.name.as_deref().unwrap_or_default();
        let claim = format!("{pod_name}-{name}");
        return plan_claim(ctx, name, &claim, false, true).await;
    }
    // No source at all: the API server defaults such a volume to an emptyDir.
    let empty_dir = volume.empty_dir.clone().unwrap_or_default();
    let memory = match empty_dir.medium.as_deref().unwrap_or_default() {
        "" => false,
        "Memory" => true,
        other => {
            return Err(fail(format!(
                "emptyDir medium {other:?} is not supported by berth"
            )))
        }
    };
    let size_limit = match (&empty_dir.size_limit, memory) {
        (Some(limit), true) => {
            let bytes = quantity::parse(&limit.0).map_err(fail)?.value();
            u64::try_from(bytes).ok().filter(|b| *b > 0)
        }
        _ => None,
    };
    Ok(Plan::EmptyDir { memory, size_limit })
}

async fn plan_claim(
    ctx: &ProjectionContext<'_>,
    volume: &str,
    claim_name: &str,
    read_only: bool,
    must_be_owned_by_pod: bool,
) -> Result<Plan, VolumeError> {
    let ns = ctx.namespace;
    let fail = |message: String| {
        VolumeError::set_up(
            volume,
            format!("error processing PVC {ns}/{claim_name}: {message}"),
        )
    };
    let claim = ctx
        .source
        .persistent_volume_claim(ns, claim_name)
        .await
        .map_err(|e| fail(format!("failed to fetch PVC from API server: {e}")))?
        .ok_or_else(|| {
            fail(format!(
                "failed to fetch PVC from API server: persistentvolumeclaims {claim_name:?} not found"
            ))
        })?;
    if must_be_owned_by_pod {
        let pod_uid = ctx.pod.metadata.uid.as_deref().unwrap_or_default();
        let owned = claim
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.controller == Some(true) && o.uid == pod_uid);
        if !owned {
            let pod_name = ctx.pod.metadata.name.as_deref().unwrap_or_default();
            return Err(fail(format!(
                "PVC {ns}/{claim_name} was not created for pod {ns}/{pod_name} (pod is not owner)"
            )));
        }
    }
    if claim.metadata.deletion_timestamp.is_some() {
        return Err(fail(format!("PVC {ns}/{claim_name} is being deleted")));
    }
    let phase = claim
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    let pv_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .unwrap_or_default();
    if phase != "Bound" || pv_name.is_empty() {
        return Err(fail(format!(
            "PVC {ns}/{claim_name} has non-bound phase ({phase:?}) or empty pvc.Spec.VolumeName ({pv_name:?})"
        )));
    }
    let pv: PersistentVolume = ctx
        .source
        .persistent_volume(&pv_name)
        .await
        .map_err(|e| fail(format!("failed to fetch PV {pv_name} from API server: {e}")))?
        .ok_or_else(|| {
            fail(format!(
                "failed to fetch PV {pv_name} from API server: persistentvolumes {pv_name:?} not found"
            ))
        })?;
    let spec = pv.spec.unwrap_or_default();
    let claim_uid = claim.metadata.uid.clone().unwrap_or_default();
    match spec.claim_ref.as_ref() {
        None => {
            return Err(fail(format!(
                "found PV object {pv_name} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim"
            )))
        }
        Some(r) if r.uid.clone().unwrap_or_default() != claim_uid => {
            return Err(fail(format!(
                "found PV object {pv_name} but its pv.Spec.ClaimRef.UID ({}) does not point to claim.UID ({claim_uid})",
                r.uid.clone().unwrap_or_default()
            )))
        }
        Some(_) => {}
    }
    if let Some(host) = &spec.host_path {
        return Ok(Plan::PersistentVolume {
            path: host.path.clone(),
            host_path_type: host.type_.clone(),
            read_only,
        });
    }
    if let Some(local) = &spec.local {
        return Ok(Plan::PersistentVolume {
            path: local.path.clone(),
            host_path_type: Some("Directory".to_string()),
            read_only,
        });
    }
    Err(VolumeError::Unsupported {
        volume: volume.to_string(),
        kind: unsupported_pv_kind(&spec).to_string(),
    })
}

/// Makes a planned volume real on disk. Blocking; run it off the async executor.
pub fn apply(
    pod_dir: &Path,
    volume: &str,
    plan: Plan,
    fs_group: Option<u32>,
) -> Result<ReadyVolume, VolumeError> {
    let fail = |message: String| VolumeError::set_up(volume, message);
    match plan {
        Plan::HostPath { path, path_type } => {
            host_path::check_type(&path, path_type.as_deref()).map_err(fail)?;
            Ok(ReadyVolume {
                name: volume.to_string(),
                kind: VolumeKind::HostPath,
                host_path: PathBuf::from(path),
                read_only: false,
            })
        }
        Plan::PersistentVolume {
            path,
            host_path_type,
            read_only,
        } => {
            host_path::check_type(&path, host_path_type.as_deref()).map_err(fail)?;
            Ok(ReadyVolume {
                name: volume.to_string(),
                kind: VolumeKind::PersistentVolumeClaim,
                host_path: PathBuf::from(path),
                read_only,
            })
        }
        Plan::EmptyDir { memory, size_limit } => {
            let dir = layout::volume_dir(pod_dir, VolumeKind::EmptyDir, volume);
            let created = !dir.exists();
            setup_dir(&dir).map_err(|e| fail(e.to_string()))?;
            let mounted_now = memory && ensure_tmpfs(&dir, size_limit).map_err(fail)?;
            // Ownership is set once, on a fresh volume, not re-walked on every sync.
            if let (Some(gid), true) = (fs_group, created || mounted_now) {
                ownership::apply_fs_group(&dir, gid, false).map_err(|e| fail(e.to_string()))?;
            }
            Ok(ReadyVolume {
                name: volume.to_string(),
                kind: VolumeKind::EmptyDir,
                host_path: dir,
                read_only: false,
            })
        }
        Plan::Projection {
            kind,
            tmpfs,
            payload,
        } => {
            let dir = layout::volume_dir(pod_dir, kind, volume);
            setup_dir(&dir).map_err(|e| fail(e.to_string()))?;
            if tmpfs {
                ensure_tmpfs(&dir, None).map_err(fail)?;
            }
            let prepare = |ts_dir: &Path| match fs_group {
                Some(gid) => ownership::apply_fs_group(ts_dir, gid, true),
                None => Ok(()),
            };
            atomic_writer::write(&dir, &payload, &prepare)
                .map_err(|e| fail(format!("error writing payload to dir: {e}")))?;
            if let Some(gid) = fs_group {
                ownership::apply_fs_group(&dir, gid, true).map_err(|e| fail(e.to_string()))?;
            }
            Ok(ReadyVolume {
                name: volume.to_string(),
                kind,
                host_path: dir,
                read_only: true,
            })
        }
    }
}

/// Creates the volume directory with mode 0777 regardless of the umask (upstream's setupDir).
fn setup_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.permissions().mode() & 0o777 != EMPTY_DIR_MODE {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(EMPTY_DIR_MODE))?;
    }
    Ok(())
}

/// Mounts a tmpfs at `dir` unless one is already there (set-up is called repeatedly).
/// Returns whether it mounted one now.
fn ensure_tmpfs(dir: &Path, size_limit: Option<u64>) -> Result<bool, String> {
    match mounts::mounted_fs_type(dir) {
        Ok(Some(fs)) if fs == "tmpfs" => Ok(false),
        Ok(_) => mounts::mount_tmpfs(dir, size_limit)
            .map(|()| true)
            .map_err(|e| format!("mount of tmpfs at {} failed: {e}", dir.display())),
        Err(e) => Err(format!("reading the mount table failed: {e}")),
    }
}

/// The node's allocatable resources when the caller did not say: all CPUs, all memory and
/// the size of the filesystem holding the pods directory.
pub fn host_allocatable(
    pods_root: &Path,
) -> BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity> {
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    let mut out = BTreeMap::new();
    if let Ok(cpus) = std::thread::available_parallelism() {
        out.insert("cpu".to_string(), Quantity(cpus.get().to_string()));
    }
    if let Some(kib) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
    {
        out.insert("memory".to_string(), Quantity(format!("{kib}Ki")));
    }
    if let Some(bytes) = filesystem_size(pods_root) {
        out.insert("ephemeral-storage".to_string(), Quantity(bytes.to_string()));
    }
    out
}

fn filesystem_size(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let existing = path.ancestors().find(|p| p.exists())?;
    let c_path = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain old data; zeroed is a valid initial value.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and out-pointer.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    // f_blocks/f_frsize are u64 on 64-bit Linux but not on every target.
    #[allow(clippy::useless_conversion)]
    let (blocks, fragment) = (u64::from(stat.f_blocks), u64::from(stat.f_frsize));
    blocks.checked_mul(fragment)
}

/// The pod's fsGroup, when it is a valid gid.
pub fn fs_group(pod: &Pod) -> Option<u32> {
    pod.spec
        .as_ref()?
        .security_context
        .as_ref()?
        .fs_group
        .and_then(|g| u32::try_from(g).ok())
}
