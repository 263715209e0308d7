//! A pod's ready volumes and the CRI mounts each container gets from them (the volume part of
//! kubelet's makeMounts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_cri::api;
use k8s_openapi::api::core::v1::{Container, VolumeMount};

use crate::error::VolumeError;
use crate::layout::{self, VolumeKind};
use crate::{expansion, subpath};

/// One volume as it is on the host after set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyVolume {
    pub name: String,
    pub kind: VolumeKind,
    /// The host directory (or file) containers mount.
    pub host_path: PathBuf,
    /// The plugin forces read-only mounts (configMap, secret, downwardAPI, projected, a
    /// read-only PVC), whatever the volumeMount says.
    pub read_only: bool,
}

/// Every volume of one pod, ready on the host.
#[derive(Debug, Clone)]
pub struct PodVolumes {
    pub(crate) pod_uid: String,
    pub(crate) pod_dir: PathBuf,
    pub(crate) volumes: BTreeMap<String, ReadyVolume>,
}

impl PodVolumes {
    pub fn pod_uid(&self) -> &str {
        &self.pod_uid
    }

    /// `<pods_root>/<pod-uid>`
    pub fn pod_dir(&self) -> &Path {
        &self.pod_dir
    }

    pub fn volume(&self, name: &str) -> Option<&ReadyVolume> {
        self.volumes.get(name)
    }

    pub fn volumes(&self) -> impl Iterator<Item = &ReadyVolume> {
        self.volumes.values()
    }

    /// CRI mounts for a container's volumeMounts. `env` is the container's resolved
    /// environment, used for `subPathExpr`. A missing subPath is created as a directory and
    /// every subPath is bind-mounted under `volume-subpaths/` (removed by teardown).
    pub fn container_mounts(
        &self,
        container: &Container,
        env: &[(String, String)],
    ) -> Result<Vec<api::Mount>, VolumeError> {
        let mut mounts = Vec::new();
        for (index, volume_mount) in container.volume_mounts.iter().flatten().enumerate() {
            mounts.push(self.container_mount(container, index, volume_mount, env)?);
        }
        Ok(mounts)
    }

    fn container_mount(
        &self,
        container: &Container,
        index: usize,
        volume_mount: &VolumeMount,
        env: &[(String, String)],
    ) -> Result<api::Mount, VolumeError> {
        let volume = self.volumes.get(&volume_mount.name).ok_or_else(|| {
            VolumeError::container_mount(format!(
                "cannot find volume {:?} to mount into container {:?}",
                volume_mount.name, container.name
            ))
        })?;

        let sub_path = match volume_mount
            .sub_path_expr
            .as_deref()
            .filter(|e| !e.is_empty())
        {
            Some(expr) => {
                expansion::expand_sub_path(expr, env).map_err(VolumeError::container_mount)?
            }
            None => volume_mount.sub_path.clone().unwrap_or_default(),
        };
        let host_path = if sub_path.is_empty() {
            volume.host_path.clone()
        } else {
            self.prepare_sub_path(container, index, volume_mount, volume, &sub_path)?
        };

        let read_only = volume_mount.read_only.unwrap_or(false) || volume.read_only;
        let propagation = propagation(volume_mount.mount_propagation.as_deref())?;
        let recursive_read_only = recursive_read_only(volume_mount, read_only, propagation)?;
        Ok(api::Mount {
            container_path: volume_mount.mount_path.clone(),
            host_path: host_path.to_string_lossy().into_owned(),
            readonly: read_only,
            selinux_relabel: false,
            propagation: propagation as i32,
            recursive_read_only,
            ..Default::default()
        })
    }

    fn prepare_sub_path(
        &self,
        container: &Container,
        index: usize,
        volume_mount: &VolumeMount,
        volume: &ReadyVolume,
        sub_path: &str,
    ) -> Result<PathBuf, VolumeError> {
        subpath::validate(sub_path).map_err(VolumeError::container_mount)?;
        if !layout::is_path_element(&container.name) {
            return Err(VolumeError::container_mount(format!(
                "invalid container name {:?}",
                container.name
            )));
        }
        if let Err(e) = subpath::create_if_missing(&volume.host_path, sub_path) {
            // Like the kubelet, keep host details out of the user-facing message.
            tracing::warn!(error = %e, volume = %volume.name, "creating subPath failed");
            return Err(VolumeError::container_mount(format!(
                "failed to create subPath directory for volumeMount {:?} of container {:?}",
                volume_mount.name, container.name
            )));
        }
        let target = layout::subpath_target(&self.pod_dir, &volume.name, &container.name, index);
        subpath::bind(&volume.host_path, sub_path, &target).map_err(VolumeError::container_mount)
    }
}

