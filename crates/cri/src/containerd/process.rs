//! containerd as a child process of berth.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::config::{ContainerdConfig, SHARED_DEFAULT_SOCKET};
use crate::api::{VersionRequest, VersionResponse};
use crate::client::{CriClient, CriClientOptions};
use crate::error::CriError;
use crate::runtime::RuntimeService;

/// How long `start` waits for CRI to answer; a cold containerd on a busy 2-core VM takes ~1 s.
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Time between readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// How often `start` logs that it is still waiting.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);
/// Grace period between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Log lines quoted in errors.
const LOG_TAIL_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ContainerdError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("containerd config: {0}")]
    Config(String),
    #[error("refusing socket {0}: it is the machine's shared containerd socket (docker's containerd may own it)")]
    SharedSocket(PathBuf),
    #[error("another containerd already answers on {0}")]
    SocketInUse(PathBuf),
    #[error("cannot run {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("containerd exited ({status}) before CRI answered; last lines of {}:\n{tail}", log.display())]
    Exited {
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("containerd did not answer CRI on {} within {after:?} (last error: {last_error}); last lines of {}:\n{tail}", socket.display(), log.display())]
    NotReady {
        socket: PathBuf,
        after: Duration,
        last_error: String,
        log: PathBuf,
        tail: String,
    },
}

/// A running containerd owned by berth. Dropping it stops containerd (SIGTERM, then SIGKILL)
/// unless [`Containerd::detach`] was called, so a panicking owner does not leave it behind.
/// Containers keep running in their shims either way: stop pods before stopping containerd.
pub struct Containerd {
    config: ContainerdConfig,
    child: Option<Child>,
    client: CriClient,
    version: VersionResponse,
    log_offset: u64,
}

impl std::fmt::Debug for Containerd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Containerd")
            .field("socket", &self.config.socket)
            .field("pid", &self.pid())
            .field("version", &self.version.runtime_version)
            .finish()
    }
}

impl Containerd {
    /// Writes the config, starts `containerd --config <data_dir>/config.toml` with its log in
    /// `<data_dir>/containerd.log`, and returns once CRI `Version` answers.
    pub async fn start(config: ContainerdConfig) -> Result<Containerd, ContainerdError> {
        Self::start_with(config, Path::new("containerd"), DEFAULT_START_TIMEOUT).await
    }

    /// Reuse the containerd an earlier run left answering on this config's
    /// socket — an agent that crashed or was killed leaves it, and its
    /// containers, running; the restarted agent adopts them — or start one.
    /// An adopted containerd is not ours to stop (`pid()` is `None`).
    pub async fn adopt_or_start(config: ContainerdConfig) -> Result<Containerd, ContainerdError> {
        refuse_shared_socket(&config)?;
        if config.socket.exists() {
            let endpoint = config.socket.display().to_string();
            let quick = CriClientOptions {
                connect_timeout: Duration::from_secs(1),
                request_timeout: Duration::from_secs(2),
                pull_timeout: None,
            };
            if let Ok((client, version)) = probe(&endpoint, quick).await {
                tracing::info!(
                    socket = %config.socket.display(),
                    "adopting the containerd already running for this data dir"
                );
                let log_offset = std::fs::metadata(config.log_path())
                    .map(|m| m.len())
                    .unwrap_or(0);
                return Ok(Containerd {
                    child: None,
                    config,
                    client: client.with_options(CriClientOptions::default()),
                    version,
                    log_offset,
                });
            }
        }
        Self::start(config).await
    }

    /// [`Containerd::start`] with a chosen binary and readiness timeout.
    pub async fn start_with(
        config: ContainerdConfig,
        binary: &Path,
        timeout: Duration,
    ) -> Result<Containerd, ContainerdError> {
        refuse_shared_socket(&config)?;
        clear_stale_socket(&config.socket).await?;
        let config_path = config.write()?;

        let log_path = config.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| ContainerdError::Io {
                what: format!("open {}", log_path.display()),
                source,
            })?;
        // Errors quote only this run's part of the log.
        let log_offset = log.metadata().map(|m| m.len()).unwrap_or(0);
        let log_err = log.try_clone().map_err(|source| ContainerdError::Io {
            what: format!("open {}", log_path.display()),
            source,
        })?;

        tracing::info!(
            socket = %config.socket.display(),
            config = %config_path.display(),
            log = %log_path.display(),
            "starting containerd"
        );
        let child = Command::new(binary)
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(|source| ContainerdError::Spawn {
                binary: binary.to_path_buf(),
                source,
            })?;
        tracing::debug!(pid = child.id(), "containerd spawned");

