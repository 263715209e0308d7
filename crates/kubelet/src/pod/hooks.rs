//! Lifecycle hooks (postStart, preStop): exec through CRI ExecSync, httpGet
//! to the pod (any HTTP answer is success), sleep. Failures come back with
//! the kubelet's message text (handlers.go); the events only say
//! "PostStartHook failed" / "PreStopHook failed", as upstream does so that
//! hook output (possibly secrets) does not land in events.

use super::runtime::Runtime;
use berth_cri::api;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};
use std::time::Duration;

/// The kubelet's `format.Pod`: `name_namespace(uid)`.
pub fn pod_ref(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.uid.as_deref().unwrap_or("")
    )
}

/// Go's `%v` of a []string: `[a b c]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// Run one hook of container `c` (instance `container_id`). `timeout` bounds
/// the whole run (preStop: the grace period). Err carries the kubelet's message.
pub async fn run(
    rt: &dyn Runtime,
    pod: &Pod,
    c: &Container,
    container_id: &str,
    handler: &LifecycleHandler,
    pod_ip: &str,
    timeout: Duration,
) -> Result<(), String> {
    if let Some(exec) = &handler.exec {
        let cmd = exec.command.clone().unwrap_or_default();
        let res = tokio::time::timeout(
            timeout,
            rt.exec_sync(api::ExecSyncRequest {
                container_id: container_id.to_string(),
                cmd: cmd.clone(),
                timeout: timeout.as_secs() as i64,
            }),
        )
        .await;
        let (err, output) = match res {
            Err(_) => (
                format!("command '{}' timed out", cmd.join(" ")),
                String::new(),
            ),
            Ok(Err(e)) => (e.message().to_string(), String::new()),
            Ok(Ok(r)) if r.exit_code != 0 => {
                let mut out = r.stdout.clone();
                out.extend_from_slice(&r.stderr);
                (
                    format!(
                        "command '{}' exited with {}: {}",
                        cmd.join(" "),
                        r.exit_code,
                        String::from_utf8_lossy(&r.stderr)
                    ),
                    String::from_utf8_lossy(&out).into_owned(),
                )
            }
            Ok(Ok(_)) => return Ok(()),
        };
        return Err(format!(
            "Exec lifecycle hook ({}) for Container {:?} in Pod {:?} failed - error: {err}, message: {output:?}",
            go_list(&cmd),
            c.name,
            pod_ref(pod)
        ));
    }
    if let Some(action) = &handler.http_get {
        let target = berth_probes::Target {
            pod_ip: pod_ip.to_string(),
            container_id: container_id.to_string(),
            container: c.clone(),
        };
        let missing_ip = pod_ip.is_empty() && action.host.as_deref().unwrap_or("").is_empty();
        let res = if missing_ip {
            Err("failed to find networking container".to_string())
        } else {
            berth_probes::lifecycle_http_get(action, &target, timeout).await
        };
        return res.map_err(|err| {
            format!(
                "HTTP lifecycle hook ({}) for Container {:?} in Pod {:?} failed - error: {err}",
                action.path.as_deref().unwrap_or(""),
                c.name,
                pod_ref(pod)
            )
        });
    }
    if let Some(sleep) = &handler.sleep {
        let secs = sleep.seconds.max(0) as u64;
        tokio::time::sleep(Duration::from_secs(secs).min(timeout)).await;
        return Ok(());
    }
    Err(format!(
        "Cannot run handler: invalid handler: {}",
        serde_json::to_string(handler).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{container, fake_runtime, sandbox};
    use k8s_openapi::api::core::v1::{ExecAction, HTTPGetAction, SleepAction};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        }))
        .unwrap_or_default()
    }

    #[tokio::test]
    async fn exec_hook_failure_has_the_kubelets_message() {
        let rt = fake_runtime();
        let sb = sandbox(&rt, "ns", "p", "u1", 0).await;
        let id = container(&rt, &sb, "u1", "c", 0, true).await;
        rt.on_exec("sh -c exit 3", "out", "bad", 3);
        let c = Container {
            name: "c".into(),
            ..Default::default()
        };
        let handler = |cmd: &[&str]| LifecycleHandler {
            exec: Some(ExecAction {
                command: Some(cmd.iter().map(|s| s.to_string()).collect()),
            }),
            ..Default::default()
        };
        let t = Duration::from_secs(5);
        let ok = run(&rt, &pod(), &c, &id, &handler(&["true"]), "", t).await;
        assert_eq!(ok, Ok(()));
        let err = run(
            &rt,
            &pod(),
            &c,
            &id,
            &handler(&["sh", "-c", "exit 3"]),
            "",
            t,
        )
        .await;
        assert_eq!(
            err,
            Err(
                "Exec lifecycle hook ([sh -c exit 3]) for Container \"c\" in Pod \"p_ns(u1)\" \
                 failed - error: command 'sh -c exit 3' exited with 3: bad, message: \"outbad\""
                    .into()
            )
        );
    }

    #[tokio::test]
    async fn http_hook_failure_names_the_path_and_sleep_waits() {
        let rt = fake_runtime();
        let c = Container {
            name: "web".into(),
            ..Default::default()
        };
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let handler = LifecycleHandler {
            http_get: Some(HTTPGetAction {
                path: Some("/start".into()),
                port: IntOrString::Int(port.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = run(
            &rt,
            &pod(),
            &c,
            "id",
            &handler,
            "127.0.0.1",
            Duration::from_secs(2),
        )
        .await
        .err()
        .unwrap_or_default();
        assert!(
            err.starts_with(
                "HTTP lifecycle hook (/start) for Container \"web\" in Pod \"p_ns(u1)\" failed - error: Get \"http://127.0.0.1:"
            ),
            "{err}"
        );
        let sleep = LifecycleHandler {
            sleep: Some(SleepAction { seconds: 1 }),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let ok = run(&rt, &pod(), &c, "id", &sleep, "", Duration::from_secs(5)).await;
        assert_eq!(ok, Ok(()));
        assert!(started.elapsed() >= Duration::from_millis(950));
    }
}