/// volumeMount.mountPropagation → CRI propagation.
fn propagation(mode: Option<&str>) -> Result<api::MountPropagation, VolumeError> {
    match mode {
        None | Some("None") => Ok(api::MountPropagation::PropagationPrivate),
        Some("HostToContainer") => Ok(api::MountPropagation::PropagationHostToContainer),
        Some("Bidirectional") => Ok(api::MountPropagation::PropagationBidirectional),
        Some(other) => Err(VolumeError::container_mount(format!(
            "invalid MountPropagation mode: {other:?}"
        ))),
    }
}

/// `recursiveReadOnly: Enabled` asks the runtime for a recursively read-only mount; it needs
/// a read-only mount without propagation. `IfPossible` is treated as not possible (we do not
/// know whether the runtime supports it).
fn recursive_read_only(
    volume_mount: &VolumeMount,
    read_only: bool,
    propagation: api::MountPropagation,
) -> Result<bool, VolumeError> {
    match volume_mount.recursive_read_only.as_deref() {
        None | Some("Disabled") | Some("IfPossible") => Ok(false),
        Some("Enabled") => {
            if !read_only {
                return Err(VolumeError::container_mount(format!(
                    "volume {:?} requested recursive read-only mode, but it is not read-only",
                    volume_mount.name
                )));
            }
            if propagation != api::MountPropagation::PropagationPrivate {
                return Err(VolumeError::container_mount(format!(
                    "volume {:?} requested recursive read-only mode, but it is not compatible with propagation {:?}",
                    volume_mount.name,
                    volume_mount.mount_propagation.as_deref().unwrap_or_default()
                )));
            }
            Ok(true)
        }
        Some(other) => Err(VolumeError::container_mount(format!(
            "unknown recursive read-only mode {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_volumes(dir: &Path) -> PodVolumes {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        PodVolumes {
            pod_uid: "u".into(),
            pod_dir: dir.join("pod"),
            volumes: BTreeMap::from([(
                "data".to_string(),
                ReadyVolume {
                    name: "data".into(),
                    kind: VolumeKind::EmptyDir,
                    host_path: data,
                    read_only: false,
                },
            )]),
        }
    }

    fn container(mounts: Vec<VolumeMount>) -> Container {
        Container {
            name: "app".into(),
            volume_mounts: Some(mounts),
            ..Default::default()
        }
    }

    fn mount(name: &str, path: &str) -> VolumeMount {
        VolumeMount {
            name: name.into(),
            mount_path: path.into(),
            ..Default::default()
        }
    }

    #[test]
    fn plain_mount_with_read_only_and_propagation() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = pod_volumes(dir.path());
        let mut m = mount("data", "/data");
        m.read_only = Some(true);
        m.mount_propagation = Some("HostToContainer".into());
        let mounts = volumes.container_mounts(&container(vec![m]), &[]).unwrap();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].container_path, "/data");
        assert_eq!(
            mounts[0].host_path,
            dir.path().join("data").to_string_lossy()
        );
        assert!(mounts[0].readonly);
        assert_eq!(
            mounts[0].propagation,
            api::MountPropagation::PropagationHostToContainer as i32
        );
    }

    #[test]
    fn unknown_volume_and_bad_propagation_fail() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = pod_volumes(dir.path());
        let err = volumes
            .container_mounts(&container(vec![mount("nope", "/x")]), &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot find volume \"nope\" to mount into container \"app\""
        );
        let mut m = mount("data", "/data");
        m.mount_propagation = Some("Sideways".into());
        assert!(volumes.container_mounts(&container(vec![m]), &[]).is_err());
    }

    #[test]
    fn recursive_read_only_needs_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = pod_volumes(dir.path());
        let mut m = mount("data", "/data");
        m.recursive_read_only = Some("Enabled".into());
        assert!(volumes
            .container_mounts(&container(vec![m.clone()]), &[])
            .unwrap_err()
            .to_string()
            .contains("is not read-only"));
        m.read_only = Some(true);
        let mounts = volumes.container_mounts(&container(vec![m]), &[]).unwrap();
        assert!(mounts[0].recursive_read_only);
    }

    #[test]
    fn sub_path_expr_with_missing_variable_fails() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = pod_volumes(dir.path());
        let mut m = mount("data", "/data");
        m.sub_path_expr = Some("$(POD_NAME)".into());
        assert_eq!(
            volumes
                .container_mounts(&container(vec![m]), &[])
                .unwrap_err()
                .to_string(),
            "missing value for POD_NAME"
        );
    }
}
