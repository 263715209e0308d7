//! Kubernetes' restart back-off: 10 s, doubling to 5 min per container,
//! measured from when the container last FINISHED (as the kubelet's
//! `IsInBackOffSince(key, finishedAt)`), so a slow restart does not eat the
//! window; forgotten after 10 minutes without a failure.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);
/// An entry older than this (2 × MAX, as upstream) starts over at INITIAL.
pub const RESET_AFTER: Duration = Duration::from_secs(600);

#[derive(Default, Debug)]
pub struct Backoff {
    entries: HashMap<String, Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    delay: Duration,
    /// Finish time of the failure that armed this delay.
    last: SystemTime,
}

fn since(later: SystemTime, earlier: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

impl Backoff {
    /// How long `key` must still wait after a failure that finished at `finished`.
    pub fn remaining(&self, key: &str, finished: SystemTime, now: SystemTime) -> Option<Duration> {
        let e = self.entries.get(key)?;
        if since(finished, e.last) > RESET_AFTER {
            return None;
        }
        let waited = since(now, finished);
        (waited < e.delay).then(|| e.delay - waited)
    }

    /// The current delay for `key` (for messages like "back-off 20s").
    pub fn delay(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|e| e.delay)
    }

    /// Record a restart after a failure that finished at `finished`: the next one waits longer.
    pub fn next(&mut self, key: &str, finished: SystemTime) {
        let delay = match self.entries.get(key) {
            Some(e) if since(finished, e.last) <= RESET_AFTER => (e.delay * 2).min(MAX),
            _ => INITIAL,
        };
        self.entries.insert(
            key.to_string(),
            Entry {
                delay,
                last: finished,
            },
        );
    }

    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_from_the_finish_and_doubles_to_five_minutes() {
        let mut b = Backoff::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // First failure: no entry, restart at once and arm 10 s.
        assert!(b.remaining("c", t0, t0).is_none());
        b.next("c", t0);
        // The restarted container fails 3 s later: wait 10 s from that finish.
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(
            b.remaining("c", t1, t1 + Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
        assert!(b.remaining("c", t1, t1 + Duration::from_secs(11)).is_none());
        let mut t = t1;
        for _ in 0..10 {
            b.next("c", t);
            t += b.delay("c").unwrap_or_default();
        }
        assert_eq!(b.delay("c"), Some(MAX));
        // Quiet for longer than RESET_AFTER: start over.
        let late = t + RESET_AFTER + Duration::from_secs(1);
        assert!(b.remaining("c", late, late).is_none());
        b.next("c", late);
        assert_eq!(b.delay("c"), Some(INITIAL));
    }
}
