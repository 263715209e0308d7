//! Kubernetes' restart back-off: 10 s, doubling to 5 min per container;
//! forgotten after 10 minutes without a restart.

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);
pub const RESET_AFTER: Duration = Duration::from_secs(600);

#[derive(Default, Debug)]
pub struct Backoff {
    entries: HashMap<String, Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    delay: Duration,
    last: Instant,
}

impl Backoff {
    /// Remaining wait before `key` may restart, if it is backing off.
    pub fn remaining(&self, key: &str, now: Instant) -> Option<Duration> {
        let e = self.entries.get(key)?;
        let until = e.last + e.delay;
        (until > now).then(|| until - now)
    }

    /// The current delay for `key` (for messages like "back-off 20s").
    pub fn delay(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|e| e.delay)
    }

    /// Record a restart now: the next one waits longer.
    pub fn next(&mut self, key: &str, now: Instant) {
        let delay = match self.entries.get(key) {
            Some(e) if now.duration_since(e.last) < RESET_AFTER + e.delay => (e.delay * 2).min(MAX),
            _ => INITIAL,
        };
        self.entries
            .insert(key.to_string(), Entry { delay, last: now });
    }

    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_five_minutes_then_resets_after_quiet_time() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        b.next("c", t0);
        assert_eq!(b.delay("c"), Some(INITIAL));
        assert!(b.remaining("c", t0 + Duration::from_secs(5)).is_some());
        assert!(b.remaining("c", t0 + Duration::from_secs(11)).is_none());
        let mut t = t0;
        for _ in 0..10 {
            t += b.delay("c").unwrap_or_default();
            b.next("c", t);
        }
        assert_eq!(b.delay("c"), Some(MAX));
        b.next("c", t + MAX + RESET_AFTER + Duration::from_secs(1));
        assert_eq!(b.delay("c"), Some(INITIAL));
    }
}
