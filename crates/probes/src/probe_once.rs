//! Running a probe's handler once, with kubelet's retry of runs that could not be carried out.

use crate::exec_probe::{probe_exec, ExecRunner};
use crate::grpc_probe::probe_grpc;
use crate::http_probe::probe_http;
use crate::outcome::Outcome;
use crate::settings::ProbeSettings;
use crate::target::Target;
use crate::tcp_probe::probe_tcp;
use k8s_openapi::api::core::v1::Probe;

/// kubelet runs a probe up to this many times in a row while it ends in an error (unknown).
const MAX_ATTEMPTS: usize = 3;

/// Runs `probe` against `target` once (retrying up to 3 times while the result is unknown, as
/// kubelet's runProbeWithRetries does) and returns what the handler said.
pub async fn probe_once(probe: &Probe, target: &Target, exec: &dyn ExecRunner) -> Outcome {
    let mut outcome = Outcome::Unknown(String::new());
    for _ in 0..MAX_ATTEMPTS {
        outcome = run_handler(probe, target, exec).await;
        if !matches!(outcome, Outcome::Unknown(_)) {
            break;
        }
    }
    outcome
}

async fn run_handler(probe: &Probe, target: &Target, exec: &dyn ExecRunner) -> Outcome {
    let timeout = ProbeSettings::from_probe(probe).timeout;
    if let Some(action) = &probe.exec {
        probe_exec(action, target, exec, timeout).await
    } else if let Some(action) = &probe.http_get {
        probe_http(action, target, timeout).await
    } else if let Some(action) = &probe.tcp_socket {
        probe_tcp(action, target, timeout).await
    } else if let Some(action) = &probe.grpc {
        probe_grpc(action, target, timeout).await
    } else {
        Outcome::Unknown(format!(
            "missing probe handler for {}",
            target.container.name
        ))
    }
}
