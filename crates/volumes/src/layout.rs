//! Where things live on disk, as in the kubelet:
//!
//! ```text
//! <pods_root>/<pod-uid>/volumes/kubernetes.io~<plugin>/<volume-name>
//! <pods_root>/<pod-uid>/volume-subpaths/<volume-name>/<container-name>/<mount-index>
//! ```

use std::path::{Path, PathBuf};

/// The volume plugins berth implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumeKind {
    EmptyDir,
    HostPath,
    ConfigMap,
    Secret,
    DownwardApi,
    Projected,
    /// A PVC whose bound PV is a hostPath or local volume (data lives outside the pod dir).
    PersistentVolumeClaim,
}

impl VolumeKind {
    /// Upstream's plugin name (`kubernetes.io/empty-dir`, ...).
    pub fn plugin_name(self) -> &'static str {
        match self {
            VolumeKind::EmptyDir => "kubernetes.io/empty-dir",
            VolumeKind::HostPath => "kubernetes.io/host-path",
            VolumeKind::ConfigMap => "kubernetes.io/configmap",
            VolumeKind::Secret => "kubernetes.io/secret",
            VolumeKind::DownwardApi => "kubernetes.io/downward-api",
            VolumeKind::Projected => "kubernetes.io/projected",
            VolumeKind::PersistentVolumeClaim => "kubernetes.io/persistent-volume-claim",
        }
    }

    /// The directory name under `volumes/` (`/` escaped as `~`).
    pub fn plugin_dir_name(self) -> String {
        self.plugin_name().replace('/', "~")
    }
}

/// `<pods_root>/<uid>`
pub fn pod_dir(pods_root: &Path, pod_uid: &str) -> PathBuf {
    pods_root.join(pod_uid)
}

/// `<pods_root>/<uid>/volumes/<plugin dir>/<volume>`
pub fn volume_dir(pod_dir: &Path, kind: VolumeKind, volume: &str) -> PathBuf {
    pod_dir
        .join("volumes")
        .join(kind.plugin_dir_name())
        .join(volume)
}

/// `<pods_root>/<uid>/volume-subpaths/<volume>/<container>/<index>`
pub fn subpath_target(pod_dir: &Path, volume: &str, container: &str, index: usize) -> PathBuf {
    pod_dir
        .join("volume-subpaths")
        .join(volume)
        .join(container)
        .join(index.to_string())
}

/// Whether `name` can be used as one path element (uids, volume and container names).
pub fn is_path_element(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_kubelet() {
        let pod = pod_dir(Path::new("/var/lib/berth/pods"), "u1");
        assert_eq!(
            volume_dir(&pod, VolumeKind::ConfigMap, "cfg"),
            Path::new("/var/lib/berth/pods/u1/volumes/kubernetes.io~configmap/cfg")
        );
        assert_eq!(
            volume_dir(&pod, VolumeKind::EmptyDir, "cache"),
            Path::new("/var/lib/berth/pods/u1/volumes/kubernetes.io~empty-dir/cache")
        );
        assert_eq!(
            subpath_target(&pod, "cfg", "app", 2),
            Path::new("/var/lib/berth/pods/u1/volume-subpaths/cfg/app/2")
        );
        assert!(is_path_element("abc-123"));
        assert!(!is_path_element(".."));
        assert!(!is_path_element("a/b"));
        assert!(!is_path_element(""));
    }
}
