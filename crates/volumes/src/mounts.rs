//! The few mount syscalls the volume manager needs, and reading /proc/self/mountinfo.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Mounts a fresh tmpfs at `target`, optionally capped at `size_bytes`.
pub fn mount_tmpfs(target: &Path, size_bytes: Option<u64>) -> io::Result<()> {
    let source = CString::new("tmpfs").map_err(io::Error::other)?;
    let fstype = CString::new("tmpfs").map_err(io::Error::other)?;
    let target = c_path(target)?;
    let options = size_bytes.map(|s| format!("size={s}")).unwrap_or_default();
    let options = CString::new(options).map_err(io::Error::other)?;
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            options.as_ptr().cast(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Bind-mounts `source` (typically `/proc/self/fd/N`) onto `target`.
pub fn bind_mount(source: &Path, target: &Path) -> io::Result<()> {
    let source = c_path(source)?;
    let target = c_path(target)?;
    // SAFETY: valid NUL-terminated strings; null fstype/data are allowed for MS_BIND.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Unmounts `target`; when it is busy, detaches it lazily so teardown can still finish
/// (the directory under it is no longer the mount, so removing it never touches its data).
pub fn unmount(target: &Path) -> io::Result<()> {
    let target_c = c_path(target)?;
    // SAFETY: valid NUL-terminated string.
    if unsafe { libc::umount2(target_c.as_ptr(), 0) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EBUSY) {
        return Err(err);
    }
    tracing::warn!(path = %target.display(), "mount busy; detaching lazily");
    // SAFETY: as above.
    if unsafe { libc::umount2(target_c.as_ptr(), libc::MNT_DETACH) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One line of /proc/self/mountinfo, reduced to what we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fs_type: String,
}

/// Every mount in this process's mount namespace.
pub fn mount_table() -> io::Result<Vec<MountEntry>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(parse_mountinfo(&text))
}

/// Parses mountinfo text: field 5 is the mount point (octal-escaped), the filesystem type
/// follows the " - " separator.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let fs_type = right.split(' ').next()?;
            Some(MountEntry {
                mount_point: PathBuf::from(unescape_octal(mount_point)),
                fs_type: fs_type.to_string(),
            })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match escaped {
            Some(value) => {
                out.push(value);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The filesystem type mounted exactly at `path`, if `path` is a mount point.
pub fn mounted_fs_type(path: &Path) -> io::Result<Option<String>> {
    let path = std::fs::canonicalize(path)?;
    Ok(mount_table()?
        .into_iter()
        .rev()
        .find(|m| m.mount_point == path)
        .map(|m| m.fs_type))
}

/// Mount points strictly under `dir` (deepest first, so they can be unmounted in order).
pub fn mounts_under(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = match std::fs::canonicalize(dir) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found: Vec<PathBuf> = mount_table()?
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|m| m.starts_with(&dir) && m != &dir)
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_with_escaped_spaces() {
        let text = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw\n\
                    42 27 0:39 / /tmp/mt rw,relatime - tmpfs tmpfs rw,size=1024k\n";
        let entries = parse_mountinfo(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].mount_point, PathBuf::from("/mnt/with space"));
        assert_eq!(entries[0].fs_type, "ext3");
        assert_eq!(entries[1].mount_point, PathBuf::from("/tmp/mt"));
        assert_eq!(entries[1].fs_type, "tmpfs");
    }

    #[test]
    fn reads_this_process_mount_table() {
        let table = mount_table().unwrap();
        assert!(table.iter().any(|m| m.mount_point == Path::new("/")));
    }
}
