//! Automatic rollback of a failed rollout — berth's addition to the
//! Deployment controller (Docker Swarm's `--update-failure-action rollback`,
//! Nomad's `auto_revert`).
//!
//! ```text
//! Deployment annotated berth.dev/auto-rollback=true (or the cluster default on)
//!   new ReplicaSet failing?  ─ Progressing=False ProgressDeadlineExceeded
//!                            ─ ≥ threshold new pods in ImagePullBackOff / ErrImagePull /
//!                              CrashLoopBackOff / Create*Error / RunContainerError
//!                            ─ ≥ threshold new pods Running but unready longer than the limit
//!   └─▶ target = newest old ReplicaSet marked fully available (berth.dev/available-at)
//!   └─▶ spec.template := target's template (as `kubectl rollout undo`), condition
//!       RolledBack=True with the reason, Warning event AutoRollback
//! ```
//! Decisions are pure functions of the objects and the clock; the controller does the I/O.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

/// Opt-in per Deployment ("true"/"false" overrides the cluster default).
pub const ANNOTATION: &str = "berth.dev/auto-rollback";
/// How many failing new pods trigger a rollback (default 1).
pub const THRESHOLD_ANNOTATION: &str = "berth.dev/auto-rollback-threshold";
/// How long a new pod may stay Running but unready before it counts as failing (default 60 s).
pub const UNREADY_ANNOTATION: &str = "berth.dev/auto-rollback-unready-seconds";
/// Set on a ReplicaSet when its rollout completed: a revision known to work.
pub const AVAILABLE_AT: &str = "berth.dev/available-at";
/// The condition type set on the Deployment after a rollback.
pub const CONDITION: &str = "RolledBack";

const DEFAULT_UNREADY: Duration = Duration::from_secs(60);

/// Waiting reasons that mean the new pods will not come up by themselves.
const FAILING_REASONS: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

pub fn enabled(d: &Deployment, cluster_default: bool) -> bool {
    match d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION))
        .map(String::as_str)
    {
        Some("true") => true,
        Some("false") => false,
        _ => cluster_default,
    }
}

fn annotation_number(d: &Deployment, key: &str) -> Option<u64> {
    d.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse().ok())
}

/// Why a pod of the new ReplicaSet counts as failing, if it does.
pub fn pod_failure(pod: &Pod, unready_limit: Duration, now: Timestamp) -> Option<String> {
    let status = pod.status.as_ref()?;
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let statuses = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for cs in statuses {
        if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.as_deref().unwrap_or("");
            if FAILING_REASONS.contains(&reason) {
                let msg = w.message.as_deref().unwrap_or("");
                return Some(if msg.is_empty() {
                    format!("pod {name} container {}: {reason}", cs.name)
                } else {
                    format!("pod {name} container {}: {reason}: {msg}", cs.name)
                });
            }
        }
    }
    // Running but never ready for longer than the limit: a failing readiness probe.
    if status.phase.as_deref() == Some("Running") && !crate::pod_state::is_ready(pod) {
        let started = status.start_time.as_ref()?.0;
        let running_for = Duration::try_from(now.duration_since(started)).unwrap_or_default();
        if running_for > unready_limit {
            return Some(format!(
                "pod {name} has been running for {}s without becoming ready",
                running_for.as_secs()
            ));
        }
    }
    None
}

/// The verdict on the current rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Condition reason: ProgressDeadlineExceeded or NewPodsFailing.
    pub reason: &'static str,
    pub message: String,
}

/// Is the rollout to the new ReplicaSet failing? `new_pods` are its pods.
pub fn rollout_failure<P: std::borrow::Borrow<Pod>>(
    d: &Deployment,
    deadline_exceeded: bool,
    new_pods: &[P],
    now: Timestamp,
) -> Option<Failure> {
    if deadline_exceeded {
        return Some(Failure {
            reason: "ProgressDeadlineExceeded",
            message: "the new ReplicaSet did not become available within progressDeadlineSeconds"
                .into(),
        });
    }
    let threshold = annotation_number(d, THRESHOLD_ANNOTATION)
        .unwrap_or(1)
        .max(1) as usize;
    let unready = annotation_number(d, UNREADY_ANNOTATION)
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_UNREADY);
    let failures: Vec<String> = new_pods
        .iter()
        .map(|p| p.borrow())
        .filter(|p| crate::pod_state::is_active(p))
        .filter_map(|p| pod_failure(p, unready, now))
        .collect();
    if failures.len() >= threshold {
        return Some(Failure {
            reason: "NewPodsFailing",
            message: failures.join("; "),
        });
    }
    None
}

