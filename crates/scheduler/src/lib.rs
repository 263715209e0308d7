//! berth's pod scheduler, in kube-scheduler's shape: queue → filter → score
//! → bind, one file per plugin. It is an API client (`kube`): one watch per
//! kind feeds a cache it decides from; it never lists per pod.
//!
//! - [`Scheduler`]: the running loop (`Scheduler::new(client).run().await`).
//! - [`Framework::schedule_one`]: one decision on a [`Snapshot`], no API
//!   needed (tests, benchmarks).

pub mod affinity_term;
pub mod binder;
pub mod cache;
pub mod cycle_state;
pub mod error;
pub mod events;
pub mod eviction;
pub mod existing_terms;
pub mod fit_error;
pub mod framework;
mod informer;
pub mod label_selector;
pub mod node_info;
pub mod node_selector;
mod object_watch;
pub mod plugins;
pub mod pod_counts;
pub mod pod_info;
pub mod preemption;
pub mod quantity;
pub mod queue;
pub mod resources;
mod scheduler;
pub mod snapshot;
pub mod status;
pub mod testing;
pub mod topology_values;
pub mod trim;

pub use error::SchedulerError;
pub use fit_error::FitError;
pub use framework::{Framework, ScheduleResult};
pub use queue::QueueConfig;
pub use scheduler::Scheduler;
pub use snapshot::Snapshot;
