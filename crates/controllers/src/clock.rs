//! An injectable clock: controllers that decide by time (CronJob, TTL, Job
//! back-off and deadlines) ask it for "now", so tests can move time instead
//! of sleeping.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// The system clock shifted by an offset tests can change.
    Shifted(Arc<Mutex<SignedDuration>>),
}

impl Clock {
    /// A clock that runs with the system clock, `offset` ahead of it.
    pub fn shifted(offset: SignedDuration) -> Self {
        Self::Shifted(Arc::new(Mutex::new(offset)))
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Self::System => Timestamp::now(),
            Self::Shifted(offset) => {
                let offset = *offset.lock().unwrap_or_else(|p| p.into_inner());
                Timestamp::now()
                    .checked_add(offset)
                    .unwrap_or_else(|_| Timestamp::now())
            }
        }
    }

    /// Move a shifted clock forward (no effect on the system clock).
    pub fn advance(&self, by: SignedDuration) {
        if let Self::Shifted(offset) = self {
            let mut o = offset.lock().unwrap_or_else(|p| p.into_inner());
            *o = o.saturating_add(by);
        }
    }
}

/// `to - from` as a std Duration, zero when `to` is not after `from`.
pub fn until(from: Timestamp, to: Timestamp) -> std::time::Duration {
    std::time::Duration::try_from(to.duration_since(from)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_clock_advances() {
        let clock = Clock::shifted(SignedDuration::from_secs(3600));
        let ahead = clock.now().duration_since(Timestamp::now());
        assert!(ahead > SignedDuration::from_secs(3590));
        clock.advance(SignedDuration::from_secs(3600));
        let ahead = clock.now().duration_since(Timestamp::now());
        assert!(ahead > SignedDuration::from_secs(7190));
        let t = Timestamp::UNIX_EPOCH;
        assert_eq!(
            until(t, t + SignedDuration::from_secs(5)),
            std::time::Duration::from_secs(5)
        );
        assert_eq!(
            until(t + SignedDuration::from_secs(5), t),
            std::time::Duration::ZERO
        );
    }
}
