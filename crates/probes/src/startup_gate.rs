//! The "container has started" flag that holds back liveness and readiness probes.

use std::sync::Arc;
use tokio::sync::watch;

/// Opened once the container's startup probe has succeeded (kubelet's `started`); liveness and
/// readiness workers spawned with the gate wait for it before their first probe. Clones share
/// one flag. Opening is final: a restarted container gets new workers and a new gate.
#[derive(Debug, Clone)]
pub struct StartupGate {
    flag: Arc<watch::Sender<bool>>,
}

impl Default for StartupGate {
    fn default() -> Self {
        Self::new()
    }
}

impl StartupGate {
    /// A closed gate.
    pub fn new() -> Self {
        StartupGate {
            flag: Arc::new(watch::Sender::new(false)),
        }
    }

    pub fn open(&self) {
        self.flag.send_replace(true);
    }

    pub fn is_open(&self) -> bool {
        *self.flag.borrow()
    }

    /// Waits until the gate is open (returns at once if it already is).
    pub async fn opened(&self) {
        let mut receiver = self.flag.subscribe();
        // The sender lives in `self`, so waiting cannot fail.
        let _ = receiver.wait_for(|open| *open).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn waiters_wake_when_opened() {
        let gate = StartupGate::new();
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.opened().await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished());
        gate.open();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("waiter woke")
            .expect("waiter ran");
        assert!(gate.is_open());
    }
}
