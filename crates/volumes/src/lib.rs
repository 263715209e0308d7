//! berth-volumes: Kubernetes pod volumes on the node, laid out like the kubelet's
//! (`<pods_root>/<pod-uid>/volumes/kubernetes.io~<plugin>/<volume-name>`).
//!
//! - [`VolumeManager`]: `setup(pod)` makes every volume ready (idempotent; call again to
//!   refresh configMap/secret/downwardAPI/projected contents), `teardown(uid)` unmounts and
//!   deletes, `pod_uids_on_disk()` lists pod dirs for orphan clean-up.
//! - [`PodVolumes::container_mounts`]: the CRI mounts of a container (readOnly, subPath,
//!   subPathExpr, mountPropagation).
//! - [`VolumeSource`]: the API reads the manager needs; the kubelet implements it.
//!
//! Plugins: emptyDir (disk or tmpfs), hostPath (with type checks), configMap, secret (tmpfs),
//! downwardAPI, projected (tmpfs; configMap, secret, downwardAPI, serviceAccountToken) and
//! persistentVolumeClaim / ephemeral backed by hostPath or local PVs. Contents of the
//! projection plugins are written with kubelet's atomic `..data` symlink swap.

pub mod atomic_writer;
mod downward_api;
mod error;
mod expansion;
mod host_path;
mod layout;
mod manager;
mod mounts;
mod ownership;
mod plugins;
mod pod_volumes;
mod projection;
mod quantity;
mod safe_path;
mod source;
mod subpath;
mod token_cache;

pub use error::VolumeError;
pub use layout::VolumeKind;
pub use manager::VolumeManager;
pub use pod_volumes::{PodVolumes, ReadyVolume};
pub use source::{ServiceAccountToken, VolumeSource};
