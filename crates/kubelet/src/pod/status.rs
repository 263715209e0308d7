//! PodStatus from what the runtime reports: phase, conditions,
//! containerStatuses (state, lastState, ready, started, restartCount, ids),
//! pod IP, host IP, start time, QoS class — as the kubelet computes them.

use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Created,
    Running,
    Exited,
    Unknown,
}

/// One container instance as the runtime reports it.
#[derive(Clone, Debug)]
pub struct Instance {
    pub id: String,
    pub attempt: u32,
    pub state: RunState,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Finish time as the runtime reports it (ns since the epoch; 0 = not finished).
    pub finished_at_ns: i64,
    pub image: String,
    pub image_ref: String,
}

/// Everything the status is computed from.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub sandbox_ready: bool,
    pub pod_ip: Option<String>,
    /// Per container name, newest attempt first.
    pub instances: HashMap<String, Vec<Instance>>,
    /// Why a container is not running yet (ContainerCreating, ErrImagePull, CrashLoopBackOff, …).
    pub waiting: HashMap<String, (String, String)>,
    /// Readiness probe results; containers without a readiness probe are ready when running.
    pub ready: HashMap<String, bool>,
    /// Startup probe results; containers without one are started when running.
    pub started: HashMap<String, bool>,
    pub start_time: Option<String>,
    /// The pod has init containers (waiting containers then show PodInitializing).
    pub has_init_containers: bool,
    /// The conditions this kubelet last posted (the status manager's cache):
    /// transition times come from them rather than from a pod copy that may
    /// predate that post.
    pub last_posted_conditions: Option<Value>,
}

fn container_state(inst: &Instance) -> Value {
    match inst.state {
        RunState::Running => json!({"running": {"startedAt": inst.started_at}}),
        RunState::Exited => {
            let mut t = json!({
                "exitCode": inst.exit_code,
                "reason": if inst.reason.is_empty() { if inst.exit_code == 0 { "Completed" } else { "Error" } } else { inst.reason.as_str() },
                "startedAt": inst.started_at,
                "finishedAt": inst.finished_at,
                "containerID": format!("containerd://{}", inst.id),
            });
            if !inst.message.is_empty() {
                t["message"] = json!(inst.message);
            }
            json!({"terminated": t})
        }
        RunState::Created | RunState::Unknown => {
            json!({"waiting": {"reason": "ContainerCreating"}})
        }
    }
}

fn status_of(c: &Container, obs: &Observed, is_init: bool) -> Value {
    let instances = obs
        .instances
        .get(&c.name)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let latest = instances.first();
    let previous = instances.get(1);
    let restart_count = latest.map(|i| i.attempt).unwrap_or(0);
    let waiting = obs.waiting.get(&c.name);
    // A back-off or pull error shows as waiting even though an old instance exists.
    let state = match (waiting, latest) {
        (Some((reason, message)), Some(l)) if l.state != RunState::Running => {
            let mut w = json!({"reason": reason});
            if !message.is_empty() {
                w["message"] = json!(message);
            }
            json!({"waiting": w})
        }
        (_, Some(l)) => container_state(l),
        (Some((reason, message)), None) => {
            let mut w = json!({"reason": reason});
            if !message.is_empty() {
                w["message"] = json!(message);
            }
            json!({"waiting": w})
        }
        (None, None) => {
            // Behind init containers every container is PodInitializing (convertToAPIContainerStatuses).
            json!({"waiting": {"reason": if is_init || obs.has_init_containers { "PodInitializing" } else { "ContainerCreating" }}})
        }
    };
    let last_state = match (waiting, latest, previous) {
        // In back-off the latest instance is the one that last terminated.
        (Some(_), Some(l), _) if l.state == RunState::Exited => container_state(l),
        (_, _, Some(p)) => container_state(p),
        _ => json!({}),
    };
    let running = latest.is_some_and(|l| l.state == RunState::Running) && waiting.is_none();
    let started = running && obs.started.get(&c.name).copied().unwrap_or(true);
    let ready = running
        && started
        && obs
            .ready
            .get(&c.name)
            .copied()
            .unwrap_or(c.readiness_probe.is_none());
    let mut s = json!({
        "name": c.name,
        "state": state,
        "lastState": last_state,
        "ready": if is_init { latest.is_some_and(|l| l.state == RunState::Exited && l.exit_code == 0) } else { ready },
        "restartCount": restart_count,
        "image": c.image.clone().unwrap_or_default(),
        "imageID": latest.map(|l| l.image_ref.clone()).unwrap_or_default(),
    });
    if !is_init {
        s["started"] = json!(started);
    }
    if let Some(l) = latest {
        s["containerID"] = json!(format!("containerd://{}", l.id));
    }
    s
}

