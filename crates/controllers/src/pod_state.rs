//! Pod predicates the controllers count by: active, ready, available.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

/// Not being deleted and not terminal (Succeeded/Failed): counts toward replicas.
pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// Time the Ready condition turned True, if it is True.
pub fn ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    let cond = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    (cond.status == "True").then(|| cond.last_transition_time.as_ref().map(|t| t.0))
}

pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Ready for at least `min_ready` at `now`. `Err(wait)` says how long until it
/// will be, so the caller can requeue instead of polling.
pub fn availability(
    pod: &Pod,
    min_ready: Duration,
    now: Timestamp,
) -> Result<(), Option<Duration>> {
    let Some(since) = ready_since(pod) else {
        return Err(None);
    };
    if min_ready.is_zero() {
        return Ok(());
    }
    let Some(since) = since else {
        return Err(None);
    };
    let elapsed = now.duration_since(since);
    let elapsed = Duration::try_from(elapsed).unwrap_or_default();
    if elapsed >= min_ready {
        Ok(())
    } else {
        Err(Some(min_ready - elapsed))
    }
}

/// Whether the pod has been bound to a node.
pub fn is_scheduled(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_some()
}
