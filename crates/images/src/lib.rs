//! berth's registry-free images: the pause image for pod sandboxes and small
//! demo images, built in memory as OCI image-layout archives (deterministic:
//! same bytes on every build) and imported into containerd with `ctr`.
//!
//! The C programs in `c/` are compiled statically by build.rs and embedded;
//! busybox comes from the host's Debian package busybox-static at run time.

#[cfg(test)]
mod archive_reader;
mod blob;
mod busybox;
mod catalog;
mod error;
mod image;
mod import;
mod layer;
pub mod oci;
mod programs;

pub use blob::{sha256_digest, Blob, LayerBlob};
pub use busybox::{Busybox, DEFAULT_BUSYBOX};
pub use catalog::{
    busybox, busybox_from, demo_images, demo_images_from, echo, httpd, httpd_from, pause,
    BUSYBOX_IMAGE, DEMO_PORT, ECHO_REPOSITORY, HTTPD_IMAGE, PAUSE_IMAGE,
};
pub use error::ImageError;
pub use image::Image;
pub use import::{import_archive, import_image, CRI_NAMESPACE};
pub use layer::{EntryKind, Layer, LayerEntry};
pub use oci::MEDIA_TYPE_LAYER_GZIP;
pub use programs::{ECHO as ECHO_PROGRAM, INIT as INIT_PROGRAM, PAUSE as PAUSE_PROGRAM};
