//! Timing and identity of one election candidate.

use crate::error::LeaderError;
use std::time::Duration;

/// Upstream's `JitterFactor`: waits between acquire attempts are
/// `retry_period * (1 + rand * 1.2)`, so `renew_deadline` must exceed that.
pub(crate) const JITTER_FACTOR: f64 = 1.2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderConfig {
    /// Namespace of the Lease (kube-system for the control plane).
    pub namespace: String,
    /// Name of the Lease, e.g. "kube-controller-manager".
    pub lease_name: String,
    /// Unique identity of this candidate, written to `spec.holderIdentity`.
    pub identity: String,
    /// How long non-leaders wait after observing a renewal before taking over
    /// (`spec.leaseDurationSeconds`, whole seconds).
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a failing renewal before it gives up.
    pub renew_deadline: Duration,
    /// Wait between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl LeaderConfig {
    /// The control plane's defaults: 15s / 10s / 2s in kube-system.
    pub fn new(lease_name: impl Into<String>, identity: impl Into<String>) -> Self {
        LeaderConfig {
            namespace: "kube-system".to_string(),
            lease_name: lease_name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// `<hostname>_<uuid>`, the identity kube-controller-manager uses.
    pub fn default_identity() -> String {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
            })
            .unwrap_or_else(|| "localhost".to_string());
        format!("{host}_{}", uuid::Uuid::new_v4())
    }

    /// The same checks as upstream's `NewLeaderElector`.
    pub fn validate(&self) -> Result<(), LeaderError> {
        let invalid = |why: &str| Err(LeaderError::InvalidConfig(why.to_string()));
        if self.lease_duration <= self.renew_deadline {
            return invalid("leaseDuration must be greater than renewDeadline");
        }
        if self.renew_deadline.as_secs_f64() <= JITTER_FACTOR * self.retry_period.as_secs_f64() {
            return invalid("renewDeadline must be greater than retryPeriod*JitterFactor");
        }
        if self.lease_duration < Duration::from_secs(1) {
            return invalid("leaseDuration must be at least one second (leaseDurationSeconds)");
        }
        if self.retry_period.is_zero() {
            return invalid("retryPeriod must be greater than zero");
        }
        if self.identity.is_empty() {
            return invalid("Lock identity is empty");
        }
        if self.lease_name.is_empty() || self.namespace.is_empty() {
            return invalid("lease name and namespace must not be empty");
        }
        Ok(())
    }

    /// `spec.leaseDurationSeconds`: whole seconds, truncated like Go's
    /// `int(LeaseDuration / time.Second)`.
    pub(crate) fn lease_duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_control_plane() {
        let cfg = LeaderConfig::new("kube-scheduler", "me");
        assert_eq!(cfg.namespace, "kube-system");
        assert_eq!(cfg.lease_duration_seconds(), 15);
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn rejects_inconsistent_timings() {
        let mut cfg = LeaderConfig::new("l", "me");
        cfg.renew_deadline = Duration::from_secs(15);
        assert!(
            cfg.validate().is_err(),
            "renew deadline must be below the lease duration"
        );

        let mut cfg = LeaderConfig::new("l", "me");
        cfg.retry_period = Duration::from_secs(9);
        assert!(
            cfg.validate().is_err(),
            "renew deadline must exceed jittered retry"
        );

        let mut cfg = LeaderConfig::new("l", "");
        cfg.identity.clear();
        assert!(cfg.validate().is_err());

        let mut cfg = LeaderConfig::new("l", "me");
        cfg.lease_duration = Duration::from_millis(900);
        cfg.renew_deadline = Duration::from_millis(500);
        cfg.retry_period = Duration::from_millis(100);
        assert!(cfg.validate().is_err(), "leaseDurationSeconds would be 0");
    }

    #[test]
    fn default_identity_is_unique() {
        let a = LeaderConfig::default_identity();
        let b = LeaderConfig::default_identity();
        assert_ne!(a, b);
        assert!(a.contains('_'));
    }
}
