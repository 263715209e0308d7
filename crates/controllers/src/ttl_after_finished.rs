//! TTL-after-finished controller: delete a Job `spec.ttlSecondsAfterFinished`
//! seconds after it finished (its Complete/Failed condition's transition
//! time). Like upstream it re-reads the Job before deleting (the TTL may have
//! changed) and deletes with Foreground propagation and UID +
//! resourceVersion preconditions, so its pods go first and a replaced or
//! modified Job is never deleted by mistake.

use crate::clock::{until, Clock};
use crate::error::Result;
use crate::runner::Context;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TtlDecision {
    /// No TTL, not finished, already being deleted, or no finish time.
    Ignore,
    /// Expires after this long.
    Wait(Duration),
    Delete,
}

/// When the Job finished: the transition time of its Complete/Failed condition.
pub fn finish_time(job: &Job) -> Option<Timestamp> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

/// What to do with `job` at `now`. Pure.
pub fn decide(job: &Job, now: Timestamp) -> TtlDecision {
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return TtlDecision::Ignore;
    };
    if job.metadata.deletion_timestamp.is_some() {
        return TtlDecision::Ignore;
    }
    let Some(finished) = finish_time(job) else {
        return TtlDecision::Ignore;
    };
    let expires = finished + SignedDuration::from_secs(i64::from(ttl.max(0)));
    if now >= expires {
        TtlDecision::Delete
    } else {
        TtlDecision::Wait(until(now, expires))
    }
}

pub async fn reconcile(job: Arc<Job>, ctx: Arc<Context>, clock: Clock) -> Result<Action> {
    match decide(&job, clock.now()) {
        TtlDecision::Ignore => return Ok(Action::await_change()),
        TtlDecision::Wait(d) => return Ok(Action::requeue(d + Duration::from_millis(50))),
        TtlDecision::Delete => {}
    }
    let ns = job.namespace().unwrap_or_else(|| "default".into());
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    // The cached copy may be stale: decide again on a fresh read.
    let fresh = match api.get(&job.name_any()).await {
        Ok(j) => j,
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
        Err(e) => return Err(e.into()),
    };
    match decide(&fresh, clock.now()) {
        TtlDecision::Ignore => return Ok(Action::await_change()),
        TtlDecision::Wait(d) => return Ok(Action::requeue(d + Duration::from_millis(50))),
        TtlDecision::Delete => {}
    }
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            uid: fresh.uid(),
            resource_version: fresh.resource_version(),
        }),
        ..Default::default()
    };
    tracing::info!(job = %fresh.name_any(), "deleting finished job whose TTL expired");
    match api.delete(&fresh.name_any(), &params).await {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(ttl: Option<i32>, finished: Option<(&str, &str)>) -> Job {
        let conditions = finished
            .map(|(t, at)| json!([{"type": t, "status": "True", "lastTransitionTime": at}]));
        serde_json::from_value(json!({
            "metadata": {"name": "j"},
            "spec": {"ttlSecondsAfterFinished": ttl, "template": {}},
            "status": {"conditions": conditions},
        }))
        .expect("job")
    }

    #[test]
    fn decisions_table() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().expect("ts");
        let cases = [
            (
                job(None, Some(("Complete", "2026-01-01T00:00:00Z"))),
                TtlDecision::Ignore,
            ),
            (job(Some(10), None), TtlDecision::Ignore),
            (
                job(
                    Some(10),
                    Some(("SuccessCriteriaMet", "2026-01-01T00:00:00Z")),
                ),
                TtlDecision::Ignore,
            ),
            (
                job(Some(0), Some(("Complete", "2026-01-01T00:01:00Z"))),
                TtlDecision::Delete,
            ),
            (
                job(Some(60), Some(("Failed", "2026-01-01T00:00:00Z"))),
                TtlDecision::Delete,
            ),
            (
                job(Some(100), Some(("Complete", "2026-01-01T00:00:30Z"))),
                TtlDecision::Wait(Duration::from_secs(70)),
            ),
        ];
        for (i, (j, want)) in cases.into_iter().enumerate() {
            assert_eq!(decide(&j, now), want, "case {i}");
        }
        let mut deleting = job(Some(0), Some(("Complete", "2026-01-01T00:00:00Z")));
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
        assert_eq!(decide(&deleting, now), TtlDecision::Ignore);
    }
}