        let mut starting = Starting {
            config,
            child: Some(child),
            log_offset,
        };
        match starting.wait_ready(timeout).await {
            Ok((client, version)) => {
                tracing::info!(
                    runtime = %version.runtime_name,
                    version = %version.runtime_version,
                    api = %version.runtime_api_version,
                    "containerd answers CRI"
                );
                Ok(Containerd {
                    child: starting.child.take(),
                    config: starting.config.clone(),
                    client,
                    version,
                    log_offset,
                })
            }
            // `starting` is dropped here, which kills the child.
            Err(err) => Err(err),
        }
    }

    /// A CRI client connected to this containerd.
    pub fn client(&self) -> &CriClient {
        &self.client
    }

    /// What CRI `Version` answered at start.
    pub fn version(&self) -> &VersionResponse {
        &self.version
    }

    pub fn config(&self) -> &ContainerdConfig {
        &self.config
    }

    pub fn socket(&self) -> &Path {
        &self.config.socket
    }

    pub fn log_path(&self) -> PathBuf {
        self.config.log_path()
    }

    /// `None` once detached.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last `lines` lines containerd logged since this start.
    pub fn log_tail(&self, lines: usize) -> String {
        read_log_tail(&self.config.log_path(), self.log_offset, lines)
    }

    /// Stops containerd: SIGTERM, then SIGKILL after a grace period. Returns how it exited.
    pub async fn stop(mut self) -> Result<ExitStatus, ContainerdError> {
        let Some(mut child) = self.child.take() else {
            return Err(ContainerdError::Config(
                "containerd was detached; it is no longer ours to stop".into(),
            ));
        };
        tracing::info!(pid = child.id(), "stopping containerd");
        send_sigterm(&child);
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Ok(None) => break,
                Err(source) => {
                    return Err(ContainerdError::Io {
                        what: "wait for containerd".into(),
                        source,
                    })
                }
            }
        }
        tracing::warn!(pid = child.id(), "containerd ignored SIGTERM; killing it");
        kill_and_reap(&mut child).map_err(|source| ContainerdError::Io {
            what: "kill containerd".into(),
            source,
        })
    }

    /// Leaves containerd running after this value is dropped (e.g. across node-agent restarts).
    /// Returns its pid.
    pub fn detach(mut self) -> Option<u32> {
        self.child.take().map(|child| child.id())
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            terminate_blocking(child);
        }
    }
}

/// A containerd that has been spawned but not yet answered; killed if dropped.
struct Starting {
    config: ContainerdConfig,
    child: Option<Child>,
    log_offset: u64,
}

impl Starting {
    async fn wait_ready(
        &mut self,
        timeout: Duration,
    ) -> Result<(CriClient, VersionResponse), ContainerdError> {
        let socket = self.config.socket.clone();
        let endpoint = socket.display().to_string();
        let probe_options = CriClientOptions {
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            pull_timeout: None,
        };
        let started = Instant::now();
        let mut last_progress = started;
        let mut last_error = String::from("socket not created yet");
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(ContainerdError::Exited {
                        status: status.to_string(),
                        log: self.config.log_path(),
                        tail: self.log_tail(),
                    });
                }
            }
            if socket.exists() {
                match probe(&endpoint, probe_options.clone()).await {
                    Ok(ready) => {
                        return Ok((ready.0.with_options(CriClientOptions::default()), ready.1))
                    }
                    Err(err) => last_error = err.to_string(),
                }
            }
            let elapsed = started.elapsed();
            if elapsed >= timeout {
                if let Some(mut child) = self.child.take() {
                    let _ = kill_and_reap(&mut child);
                }
                return Err(ContainerdError::NotReady {
                    socket,
                    after: timeout,
                    last_error,
                    log: self.config.log_path(),
                    tail: self.log_tail(),
                });
            }
            if last_progress.elapsed() >= PROGRESS_INTERVAL {
                last_progress = Instant::now();
                tracing::info!(
                    socket = %socket.display(),
                    waited = ?elapsed,
                    last_error = %last_error,
                    "waiting for containerd to answer CRI"
                );
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    fn log_tail(&self) -> String {
        read_log_tail(&self.config.log_path(), self.log_offset, LOG_TAIL_LINES)
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill_and_reap(&mut child);
        }
    }
}

