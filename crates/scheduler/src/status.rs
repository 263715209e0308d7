//! The PodScheduled=False condition on pods that did not fit, patched
//! through `pods/<name>/status` only when it would change (so a pod retried
//! every 10 s does not rewrite itself every 10 s).

use crate::error::SchedulerError;
use crate::pod_info::pod_key;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};

pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";

fn current(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
}

/// The condition to write, or None when the pod already says exactly this.
pub fn unschedulable_condition(pod: &Pod, message: &str) -> Option<PodCondition> {
    let old = current(pod);
    if old.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some(REASON_UNSCHEDULABLE)
            && c.message.as_deref() == Some(message)
    }) {
        return None;
    }
    // The transition time moves only when the status does.
    let transition = match old {
        Some(c) if c.status == "False" => c.last_transition_time.clone(),
        _ => None,
    }
    .unwrap_or(Time(Timestamp::now()));
    Some(PodCondition {
        type_: "PodScheduled".into(),
        status: "False".into(),
        reason: Some(REASON_UNSCHEDULABLE.into()),
        message: Some(message.to_string()),
        last_transition_time: Some(transition),
        last_probe_time: None,
        observed_generation: None,
    })
}

/// Write PodScheduled=False/Unschedulable with `message` unless it is
/// there, and `status.nominatedNodeName` when preemption made room.
pub async fn set_unschedulable(
    client: &kube::Client,
    pod: &Pod,
    message: &str,
    nominated_node: Option<&str>,
) -> Result<(), SchedulerError> {
    let condition = unschedulable_condition(pod, message);
    let current_nomination = pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref());
    let nominate = nominated_node.filter(|n| current_nomination != Some(*n));
    if condition.is_none() && nominate.is_none() {
        return Ok(());
    }
    let mut status = serde_json::Map::new();
    if let Some(c) = condition {
        status.insert("conditions".into(), serde_json::json!([c]));
    }
    if let Some(node) = nominate {
        status.insert("nominatedNodeName".into(), serde_json::json!(node));
    }
    // Strategic merge: conditions merge by type, other conditions stay.
    let patch = serde_json::json!({ "status": status });
    patch_status(client, pod, &patch).await
}

/// Clear `status.nominatedNodeName` (a higher-priority pod took the room).
pub async fn clear_nomination(client: &kube::Client, pod: &Pod) -> Result<(), SchedulerError> {
    patch_status(
        client,
        pod,
        &serde_json::json!({"status": {"nominatedNodeName": null}}),
    )
    .await
}

/// The DisruptionTarget condition a preemption victim gets before deletion.
pub fn disruption_condition(preemptor: &Pod) -> PodCondition {
    let scheduler = preemptor
        .spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .filter(|n| !n.is_empty())
        .unwrap_or(crate::pod_info::DEFAULT_SCHEDULER_NAME);
    PodCondition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("PreemptionByScheduler".into()),
        message: Some(format!(
            "{scheduler}: preempting to accommodate a higher priority pod"
        )),
        last_transition_time: Some(Time(Timestamp::now())),
        last_probe_time: None,
        observed_generation: None,
    }
}

pub async fn patch_status(
    client: &kube::Client,
    pod: &Pod,
    patch: &serde_json::Value,
) -> Result<(), SchedulerError> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    api.patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .map(|_| ())
        .map_err(|source| SchedulerError::Status {
            pod: pod_key(pod),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;
    use k8s_openapi::api::core::v1::PodStatus;

    #[test]
    fn written_only_when_it_changes() {
        let mut p = pod("p", &[]);
        let first = unschedulable_condition(&p, "0/1 nodes are available: x.").expect("new");
        assert_eq!(first.reason.as_deref(), Some("Unschedulable"));
        p.status = Some(PodStatus {
            conditions: Some(vec![first.clone()]),
            ..Default::default()
        });
        assert!(unschedulable_condition(&p, "0/1 nodes are available: x.").is_none());
        let changed =
            unschedulable_condition(&p, "0/2 nodes are available: y.").expect("new message");
        assert_eq!(changed.last_transition_time, first.last_transition_time);
    }
}
