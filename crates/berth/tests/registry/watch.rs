//! `kubectl get pods -n NS -w -o json` in the background, started before the
//! pod exists (the harness's PodWatch needs the pod to exist first), so the
//! short-lived ErrImagePull state before ImagePullBackOff is not missed.

use super::harness::{waiting_reason, Agent};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Same binary as the agent harness uses.
const KUBECTL: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";

pub struct NamespaceWatch {
    child: Child,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl NamespaceWatch {
    /// Starts watching and waits until kubectl has printed its (empty) list,
    /// judged by its stderr "No resources found" line or a short grace period.
    pub fn start(a: &Agent, ns: &str) -> Self {
        let mut child = Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(&a.kubeconfig)
            .arg("--cache-dir")
            .arg(a.work.join("kubectl-cache"))
            .args(["get", "pods", "-n", ns, "-w", "-o", "json"])
            .env("HOME", &a.work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("kubectl get pods -w: {e}"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            let sink = seen.clone();
            std::thread::spawn(move || {
                for v in serde_json::Deserializer::from_reader(out).into_iter::<Value>() {
                    let Ok(v) = v else { break };
                    sink.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                }
            });
        }
        // The watch is established right after the initial list, which for an
        // empty namespace shows up only as a line on stderr.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        if let Some(err) = child.stderr.take() {
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("No resources found") {
                        let _ = ready_tx.send(());
                    }
                }
            });
        }
        let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        NamespaceWatch { child, seen }
    }

    /// Every version of pod `name` seen so far, oldest first.
    pub fn versions(&self, name: &str) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|v| v["metadata"]["name"] == name)
            .cloned()
            .collect()
    }

    /// Waits until some version of pod `name` satisfies `pred`.
    pub fn wait(
        &self,
        name: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Option<Value> {
        let start = Instant::now();
        loop {
            if let Some(v) = self.versions(name).into_iter().find(|v| pred(v)) {
                return Some(v);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The distinct waiting reasons of a container, in the order they were seen.
    pub fn waiting_reasons(&self, name: &str, container: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for v in self.versions(name) {
            let r = waiting_reason(&v, container);
            if !r.is_empty() && out.last() != Some(&r) {
                out.push(r);
            }
        }
        out
    }
}

impl Drop for NamespaceWatch {
    fn drop(&mut self) {
        // Our own kubectl child only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