fn exited_ok(obs: &Observed, name: &str) -> bool {
    obs.instances
        .get(name)
        .and_then(|v| v.first())
        .is_some_and(|i| i.state == RunState::Exited && i.exit_code == 0)
}

fn exited(obs: &Observed, name: &str) -> Option<i32> {
    obs.instances
        .get(name)
        .and_then(|v| v.first())
        .filter(|i| i.state == RunState::Exited)
        .map(|i| i.exit_code)
}

/// The phase, by the kubelet's rules (getPhase): init containers first;
/// then any waiting container means Pending, any running one Running; when
/// all have stopped, the restart policy decides.
pub fn phase(pod: &Pod, obs: &Observed) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else {
        return "Pending";
    };
    let restart = spec.restart_policy.as_deref().unwrap_or("Always");
    for c in spec.init_containers.as_deref().unwrap_or_default() {
        if !exited_ok(obs, &c.name) {
            return if exited(obs, &c.name).is_some() && restart == "Never" {
                "Failed"
            } else {
                "Pending"
            };
        }
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in &spec.containers {
        match obs.instances.get(&c.name).and_then(|v| v.first()) {
            Some(i) if i.state == RunState::Running => running += 1,
            Some(i) if i.state == RunState::Exited => {
                stopped += 1;
                if i.exit_code == 0 {
                    succeeded += 1;
                }
            }
            _ => waiting += 1,
        }
    }
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        match restart {
            "Always" => "Running",
            _ if stopped == succeeded => "Succeeded",
            "OnFailure" => "Running",
            _ => "Failed",
        }
    } else {
        "Pending"
    }
}

