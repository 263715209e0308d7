//! The `berth server` under test: a child process on a temporary data dir
//! with an ephemeral port, found through the kubeconfig it writes.

use anyhow::{bail, Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct BerthServer {
    child: Child,
    pub pid: u32,
    kubeconfig: PathBuf,
    log: PathBuf,
    /// Kept so the data dir lives as long as the server.
    _data_dir: tempfile::TempDir,
}

/// What waiting for the server produced.
pub struct Ready {
    pub config: kube::Config,
    pub port: u16,
    /// VmRSS read as soon as the kubeconfig appeared, before any request.
    pub rss_at_start_kib: u64,
    pub startup: Duration,
}

impl BerthServer {
    /// A control plane without the scheduler (the API figures need only the API server).
    pub fn spawn(berth: &Path) -> Result<BerthServer> {
        Self::spawn_with(berth, &["--disable-scheduler"])
    }

    /// `berth server` with extra arguments (e.g. the whole control plane for the simulator).
    pub fn spawn_with(berth: &Path, extra: &[&str]) -> Result<BerthServer> {
        let data_dir = tempfile::Builder::new()
            .prefix("berth-bench-")
            .tempdir_in(std::env::temp_dir())
            .context("creating a temporary data dir")?;
        let log = data_dir.path().join("server.log");
        let stderr = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(berth)
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--https-port", "0", "--exit-with-parent"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {} server", berth.display()))?;
        Ok(BerthServer {
            pid: child.id(),
            child,
            kubeconfig: data_dir.path().join("kubeconfig.yaml"),
            log,
            _data_dir: data_dir,
        })
    }

    /// Waits until the kubeconfig exists and `/version` answers through it.
    pub async fn wait_ready(&mut self, limit: Duration) -> Result<Ready> {
        let started = Instant::now();
        let mut rss_at_start_kib = None;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("berth server exited ({status}):\n{}", self.log_tail(20));
            }
            if started.elapsed() > limit {
                bail!(
                    "berth server not ready after {limit:?}:\n{}",
                    self.log_tail(20)
                );
            }
            if self.kubeconfig.exists() {
                if rss_at_start_kib.is_none() {
                    // Let the last start-up allocations land, but send nothing yet.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    rss_at_start_kib = Some(self.rss_kib()?);
                }
                if let Ok(config) = self.try_config().await {
                    let port = config.cluster_url.port_u16().unwrap_or(443);
                    let client = kube::Client::try_from(config.clone())?;
                    if client.apiserver_version().await.is_ok() {
                        return Ok(Ready {
                            config,
                            port,
                            rss_at_start_kib: rss_at_start_kib.unwrap_or_default(),
                            startup: started.elapsed(),
                        });
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn try_config(&self) -> Result<kube::Config> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
    }

    /// Resident set size of the server process, from /proc/<pid>/status.
    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib_of(self.pid)
    }

    /// Peak resident set size of the server process so far (VmHWM).
    pub fn peak_rss_kib(&self) -> Result<u64> {
        status_kib(self.pid, "VmHWM:")
    }

    /// The server's data dir (state.db lives there).
    pub fn data_dir(&self) -> &Path {
        self._data_dir.path()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// CPU time (user + system) the server has used so far, from /proc/<pid>/stat.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .context("malformed /proc/<pid>/stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| -> Result<f64> {
            Ok(fields
                .get(i)
                .context("short /proc/<pid>/stat")?
                .parse::<f64>()?)
        };
        // USER_HZ is 100 on every Linux configuration we run on.
        Ok((ticks(11)? + ticks(12)?) / 100.0)
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for BerthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident set size of any process, from /proc/<pid>/status.
pub fn rss_kib_of(pid: u32) -> Result<u64> {
    status_kib(pid, "VmRSS:")
}

/// One `kB` figure of /proc/<pid>/status (VmRSS:, VmHWM:).
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/<pid>/status"))
}

/// Established TCP connections whose local port is `port` (server side),
/// from /proc/net/tcp{,6}: how many connections the clients really opened.
pub fn established_connections(port: u16) -> usize {
    let wanted = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| {
            text.lines()
                .skip(1)
                .filter(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3 && cols[1].ends_with(&wanted) && cols[3] == "01"
                })
                .count()
        })
        .sum()
}
