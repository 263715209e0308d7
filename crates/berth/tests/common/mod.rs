//! Test harness: a real `berth server` process on an ephemeral port with a
//! SQLite store in a temp dir, and the real kubectl pointed at it.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub child: std::sync::Mutex<Child>,
    pub kubeconfig: PathBuf,
    pub url: String,
}

/// kubectl to test with: $KUBECTL, else the 1.32 binary the notes name, else `kubectl`.
pub fn kubectl_binary() -> String {
    if let Ok(k) = std::env::var("KUBECTL") {
        return k;
    }
    let v132 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";
    if Path::new(v132).exists() {
        return v132.to_string();
    }
    "kubectl".to_string()
}

impl Cluster {
    /// Start a fresh server (its own data dir and port).
    pub fn start() -> Cluster {
        Self::start_in(tempfile::tempdir().expect("temp dir"))
    }

    pub fn start_in(dir: tempfile::TempDir) -> Cluster {
        Self::spawn(dir, "server", &[], Duration::from_secs(30))
    }

    /// Start a whole single-node cluster (`berth up`: API server, containerd,
    /// node agent) in `dir`, with `extra` arguments; needs root and containerd.
    /// Returns once the kubeconfig is written (the node registers shortly after).
    pub fn start_up_in(dir: tempfile::TempDir, extra: &[&str]) -> Cluster {
        Self::spawn(dir, "up", extra, Duration::from_secs(60))
    }

    /// Run `berth <subcommand>` on `dir` with a free port and wait for its kubeconfig.
    fn spawn(
        dir: tempfile::TempDir,
        subcommand: &str,
        extra: &[&str],
        patience: Duration,
    ) -> Cluster {
        let kubeconfig = dir.path().join("kubeconfig.yaml");
        let _ = std::fs::remove_file(&kubeconfig);
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args([
                subcommand,
                "--https-port",
                "0",
                "--exit-with-parent",
                "--data-dir",
            ])
            .arg(dir.path())
            .args(extra)
            .env("BERTH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn berth {subcommand}: {e}"));
        let started = Instant::now();
        while !kubeconfig.exists() {
            assert!(
                started.elapsed() < patience,
                "berth {subcommand} did not write its kubeconfig: {}",
                std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(50));
        let text = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
        let url = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("server: "))
            .expect("server url")
            .to_string();
        Cluster {
            dir,
            child: std::sync::Mutex::new(child),
            kubeconfig,
            url,
        }
    }

    /// One server shared by all tests of a test binary.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(Cluster::start)
    }

    pub fn kill(&self) {
        let mut c = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = c.kill();
        let _ = c.wait();
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn kubectl_cmd_with(&self, binary: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd.arg("--cache-dir")
            .arg(self.dir.path().join("kubectl-cache"));
        cmd.args(args);
        cmd.env("HOME", self.dir.path());
        cmd
    }

    pub fn kubectl_cmd(&self, args: &[&str]) -> Command {
        self.kubectl_cmd_with(&kubectl_binary(), args)
    }

    /// Run kubectl; returns the whole output whatever the exit code.
    pub fn kubectl_out(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.kubectl_cmd(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl");
        if let Some(input) = stdin {
            if let Some(mut s) = child.stdin.take() {
                let _ = s.write_all(input.as_bytes());
            }
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// Run kubectl and require success; returns stdout.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_in(args, None)
    }

    pub fn kubectl_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_out(args, stdin);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        );
        stdout
    }

    /// Run kubectl and require failure; returns stderr.
    pub fn kubectl_fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_out(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !out.status.success(),
            "kubectl {args:?} should fail but printed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// GET a path as JSON through kubectl (`get --raw`).
    pub fn raw(&self, path: &str) -> serde_json::Value {
        let out = self.kubectl(&["get", "--raw", path]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: {e}: {out}"))
    }

    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        let out = self.kubectl(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{a:?}: {e}: {out}"))
    }

    /// A fresh namespace for one test.
    pub fn namespace(&self, name: &str) -> String {
        self.kubectl(&["create", "namespace", name]);
        name.to_string()
    }
}

/// Poll until `f` returns true (for asynchronous effects like garbage collection).
pub fn eventually(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn repo_root() -> PathBuf {
    manifest_dir().join("../..")
}

/// This crate's directory as cargo says it at run time: a test binary built
/// in another clone of the repository (same target dir, same hash) would
/// otherwise carry that clone's path.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}
