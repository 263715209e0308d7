//! Errors of the proxy: bad configuration and failures of the `nft` binary.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProxyError {
    #[error("invalid CIDR {0:?} (want a.b.c.d/len)")]
    InvalidCidr(String),
    #[error("could not run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("nft failed ({status}): {stderr}")]
    Nft { status: String, stderr: String },
    #[error("nft printed JSON we could not parse: {0}")]
    Json(#[from] serde_json::Error),
    #[error("blocking task failed: {0}")]
    Join(String),
}
