//! Walking paths inside a volume without following symlinks, so a container that controls the
//! volume's contents cannot make the node agent create or mount something outside it.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

fn c_name(name: &std::ffi::OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn open_at(dir: Option<&OwnedFd>, name: &CString, flags: libc::c_int) -> io::Result<OwnedFd> {
    let dirfd = dir.map(|d| d.as_raw_fd()).unwrap_or(libc::AT_FDCWD);
    // SAFETY: `name` is NUL-terminated; the returned fd is owned by us when non-negative.
    let fd = unsafe { libc::openat(dirfd, name.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: fd is a fresh descriptor nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// The relative, normal components of `relative` (rejecting `..`, `/` and the like).
fn normal_components(relative: &Path) -> io::Result<Vec<&std::ffi::OsStr>> {
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(name) => parts.push(name),
            Component::CurDir => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("path {} is not a plain relative path", relative.display()),
                ))
            }
        }
    }
    Ok(parts)
}

/// Opens `base/relative` (O_PATH) refusing symlinks at every step below `base`.
pub fn open_no_follow(base: &Path, relative: &Path) -> io::Result<OwnedFd> {
    let base_c = CString::new(base.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut current = open_at(None, &base_c, libc::O_PATH | libc::O_DIRECTORY)?;
    for name in normal_components(relative)? {
        let next = open_at(
            Some(&current),
            &c_name(name)?,
            libc::O_PATH | libc::O_NOFOLLOW,
        )?;
        let meta = File::from(next.try_clone()?).metadata()?;
        if meta.file_type().is_symlink() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is a symlink", name.to_string_lossy()),
            ));
        }
        current = next;
    }
    Ok(current)
}

/// Creates every missing directory of `relative` under `base` with `mode`, never following a
/// symlink below `base`.
pub fn make_dirs_no_follow(base: &Path, relative: &Path, mode: u32) -> io::Result<()> {
    let base_c = CString::new(base.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut current = open_at(None, &base_c, libc::O_RDONLY | libc::O_DIRECTORY)?;
    for name in normal_components(relative)? {
        let name = c_name(name)?;
        // SAFETY: valid dirfd and NUL-terminated name.
        let rc = unsafe { libc::mkdirat(current.as_raw_fd(), name.as_ptr(), mode) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::AlreadyExists {
                return Err(err);
            }
        } else {
            // mkdirat applies the umask; set the mode we were asked for.
            // SAFETY: valid dirfd and name; no flags.
            unsafe { libc::fchmodat(current.as_raw_fd(), name.as_ptr(), mode, 0) };
        }
        current = open_at(
            Some(&current),
            &name,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        )?;
    }
    Ok(())
}

/// Deletes `path` and everything under it without crossing into another filesystem and
/// without following symlinks (like kubelet's RemoveAllOneFilesystem): a still-mounted
/// hostPath or PV under a pod directory stops the removal instead of being emptied.
pub fn remove_all_one_filesystem(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    remove_entry(path, meta.dev())
}

fn remove_entry(path: &Path, device: u64) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    if meta.dev() != device {
        return Err(io::Error::other(format!(
            "cannot delete directory {}: it is on a different device",
            path.display()
        )));
    }
    for entry in std::fs::read_dir(path)? {
        remove_entry(&entry?.path(), device)?;
    }
    match std::fs::remove_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_no_follow_refuses_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        assert!(open_no_follow(dir.path(), Path::new("real")).is_ok());
        assert!(open_no_follow(dir.path(), Path::new("link")).is_err());
        assert!(open_no_follow(dir.path(), Path::new("link/passwd")).is_err());
        assert!(open_no_follow(dir.path(), Path::new("../x")).is_err());
    }

    #[test]
    fn make_dirs_no_follow_creates_nested_dirs_but_not_through_links() {
        let dir = tempfile::tempdir().unwrap();
        make_dirs_no_follow(dir.path(), Path::new("a/b/c"), 0o750).unwrap();
        let meta = std::fs::metadata(dir.path().join("a/b/c")).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o777, 0o750);

        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        assert!(make_dirs_no_follow(dir.path(), Path::new("escape/new"), 0o755).is_err());
        assert!(!outside.path().join("new").exists());
    }

    #[test]
    fn remove_all_does_not_follow_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let keep = tempfile::tempdir().unwrap();
        std::fs::write(keep.path().join("precious"), "x").unwrap();
        let victim = dir.path().join("pod");
        std::fs::create_dir_all(victim.join("sub")).unwrap();
        std::fs::write(victim.join("sub/file"), "y").unwrap();
        std::os::unix::fs::symlink(keep.path(), victim.join("sub/link")).unwrap();
        remove_all_one_filesystem(&victim).unwrap();
        assert!(!victim.exists());
        assert!(keep.path().join("precious").exists());
    }
}