fn condition(type_: &str, ok: bool, reason: Option<&str>, previous: &Value, now: &str) -> Value {
    let status = if ok { "True" } else { "False" };
    let since = previous
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c["type"] == type_ && c["status"] == status)
        })
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now)
        .to_string();
    let mut c = json!({"type": type_, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
    if let Some(r) = reason.filter(|_| !ok) {
        c["reason"] = json!(r);
    }
    c
}

/// The whole status the kubelet posts.
pub fn pod_status(pod: &Pod, obs: &Observed, host_ip: &str, qos_class: &str, now: &str) -> Value {
    let empty = Vec::new();
    let spec = pod.spec.as_ref();
    let containers = spec.map(|s| &s.containers).unwrap_or(&empty);
    let inits = spec
        .and_then(|s| s.init_containers.as_ref())
        .unwrap_or(&empty);
    let previous = match &obs.last_posted_conditions {
        Some(conditions) => conditions.clone(),
        None => pod
            .status
            .as_ref()
            .and_then(|s| serde_json::to_value(&s.conditions).ok())
            .unwrap_or(Value::Null),
    };
    let phase = phase(pod, obs);
    let initialized = inits.iter().all(|c| exited_ok(obs, &c.name));
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| status_of(c, obs, false))
        .collect();
    let all_ready = !statuses.is_empty() && statuses.iter().all(|s| s["ready"] == true);
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let scheduled = previous
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == "PodScheduled").cloned())
        .unwrap_or_else(|| condition("PodScheduled", true, None, &previous, now));
    let conditions = vec![
        condition(
            "PodReadyToStartContainers",
            obs.sandbox_ready,
            None,
            &previous,
            now,
        ),
        condition(
            "Initialized",
            initialized,
            Some("ContainersNotInitialized"),
            &previous,
            now,
        ),
        condition(
            "Ready",
            all_ready && !terminal,
            Some(if terminal {
                "PodCompleted"
            } else {
                "ContainersNotReady"
            }),
            &previous,
            now,
        ),
        condition(
            "ContainersReady",
            all_ready && !terminal,
            Some(if terminal {
                "PodCompleted"
            } else {
                "ContainersNotReady"
            }),
            &previous,
            now,
        ),
        scheduled,
    ];
    let mut status = json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "qosClass": qos_class,
        "containerStatuses": statuses,
    });
    if !inits.is_empty() {
        status["initContainerStatuses"] = json!(inits
            .iter()
            .map(|c| status_of(c, obs, true))
            .collect::<Vec<_>>());
    }
    if let Some(ip) = &obs.pod_ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    if let Some(t) = &obs.start_time {
        status["startTime"] = json!(t);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(restart: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"restartPolicy": restart, "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]},
        }))
        .unwrap_or_default()
    }

    fn inst(state: RunState, code: i32, attempt: u32) -> Instance {
        Instance {
            id: format!("id{attempt}"),
            attempt,
            state,
            exit_code: code,
            reason: String::new(),
            message: String::new(),
            started_at: Some("2026-11-23T00:00:00Z".into()),
            finished_at: None,
            finished_at_ns: 0,
            image: "x".into(),
            image_ref: "sha256:1".into(),
        }
    }

    fn observed(a: Option<Instance>, b: Option<Instance>) -> Observed {
        let mut o = Observed {
            sandbox_ready: true,
            pod_ip: Some("10.42.0.5".into()),
            ..Default::default()
        };
        if let Some(a) = a {
            o.instances.insert("a".into(), vec![a]);
        }
        if let Some(b) = b {
            o.instances.insert("b".into(), vec![b]);
        }
        o
    }

    #[test]
    fn phases_follow_the_restart_policy() {
        let both_ok = observed(
            Some(inst(RunState::Exited, 0, 0)),
            Some(inst(RunState::Exited, 0, 0)),
        );
        let one_failed = observed(
            Some(inst(RunState::Exited, 0, 0)),
            Some(inst(RunState::Exited, 1, 0)),
        );
        assert_eq!(phase(&pod("Never"), &both_ok), "Succeeded");
        assert_eq!(phase(&pod("OnFailure"), &both_ok), "Succeeded");
        assert_eq!(phase(&pod("Always"), &both_ok), "Running");
        assert_eq!(phase(&pod("Never"), &one_failed), "Failed");
        assert_eq!(phase(&pod("OnFailure"), &one_failed), "Running");
        assert_eq!(
            phase(
                &pod("Always"),
                &observed(Some(inst(RunState::Running, 0, 0)), None)
            ),
            "Pending"
        );
        assert_eq!(
            phase(
                &pod("Always"),
                &observed(
                    Some(inst(RunState::Running, 0, 0)),
                    Some(inst(RunState::Exited, 2, 3))
                )
            ),
            "Running"
        );
    }

    #[test]
    fn crash_loop_shows_waiting_with_last_state_and_restarts() {
        let mut o = observed(
            Some(inst(RunState::Running, 0, 0)),
            Some(inst(RunState::Exited, 1, 3)),
        );
        o.waiting.insert(
            "b".into(),
            (
                "CrashLoopBackOff".into(),
                "back-off 40s restarting failed container=b".into(),
            ),
        );
        let s = pod_status(
            &pod("Always"),
            &o,
            "192.0.2.2",
            "BestEffort",
            "2026-11-23T00:00:10Z",
        );
        let b = &s["containerStatuses"][1];
        assert_eq!(b["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(b["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(b["restartCount"], 3);
        assert_eq!(b["ready"], false);
        assert_eq!(s["containerStatuses"][0]["ready"], true);
        assert_eq!(s["podIP"], "10.42.0.5");
        let ready = s["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready").cloned())
            .unwrap_or_default();
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "ContainersNotReady");
    }

    #[test]
    fn readiness_probe_result_gates_ready() {
        let mut p = pod("Always");
        if let Some(spec) = p.spec.as_mut() {
            spec.containers.truncate(1);
            spec.containers[0].readiness_probe = Some(Default::default());
        }
        let mut o = observed(Some(inst(RunState::Running, 0, 0)), None);
        let s = pod_status(&p, &o, "h", "BestEffort", "t");
        assert_eq!(s["containerStatuses"][0]["ready"], false);
        o.ready.insert("a".into(), true);
        let s = pod_status(&p, &o, "h", "BestEffort", "t");
        assert_eq!(s["containerStatuses"][0]["ready"], true);
        assert_eq!(s["phase"], "Running");
    }
}
