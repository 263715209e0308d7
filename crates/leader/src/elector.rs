//! One candidate's view of the election: the record it last observed, when
//! it observed it, and the acquire-or-renew step (client-go's
//! `tryAcquireOrRenew`).
//!
//! Expiry is judged on the local clock from the moment this candidate saw the
//! record change, not from `renewTime` itself: that tolerates clock skew
//! between candidates, and with synchronised clocks it never takes over before
//! `renewTime + leaseDurationSeconds`.

use crate::config::LeaderConfig;
use crate::lock::{LeaseLock, LockError};
use crate::record::{micro_now, Record};
use std::time::Duration;
use tokio::time::Instant;

/// What one acquire-or-renew step found.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// We hold the lease now (newly acquired or renewed).
    Held,
    /// Someone else holds an unexpired lease.
    HeldBy(String),
    /// The API call failed (including 409: someone else wrote first).
    Failed(LockError),
}

pub(crate) struct Elector {
    identity: String,
    lease_duration_seconds: i32,
    lock: LeaseLock,
    observed: Option<Record>,
    observed_at: Instant,
}

impl Elector {
    pub fn new(client: kube::Client, cfg: &LeaderConfig) -> Self {
        Elector {
            identity: cfg.identity.clone(),
            lease_duration_seconds: cfg.lease_duration_seconds(),
            lock: LeaseLock::new(client, &cfg.namespace, &cfg.lease_name),
            observed: None,
            observed_at: Instant::now(),
        }
    }

    pub fn is_leader(&self) -> bool {
        self.observed
            .as_ref()
            .is_some_and(|r| r.holder == self.identity)
    }

    fn lease_valid(&self, now: Instant) -> bool {
        let Some(record) = &self.observed else {
            return false;
        };
        let secs = u64::try_from(record.lease_duration_seconds).unwrap_or(0);
        self.observed_at + Duration::from_secs(secs) > now
    }

    fn observe(&mut self, record: Record) {
        self.observed = Some(record);
        self.observed_at = Instant::now();
    }

    /// The record we would write to hold the lease from now on.
    fn desired(&self, previous: Option<&Record>) -> Record {
        let now = micro_now();
        let mut record = Record {
            holder: self.identity.clone(),
            lease_duration_seconds: self.lease_duration_seconds,
            acquire_time: Some(now),
            renew_time: Some(now),
            transitions: 0,
        };
        if let Some(previous) = previous {
            if self.is_leader() {
                record.acquire_time = previous.acquire_time;
                record.transitions = previous.transitions;
            } else {
                record.transitions = previous.transitions.saturating_add(1);
            }
        }
        record
    }

    pub async fn try_acquire_or_renew(&mut self) -> Attempt {
        // Fast path: the leader updates on top of what it last wrote.
        if self.is_leader() && self.lease_valid(Instant::now()) {
            let record = self.desired(self.observed.as_ref());
            match self.lock.update(&record).await {
                Ok(()) => {
                    self.observe(record);
                    return Attempt::Held;
                }
                Err(err) => {
                    tracing::debug!(%err, "optimistic lease renewal failed, re-reading the lease");
                }
            }
        }

        let current = match self.lock.get().await {
            Ok(Some(current)) => current,
            Ok(None) => {
                let record = self.desired(None);
                return match self.lock.create(&record).await {
                    Ok(()) => {
                        self.observe(record);
                        Attempt::Held
                    }
                    Err(err) => Attempt::Failed(err),
                };
            }
            Err(err) => return Attempt::Failed(err),
        };

        if self.observed.as_ref() != Some(&current) {
            self.observe(current.clone());
        }
        if !current.holder.is_empty() && self.lease_valid(Instant::now()) && !self.is_leader() {
            return Attempt::HeldBy(current.holder);
        }

        let record = self.desired(Some(&current));
        match self.lock.update(&record).await {
            Ok(()) => {
                self.observe(record);
                Attempt::Held
            }
            Err(err) => Attempt::Failed(err),
        }
    }

    /// Give the lease up if we hold it: holder cleared, a one-second duration
    /// and fresh times, transitions kept (upstream's `release`).
    pub async fn release(&mut self) -> Result<(), LockError> {
        if !self.is_leader() {
            return Ok(());
        }
        let now = micro_now();
        let record = Record {
            holder: String::new(),
            lease_duration_seconds: 1,
            acquire_time: Some(now),
            renew_time: Some(now),
            transitions: self.observed.as_ref().map_or(0, |r| r.transitions),
        };
        self.lock.update(&record).await?;
        self.observe(record);
        Ok(())
    }
}
