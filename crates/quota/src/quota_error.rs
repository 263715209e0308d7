//! ResourceQuota admission rejections, worded as upstream's.

use crate::resource_list::{pretty_print, Amounts};

/// `exceeded quota: compute-resources, requested: requests.cpu=2, used:
/// requests.cpu=1, limited: requests.cpu=2` (each list restricted to the
/// exceeded names).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "exceeded quota: {quota}, requested: {}, used: {}, limited: {}",
    pretty_print(requested),
    pretty_print(used),
    pretty_print(limited)
)]
pub struct QuotaExceeded {
    pub quota: String,
    pub requested: Amounts,
    pub used: Amounts,
    pub limited: Amounts,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error(transparent)]
    Exceeded(#[from] QuotaExceeded),
    /// A quota limits cpu/memory and a container does not set that value.
    #[error("failed quota: {quota}: must specify {missing}")]
    MissingRequirements { quota: String, missing: String },
    /// The controller has not computed usage yet for a limited resource.
    #[error("status unknown for quota: {quota}, resources: {}", resources.join(","))]
    StatusUnknown {
        quota: String,
        resources: Vec<String>,
    },
    #[error("quota usage is negative for resource(s): {}", resources.join(","))]
    NegativeUsage { resources: Vec<String> },
    /// A scope selector that cannot be evaluated (upstream answers 500 here).
    #[error("error matching scopes of quota {quota}, err: {message}")]
    ScopeSelector { quota: String, message: String },
}

impl QuotaError {
    /// Upstream answers these with 403 Forbidden; the rest are internal errors.
    pub fn is_forbidden(&self) -> bool {
        !matches!(self, QuotaError::ScopeSelector { .. })
    }

    /// The whole 403 message, e.g. `pods "x" is forbidden: exceeded quota: …`.
    pub fn forbidden_message(&self, resource: &str, name: &str) -> String {
        format!("{resource} \"{name}\" is forbidden: {self}")
    }
}
