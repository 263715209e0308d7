//! berth-probes: the kubelet's container probes for berth's node agent.
//!
//! - [`probe_once`] runs one probe handler (exec, httpGet, tcpSocket, grpc) the way kubelet's
//!   pkg/probe does and returns an [`Outcome`] with kubelet's messages.
//! - [`ProbeWorker`] runs one probe of one container on its timer (initial delay, period,
//!   thresholds, startup gating) and sends a [`ProbeResult`] whenever the state changes.
//! - [`ContainerProbes`] spawns the workers for all probes of a container, wiring the
//!   [`StartupGate`].
//!
//! Exec probes need the container runtime; callers supply it as an [`ExecRunner`].

mod container_probes;
mod dial;
mod exec_probe;
mod expansion;
mod grpc_probe;
mod http_probe;
mod outcome;
mod probe_once;
mod settings;
mod startup_gate;
mod target;
mod tcp_probe;
mod tls;
mod worker;

#[cfg(test)]
mod test_support;

pub use container_probes::ContainerProbes;
pub use exec_probe::{ExecRunner, MAX_EXEC_OUTPUT};
pub use expansion::expand_command;
pub use grpc_probe::{HealthCheckRequest, HealthCheckResponse, ServingStatus};
pub use http_probe::{lifecycle_http_get, LIFECYCLE_USER_AGENT, MAX_HTTP_BODY, PROBE_USER_AGENT};
pub use outcome::{Outcome, ProbeKind, ProbeResult};
pub use probe_once::probe_once;
pub use settings::ProbeSettings;
pub use startup_gate::StartupGate;
pub use target::{resolve_container_port, PortError, Target};
pub use worker::{ProbeHandle, ProbeWorker};

/// Re-exported so callers can build the start time without naming tokio themselves.
pub use tokio::time::Instant;
