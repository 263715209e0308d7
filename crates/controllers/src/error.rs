//! Errors a reconcile can return; every one is retried with back-off.

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
    #[error("object {0} has no {1}")]
    MissingField(String, &'static str),
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
}

pub type Result<T> = std::result::Result<T, ControllerError>;
