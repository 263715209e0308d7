//! All probe workers of one container, with startup gating wired in.

use crate::exec_probe::ExecRunner;
use crate::outcome::{ProbeKind, ProbeResult};
use crate::startup_gate::StartupGate;
use crate::target::Target;
use crate::worker::{ProbeHandle, ProbeWorker};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The workers for every probe `target.container` declares. With a startup probe, liveness
/// and readiness wait for it to succeed. Dropping this stops them all.
#[derive(Debug)]
pub struct ContainerProbes {
    handles: Vec<(ProbeKind, ProbeHandle)>,
    gate: Option<StartupGate>,
}

impl ContainerProbes {
    pub fn spawn(
        target: Target,
        exec: Arc<dyn ExecRunner>,
        container_started_at: Instant,
        results: mpsc::Sender<ProbeResult>,
    ) -> Self {
        let container = &target.container;
        let probes = [
            (ProbeKind::Startup, container.startup_probe.clone()),
            (ProbeKind::Liveness, container.liveness_probe.clone()),
            (ProbeKind::Readiness, container.readiness_probe.clone()),
        ];
        let gate = container.startup_probe.as_ref().map(|_| StartupGate::new());
        let handles = probes
            .into_iter()
            .filter_map(|(kind, probe)| Some((kind, probe?)))
            .map(|(kind, probe)| {
                let (target, exec, results) = (target.clone(), exec.clone(), results.clone());
                let handle = match &gate {
                    Some(gate) => ProbeWorker::spawn_with_gate(
                        kind,
                        probe,
                        target,
                        exec,
                        container_started_at,
                        results,
                        gate.clone(),
                    ),
                    None => {
                        ProbeWorker::spawn(kind, probe, target, exec, container_started_at, results)
                    }
                };
                (kind, handle)
            })
            .collect();
        ContainerProbes { handles, gate }
    }

    /// Whether the container counts as started: no startup probe, or it has succeeded.
    pub fn started(&self) -> bool {
        self.gate.as_ref().is_none_or(StartupGate::is_open)
    }

    /// The probe kinds that have a worker.
    pub fn kinds(&self) -> Vec<ProbeKind> {
        self.handles.iter().map(|(kind, _)| *kind).collect()
    }

    pub fn stop(self) {
        drop(self);
    }
}
