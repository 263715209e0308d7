//! Errors from a container runtime, keeping the gRPC code and the runtime's own message.
//!
//! The kubelet shows the runtime's message to users verbatim (for example as the message of a
//! `RunContainerError` or `ErrImagePull` waiting state), so it is kept apart from our context.

use std::time::Duration;

pub use tonic::Code;

/// An error from a CRI call (or from reaching the runtime at all).
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    /// The runtime answered with a gRPC status.
    #[error("{op}: rpc error: code = {} desc = {message}", code_name(*.code))]
    Status {
        /// The CRI call, e.g. `RunPodSandbox`.
        op: &'static str,
        code: Code,
        /// The runtime's message, unchanged.
        message: String,
    },
    /// The runtime's socket could not be reached.
    #[error("{op}: cannot reach the runtime at {endpoint}: {reason}")]
    Unreachable {
        op: &'static str,
        endpoint: String,
        reason: String,
    },
    /// The call did not finish within its deadline.
    #[error("{op}: no answer from the runtime within {after:?}")]
    Timeout { op: &'static str, after: Duration },
}

impl CriError {
    /// An error as a runtime would answer it (used by the fake runtime and tests).
    pub fn status(op: &'static str, code: Code, message: impl Into<String>) -> Self {
        CriError::Status {
            op,
            code,
            message: message.into(),
        }
    }

    /// Turn a tonic status into an error, keeping code and message.
    pub fn from_status(op: &'static str, status: tonic::Status) -> Self {
        CriError::Status {
            op,
            code: status.code(),
            message: status.message().to_string(),
        }
    }

    /// The gRPC code: unreachable runtimes map to `Unavailable`, timeouts to `DeadlineExceeded`.
    pub fn code(&self) -> Code {
        match self {
            CriError::Status { code, .. } => *code,
            CriError::Unreachable { .. } => Code::Unavailable,
            CriError::Timeout { .. } => Code::DeadlineExceeded,
        }
    }

    /// The message to show users: the runtime's own words when it answered.
    pub fn message(&self) -> String {
        match self {
            CriError::Status { message, .. } => message.clone(),
            CriError::Unreachable {
                endpoint, reason, ..
            } => format!("cannot reach the runtime at {endpoint}: {reason}"),
            CriError::Timeout { after, .. } => {
                format!("context deadline exceeded (no answer within {after:?})")
            }
        }
    }

    /// The error as the kubelet (Go) prints a CRI error: `rpc error: code =
    /// NotFound desc = …` for a runtime's answer, without berth's op prefix.
    pub fn grpc_text(&self) -> String {
        match self {
            CriError::Status { code, message, .. } => {
                format!("rpc error: code = {} desc = {message}", code_name(*code))
            }
            other => other.message(),
        }
    }

    /// The CRI call that failed.
    pub fn op(&self) -> &'static str {
        match self {
            CriError::Status { op, .. }
            | CriError::Unreachable { op, .. }
            | CriError::Timeout { op, .. } => op,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Code::NotFound
    }

    pub fn is_unavailable(&self) -> bool {
        self.code() == Code::Unavailable
    }

    pub fn is_deadline_exceeded(&self) -> bool {
        self.code() == Code::DeadlineExceeded
    }

    /// The runtime does not implement this call (older runtimes lack newer CRI calls).
    pub fn is_unimplemented(&self) -> bool {
        self.code() == Code::Unimplemented
    }
}

/// The code's name as Go's gRPC prints it (`NotFound`, `Unknown`, ...), so our log lines read
/// like the kubelet's.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_keeps_code_and_runtime_message() {
        let err = CriError::from_status(
            "PullImage",
            tonic::Status::not_found("failed to pull and unpack image \"x\""),
        );
        assert!(err.is_not_found());
        assert_eq!(err.message(), "failed to pull and unpack image \"x\"");
        assert_eq!(
            err.to_string(),
            "PullImage: rpc error: code = NotFound desc = failed to pull and unpack image \"x\""
        );
    }

    #[test]
    fn transport_failures_have_grpc_codes() {
        let unreachable = CriError::Unreachable {
            op: "Version",
            endpoint: "/x.sock".into(),
            reason: "no such file".into(),
        };
        assert!(unreachable.is_unavailable());
        assert!(!unreachable.is_not_found());
        let timeout = CriError::Timeout {
            op: "StopContainer",
            after: Duration::from_secs(2),
        };
        assert!(timeout.is_deadline_exceeded());
        assert_eq!(timeout.op(), "StopContainer");
    }
}
