//! Errors of the API-facing half (binding, events, status updates). Decision
//! failures are `FitError`, not errors.

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("binding pod {pod} to node {node}: {source}")]
    Bind {
        pod: String,
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("recording event {reason} for pod {pod}: {source}")]
    Event {
        pod: String,
        reason: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting preemption victim {pod}: {source}")]
    Preempt {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("updating the PodScheduled condition of pod {pod}: {source}")]
    Status {
        pod: String,
        #[source]
        source: kube::Error,
    },
}
