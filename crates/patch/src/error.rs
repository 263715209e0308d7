//! Errors of the three patch formats, shaped so the API server can pick the
//! HTTP status kube-apiserver would answer with.

use thiserror::Error;

/// Why a JSON, merge or strategic merge patch could not be applied.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// The patch document itself is malformed (not JSON of the right shape,
    /// an unknown `$patch` directive, a bad `$retainKeys` list, a
    /// `$setElementOrder` list that contradicts the patch). kube-apiserver: 400 BadRequest.
    #[error("{0}")]
    Invalid(String),
    /// A well-formed patch that cannot be applied to this object (a JSON patch
    /// path that does not exist, a merge-list item without its merge key).
    /// kube-apiserver: 422 Unprocessable Entity.
    #[error("{0}")]
    Unprocessable(String),
    /// A JSON patch `test` operation did not match. kube-apiserver answers
    /// 422 for this too (it is an apply failure of the patch, not a write
    /// conflict); kept apart so callers can tell it from other failures.
    #[error("{0}")]
    TestFailed(String),
    /// The patch sets `metadata.resourceVersion` to a value other than the
    /// object's: kube-apiserver treats it as a precondition and answers
    /// 409 Conflict.
    #[error("the object has been modified; please apply your changes to the latest version and try again")]
    Precondition {
        /// resourceVersion the patch asked for.
        requested: String,
        /// resourceVersion the stored object has.
        current: String,
    },
}

impl PatchError {
    /// HTTP status kube-apiserver answers with for this error.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::Invalid(_) => 400,
            PatchError::Unprocessable(_) | PatchError::TestFailed(_) => 422,
            PatchError::Precondition { .. } => 409,
        }
    }
}
