//! exec probes: run a command in the container through the runtime; exit code 0 is healthy.

use crate::expansion::expand_command;
use crate::outcome::Outcome;
use crate::target::Target;
use async_trait::async_trait;
use k8s_openapi::api::core::v1::ExecAction;
use std::time::Duration;

/// kubelet keeps at most 10 KiB of an exec probe's combined output.
pub const MAX_EXEC_OUTPUT: usize = 10 * 1024;

/// Runs a command inside a running container and waits for it (kubelet uses CRI ExecSync).
#[async_trait]
pub trait ExecRunner: Send + Sync {
    /// Returns the exit code and the combined stdout+stderr. `timeout` is the probe's timeout,
    /// to pass on to the runtime; the prober enforces it as well, and an `Err` that arrives once
    /// `timeout` has passed counts as a timeout. Any earlier `Err` means the command could not be
    /// run at all (the probe result is then unknown, not failed).
    async fn exec(
        &self,
        container_id: &str,
        cmd: Vec<String>,
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>), String>;
}

pub(crate) async fn probe_exec(
    action: &ExecAction,
    target: &Target,
    runner: &dyn ExecRunner,
    timeout: Duration,
) -> Outcome {
    let command = action.command.as_deref().unwrap_or_default();
    let env = target.container.env.as_deref().unwrap_or_default();
    let command = expand_command(command, env);
    let joined = command.join(" ");
    let started = tokio::time::Instant::now();
    let run = runner.exec(&target.container_id, command, timeout);
    let timed_out = || Outcome::Failure(format!("command {joined:?} timed out"));
    match tokio::time::timeout(timeout, run).await {
        Err(_) => timed_out(),
        // The runtime gave up on its own deadline (kubelet maps CRI's DeadlineExceeded the same way).
        Ok(Err(_)) if started.elapsed() >= timeout => timed_out(),
        Ok(Err(err)) => Outcome::Unknown(err),
        Ok(Ok((0, _))) => Outcome::Success,
        Ok(Ok((_, mut output))) => {
            output.truncate(MAX_EXEC_OUTPUT);
            Outcome::Failure(String::from_utf8_lossy(&output).into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe_once::probe_once;
    use crate::test_support::{local_target, FakeExec, Reply};
    use k8s_openapi::api::core::v1::{EnvVar, Probe};

    fn probe(command: &[&str]) -> Probe {
        Probe {
            exec: Some(ExecAction {
                command: Some(command.iter().map(|s| s.to_string()).collect()),
            }),
            timeout_seconds: Some(2),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn exit_zero_is_success_and_nonzero_fails_with_output() {
        let exec = FakeExec::new();
        exec.script("ok", vec![Reply::Exit(0, "fine")]);
        exec.script(
            "bad",
            vec![Reply::Exit(2, "cat: /tmp/healthy: No such file\n")],
        );
        let target = local_target(80);
        assert_eq!(
            probe_once(&probe(&["ok"]), &target, &*exec).await,
            Outcome::Success
        );
        assert_eq!(
            probe_once(&probe(&["bad"]), &target, &*exec).await,
            Outcome::Failure("cat: /tmp/healthy: No such file\n".into())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn output_is_cut_at_10_kib() {
        let exec = FakeExec::new();
        let long: &'static str = Box::leak("y".repeat(MAX_EXEC_OUTPUT + 500).into_boxed_str());
        exec.script("noisy", vec![Reply::Exit(1, long)]);
        match probe_once(&probe(&["noisy"]), &local_target(80), &*exec).await {
            Outcome::Failure(output) => assert_eq!(output.len(), MAX_EXEC_OUTPUT),
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_fails_with_kubelets_message() {
        let exec = FakeExec::new();
        exec.script("sh", vec![Reply::Hang]);
        let start = tokio::time::Instant::now();
        let outcome = probe_once(&probe(&["sh", "-c", "sleep 5"]), &local_target(80), &*exec).await;
        assert_eq!(
            outcome,
            Outcome::Failure(r#"command "sh -c sleep 5" timed out"#.into())
        );
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn runtime_deadline_errors_count_as_timeouts() {
        struct DeadlineRuntime;
        #[async_trait]
        impl ExecRunner for DeadlineRuntime {
            async fn exec(
                &self,
                _: &str,
                _: Vec<String>,
                timeout: Duration,
            ) -> Result<(i32, Vec<u8>), String> {
                tokio::time::sleep(timeout).await;
                Err("rpc error: code = DeadlineExceeded".into())
            }
        }
        let outcome = probe_once(&probe(&["true"]), &local_target(80), &DeadlineRuntime).await;
        assert_eq!(
            outcome,
            Outcome::Failure(r#"command "true" timed out"#.into())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn runtime_errors_are_unknown_after_three_attempts() {
        let exec = FakeExec::new();
        exec.script("x", vec![Reply::Error("container not running")]);
        let outcome = probe_once(&probe(&["x"]), &local_target(80), &*exec).await;
        assert_eq!(outcome, Outcome::Unknown("container not running".into()));
        assert_eq!(exec.calls().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn command_is_expanded_with_container_env() {
        let exec = FakeExec::new();
        exec.script("check", vec![Reply::Exit(0, "")]);
        let mut target = local_target(80);
        target.container.env = Some(vec![EnvVar {
            name: "PORT".into(),
            value: Some("8080".into()),
            ..Default::default()
        }]);
        probe_once(&probe(&["check", "--port=$(PORT)"]), &target, &*exec).await;
        assert_eq!(
            exec.calls(),
            vec![vec!["check".to_string(), "--port=8080".to_string()]]
        );
    }
}
