//! Termination messages: each container instance gets its own host file
//! bind-mounted at `terminationMessagePath`; once the instance exited, its
//! content (at most 4096 bytes, the end of the file) becomes
//! `state.terminated.message`. With `FallbackToLogsOnError` a failed
//! container that wrote nothing there gets the tail of its log instead
//! (the last 80 lines, at most 2048 bytes).

use crate::server::logs::{tail, take_lines, Formatter, LogOptions};
use berth_cri::api;
use berth_podspec::labels::{
    CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION, CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION,
};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// kubecontainer.MaxContainerTerminationMessageLength.
pub const MAX_MESSAGE_BYTES: u64 = 4096;
/// Log fallback: this many lines …
pub const MAX_LOG_LINES: usize = 80;
/// … and at most this many bytes of them.
pub const MAX_LOG_BYTES: usize = 2048;

/// A fresh, empty host file for one container instance:
/// `<pods>/<uid>/containers/<name>/<unique>`.
pub fn new_message_file(
    pods_dir: &Path,
    pod_uid: &str,
    container: &str,
) -> std::io::Result<PathBuf> {
    let dir = pods_dir.join(pod_uid).join("containers").join(container);
    std::fs::create_dir_all(&dir)?;
    let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let file = dir.join(format!("{stamp:016x}"));
    std::fs::write(&file, b"")?;
    Ok(file)
}

/// The end of a file, at most `max` bytes.
fn read_at_most(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len > max {
        f.seek(SeekFrom::Start(len - max))?;
    }
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The last lines of a CRI log file as plain text.
pub fn log_tail(path: &Path, lines: usize, max_bytes: usize) -> String {
    let Ok(mut raw) = std::fs::read(path) else {
        return String::new();
    };
    if !raw.ends_with(b"\n") {
        raw.push(b'\n');
    }
    let all = take_lines(&mut raw);
    let opts = LogOptions {
        limit_bytes: Some(max_bytes),
        ..Default::default()
    };
    let mut fmt = Formatter::new(&opts);
    let mut out = Vec::new();
    for l in tail(&all, lines) {
        fmt.push(l, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The termination message of an exited container, as the kubelet puts it
/// after the runtime's own message (joined with ": ").
pub fn message(status: &api::ContainerStatus) -> String {
    let path = status
        .annotations
        .get(CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    let policy = status
        .annotations
        .get(CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION)
        .map(String::as_str)
        .unwrap_or("File");
    // A container that could not even start has no logs to fall back to.
    let fallback = policy == "FallbackToLogsOnError"
        && status.exit_code != 0
        && status.reason != "ContainerCannotRun";
    let (text, check_logs) = from_file(status, &path, fallback);
    let text = if check_logs {
        log_tail(Path::new(&status.log_path), MAX_LOG_LINES, MAX_LOG_BYTES)
    } else {
        text
    };
    match (status.message.is_empty(), text.is_empty()) {
        (_, true) => status.message.clone(),
        (true, false) => text,
        (false, false) => format!("{}: {text}", status.message),
    }
}

/// (message from the mounted file, whether to look at the logs instead).
fn from_file(status: &api::ContainerStatus, path: &str, fallback: bool) -> (String, bool) {
    if path.is_empty() {
        return (String::new(), fallback);
    }
    let Some(mount) = status.mounts.iter().find(|m| m.container_path == path) else {
        return (String::new(), fallback);
    };
    match read_at_most(Path::new(&mount.host_path), MAX_MESSAGE_BYTES) {
        Ok(data) => {
            let empty = data.is_empty();
            (
                String::from_utf8_lossy(&data).into_owned(),
                fallback && empty,
            )
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), fallback),
        Err(e) => (
            format!("Error on reading termination log {}: {e}", mount.host_path),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(
        dir: &Path,
        policy: &str,
        exit: i32,
        file_text: &str,
        log: &str,
    ) -> api::ContainerStatus {
        let file = dir.join("msg");
        let _ = std::fs::write(&file, file_text);
        let log_path = dir.join("0.log");
        let _ = std::fs::write(&log_path, log);
        api::ContainerStatus {
            exit_code: exit,
            log_path: log_path.display().to_string(),
            annotations: [
                (
                    CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION.to_string(),
                    "/dev/termination-log".to_string(),
                ),
                (
                    CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION.to_string(),
                    policy.to_string(),
                ),
            ]
            .into(),
            mounts: vec![api::Mount {
                container_path: "/dev/termination-log".into(),
                host_path: file.display().to_string(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn cri_log(lines: usize) -> String {
        (0..lines)
            .map(|i| format!("2026-01-01T00:00:00.000000000Z stdout F line {i}\n"))
            .collect()
    }

    #[test]
    fn the_file_wins_and_the_log_is_only_a_fallback_on_error() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let d = dir.path();
        assert_eq!(
            message(&status(d, "File", 1, "bye\n", &cri_log(3))),
            "bye\n"
        );
        assert_eq!(message(&status(d, "File", 1, "", &cri_log(3))), "");
        assert_eq!(
            message(&status(d, "FallbackToLogsOnError", 0, "", &cri_log(3))),
            "",
            "success never falls back"
        );
        assert_eq!(
            message(&status(d, "FallbackToLogsOnError", 2, "", &cri_log(3))),
            "line 0\nline 1\nline 2\n"
        );
        assert_eq!(
            message(&status(
                d,
                "FallbackToLogsOnError",
                2,
                "from file",
                &cri_log(3)
            )),
            "from file"
        );
        // The last 80 lines, at most 2048 bytes of them.
        let tail = message(&status(d, "FallbackToLogsOnError", 2, "", &cri_log(200)));
        assert!(tail.starts_with("line 120\n"), "{tail}");
        assert!(tail.len() <= MAX_LOG_BYTES);
        // The runtime's own message comes first.
        let mut st = status(d, "File", 137, "oom", "");
        st.message = "killed".into();
        assert_eq!(message(&st), "killed: oom");
    }

    #[test]
    fn long_files_keep_their_last_4096_bytes() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let text = format!("{}END", "x".repeat(5000));
        let m = message(&status(dir.path(), "File", 0, &text, ""));
        assert_eq!(m.len(), 4096);
        assert!(m.ends_with("END"));
        let f = new_message_file(dir.path(), "uid", "c");
        assert!(f.is_ok_and(|f| f.starts_with(dir.path().join("uid/containers/c")) && f.exists()));
    }
}
