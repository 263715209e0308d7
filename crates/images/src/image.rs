//! An image ready to import: its manifest, config and layer blobs, and the
//! OCI image-layout archive made from them.

use std::collections::BTreeMap;
use std::io::Write;

use crate::blob::{Blob, LayerBlob};
use crate::oci::{
    self, Descriptor, History, ImageConfigFile, Index, Manifest, OciLayout, Platform, RootFs,
    RuntimeConfig,
};
use crate::ImageError;

/// The creation time written into every config: fixed, so digests are stable.
const CREATED: &str = "1970-01-01T00:00:00Z";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Full reference, e.g. `localhost/berth/pause:3.10`.
    pub name: String,
    pub config: RuntimeConfig,
    manifest: Blob,
    config_blob: Blob,
    layers: Vec<LayerBlob>,
}

impl Image {
    /// Assembles an image for the host platform from built layers (base first).
    pub fn build(
        name: &str,
        config: RuntimeConfig,
        layers: Vec<LayerBlob>,
    ) -> Result<Image, ImageError> {
        tag_of(name)?;
        let config_file = ImageConfigFile {
            created: CREATED.to_string(),
            architecture: oci::host_architecture().to_string(),
            os: "linux".to_string(),
            config: config.clone(),
            rootfs: RootFs {
                kind: "layers".to_string(),
                diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
            },
            history: layers
                .iter()
                .map(|l| History {
                    created: CREATED.to_string(),
                    created_by: l.created_by.clone(),
                })
                .collect(),
        };
        let config_blob = Blob::new(oci::MEDIA_TYPE_CONFIG, serde_json::to_vec(&config_file)?);
        let manifest = Manifest {
            schema_version: 2,
            media_type: oci::MEDIA_TYPE_MANIFEST.to_string(),
            config: config_blob.descriptor(),
            layers: layers.iter().map(|l| l.blob.descriptor()).collect(),
        };
        let manifest = Blob::new(oci::MEDIA_TYPE_MANIFEST, serde_json::to_vec(&manifest)?);
        Ok(Image {
            name: name.to_string(),
            config,
            manifest,
            config_blob,
            layers,
        })
    }

    /// The manifest digest (`sha256:...`): what containerd reports as the image's digest.
    pub fn digest(&self) -> String {
        self.manifest.digest.clone()
    }

    /// The part after the last `:` of the name, e.g. `3.10`.
    pub fn tag(&self) -> &str {
        // build() checked the name has a tag.
        tag_of(&self.name).unwrap_or_default()
    }

    /// The manifest's descriptor as index.json lists it: platform and names.
    pub fn index_descriptor(&self) -> Descriptor {
        let mut descriptor = self.manifest.descriptor();
        descriptor.platform = Some(Platform {
            architecture: oci::host_architecture().to_string(),
            os: "linux".to_string(),
        });
        descriptor.annotations = BTreeMap::from([
            (
                oci::ANNOTATION_CONTAINERD_NAME.to_string(),
                self.name.clone(),
            ),
            (oci::ANNOTATION_REF_NAME.to_string(), self.tag().to_string()),
        ]);
        descriptor
    }

    /// Every blob of the image: layers, config, manifest.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        self.layers
            .iter()
            .map(|l| &l.blob)
            .chain([&self.config_blob, &self.manifest])
    }

    /// Writes the image as an OCI image-layout tar (`oci-layout`, `index.json`,
    /// `blobs/sha256/<hex>`), byte-for-byte the same on every call.
    pub fn write_oci_archive(&self, out: impl Write) -> Result<(), ImageError> {
        let index = Index {
            schema_version: 2,
            media_type: oci::MEDIA_TYPE_INDEX.to_string(),
            manifests: vec![self.index_descriptor()],
        };
        let layout = OciLayout {
            image_layout_version: "1.0.0".to_string(),
        };
        // Sorted by path, each blob once (two layers may be identical).
        let mut files: BTreeMap<String, &[u8]> = BTreeMap::new();
        for blob in self.blobs() {
            files.insert(format!("blobs/sha256/{}", blob.hex()), &blob.bytes);
        }
        let index = serde_json::to_vec(&index)?;
        let layout = serde_json::to_vec(&layout)?;
        files.insert("index.json".to_string(), &index);
        files.insert("oci-layout".to_string(), &layout);

        let io = |e| ImageError::io("writing OCI archive", e);
        let mut builder = tar::Builder::new(out);
        for dir in ["blobs/", "blobs/sha256/"] {
            let mut header = archive_header(tar::EntryType::Directory, 0o755, 0);
            builder
                .append_data(&mut header, dir, std::io::empty())
                .map_err(io)?;
        }
        for (path, bytes) in files {
            let mut header = archive_header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
            builder.append_data(&mut header, path, bytes).map_err(io)?;
        }
        builder.into_inner().map_err(io)?.flush().map_err(io)
    }

    /// The archive in memory.
    pub fn oci_archive(&self) -> Result<Vec<u8>, ImageError> {
        let mut bytes = Vec::new();
        self.write_oci_archive(&mut bytes)?;
        Ok(bytes)
    }
}

fn archive_header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// The tag of `host/path:tag`; an error when there is none (a `:` in the
/// host part, as in `localhost:5000/x`, is not a tag).
fn tag_of(name: &str) -> Result<&str, ImageError> {
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    match last_segment.rsplit_once(':') {
        Some((repo, tag)) if !repo.is_empty() && !tag.is_empty() && !name.contains('@') => Ok(tag),
        _ => Err(ImageError::InvalidName(name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_come_from_the_last_path_segment() {
        assert_eq!(tag_of("localhost/berth/pause:3.10").ok(), Some("3.10"));
        assert_eq!(tag_of("localhost:5000/x:1").ok(), Some("1"));
        assert!(tag_of("localhost:5000/x").is_err());
        assert!(tag_of("x:").is_err());
    }
}
