//! Pod rows: READY, the aggregate STATUS reason and RESTARTS exactly as upstream `printPod`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::or_none;
use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, at, bool_at, has, int_at, name, opt_bool, str_at, time_at};

pub(crate) const COLUMNS: &[Column] = &[
    NAME,
    Column::new("Ready", "string", desc::POD_READY),
    Column::new("Status", "string", desc::POD_STATUS),
    Column::new("Restarts", "string", desc::POD_RESTARTS),
    AGE,
    Column::new("IP", "string", desc::POD_IP).wide(),
    Column::new("Node", "string", desc::POD_NODE_NAME).wide(),
    Column::new("Nominated Node", "string", desc::POD_NOMINATED_NODE).wide(),
    Column::new("Readiness Gates", "string", desc::POD_READINESS_GATES).wide(),
];

/// The reason the node lifecycle controller sets on pods of an unreachable node.
const NODE_UNREACHABLE_REASON: &str = "NodeLost";

pub(crate) fn cells(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let summary = summarize(pod);
    let restarts = match summary.last_restart {
        Some(t) if summary.restarts != 0 => {
            format!("{} ({} ago)", summary.restarts, since(Some(t), now))
        }
        _ => summary.restarts.to_string(),
    };
    vec![
        json!(name(pod)),
        json!(format!("{}/{}", summary.ready, summary.total)),
        json!(summary.reason),
        json!(restarts),
        json!(since(crate::json::created(pod), now)),
        json!(pod_ip(pod)),
        json!(or_none(str_at(pod, &["spec", "nodeName"]))),
        json!(or_none(str_at(pod, &["status", "nominatedNodeName"]))),
        json!(readiness_gates(pod)),
    ]
}

/// Row conditions upstream attaches to finished pods (`rows[].conditions`).
pub(crate) fn row_conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match str_at(pod, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{
        "type": "Completed",
        "status": "True",
        "reason": reason,
        "message": message,
    }]))
}

struct PodSummary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    /// Latest `lastState.terminated.finishedAt` among counted containers; None = Go zero time.
    last_restart: Option<DateTime<Utc>>,
}

