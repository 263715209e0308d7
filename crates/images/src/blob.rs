//! Content-addressed blobs: bytes plus their sha256 digest and media type.

use std::io::Write;
use std::sync::Arc;

use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

use crate::oci::Descriptor;
use crate::{ImageError, Layer, MEDIA_TYPE_LAYER_GZIP};

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub media_type: String,
    pub digest: String,
    /// Shared: the same base layer goes into several images without copying.
    pub bytes: Arc<[u8]>,
}

impl Blob {
    pub fn new(media_type: &str, bytes: impl Into<Arc<[u8]>>) -> Self {
        let bytes = bytes.into();
        Blob {
            media_type: media_type.to_string(),
            digest: sha256_digest(&bytes),
            bytes,
        }
    }

    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            platform: None,
            annotations: Default::default(),
        }
    }

    /// The hex part of the digest: the file name under blobs/sha256/.
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }
}

/// A layer ready for an image: its gzip blob and the digest of the
/// uncompressed tar (the `diff_id` in the image config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    pub blob: Blob,
    pub diff_id: String,
    /// What built this layer, for the config's history.
    pub created_by: String,
}

impl LayerBlob {
    pub fn build(layer: &Layer, created_by: &str) -> Result<Self, ImageError> {
        let tar = layer.to_tar()?;
        let diff_id = sha256_digest(&tar);
        // mtime 0, no file name, OS "unknown": the gzip header carries nothing
        // that changes between builds.
        let mut encoder = GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), Compression::default());
        encoder
            .write_all(&tar)
            .map_err(|e| ImageError::io("compressing layer", e))?;
        let gzip = encoder
            .finish()
            .map_err(|e| ImageError::io("compressing layer", e))?;
        Ok(LayerBlob {
            blob: Blob::new(MEDIA_TYPE_LAYER_GZIP, gzip),
            diff_id,
            created_by: created_by.to_string(),
        })
    }
}
