//! Leader election through a `coordination.k8s.io/v1` Lease, with the
//! semantics of client-go's `tools/leaderelection` (as used by
//! kube-controller-manager and kube-scheduler): Get + Update guarded by
//! `resourceVersion`, expiry measured from when a candidate *observed* the
//! record change, `leaseTransitions` bumped on every change of holder, and
//! release on graceful stop (`ReleaseOnCancel`).

mod config;
mod elector;
mod error;
mod lock;
mod record;
mod run;

pub use config::LeaderConfig;
pub use error::LeaderError;
pub use run::{run_while_leader, run_while_leader_until};
