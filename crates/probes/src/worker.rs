//! One worker per (container, probe kind): probes on a timer and reports state changes.
//!
//! Follows kubelet's prober worker: the first probe runs once initialDelaySeconds have passed
//! since the container started (and, for liveness/readiness behind a [`StartupGate`], once the
//! container has started), then every periodSeconds; a result counts only after
//! successThreshold successes or failureThreshold failures in a row; unknown results (the probe
//! could not run) are thrown away; after a liveness failure or any startup result the worker
//! stops, since the container is either restarted (new container, new worker) or started.

use crate::exec_probe::ExecRunner;
use crate::outcome::{Outcome, ProbeKind, ProbeResult};
use crate::probe_once::probe_once;
use crate::settings::ProbeSettings;
use crate::startup_gate::StartupGate;
use crate::target::Target;
use k8s_openapi::api::core::v1::Probe;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};

/// Starts probe workers; see the module docs for the rules they follow.
pub struct ProbeWorker {
    kind: ProbeKind,
    probe: Probe,
    target: Target,
    exec: Arc<dyn ExecRunner>,
    container_started_at: Instant,
    results: mpsc::Sender<ProbeResult>,
    gate: Option<StartupGate>,
}

impl ProbeWorker {
    /// Spawns a worker for a container without a startup probe (liveness and readiness run as
    /// soon as their initial delay has passed).
    ///
    /// Reports only changes from the kind's initial state ([`ProbeKind::initial_success`]):
    /// liveness reports `false` when the container must be restarted, readiness reports each
    /// flip. A startup worker reports exactly once: `true` (started) or `false` (restart).
    pub fn spawn(
        kind: ProbeKind,
        probe: Probe,
        target: Target,
        exec: Arc<dyn ExecRunner>,
        container_started_at: Instant,
        results: mpsc::Sender<ProbeResult>,
    ) -> ProbeHandle {
        Self::spawn_inner(
            kind,
            probe,
            target,
            exec,
            container_started_at,
            results,
            None,
        )
    }

    /// Like [`ProbeWorker::spawn`], for a container with a startup probe: a startup worker opens
    /// `gate` when it succeeds, liveness and readiness workers wait for it to open.
    pub fn spawn_with_gate(
        kind: ProbeKind,
        probe: Probe,
        target: Target,
        exec: Arc<dyn ExecRunner>,
        container_started_at: Instant,
        results: mpsc::Sender<ProbeResult>,
        gate: StartupGate,
    ) -> ProbeHandle {
        Self::spawn_inner(
            kind,
            probe,
            target,
            exec,
            container_started_at,
            results,
            Some(gate),
        )
    }

    fn spawn_inner(
        kind: ProbeKind,
        probe: Probe,
        target: Target,
        exec: Arc<dyn ExecRunner>,
        container_started_at: Instant,
        results: mpsc::Sender<ProbeResult>,
        gate: Option<StartupGate>,
    ) -> ProbeHandle {
        let worker = ProbeWorker {
            kind,
            probe,
            target,
            exec,
            container_started_at,
            results,
            gate,
        };
        ProbeHandle {
            task: tokio::spawn(worker.run()),
        }
    }

    async fn run(self) {
        let settings = ProbeSettings::from_probe(&self.probe);
        sleep_until(self.container_started_at + settings.initial_delay).await;
        if self.kind != ProbeKind::Startup {
            if let Some(gate) = &self.gate {
                gate.opened().await;
            }
        }

        // What the caller believes now; startup has no belief until its first verdict.
        let mut reported = match self.kind {
            ProbeKind::Startup => None,
            kind => Some(kind.initial_success()),
        };
        let mut last_success = None;
        let mut run_length = 0u32;
        let mut ticker = interval(settings.period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            let outcome = probe_once(&self.probe, &self.target, &*self.exec).await;
            let success = match &outcome {
                Outcome::Unknown(err) => {
                    tracing::debug!(
                        kind = %self.kind,
                        container = %self.target.container.name,
                        error = %err,
                        "probe errored; result ignored"
                    );
                    continue;
                }
                Outcome::Success => true,
                Outcome::Failure(_) => false,
            };
            if last_success == Some(success) {
                run_length = run_length.saturating_add(1);
            } else {
                last_success = Some(success);
                run_length = 1;
            }
            let threshold = if success {
                settings.success_threshold
            } else {
                settings.failure_threshold
            };
            if run_length < threshold {
                // Every failed run is an Unhealthy event upstream, even below the threshold.
                if !success {
                    let result = ProbeResult {
                        kind: self.kind,
                        container_id: self.target.container_id.clone(),
                        container_name: self.target.container.name.clone(),
                        success,
                        changed: false,
                        message: outcome.event_message(self.kind).unwrap_or_default(),
                    };
                    if self.results.send(result).await.is_err() {
                        return;
                    }
                }
                continue;
            }

            if self.kind == ProbeKind::Startup && success {
                if let Some(gate) = &self.gate {
                    gate.open();
                }
            }
            let changed = reported != Some(success);
            if changed || !success {
                reported = Some(success);
                let result = ProbeResult {
                    kind: self.kind,
                    container_id: self.target.container_id.clone(),
                    container_name: self.target.container.name.clone(),
                    success,
                    changed,
                    message: outcome.event_message(self.kind).unwrap_or_default(),
                };
                if self.results.send(result).await.is_err() {
                    return; // Nobody listens any more.
                }
            }
            let done = match self.kind {
                ProbeKind::Startup => true,
                ProbeKind::Liveness => !success,
                ProbeKind::Readiness => false,
            };
            if done {
                return;
            }
        }
    }
}

