//! Importing archives into containerd with `ctr` (namespace k8s.io, where
//! the CRI plugin looks for images).

use std::path::Path;
use std::process::Command;

use crate::{Image, ImageError};

/// The containerd namespace of the CRI plugin.
pub const CRI_NAMESPACE: &str = "k8s.io";

/// Imports an OCI/docker archive by running
/// `ctr -a <socket> -n k8s.io images import --all-platforms <file>`;
/// returns what ctr printed.
pub fn import_archive(archive: &Path, containerd_socket: &Path) -> Result<String, ImageError> {
    let program = "ctr";
    let output = Command::new(program)
        .arg("-a")
        .arg(containerd_socket)
        .args(["-n", CRI_NAMESPACE, "images", "import", "--all-platforms"])
        .arg(archive)
        .output()
        .map_err(|source| ImageError::CtrNotRunnable {
            program: program.to_string(),
            source,
        })?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(ImageError::ImportFailed {
            status: output.status.to_string(),
            output: text.trim().to_string(),
        });
    }
    Ok(text)
}

/// Writes `image` as an archive into `work_dir`, imports it, and removes the file.
pub fn import_image(
    image: &Image,
    containerd_socket: &Path,
    work_dir: &Path,
) -> Result<String, ImageError> {
    let file_name: String = image
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = work_dir.join(format!("{file_name}.oci.tar"));
    let written = std::fs::File::create(&path)
        .map_err(|e| ImageError::io(format!("creating {}", path.display()), e))
        .and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
            image.write_oci_archive(&mut out)
        });
    let result = written.and_then(|()| import_archive(&path, containerd_socket));
    // Best effort: a leftover archive in a work dir is harmless.
    let _ = std::fs::remove_file(&path);
    result
}
