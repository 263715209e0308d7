//! Finding a static busybox on the host and laying it out as a base layer.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{ImageError, Layer};

/// Where Debian's busybox-static installs the binary.
pub const DEFAULT_BUSYBOX: &str = "/bin/busybox";

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// Reads a static busybox and its applet names (from `busybox --list`).
#[derive(Debug, Clone)]
pub struct Busybox {
    pub path: PathBuf,
    pub binary: Vec<u8>,
    pub applets: Vec<String>,
}

impl Busybox {
    pub fn load(path: &Path) -> Result<Busybox, ImageError> {
        let binary = match std::fs::read(path) {
            Ok(binary) => binary,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ImageError::BusyboxMissing {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => return Err(ImageError::io(format!("reading {}", path.display()), e)),
        };
        // Debian's plain `busybox` package also installs /bin/busybox, linked
        // against glibc: in an image without libc it would not start.
        if let Err(reason) = check_static_elf(&binary) {
            return Err(ImageError::BusyboxNotStatic {
                path: path.to_path_buf(),
                reason,
            });
        }
        let applets = list_applets(path)?;
        Ok(Busybox {
            path: path.to_path_buf(),
            binary,
            applets,
        })
    }

    /// /bin/busybox with every applet hard-linked beside it (as `busybox
    /// --install` does), /usr/bin/env for shebangs, /etc/passwd and /etc/group
    /// with root and nobody, /tmp, /root and /var.
    pub fn base_layer(&self) -> Result<Layer, ImageError> {
        let mut layer = Layer::new();
        layer.file("bin/busybox", 0o755, self.binary.clone())?;
        for applet in &self.applets {
            layer.hard_link(&format!("bin/{applet}"), "bin/busybox")?;
        }
        layer.hard_link("usr/bin/env", "bin/busybox")?;
        layer.file("etc/passwd", 0o644, PASSWD.as_bytes())?;
        layer.file("etc/group", 0o644, GROUP.as_bytes())?;
        layer.dir("tmp", 0o1777)?;
        layer.dir("root", 0o700)?;
        layer.dir("var/tmp", 0o1777)?;
        Ok(layer)
    }
}

fn list_applets(path: &Path) -> Result<Vec<String>, ImageError> {
    let failed = |reason: String| ImageError::BusyboxApplets {
        path: path.to_path_buf(),
        reason,
    };
    let output = Command::new(path)
        .arg("--list")
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(format!("`--list` exited with {}", output.status)));
    }
    let text = String::from_utf8(output.stdout).map_err(|e| failed(e.to_string()))?;
    let mut applets: Vec<String> = text
        .lines()
        .map(str::trim)
        // Plain names only: the list becomes paths under /bin.
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/') && *a != "." && *a != "..")
        .map(str::to_string)
        .collect();
    applets.sort();
    applets.dedup();
    if !applets.iter().any(|a| a == "sh") {
        return Err(failed("no `sh` applet".to_string()));
    }
    Ok(applets)
}

/// Ok when `elf` is a 64-bit little-endian ELF executable with no program
/// interpreter (PT_INTERP), i.e. statically linked.
fn check_static_elf(elf: &[u8]) -> Result<(), String> {
    const PT_INTERP: u32 = 3;
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" {
        return Err("not an ELF file".to_string());
    }
    if elf[4] != 2 || elf[5] != 1 {
        return Err("not a 64-bit little-endian ELF".to_string());
    }
    let u16_at = |at: usize| {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let truncated = || "truncated ELF header".to_string();
    let phoff = u64_at(0x20).ok_or_else(truncated)? as usize;
    let phentsize = u16_at(0x36).ok_or_else(truncated)? as usize;
    let phnum = u16_at(0x38).ok_or_else(truncated)? as usize;
    for i in 0..phnum {
        let at = phoff.saturating_add(i.saturating_mul(phentsize));
        let kind = elf
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| "truncated program headers".to_string())?;
        if kind == PT_INTERP {
            return Err("dynamically linked: it has a program interpreter".to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_programs_are_static_and_host_tools_are_not() {
        assert_eq!(check_static_elf(crate::programs::PAUSE), Ok(()));
        // The test binary itself links glibc dynamically.
        let me = std::fs::read(std::env::current_exe().expect("exe")).expect("read");
        assert!(check_static_elf(&me).is_err());
        assert!(check_static_elf(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn missing_busybox_names_the_package() {
        let err = Busybox::load(Path::new("/nonexistent/busybox")).expect_err("missing");
        assert!(err.to_string().contains("busybox-static"), "{err}");
    }

    #[test]
    fn dynamic_busybox_is_refused_with_the_package_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join("busybox");
        std::fs::copy(std::env::current_exe().expect("exe"), &fake).expect("copy");
        let err = Busybox::load(&fake).expect_err("dynamic");
        assert!(matches!(err, ImageError::BusyboxNotStatic { .. }), "{err}");
        assert!(err.to_string().contains("busybox-static"), "{err}");
    }
}