/// Owns a running worker; dropping it (or [`ProbeHandle::stop`]) stops the worker at once,
/// also in the middle of a probe.
#[derive(Debug)]
pub struct ProbeHandle {
    task: JoinHandle<()>,
}

impl ProbeHandle {
    pub fn stop(self) {
        drop(self);
    }

    /// Whether the worker has ended on its own (liveness failure, startup verdict, or the
    /// results receiver was dropped).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for ProbeHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    /// The next state change, skipping per-run failure notices (for Unhealthy events).
    async fn next_change(rx: &mut mpsc::Receiver<ProbeResult>) -> Option<ProbeResult> {
        loop {
            match rx.recv().await {
                Some(r) if !r.changed => continue,
                other => return other,
            }
        }
    }

    fn try_change(
        rx: &mut mpsc::Receiver<ProbeResult>,
    ) -> Result<ProbeResult, mpsc::error::TryRecvError> {
        loop {
            match rx.try_recv() {
                Ok(r) if !r.changed => continue,
                other => return other,
            }
        }
    }

    use super::*;
    use crate::container_probes::ContainerProbes;
    use crate::test_support::{exec_probe, local_target, FakeExec, Reply};
    use std::time::Duration;
    use tokio::time::sleep;

    const OK: Reply = Reply::Exit(0, "");

    fn secs(list: &[u64]) -> Vec<Duration> {
        list.iter().map(|s| Duration::from_secs(*s)).collect()
    }

