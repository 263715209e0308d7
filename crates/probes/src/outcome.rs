//! What one probe run says, and what a worker reports when a container's state changes.

use std::fmt;

/// The three probe kinds a container can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

impl ProbeKind {
    /// The word kubelet puts at the start of its probe events ("Liveness probe failed: ...").
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Startup => "Startup",
        }
    }

    /// The state a worker starts in, before any probe has run (as kubelet's worker.go):
    /// a container is live until proven otherwise, but neither ready nor started.
    pub fn initial_success(self) -> bool {
        matches!(self, ProbeKind::Liveness)
    }
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of running a probe handler once.
///
/// The strings are the handler's own output, exactly as kubelet's handlers produce it
/// (e.g. `HTTP probe failed with statuscode: 500`); [`Outcome::event_message`] adds the
/// `Liveness probe failed: ` prefix that kubelet's events show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The container answered and the answer was "unhealthy"; counts towards failureThreshold.
    Failure(String),
    /// The probe could not be run (bad port, runtime error); kubelet throws such results away.
    Unknown(String),
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }

    /// The message of the `Unhealthy` event kubelet records for this outcome, if any.
    pub fn event_message(&self, kind: ProbeKind) -> Option<String> {
        match self {
            Outcome::Success => None,
            Outcome::Failure(output) => Some(format!("{kind} probe failed: {output}")),
            Outcome::Unknown(err) => Some(format!(
                "{kind} probe errored and resulted in unknown state: {err}"
            )),
        }
    }
}

/// A change of one probe's state for one container, sent by a [`crate::ProbeWorker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub kind: ProbeKind,
    pub container_id: String,
    pub container_name: String,
    /// The state: live / ready / started.
    pub success: bool,
    /// This result changes the state. Failed runs that do not (below the
    /// failure threshold, or repeats) are still sent, for Unhealthy events.
    pub changed: bool,
    /// For a failure, the event message of the probe run that crossed failureThreshold
    /// (`Readiness probe failed: ...`); empty for a success.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_messages_match_kubelet() {
        let failed = Outcome::Failure("HTTP probe failed with statuscode: 500".into());
        assert_eq!(
            failed.event_message(ProbeKind::Liveness).as_deref(),
            Some("Liveness probe failed: HTTP probe failed with statuscode: 500")
        );
        let errored = Outcome::Unknown("port http not found".into());
        assert_eq!(
            errored.event_message(ProbeKind::Readiness).as_deref(),
            Some("Readiness probe errored and resulted in unknown state: port http not found")
        );
        assert_eq!(Outcome::Success.event_message(ProbeKind::Startup), None);
    }

    #[test]
    fn initial_states_match_kubelet() {
        assert!(ProbeKind::Liveness.initial_success());
        assert!(!ProbeKind::Readiness.initial_success());
        assert!(!ProbeKind::Startup.initial_success());
    }
}
