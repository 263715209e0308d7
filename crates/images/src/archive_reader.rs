//! Test-only reader of OCI archives: walks index → manifest → config → layers
//! and checks every digest and size on the way, as containerd's import does.

use std::collections::BTreeMap;
use std::io::Read;

use crate::oci::{self, ImageConfigFile, Index, Manifest};
use crate::sha256_digest;

pub struct ReadImage {
    pub index: Index,
    pub manifest: Manifest,
    pub config: ImageConfigFile,
    /// Each layer's files: path → (entry type, mode, uid, gid, link target, contents).
    pub layers: Vec<BTreeMap<String, ReadEntry>>,
}

#[derive(Debug, Clone)]
pub struct ReadEntry {
    pub kind: tar::EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub link: Option<String>,
    pub data: Vec<u8>,
}

/// Path → contents of every file in a tar.
pub fn read_tar(bytes: &[u8]) -> BTreeMap<String, ReadEntry> {
    let mut archive = tar::Archive::new(bytes);
    let mut files = BTreeMap::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let header = entry.header().clone();
        assert_eq!(header.mtime().expect("mtime"), 0, "fixed mtime");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let link = entry
            .link_name()
            .expect("link name")
            .map(|l| l.to_string_lossy().into_owned());
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read entry");
        let read = ReadEntry {
            kind: header.entry_type(),
            mode: header.mode().expect("mode"),
            uid: header.uid().expect("uid"),
            gid: header.gid().expect("gid"),
            link,
            data,
        };
        assert!(
            files.insert(path.clone(), read).is_none(),
            "duplicate {path}"
        );
    }
    files
}

fn blob<'a>(files: &'a BTreeMap<String, ReadEntry>, digest: &str, size: u64) -> &'a [u8] {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    let entry = files
        .get(&format!("blobs/sha256/{hex}"))
        .unwrap_or_else(|| panic!("blob {digest} missing"));
    assert_eq!(
        sha256_digest(&entry.data),
        digest,
        "blob content matches its name"
    );
    assert_eq!(entry.data.len() as u64, size, "descriptor size of {digest}");
    &entry.data
}

pub fn read_archive(archive: &[u8]) -> ReadImage {
    let files = read_tar(archive);
    let layout: serde_json::Value =
        serde_json::from_slice(&files["oci-layout"].data).expect("oci-layout json");
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: Index = serde_json::from_slice(&files["index.json"].data).expect("index json");
    assert_eq!(index.schema_version, 2);
    assert_eq!(index.media_type, oci::MEDIA_TYPE_INDEX);
    assert_eq!(index.manifests.len(), 1);
    let descriptor = &index.manifests[0];
    assert_eq!(descriptor.media_type, oci::MEDIA_TYPE_MANIFEST);
    let manifest: Manifest =
        serde_json::from_slice(blob(&files, &descriptor.digest, descriptor.size))
            .expect("manifest");
    assert_eq!(manifest.schema_version, 2);
    assert_eq!(manifest.media_type, oci::MEDIA_TYPE_MANIFEST);
    assert_eq!(manifest.config.media_type, oci::MEDIA_TYPE_CONFIG);
    let config: ImageConfigFile =
        serde_json::from_slice(blob(&files, &manifest.config.digest, manifest.config.size))
            .expect("config");
    assert_eq!(config.rootfs.kind, "layers");
    assert_eq!(config.rootfs.diff_ids.len(), manifest.layers.len());
    let mut layers = Vec::new();
    for (layer, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        assert_eq!(layer.media_type, oci::MEDIA_TYPE_LAYER_GZIP);
        let gzip = blob(&files, &layer.digest, layer.size);
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(gzip)
            .read_to_end(&mut tar)
            .expect("gunzip layer");
        assert_eq!(
            &sha256_digest(&tar),
            diff_id,
            "diff_id is the uncompressed tar's digest"
        );
        layers.push(read_tar(&tar));
    }
    ReadImage {
        index,
        manifest,
        config,
        layers,
    }
}
