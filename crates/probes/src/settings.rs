//! A probe's timing and thresholds, with the API server's defaults filled in.

use k8s_openapi::api::core::v1::Probe;
use std::time::Duration;

/// The numbers of a [`Probe`] after defaulting (initialDelay 0, timeout 1s, period 10s,
/// successThreshold 1, failureThreshold 3). Values below the API minimum are raised to it, so a
/// probe that skipped validation cannot make a worker spin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    pub initial_delay: Duration,
    pub timeout: Duration,
    pub period: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl ProbeSettings {
    pub fn from_probe(probe: &Probe) -> Self {
        let seconds = |value: Option<i32>, default: i32, min: i32| {
            Duration::from_secs(value.unwrap_or(default).max(min).unsigned_abs().into())
        };
        let count =
            |value: Option<i32>, default: i32| value.unwrap_or(default).max(1).unsigned_abs();
        ProbeSettings {
            initial_delay: seconds(probe.initial_delay_seconds, 0, 0),
            timeout: seconds(probe.timeout_seconds, 1, 1),
            period: seconds(probe.period_seconds, 10, 1),
            success_threshold: count(probe.success_threshold, 1),
            failure_threshold: count(probe.failure_threshold, 3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_api() {
        let s = ProbeSettings::from_probe(&Probe::default());
        assert_eq!(s.initial_delay, Duration::ZERO);
        assert_eq!(s.timeout, Duration::from_secs(1));
        assert_eq!(s.period, Duration::from_secs(10));
        assert_eq!((s.success_threshold, s.failure_threshold), (1, 3));
    }

    #[test]
    fn explicit_values_win_and_zeroes_are_raised() {
        let s = ProbeSettings::from_probe(&Probe {
            initial_delay_seconds: Some(5),
            timeout_seconds: Some(0),
            period_seconds: Some(2),
            success_threshold: Some(2),
            failure_threshold: Some(0),
            ..Default::default()
        });
        assert_eq!(s.initial_delay, Duration::from_secs(5));
        assert_eq!(s.timeout, Duration::from_secs(1));
        assert_eq!(s.period, Duration::from_secs(2));
        assert_eq!((s.success_threshold, s.failure_threshold), (2, 1));
    }
}
