//! Why a pod or container could not be turned into a CRI config.

/// An error while building a CRI config. Each variant maps onto the reason the
/// kubelet puts into the container's `waiting` state (or the pod event for
/// sandbox failures); the message is the kubelet's text for the same failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Env, configmap, secret, downward API or security-context problem.
    /// The kubelet reports it as waiting reason `CreateContainerConfigError`.
    #[error("{0}")]
    CreateContainerConfigError(String),
    /// The image reference does not parse (waiting reason `InvalidImageName`).
    #[error("{0}")]
    InvalidImageName(String),
    /// The sandbox config cannot be generated (event `FailedCreatePodSandBox`).
    #[error("{0}")]
    SandboxConfig(String),
}

impl SpecError {
    /// The kubelet's reason string for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            SpecError::CreateContainerConfigError(_) => "CreateContainerConfigError",
            SpecError::InvalidImageName(_) => "InvalidImageName",
            SpecError::SandboxConfig(_) => "FailedCreatePodSandBox",
        }
    }

    /// The human-readable message (what `kubectl describe` shows).
    pub fn message(&self) -> &str {
        match self {
            SpecError::CreateContainerConfigError(m)
            | SpecError::InvalidImageName(m)
            | SpecError::SandboxConfig(m) => m,
        }
    }

    pub(crate) fn config(msg: impl Into<String>) -> Self {
        SpecError::CreateContainerConfigError(msg.into())
    }
}
