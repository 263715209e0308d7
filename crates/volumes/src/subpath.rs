//! subPath handling as the kubelet does it: create a missing subPath as a directory, then
//! bind-mount the resolved path (opened without following symlinks, through
//! `/proc/self/fd/N`) to a per-container target, so a container that swaps a directory for a
//! symlink cannot make the runtime mount a host path outside the volume.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::{mounts, safe_path};

/// Checks a subPath the way the kubelet does before using it.
pub fn validate(sub_path: &str) -> Result<(), String> {
    if sub_path.starts_with('/') {
        return Err(format!(
            "error SubPath `{sub_path}` must not be an absolute path"
        ));
    }
    if Path::new(sub_path)
        .components()
        .any(|c| c == Component::ParentDir)
    {
        return Err(format!(
            "unable to provision SubPath `{sub_path}`: must not contain '..'"
        ));
    }
    Ok(())
}

/// Creates `volume_root/sub_path` as directories when it does not exist, with the volume
/// root's permission bits, never following symlinks inside the volume.
pub fn create_if_missing(volume_root: &Path, sub_path: &str) -> io::Result<()> {
    if volume_root.join(sub_path).exists() {
        return Ok(());
    }
    let mode = std::fs::metadata(volume_root)?.permissions().mode() & 0o7777;
    safe_path::make_dirs_no_follow(volume_root, Path::new(sub_path), mode)
}

/// Bind-mounts `volume_root/sub_path` onto `target` (idempotent) and returns `target`.
pub fn bind(volume_root: &Path, sub_path: &str, target: &Path) -> Result<PathBuf, String> {
    let root = std::fs::canonicalize(volume_root)
        .map_err(|e| format!("error resolving volume path {}: {e}", volume_root.display()))?;
    let wanted = volume_root.join(sub_path);
    let resolved = std::fs::canonicalize(&wanted)
        .map_err(|e| format!("error resolving subpath {}: {e}", wanted.display()))?;
    if !resolved.starts_with(&root) {
        return Err(format!(
            "subpath {:?} not within volume path {:?}",
            resolved.display().to_string(),
            root.display().to_string()
        ));
    }
    if target.exists() && mounts::mounted_fs_type(target).ok().flatten().is_some() {
        return Ok(target.to_path_buf());
    }
    let relative = resolved.strip_prefix(&root).unwrap_or(Path::new(""));
    let fd = safe_path::open_no_follow(&root, relative)
        .map_err(|e| format!("error opening subpath {}: {e}", resolved.display()))?;
    let meta = std::fs::File::from(
        fd.try_clone()
            .map_err(|e| format!("error opening subpath {}: {e}", resolved.display()))?,
    )
    .metadata()
    .map_err(|e| format!("error opening subpath {}: {e}", resolved.display()))?;
    prepare_target(target, meta.is_dir())
        .map_err(|e| format!("error creating subpath target {}: {e}", target.display()))?;
    let proc_path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    mounts::bind_mount(&proc_path, target).map_err(|e| {
        format!(
            "error mounting {} (inode {}) to {}: {e}",
            resolved.display(),
            meta.ino(),
            target.display()
        )
    })?;
    Ok(target.to_path_buf())
}

/// A directory for a directory source, an empty file for anything else (bind mounts need a
/// target of the same kind).
fn prepare_target(target: &Path, is_dir: bool) -> io::Result<()> {
    if is_dir {
        std::fs::create_dir_all(target)?;
        return Ok(());
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(target)
    {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_kubelet() {
        assert!(validate("a/b").is_ok());
        assert_eq!(
            validate("/etc").unwrap_err(),
            "error SubPath `/etc` must not be an absolute path"
        );
        assert_eq!(
            validate("a/../../etc").unwrap_err(),
            "unable to provision SubPath `a/../../etc`: must not contain '..'"
        );
    }

    #[test]
    fn creates_missing_dirs_with_volume_mode() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        create_if_missing(dir.path(), "x/y").unwrap();
        let meta = std::fs::metadata(dir.path().join("x/y")).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o777, 0o777);
    }

    #[test]
    fn refuses_a_subpath_that_escapes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let volume = dir.path().join("vol");
        std::fs::create_dir(&volume).unwrap();
        std::os::unix::fs::symlink("/etc", volume.join("evil")).unwrap();
        let err = bind(&volume, "evil", &dir.path().join("target")).unwrap_err();
        assert!(err.contains("not within volume path"), "{err}");
        assert!(!dir.path().join("target").exists());
    }
}
