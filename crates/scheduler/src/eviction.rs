//! Carrying out a preemption decision through the API, as upstream's
//! prepareCandidate does:
//!
//! ```text
//! for each victim: pods/status DisruptionTarget=True (PreemptionByScheduler)
//!                  → DELETE the pod (its own grace period)
//!                  → event Preempted "Preempted by pod <uid> on node <node>"
//! lower-priority pods nominated to the node lose their nomination
//! ```
//! The preemptor's `status.nominatedNodeName` is written with its
//! PodScheduled=False condition (see `status.rs`).

use crate::error::SchedulerError;
use crate::events::{EventRecorder, EventType};
use crate::pod_info::{pod_key, PodInfo};
use crate::status;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use std::sync::Arc;

/// The Preempted event's message on a victim.
pub fn preempted_message(preemptor: &Pod, node: &str) -> String {
    format!(
        "Preempted by pod {} on node {node}",
        preemptor.metadata.uid.as_deref().unwrap_or_default()
    )
}

/// Evict one victim. A victim already gone counts as evicted.
pub async fn evict(
    client: &kube::Client,
    recorder: &EventRecorder,
    victim: &Pod,
    preemptor: &Pod,
    node: &str,
) -> Result<(), SchedulerError> {
    let condition = status::disruption_condition(preemptor);
    let patch = serde_json::json!({"status": {"conditions": [condition]}});
    if let Err(e) = status::patch_status(client, victim, &patch).await {
        tracing::debug!(error = %e, "marking preemption victim");
    }
    let namespace = victim.metadata.namespace.as_deref().unwrap_or("default");
    let name = victim.metadata.name.as_deref().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    // Only this pod, not a newer one of the same name.
    let mut params = DeleteParams::default();
    if let Some(uid) = &victim.metadata.uid {
        params.preconditions = Some(kube::api::Preconditions {
            uid: Some(uid.clone()),
            resource_version: None,
        });
    }
    match api.delete(name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(source) => {
            return Err(SchedulerError::Preempt {
                pod: pod_key(victim),
                source,
            })
        }
    }
    if let Err(e) = recorder
        .record(
            victim,
            EventType::Normal,
            "Preempted",
            &preempted_message(preemptor, node),
        )
        .await
    {
        tracing::warn!(error = %e, "recording Preempted event");
    }
    Ok(())
}

/// Evict every victim, then take the node's nomination from lower-priority
/// pods that had it.
pub async fn preempt(
    client: &kube::Client,
    recorder: &EventRecorder,
    preemptor: &Pod,
    node: &str,
    victims: &[Arc<PodInfo>],
    displaced_nominations: &[Arc<PodInfo>],
) {
    for victim in victims {
        if let Err(e) = evict(client, recorder, &victim.pod, preemptor, node).await {
            tracing::warn!(error = %e, "preemption");
        }
    }
    for other in displaced_nominations {
        if let Err(e) = status::clear_nomination(client, &other.pod).await {
            tracing::debug!(error = %e, "clearing nomination");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    #[test]
    fn message_names_the_preemptor_uid_and_node() {
        assert_eq!(
            preempted_message(&pod("hi", &[]), "node-a"),
            "Preempted by pod uid-hi on node node-a"
        );
        let c = status::disruption_condition(&pod("hi", &[]));
        assert_eq!(c.type_, "DisruptionTarget");
        assert_eq!(c.reason.as_deref(), Some("PreemptionByScheduler"));
        assert_eq!(
            c.message.as_deref(),
            Some("default-scheduler: preempting to accommodate a higher priority pod")
        );
    }
}
