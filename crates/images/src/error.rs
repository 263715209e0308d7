//! The one error type of this crate.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "busybox not found at {}: install the Debian package busybox-static (apt-get install busybox-static)",
        path.display()
    )]
    BusyboxMissing { path: PathBuf },

    #[error(
        "{} is not a static executable ({reason}); the image needs the one from the Debian package busybox-static (apt-get install busybox-static)",
        path.display()
    )]
    BusyboxNotStatic { path: PathBuf, reason: String },

    #[error("cannot list the applets of {}: {reason}", path.display())]
    BusyboxApplets { path: PathBuf, reason: String },

    #[error("invalid layer entry {path:?}: {reason}")]
    InvalidEntry { path: String, reason: String },

    #[error("invalid image name {0:?}: expected host/path:tag")]
    InvalidName(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("encoding OCI JSON: {0}")]
    Json(#[from] serde_json::Error),

    #[error("cannot run `{program}`: {source}")]
    CtrNotRunnable {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`ctr images import` failed ({status}): {output}")]
    ImportFailed { status: String, output: String },
}

impl ImageError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ImageError::Io {
            context: context.into(),
            source,
        }
    }
}