/// The newest old ReplicaSet whose rollout once completed.
pub fn rollback_target(old: &[ReplicaSet]) -> Option<&ReplicaSet> {
    old.iter()
        .filter(|rs| {
            rs.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(AVAILABLE_AT))
        })
        .max_by_key(|rs| crate::deployment::revision(rs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(annotations: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "annotations": annotations},
            "spec": {"selector": {}, "template": {}},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "web-1"}, "status": status}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn waiting(reason: &str) -> Pod {
        pod(json!({"phase": "Pending", "containerStatuses": [{
            "name": "echo", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": reason, "message": "boom"}},
        }]}))
    }

    fn now() -> Timestamp {
        "2026-11-23T12:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn opt_in_by_annotation_or_cluster_default() {
        assert!(enabled(&deployment(json!({ANNOTATION: "true"})), false));
        assert!(!enabled(&deployment(json!({ANNOTATION: "false"})), true));
        assert!(enabled(&deployment(json!({})), true));
        assert!(!enabled(&deployment(json!({})), false));
    }

    #[test]
    fn failing_pods_by_reason() {
        let limit = DEFAULT_UNREADY;
        for reason in [
            "ImagePullBackOff",
            "ErrImagePull",
            "CrashLoopBackOff",
            "RunContainerError",
        ] {
            let why = pod_failure(&waiting(reason), limit, now());
            assert!(
                why.as_deref().is_some_and(|w| w.contains(reason)),
                "{reason}: {why:?}"
            );
        }
        for reason in ["ContainerCreating", "PodInitializing"] {
            assert_eq!(
                pod_failure(&waiting(reason), limit, now()),
                None,
                "{reason}"
            );
        }
    }

    #[test]
    fn unready_counts_only_after_the_limit() {
        let running = |started: &str| {
            pod(json!({"phase": "Running", "startTime": started,
                "conditions": [{"type": "Ready", "status": "False"}]}))
        };
        let limit = Duration::from_secs(60);
        assert_eq!(
            pod_failure(&running("2026-11-23T11:59:30Z"), limit, now()),
            None
        );
        assert!(pod_failure(&running("2026-11-23T11:58:00Z"), limit, now()).is_some());
        let ready = pod(
            json!({"phase": "Running", "startTime": "2026-11-23T11:00:00Z",
            "conditions": [{"type": "Ready", "status": "True"}]}),
        );
        assert_eq!(pod_failure(&ready, limit, now()), None);
    }

    #[test]
    fn threshold_and_deadline_decide() {
        let d = deployment(json!({THRESHOLD_ANNOTATION: "2"}));
        let one = vec![waiting("CrashLoopBackOff"), waiting("ContainerCreating")];
        assert_eq!(rollout_failure(&d, false, &one, now()), None);
        let two = vec![waiting("CrashLoopBackOff"), waiting("ImagePullBackOff")];
        let f = rollout_failure(&d, false, &two, now()).unwrap_or_else(|| panic!("no failure"));
        assert_eq!(f.reason, "NewPodsFailing");
        let f =
            rollout_failure::<Pod>(&d, true, &[], now()).unwrap_or_else(|| panic!("no failure"));
        assert_eq!(f.reason, "ProgressDeadlineExceeded");
    }

    #[test]
    fn target_is_the_newest_fully_available_revision() {
        let rs = |rev: &str, available: bool| -> ReplicaSet {
            let mut ann = json!({"deployment.kubernetes.io/revision": rev});
            if available {
                ann[AVAILABLE_AT] = json!("2026-11-23T10:00:00Z");
            }
            serde_json::from_value(
                json!({"metadata": {"name": format!("rs{rev}"), "annotations": ann}}),
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let old = vec![rs("1", true), rs("2", true), rs("3", false)];
        assert_eq!(
            rollback_target(&old)
                .and_then(|r| r.metadata.name.clone())
                .as_deref(),
            Some("rs2")
        );
        assert!(rollback_target(&[rs("1", false)]).is_none());
    }
}
