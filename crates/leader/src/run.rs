//! Running work only while holding the lease.
//!
//! ```text
//!   acquire loop ──(held)──► start work ─┬─ work ends ───────► release, Ok(())
//!   (retry_period,                       ├─ shutdown fires ──► drop work, release, Ok(())
//!    jittered)                           └─ renew loop fails ─► drop work, Err(Lost)
//!        ▲ shutdown before acquiring ► Ok(())   (another holder seen, or no
//!                                                successful renewal within
//!                                                renew_deadline)
//! ```
//!
//! On a lost lease the work is cancelled and an error returned rather than
//! re-entering the election: the work may have stopped half way, and the
//! control-plane binaries exit in that case too (upstream "leaderelection
//! lost"). A caller that wants to rejoin calls again.

use crate::config::{LeaderConfig, JITTER_FACTOR};
use crate::elector::{Attempt, Elector};
use crate::error::LeaderError;
use std::future::Future;
use tokio::time::Instant;

/// Waits to acquire the lease, runs `work` while holding it, keeps renewing,
/// and releases it when `work` ends. See [`run_while_leader_until`].
pub async fn run_while_leader<F, Fut>(
    client: kube::Client,
    cfg: LeaderConfig,
    work: F,
) -> Result<(), LeaderError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    run_while_leader_until(client, cfg, std::future::pending::<()>(), work).await
}

/// As [`run_while_leader`], and also stops when `shutdown` completes: the
/// work is dropped (cancelled) and the lease released so that another
/// candidate takes over at once (upstream `ReleaseOnCancel`).
///
/// Returns `Ok(())` when the work ended or `shutdown` fired, and
/// `Err(LeaderError::Lost)` when renewal failed for longer than
/// `renew_deadline` or another holder took the lease; the work was cancelled.
pub async fn run_while_leader_until<F, Fut, S>(
    client: kube::Client,
    cfg: LeaderConfig,
    shutdown: S,
    work: F,
) -> Result<(), LeaderError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
    S: Future<Output = ()>,
{
    cfg.validate()?;
    let mut elector = Elector::new(client, &cfg);
    tokio::pin!(shutdown);

    tracing::info!(lease = %describe(&cfg), "attempting to acquire leader lease");
    tokio::select! {
        biased;
        () = &mut shutdown => return Ok(()),
        () = acquire(&mut elector, &cfg) => {}
    }
    tracing::info!(lease = %describe(&cfg), "successfully acquired lease");

    let ended = {
        let renewing = keep_renewing(&mut elector, &cfg);
        let working = work();
        tokio::select! {
            biased;
            () = &mut shutdown => None,
            lost = renewing => Some(lost),
            () = working => None,
        }
    };
    if let Some(lost) = ended {
        tracing::error!(%lost, "stopped leading");
        return Err(lost);
    }
    if let Err(err) = elector.release().await {
        // The lease then simply expires after leaseDurationSeconds.
        tracing::warn!(lease = %describe(&cfg), %err, "failed to release lease");
    }
    Ok(())
}

fn describe(cfg: &LeaderConfig) -> String {
    format!("{}/{}", cfg.namespace, cfg.lease_name)
}

/// Retries until we hold the lease, every `retry_period * (1 + rand * 1.2)`.
async fn acquire(elector: &mut Elector, cfg: &LeaderConfig) {
    loop {
        match elector.try_acquire_or_renew().await {
            Attempt::Held => return,
            Attempt::HeldBy(holder) => {
                tracing::debug!(%holder, "lock is held and has not yet expired");
            }
            Attempt::Failed(err) if err.is_conflict() => {
                tracing::debug!(lease = %describe(cfg), "another candidate updated the lease first");
            }
            Attempt::Failed(err) => {
                tracing::debug!(%err, lease = %describe(cfg), "failed to acquire lease");
            }
        }
        let jitter = 1.0 + rand::random::<f64>() * JITTER_FACTOR;
        tokio::time::sleep(cfg.retry_period.mul_f64(jitter)).await;
    }
}

/// Renews every `retry_period`; returns why leadership ended. A round of
/// retries that does not succeed within `renew_deadline` ends it, and so does
/// seeing another holder (we stop at once rather than at the deadline: the
/// other candidate already considers itself leader).
async fn keep_renewing(elector: &mut Elector, cfg: &LeaderConfig) -> LeaderError {
    let lost = |reason: String| LeaderError::Lost {
        namespace: cfg.namespace.clone(),
        name: cfg.lease_name.clone(),
        reason,
    };
    loop {
        tokio::time::sleep(cfg.retry_period).await;
        let deadline = Instant::now() + cfg.renew_deadline;
        loop {
            match tokio::time::timeout_at(deadline, elector.try_acquire_or_renew()).await {
                Ok(Attempt::Held) => break,
                Ok(Attempt::HeldBy(holder)) => {
                    return lost(format!("lease is now held by {holder}"));
                }
                Ok(Attempt::Failed(err)) => {
                    tracing::warn!(%err, lease = %describe(cfg), "failed to renew lease");
                }
                Err(_elapsed) => {
                    return lost(format!(
                        "failed to renew within the renew deadline ({:?})",
                        cfg.renew_deadline
                    ));
                }
            }
            let next = Instant::now() + cfg.retry_period;
            if next >= deadline {
                tokio::time::sleep_until(deadline).await;
                return lost(format!(
                    "failed to renew within the renew deadline ({:?})",
                    cfg.renew_deadline
                ));
            }
            tokio::time::sleep_until(next).await;
        }
    }
}
