//! fsGroup ownership (upstream's SetVolumeOwnership): every file and directory of a managed
//! volume gets the pod's fsGroup as group, group read (+write unless the volume is read-only)
//! and, on directories, group execute and the setgid bit so new files inherit the group.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

const RW_MASK: u32 = 0o660;
const RO_MASK: u32 = 0o440;
const EXEC_MASK: u32 = 0o110;
const SETGID: u32 = 0o2000;

/// Applies `gid` below and including `root`, not following symlinks (their group is changed,
/// their target is not) and not crossing into other filesystems.
pub fn apply_fs_group(root: &Path, gid: u32, read_only: bool) -> io::Result<()> {
    let device = std::fs::symlink_metadata(root)?.dev();
    walk(root, gid, read_only, device)
}

fn walk(path: &Path, gid: u32, read_only: bool, device: u64) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: valid NUL-terminated path; uid -1 (u32::MAX) keeps the owner.
    if unsafe { libc::lchown(c_path.as_ptr(), u32::MAX, gid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mut mask = if read_only { RO_MASK } else { RW_MASK };
    if meta.is_dir() {
        mask |= SETGID | EXEC_MASK;
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode | mask != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | mask))?;
    }
    if meta.is_dir() && meta.dev() == device {
        for entry in std::fs::read_dir(path)? {
            walk(&entry?.path(), gid, read_only, device)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_group_and_bits() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::set_permissions(dir.path().join("d"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        std::fs::write(dir.path().join("d/f"), "x").unwrap();
        std::fs::set_permissions(
            dir.path().join("d/f"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        apply_fs_group(dir.path(), 2345, false).unwrap();
        let d = std::fs::metadata(dir.path().join("d")).unwrap();
        let f = std::fs::metadata(dir.path().join("d/f")).unwrap();
        assert_eq!(d.gid(), 2345);
        assert_eq!(f.gid(), 2345);
        assert_eq!(d.mode() & 0o7777, 0o2770);
        assert_eq!(f.mode() & 0o7777, 0o660);

        apply_fs_group(dir.path(), 2345, true).unwrap();
        let f = std::fs::metadata(dir.path().join("d/f")).unwrap();
        assert_eq!(f.mode() & 0o7777, 0o660, "read-only never removes bits");
    }
}
