//! hostPath type checks: create for the *OrCreate types, then require the path to be of the
//! declared kind. Messages are upstream's.

use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Checks (and for DirectoryOrCreate / FileOrCreate creates) `path` for a hostPath `type`.
pub fn check_type(path: &str, path_type: Option<&str>) -> Result<(), String> {
    if path.split('/').any(|element| element == "..") {
        return Err(format!("invalid HostPath `{path}`: must not contain '..'"));
    }
    let path_type = path_type.unwrap_or_default();
    let host = Path::new(path);
    match path_type {
        "" => Ok(()),
        "DirectoryOrCreate" => {
            if !host.exists() {
                make_dir(host).map_err(|e| e.to_string())?;
            }
            type_matches(path, "Directory", "directory")
        }
        "Directory" => type_matches(path, "Directory", "directory"),
        "FileOrCreate" => {
            if !host.exists() {
                make_file(host).map_err(|e| e.to_string())?;
            }
            type_matches(path, "File", "file")
        }
        "File" => type_matches(path, "File", "file"),
        "Socket" => type_matches(path, "Socket", "socket file"),
        "CharDevice" => type_matches(path, "CharDevice", "character device"),
        "BlockDevice" => type_matches(path, "BlockDevice", "block device"),
        other => Err(format!("{other} is an invalid volume type")),
    }
}

/// Like upstream: MkdirAll with 0755 (parents included).
fn make_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Like upstream: create an empty 0644 file; the parent directory must already exist.
fn make_file(path: &Path) -> io::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The kubelet's FileType name for what is at `path` (following symlinks).
fn file_type(path: &Path) -> io::Result<&'static str> {
    let ft = std::fs::metadata(path)?.file_type();
    Ok(if ft.is_dir() {
        "Directory"
    } else if ft.is_file() {
        "File"
    } else if ft.is_socket() {
        "Socket"
    } else if ft.is_char_device() {
        "CharDevice"
    } else if ft.is_block_device() {
        "BlockDevice"
    } else {
        return Err(io::Error::other(
            "only recognise file, directory, socket, block device and character device",
        ));
    })
}

fn type_matches(path: &str, expected: &str, description: &str) -> Result<(), String> {
    if !Path::new(path).exists() {
        return Err(format!("hostPath {path} doesn't exist"));
    }
    let actual = file_type(Path::new(path)).map_err(|e| {
        format!(
            "hostPath type check failed, {path} is not a {description}, unable to determine its type: {e}"
        )
    })?;
    if actual != expected {
        return Err(format!(
            "hostPath type check failed: {path} is not a {description}, it's a {actual}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: &Path) -> String {
        p.to_string_lossy().into_owned()
    }

    #[test]
    fn directory_or_create_creates_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b");
        check_type(&s(&target), Some("DirectoryOrCreate")).unwrap();
        assert!(target.is_dir());
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert_eq!(
            check_type(&s(&file), Some("DirectoryOrCreate")).unwrap_err(),
            format!(
                "hostPath type check failed: {} is not a directory, it's a File",
                file.display()
            )
        );
    }

    #[test]
    fn file_or_create_does_not_create_parents() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("new.txt");
        check_type(&s(&file), Some("FileOrCreate")).unwrap();
        assert!(file.is_file());
        assert!(check_type(&s(&dir.path().join("no/such.txt")), Some("FileOrCreate")).is_err());
        assert_eq!(
            check_type(&s(dir.path()), Some("File")).unwrap_err(),
            format!(
                "hostPath type check failed: {} is not a file, it's a Directory",
                dir.path().display()
            )
        );
    }

    #[test]
    fn strict_types_require_existence_and_kind() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert_eq!(
            check_type(&s(&missing), Some("Directory")).unwrap_err(),
            format!("hostPath {} doesn't exist", missing.display())
        );
        check_type("/dev/null", Some("CharDevice")).unwrap();
        assert!(check_type("/dev/null", Some("BlockDevice"))
            .unwrap_err()
            .contains("is not a block device, it's a CharDevice"));
        let sock_path = dir.path().join("s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
        check_type(&s(&sock_path), Some("Socket")).unwrap();
        assert!(check_type(&s(dir.path()), Some("Socket"))
            .unwrap_err()
            .contains("is not a socket file"));
    }

    #[test]
    fn unset_type_checks_nothing_and_bad_type_or_backsteps_fail() {
        check_type("/definitely/not/here", None).unwrap();
        check_type("/definitely/not/here", Some("")).unwrap();
        assert_eq!(
            check_type("/tmp", Some("Weird")).unwrap_err(),
            "Weird is an invalid volume type"
        );
        assert_eq!(
            check_type("/tmp/../etc", None).unwrap_err(),
            "invalid HostPath `/tmp/../etc`: must not contain '..'"
        );
    }
}