fn summarize(pod: &Value) -> PodSummary {
    let spec_containers = arr_at(pod, &["spec", "containers"]);
    let spec_init = arr_at(pod, &["spec", "initContainers"]);
    let conditions = arr_at(pod, &["status", "conditions"]);

    let mut restarts: i64 = 0;
    let mut restartable_init_restarts: i64 = 0;
    let mut total = spec_containers.len();
    let mut ready = 0usize;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut last_restartable_init_restart: Option<DateTime<Utc>> = None;

    let phase = str_at(pod, &["status", "phase"]);
    let status_reason = str_at(pod, &["status", "reason"]);
    let mut reason = if status_reason.is_empty() {
        phase.to_string()
    } else {
        status_reason.to_string()
    };
    // A pod held back by scheduling gates says so instead of "Pending".
    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".to_string();
    }

    // Sidecars (init containers with restartPolicy Always) count as regular containers.
    let mut restartable: HashMap<&str, bool> = HashMap::new();
    for c in spec_init {
        let is_sidecar = str_at(c, &["restartPolicy"]) == "Always";
        restartable.insert(str_at(c, &["name"]), is_sidecar);
        if is_sidecar {
            total += 1;
        }
    }

    let mut initializing = false;
    for (i, cs) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = int_at(cs, &["restartCount"]);
        restarts += count;
        let finished = last_termination(cs);
        later(&mut last_restart, finished);
        let is_sidecar = restartable
            .get(str_at(cs, &["name"]))
            .copied()
            .unwrap_or(false);
        if is_sidecar {
            restartable_init_restarts += count;
            later(&mut last_restartable_init_restart, finished);
        }

        let terminated = at(cs, &["state", "terminated"]);
        let waiting_reason = str_at(cs, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if is_sidecar && opt_bool(cs, &["started"]) == Some(true) {
            if bool_at(cs, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            reason = match str_at(t, &["reason"]) {
                "" => match int_at(t, &["signal"]) {
                    0 => format!("Init:ExitCode:{}", int_at(t, &["exitCode"])),
                    signal => format!("Init:Signal:{signal}"),
                },
                r => format!("Init:{r}"),
            };
        } else if has(cs, &["state", "waiting"])
            && !waiting_reason.is_empty()
            && waiting_reason != "PodInitializing"
        {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{}/{}", i, spec_init.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(conditions, "Initialized") {
        restarts = restartable_init_restarts;
        last_restart = last_restartable_init_restart;
        let mut has_running = false;
        for cs in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(cs, &["restartCount"]);
            later(&mut last_restart, last_termination(cs));
            let waiting_reason = str_at(cs, &["state", "waiting", "reason"]);
            let terminated = at(cs, &["state", "terminated"]);
            if has(cs, &["state", "waiting"]) && !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = match str_at(t, &["reason"]) {
                    "" => match int_at(t, &["signal"]) {
                        0 => format!("ExitCode:{}", int_at(t, &["exitCode"])),
                        signal => format!("Signal:{signal}"),
                    },
                    r => r.to_string(),
                };
            } else if bool_at(cs, &["ready"]) && has(cs, &["state", "running"]) {
                has_running = true;
                ready += 1;
            }
        }
        // A finished container next to a still running one does not make the pod Completed.
        if reason == "Completed" && has_running {
            reason = if condition_true(conditions, "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if has(pod, &["metadata", "deletionTimestamp"]) {
        if status_reason == NODE_UNREACHABLE_REASON {
            reason = "Unknown".to_string();
        } else if phase != "Failed" && phase != "Succeeded" {
            reason = "Terminating".to_string();
        }
    }

    PodSummary {
        ready,
        total,
        reason,
        restarts,
        last_restart,
    }
}

fn last_termination(cs: &Value) -> Option<DateTime<Utc>> {
    time_at(cs, &["lastState", "terminated", "finishedAt"])
}

/// Keeps the later of two timestamps (Go compares against the zero time).
fn later(current: &mut Option<DateTime<Utc>>, candidate: Option<DateTime<Utc>>) {
    if let Some(c) = candidate {
        if current.is_none_or(|cur| cur < c) {
            *current = Some(c);
        }
    }
}

/// Whether the first condition of that type has status True (upstream stops at the first).
fn condition_true(conditions: &[Value], type_: &str) -> bool {
    conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

/// First pod IP; v1 → internal conversion fills `podIPs` from `podIP` when only that is set.
fn pod_ip(pod: &Value) -> String {
    let ip = arr_at(pod, &["status", "podIPs"])
        .first()
        .map(|p| str_at(p, &["ip"]))
        .unwrap_or_else(|| str_at(pod, &["status", "podIP"]));
    or_none(ip)
}

fn readiness_gates(pod: &Value) -> String {
    let gates = arr_at(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = arr_at(pod, &["status", "conditions"]);
    let true_count = gates
        .iter()
        .filter(|g| condition_true(conditions, str_at(g, &["conditionType"])))
        .count();
    format!("{}/{}", true_count, gates.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    /// A pod created 10 minutes before `now()` with the given spec and status.
    fn pod(spec: Value, status: Value) -> Value {
        json!({
            "metadata": {"name": "web-0", "namespace": "default",
                         "creationTimestamp": "2025-01-01T11:50:00Z"},
            "spec": spec,
            "status": status,
        })
    }

    fn two_containers() -> Value {
        json!({"containers": [{"name": "app", "image": "nginx"}, {"name": "log", "image": "busybox"}]})
    }

    fn status_of(p: &Value) -> (String, String, String) {
        let c = cells(p, now());
        (
            c[1].as_str().unwrap().to_string(),
            c[2].as_str().unwrap().to_string(),
            c[3].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn pending_unscheduled_pod() {
        let p = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}),
        );
        let c = cells(&p, now());
        assert_eq!(
            c,
            vec![
                json!("web-0"),
                json!("0/1"),
                json!("Pending"),
                json!("0"),
                json!("10m"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn scheduling_gated_pod() {
        let p = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
        );
        assert_eq!(status_of(&p).1, "SchedulingGated");
    }

    #[test]
    fn container_creating() {
        let p = pod(
            json!({"nodeName": "n1", "containers": [{"name": "app"}]}),
            json!({"phase": "Pending", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        assert_eq!(
            status_of(&p),
            ("0/1".into(), "ContainerCreating".into(), "0".into())
        );
        assert_eq!(cells(&p, now())[6], json!("n1"));
    }

    #[test]
    fn running_one_of_two_ready_with_wide_cells() {
        let p = pod(
            json!({"nodeName": "node-a", "containers": [{"name": "app"}, {"name": "log"}],
                   "readinessGates": [{"conditionType": "example.com/lb"}]}),
            json!({"phase": "Running", "podIP": "10.0.0.7",
                   "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}],
                   "nominatedNodeName": "node-b",
                   "conditions": [{"type": "Ready", "status": "False"},
                                  {"type": "example.com/lb", "status": "True"}],
                   "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2025-01-01T11:51:00Z"}}},
                {"name": "log", "ready": false, "restartCount": 0, "state": {"running": {"startedAt": "2025-01-01T11:51:00Z"}}}]}),
        );
        let c = cells(&p, now());
        assert_eq!(c[1], json!("1/2"));
        assert_eq!(c[2], json!("Running"));
        assert_eq!(c[5], json!("10.0.0.7"));
        assert_eq!(c[6], json!("node-a"));
        assert_eq!(c[7], json!("node-b"));
        assert_eq!(c[8], json!("1/1"));
    }

    #[test]
    fn pod_ip_falls_back_to_pod_ip_field() {
        let p = pod(json!({"containers": []}), json!({"podIP": "10.1.1.1"}));
        assert_eq!(cells(&p, now())[5], json!("10.1.1.1"));
    }

    #[test]
    fn crash_loop_with_restarts_and_last_restart_age() {
        let p = pod(
            two_containers(),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 1,
                 "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-01-01T11:55:00Z"}}},
                {"name": "log", "ready": false, "restartCount": 2,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                              "finishedAt": "2025-01-01T11:58:00Z"}}}]}),
        );
        assert_eq!(
            status_of(&p),
            ("1/2".into(), "CrashLoopBackOff".into(), "3 (2m ago)".into())
        );
    }

    #[test]
    fn restarts_without_finish_time_print_bare_count() {
        let p = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 4, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 137}}}]}),
        );
        assert_eq!(status_of(&p).2, "4");
    }

    #[test]
    fn image_pull_back_off() {
        let p = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Pending", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}),
        );
        assert_eq!(status_of(&p).1, "ImagePullBackOff");
    }

    #[test]
    fn completed_pod_and_row_condition() {
        let p = pod(
            json!({"containers": [{"name": "job"}]}),
            json!({"phase": "Succeeded", "containerStatuses": [
                {"name": "job", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        assert_eq!(
            status_of(&p),
            ("0/1".into(), "Completed".into(), "0".into())
        );
        let cond = row_conditions(&p).unwrap();
        assert_eq!(cond[0]["reason"], "Succeeded");
        assert_eq!(cond[0]["type"], "Completed");
    }

    #[test]
    fn completed_container_next_to_running_one_is_running_or_not_ready() {
        let status = |ready_cond: &str| {
            json!({"phase": "Running",
                   "conditions": [{"type": "Ready", "status": ready_cond}],
                   "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "log", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})
        };
        assert_eq!(
            status_of(&pod(two_containers(), status("True"))).1,
            "Running"
        );
        assert_eq!(
            status_of(&pod(two_containers(), status("False"))).1,
            "NotReady"
        );
    }

    #[test]
    fn terminated_without_reason_prints_exit_code_or_signal() {
        let with = |t: Value| {
            pod(
                json!({"containers": [{"name": "app"}]}),
                json!({"phase": "Failed", "containerStatuses": [
                    {"name": "app", "restartCount": 0, "state": {"terminated": t}}]}),
            )
        };
        assert_eq!(status_of(&with(json!({"exitCode": 2}))).1, "ExitCode:2");
        assert_eq!(
            status_of(&with(json!({"exitCode": 137, "signal": 9}))).1,
            "Signal:9"
        );
        assert!(row_conditions(&with(json!({"exitCode": 2}))).is_some());
    }

    #[test]
    fn init_progress_one_of_two() {
        let p = pod(
            json!({"initContainers": [{"name": "init-a"}, {"name": "init-b"}],
                   "containers": [{"name": "app"}]}),
            json!({"phase": "Pending",
                   "initContainerStatuses": [
                {"name": "init-a", "ready": true, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "init-b", "ready": false, "restartCount": 0,
                 "state": {"running": {}}}],
                   "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "PodInitializing"}}}]}),
        );
        assert_eq!(status_of(&p), ("0/1".into(), "Init:1/2".into(), "0".into()));
    }

    #[test]
    fn init_waiting_pod_initializing_counts_as_progress() {
        let p = pod(
            json!({"initContainers": [{"name": "init-a"}], "containers": [{"name": "app"}]}),
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init-a", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]}),
        );
        assert_eq!(status_of(&p).1, "Init:0/1");
    }

    #[test]
    fn init_crash_loop_counts_init_restarts() {
        let p = pod(
            json!({"initContainers": [{"name": "migrate"}], "containers": [{"name": "app"}]}),
            json!({"phase": "Pending",
                   "initContainerStatuses": [
                {"name": "migrate", "ready": false, "restartCount": 5,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                              "finishedAt": "2025-01-01T11:59:30Z"}}}],
                   "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "PodInitializing"}}}]}),
        );
        assert_eq!(
            status_of(&p),
            (
                "0/1".into(),
                "Init:CrashLoopBackOff".into(),
                "5 (30s ago)".into()
            )
        );
    }

    #[test]
    fn init_failed_exit_codes() {
        let with = |t: Value| {
            pod(
                json!({"initContainers": [{"name": "i"}], "containers": [{"name": "app"}]}),
                json!({"phase": "Failed", "initContainerStatuses": [
                    {"name": "i", "restartCount": 0, "state": {"terminated": t}}]}),
            )
        };
        assert_eq!(
            status_of(&with(json!({"exitCode": 3, "reason": "Error"}))).1,
            "Init:Error"
        );
        assert_eq!(
            status_of(&with(json!({"exitCode": 3}))).1,
            "Init:ExitCode:3"
        );
        assert_eq!(
            status_of(&with(json!({"exitCode": 3, "signal": 15}))).1,
            "Init:Signal:15"
        );
    }

    #[test]
    fn sidecar_counts_as_container_and_its_restarts_stay() {
        let p = pod(
            json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                   "containers": [{"name": "app"}]}),
            json!({"phase": "Running",
                   "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                   "initContainerStatuses": [
                {"name": "proxy", "ready": true, "started": true, "restartCount": 2,
                 "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-01-01T11:00:00Z"}}}],
                   "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 1, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-01-01T11:30:00Z"}}}]}),
        );
        assert_eq!(
            status_of(&p),
            ("2/2".into(), "Running".into(), "3 (30m ago)".into())
        );
    }

    #[test]
    fn terminating_pod() {
        let mut p = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
        );
        p["metadata"]["deletionTimestamp"] = json!("2025-01-01T11:59:00Z");
        assert_eq!(
            status_of(&p),
            ("1/1".into(), "Terminating".into(), "0".into())
        );
    }

    #[test]
    fn finished_pod_being_deleted_keeps_its_status() {
        let mut p = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Succeeded", "containerStatuses": [
                {"name": "app", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        p["metadata"]["deletionTimestamp"] = json!("2025-01-01T11:59:00Z");
        assert_eq!(status_of(&p).1, "Completed");
    }

    #[test]
    fn evicted_reason_from_status() {
        let p = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Failed", "reason": "Evicted",
                   "message": "The node was low on resource: memory.",
                   "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown"}}}]}),
        );
        // Upstream lets the container's terminated reason win over status.reason.
        assert_eq!(status_of(&p).1, "ContainerStatusUnknown");
        let bare = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Failed", "reason": "Evicted"}),
        );
        assert_eq!(status_of(&bare).1, "Evicted");
    }

    #[test]
    fn node_lost_pod() {
        let mut p = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Running", "reason": "NodeLost"}),
        );
        assert_eq!(status_of(&p).1, "NodeLost");
        p["metadata"]["deletionTimestamp"] = json!("2025-01-01T11:59:00Z");
        assert_eq!(status_of(&p).1, "Unknown");
    }

    #[test]
    fn odd_and_empty_objects_do_not_panic() {
        for v in [
            json!(null),
            json!({}),
            json!({"status": "weird", "spec": []}),
            json!({"status": {"initContainerStatuses": [null, 3, {"state": null}]}}),
        ] {
            let c = cells(&v, now());
            assert_eq!(c.len(), COLUMNS.len());
            assert_eq!(c[4], json!("<unknown>"));
        }
    }
}