async fn probe(
    endpoint: &str,
    options: CriClientOptions,
) -> Result<(CriClient, VersionResponse), CriError> {
    let client = CriClient::connect(endpoint, options).await?;
    let version = client
        .version(VersionRequest {
            version: "v1".into(),
        })
        .await?;
    Ok((client, version))
}

fn refuse_shared_socket(config: &ContainerdConfig) -> Result<(), ContainerdError> {
    let shared = Path::new(SHARED_DEFAULT_SOCKET);
    let ttrpc = Path::new("/run/containerd/containerd.sock.ttrpc");
    for socket in [config.socket.clone(), config.ttrpc_socket()] {
        if socket == shared || socket == ttrpc {
            return Err(ContainerdError::SharedSocket(socket));
        }
    }
    Ok(())
}

/// A socket file left by a containerd that died is removed; a live one is an error.
async fn clear_stale_socket(socket: &Path) -> Result<(), ContainerdError> {
    if !socket.exists() {
        return Ok(());
    }
    let options = CriClientOptions {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        pull_timeout: None,
    };
    if probe(&socket.display().to_string(), options).await.is_ok() {
        return Err(ContainerdError::SocketInUse(socket.to_path_buf()));
    }
    tracing::debug!(socket = %socket.display(), "removing stale socket");
    std::fs::remove_file(socket).map_err(|source| ContainerdError::Io {
        what: format!("remove stale socket {}", socket.display()),
        source,
    })
}

fn send_sigterm(child: &Child) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) has no memory effects; `pid` is our own child, not yet reaped (we hold
    // its `Child` and have not seen it exit), so the pid cannot have been reused.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

fn kill_and_reap(child: &mut Child) -> std::io::Result<ExitStatus> {
    // Already exited is fine: `wait` then returns its status.
    let _ = child.kill();
    child.wait()
}

/// Drop path: no runtime to await on, so poll briefly, then kill.
fn terminate_blocking(mut child: Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    tracing::info!(pid = child.id(), "stopping containerd (owner dropped it)");
    send_sigterm(&child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = kill_and_reap(&mut child);
}

fn read_log_tail(path: &Path, offset: u64, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let mut bytes = Vec::new();
            if file.read_to_end(&mut bytes).is_ok() {
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shared_socket_is_refused() {
        let mut config = ContainerdConfig::new("/tmp/berth-never", "p:1");
        config.socket = PathBuf::from(SHARED_DEFAULT_SOCKET);
        let err = Containerd::start(config).await.expect_err("refused");
        assert!(matches!(err, ContainerdError::SharedSocket(_)), "{err}");
    }

    #[tokio::test]
    async fn early_exit_reports_log_tail() {
        // `sh --config x` fails at once with a message on stderr: stands in for a containerd
        // that dies on a bad config.
        let dir = tempfile::tempdir().expect("tempdir");
        let config = ContainerdConfig::new(dir.path(), "p:1");
        let err = Containerd::start_with(config, Path::new("sh"), Duration::from_secs(10))
            .await
            .expect_err("sh is not containerd");
        match err {
            ContainerdError::Exited { tail, .. } => assert!(!tail.is_empty(), "no log tail"),
            other => panic!("unexpected {other}"),
        }
    }

    #[tokio::test]
    async fn timeout_kills_the_child_and_says_why() {
        // `sleep` never creates the socket.
        let dir = tempfile::tempdir().expect("tempdir");
        let config = ContainerdConfig::new(dir.path(), "p:1");
        let script = dir.path().join("fake-containerd");
        std::fs::write(
            &script,
            "#!/bin/sh\necho 'level=info msg=\"loading\"' >&2\nexec sleep 30\n",
        )
        .expect("write script");
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&script)
            .status()
            .expect("chmod");
        let started = Instant::now();
        let err = Containerd::start_with(config, &script, Duration::from_millis(500))
            .await
            .expect_err("never ready");
        assert!(started.elapsed() < Duration::from_secs(10));
        match err {
            ContainerdError::NotReady {
                tail, last_error, ..
            } => {
                assert!(tail.contains("loading"), "{tail}");
                assert!(last_error.contains("socket not created"), "{last_error}");
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn log_tail_reads_only_after_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("l.log");
        std::fs::write(&log, "old1\nold2\nnew1\nnew2\nnew3\n").expect("write");
        assert_eq!(read_log_tail(&log, 10, 2), "new2\nnew3");
        assert_eq!(read_log_tail(&log, 10, 10), "new1\nnew2\nnew3");
    }
}