    fn result(kind: ProbeKind, success: bool, message: &str) -> ProbeResult {
        ProbeResult {
            kind,
            container_id: "cid-1".into(),
            container_name: "app".into(),
            success,
            changed: true,
            message: message.into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn liveness_reports_failure_after_failure_threshold_then_stops() {
        let exec = FakeExec::new();
        exec.script("live", vec![Reply::Exit(1, "boom")]);
        let start = Instant::now();
        let (tx, mut rx) = mpsc::channel(8);
        let _handle = ProbeWorker::spawn(
            ProbeKind::Liveness,
            exec_probe("live"), // defaults: period 10s, failureThreshold 3
            local_target(80),
            exec.clone(),
            start,
            tx,
        );
        let first = next_change(&mut rx).await;
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        assert_eq!(
            first,
            Some(result(
                ProbeKind::Liveness,
                false,
                "Liveness probe failed: boom"
            ))
        );
        // On hold after a liveness failure: the worker ends and probes no more.
        assert_eq!(next_change(&mut rx).await, None);
        sleep(Duration::from_secs(100)).await;
        assert_eq!(exec.call_offsets("live", start), secs(&[0, 10, 20]));
    }

    #[tokio::test(start_paused = true)]
    async fn healthy_liveness_reports_nothing() {
        let exec = FakeExec::new();
        exec.script("live", vec![OK]);
        let (tx, mut rx) = mpsc::channel(8);
        let probe = Probe {
            period_seconds: Some(1),
            ..exec_probe("live")
        };
        let start = Instant::now();
        let _handle = ProbeWorker::spawn(
            ProbeKind::Liveness,
            probe,
            local_target(80),
            exec.clone(),
            start,
            tx,
        );
        sleep(Duration::from_millis(5500)).await;
        assert!(
            try_change(&mut rx).is_err(),
            "liveness starts healthy; no change to report"
        );
        assert_eq!(exec.call_offsets("live", start).len(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn readiness_needs_consecutive_runs_to_flip() {
        let exec = FakeExec::new();
        let fail = Reply::Exit(1, "nope");
        exec.script(
            "ready",
            vec![
                OK,
                fail.clone(),
                OK,
                OK, // t=3: 2 successes in a row -> ready
                fail.clone(),
                OK,
                fail.clone(),
                fail, // t=7: 2 failures in a row -> not ready
                OK,   // t=8, t=9 (repeats) -> ready again at t=9
            ],
        );
        let probe = Probe {
            period_seconds: Some(1),
            success_threshold: Some(2),
            failure_threshold: Some(2),
            ..exec_probe("ready")
        };
        let start = Instant::now();
        let (tx, mut rx) = mpsc::channel(8);
        let _handle = ProbeWorker::spawn(
            ProbeKind::Readiness,
            probe,
            local_target(80),
            exec.clone(),
            start,
            tx,
        );
        let mut seen = Vec::new();
        for _ in 0..3 {
            let r = next_change(&mut rx).await;
            seen.push((start.elapsed().as_secs(), r));
        }
        assert_eq!(
            seen,
            vec![
                (3, Some(result(ProbeKind::Readiness, true, ""))),
                (
                    7,
                    Some(result(
                        ProbeKind::Readiness,
                        false,
                        "Readiness probe failed: nope"
                    ))
                ),
                (9, Some(result(ProbeKind::Readiness, true, ""))),
            ]
        );
        sleep(Duration::from_secs(5)).await;
        assert!(try_change(&mut rx).is_err(), "staying ready is no change");
    }

    #[tokio::test(start_paused = true)]
    async fn initial_delay_counts_from_container_start() {
        let exec = FakeExec::new();
        exec.script("fresh", vec![OK]);
        exec.script("older", vec![OK]);
        let probe = |cmd| Probe {
            initial_delay_seconds: Some(5),
            ..exec_probe(cmd)
        };
        let now = Instant::now();
        let (tx, _rx) = mpsc::channel(8);
        let _fresh = ProbeWorker::spawn(
            ProbeKind::Readiness,
            probe("fresh"),
            local_target(80),
            exec.clone(),
            now,
            tx.clone(),
        );
        let _older = ProbeWorker::spawn(
            ProbeKind::Readiness,
            probe("older"),
            local_target(80),
            exec.clone(),
            now - Duration::from_secs(3),
            tx,
        );
        sleep(Duration::from_secs(16)).await;
        assert_eq!(exec.call_offsets("fresh", now), secs(&[5, 15]));
        assert_eq!(exec.call_offsets("older", now), secs(&[2, 12]));
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_results_are_thrown_away() {
        let exec = FakeExec::new();
        let err = Reply::Error("runtime gone");
        exec.script("ready", vec![err.clone(), err.clone(), err, OK]);
        let probe = Probe {
            period_seconds: Some(1),
            failure_threshold: Some(1),
            ..exec_probe("ready")
        };
        let start = Instant::now();
        let (tx, mut rx) = mpsc::channel(8);
        let _handle = ProbeWorker::spawn(
            ProbeKind::Readiness,
            probe,
            local_target(80),
            exec.clone(),
            start,
            tx,
        );
        let first = next_change(&mut rx).await;
        // Tick 0: three attempts, all unknown, nothing reported; tick 1: ready.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert_eq!(first, Some(result(ProbeKind::Readiness, true, "")));
        assert_eq!(exec.call_offsets("ready", start), secs(&[0, 0, 0, 1]));
    }

    #[tokio::test(start_paused = true)]
    async fn startup_gates_liveness_and_readiness() {
        let exec = FakeExec::new();
        exec.script(
            "startup",
            vec![Reply::Exit(1, "warming"), Reply::Exit(1, "warming"), OK],
        );
        exec.script("live", vec![OK]);
        exec.script("ready", vec![OK]);
        let mut target = local_target(80);
        target.container.startup_probe = Some(Probe {
            period_seconds: Some(1),
            failure_threshold: Some(30),
            ..exec_probe("startup")
        });
        target.container.liveness_probe = Some(Probe {
            period_seconds: Some(1),
            ..exec_probe("live")
        });
        target.container.readiness_probe = Some(Probe {
            period_seconds: Some(1),
            ..exec_probe("ready")
        });
        let start = Instant::now();
        let (tx, mut rx) = mpsc::channel(8);
        let probes = ContainerProbes::spawn(target, exec.clone(), start, tx);
        assert_eq!(
            probes.kinds(),
            [
                ProbeKind::Startup,
                ProbeKind::Liveness,
                ProbeKind::Readiness
            ]
        );

        sleep(Duration::from_millis(1500)).await;
        assert!(!probes.started());
        assert!(exec.call_offsets("live", start).is_empty());
        assert!(exec.call_offsets("ready", start).is_empty());

        let mut results = vec![next_change(&mut rx).await, next_change(&mut rx).await];
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        results.sort_by_key(|r| r.as_ref().map(|r| r.kind == ProbeKind::Readiness));
        assert_eq!(
            results,
            vec![
                Some(result(ProbeKind::Startup, true, "")),
                Some(result(ProbeKind::Readiness, true, "")),
            ]
        );
        assert!(probes.started());
        sleep(Duration::from_millis(2500)).await;
        assert_eq!(exec.call_offsets("startup", start), secs(&[0, 1, 2]));
        assert_eq!(exec.call_offsets("live", start), secs(&[2, 3, 4]));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_startup_is_reported_and_liveness_never_runs() {
        let exec = FakeExec::new();
        exec.script("startup", vec![Reply::Exit(1, "not yet")]);
        exec.script("live", vec![OK]);
        let mut target = local_target(80);
        target.container.startup_probe = Some(Probe {
            period_seconds: Some(1),
            failure_threshold: Some(2),
            ..exec_probe("startup")
        });
        target.container.liveness_probe = Some(exec_probe("live"));
        let start = Instant::now();
        let (tx, mut rx) = mpsc::channel(8);
        let probes = ContainerProbes::spawn(target, exec.clone(), start, tx);
        assert_eq!(
            next_change(&mut rx).await,
            Some(result(
                ProbeKind::Startup,
                false,
                "Startup probe failed: not yet"
            ))
        );
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        sleep(Duration::from_secs(60)).await;
        assert_eq!(exec.call_offsets("startup", start), secs(&[0, 1]));
        assert!(exec.call_offsets("live", start).is_empty());
        assert!(!probes.started());
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_handle_stops_the_worker() {
        let exec = FakeExec::new();
        exec.script("ready", vec![OK]);
        let start = Instant::now();
        let (tx, mut rx) = mpsc::channel(8);
        let handle = ProbeWorker::spawn(
            ProbeKind::Readiness,
            exec_probe("ready"),
            local_target(80),
            exec.clone(),
            start,
            tx,
        );
        assert_eq!(
            next_change(&mut rx).await,
            Some(result(ProbeKind::Readiness, true, ""))
        );
        assert!(!handle.is_finished());
        drop(handle);
        // The aborted task drops its sender.
        assert_eq!(next_change(&mut rx).await, None);
        sleep(Duration::from_secs(100)).await;
        assert_eq!(exec.call_offsets("ready", start), secs(&[0]));
    }

    #[tokio::test(start_paused = true)]
    async fn stop_interrupts_a_probe_in_flight() {
        let exec = FakeExec::new();
        exec.script("slow", vec![Reply::Hang]);
        let (tx, mut rx) = mpsc::channel(8);
        let probe = Probe {
            timeout_seconds: Some(30),
            ..exec_probe("slow")
        };
        let handle = ProbeWorker::spawn(
            ProbeKind::Liveness,
            probe,
            local_target(80),
            exec,
            Instant::now(),
            tx,
        );
        sleep(Duration::from_secs(1)).await;
        handle.stop();
        assert_eq!(next_change(&mut rx).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn every_failed_run_is_sent_for_an_event_but_changes_nothing() {
        let exec = FakeExec::new();
        exec.script("ready", vec![Reply::Exit(1, "not yet")]);
        let (tx, mut rx) = mpsc::channel(16);
        let _handle = ProbeWorker::spawn(
            ProbeKind::Readiness,
            exec_probe("ready"),
            local_target(80),
            exec.clone(),
            Instant::now(),
            tx,
        );
        for _ in 0..4 {
            let r = rx.recv().await;
            assert!(
                r.as_ref().is_some_and(|r| !r.changed && !r.success),
                "{r:?}"
            );
            assert_eq!(
                r.map(|r| r.message),
                Some("Readiness probe failed: not yet".to_string())
            );
        }
    }
}
