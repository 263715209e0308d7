//! Streaming with the real kubectl against a real `berth up` (API server,
//! containerd, node agent): logs (tail, follow, previous), exec (exit codes,
//! stdin, tty) and port-forward, through the API server's proxy to the node
//! agent's server and on to containerd's streaming server.
//!
//! ```text
//! berth up --kubelet-port 0 ─▶ node registered ─▶ pods bound to the node ─▶ Running
//!   ─▶ kubectl logs | exec | port-forward ─▶ teardown: delete pods, SIGTERM, berth down
//! ```
//!
//! Needs root and containerd; otherwise the test prints why and passes.

mod common;
use common::Cluster;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("the streaming tests run containers and need root".into());
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("containerd").exists()))
        .unwrap_or(false);
    if !found {
        return Some("containerd is not installed (`make deps` installs it)".into());
    }
    None
}

/// Stops the cluster however the test ends: pods, berth (SIGTERM), then
/// `berth down` for whatever is left (containers, shims, containerd).
struct Teardown<'a> {
    cluster: &'a Cluster,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        let c = self.cluster;
        let _ = c.kubectl_out(&["delete", "pods", "--all", "--wait=false"], None);
        {
            let mut child = c.child.lock().unwrap_or_else(|p| p.into_inner());
            // SAFETY: kill(2) on the child we spawned.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["down", "--data-dir"])
            .arg(c.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let left = processes_mentioning(&c.dir.path().display().to_string());
        if !std::thread::panicking() {
            assert!(left.is_empty(), "still running after teardown: {left:?}");
        }
    }
}

fn processes_mentioning(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.chars().all(|c| c.is_ascii_digit()) && n != me.as_str()
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmd| cmd.contains(needle))
        .collect()
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn pod(name: &str, node: &str, image: &str, command: Option<&str>) -> Value {
    let mut container = json!({"name": "main", "image": image});
    if let Some(script) = command {
        container["command"] = json!(["sh", "-c", script]);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 1,
            "containers": [container],
        },
    })
}

fn create(c: &Cluster, obj: &Value) {
    c.kubectl_in(&["create", "-f", "-"], Some(&obj.to_string()));
}

fn wait_running(c: &Cluster, name: &str) -> Value {
    wait_for(&format!("pod {name} Running"), || {
        let out = c.kubectl_out(&["get", "pod", name, "-o", "json"], None);
        let p: Value = serde_json::from_slice(&out.stdout).ok()?;
        let running = p["status"]["phase"] == "Running"
            && p["status"]["containerStatuses"][0]["state"]["running"].is_object();
        running.then_some(p)
    })
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn http_get(port: u16) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// Spawn kubectl with piped stdout and a reader thread that forwards lines.
fn spawn_lines(c: &Cluster, args: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = c
        .kubectl_cmd(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

#[test]
fn logs_exec_and_port_forward_with_real_kubectl() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping: {why}");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let c = Cluster::start_up_in(
        dir,
        &["--kubelet-port", "0", "--advertise-address", "127.0.0.1"],
    );
    let _teardown = Teardown { cluster: &c };
    let node = wait_for("the node to register", || {
        let out = c.kubectl_out(
            &["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"],
            None,
        );
        let name = stdout_of(&out);
        (out.status.success() && !name.is_empty()).then_some(name)
    });
    let port = wait_for("the node to report its kubelet port", || {
        let n = c.get_json(&["node", &node]);
        n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
            .as_i64()
            .filter(|p| *p > 0)
    });
    assert_ne!(port, 10250, "kubelet port 0 picks a free one");

    create(
        &c,
        &pod(
            "printer",
            &node,
            "localhost/berth/busybox:1",
            Some("echo one; echo two; echo three; exec sleep 3600"),
        ),
    );
    create(
        &c,
        &pod(
            "ticker",
            &node,
            "localhost/berth/busybox:1",
            Some("i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done"),
        ),
    );
    create(
        &c,
        &pod(
            "crasher",
            &node,
            "localhost/berth/busybox:1",
            Some("echo attempt at $(date +%s%N); sleep 1; exit 1"),
        ),
    );
    create(&c, &pod("echo", &node, "localhost/berth/echo:1", None));
    // Bound to a node no agent serves: never starts.
    create(
        &c,
        &pod("stuck", "no-such-node", "localhost/berth/busybox:1", None),
    );
    for name in ["printer", "ticker", "echo"] {
        wait_running(&c, name);
    }

    // logs, --tail, errors.
    let all = wait_for("printer's three lines", || {
        let out = c.kubectl_out(&["logs", "printer"], None);
        let s = stdout_of(&out);
        (s.lines().count() >= 3).then_some(s)
    });
    assert_eq!(all, "one\ntwo\nthree\n");
    assert_eq!(c.kubectl(&["logs", "printer", "--tail=1"]), "three\n");
    let with_ts = c.kubectl(&["logs", "printer", "--timestamps", "--tail=1"]);
    assert!(
        with_ts.ends_with("Z three\n") && with_ts.len() > 20,
        "{with_ts}"
    );
    let err = c.kubectl_fails(&["logs", "printer", "--previous"], None);
    assert!(
        err.contains("previous terminated container \"main\" in pod \"printer\" not found"),
        "{err}"
    );
    let err = c.kubectl_fails(&["logs", "nope"], None);
    assert!(err.contains("pods \"nope\" not found"), "{err}");
    let err = c.kubectl_fails(&["logs", "stuck"], None);
    assert!(
        err.contains("container \"main\" in pod \"stuck\" is waiting to start: ContainerCreating"),
        "{err}"
    );

    // logs -f: new lines arrive while kubectl keeps running.
    let (mut follow, lines) = spawn_lines(&c, &["logs", "-f", "ticker", "--tail=1"]);
    let mut seen = Vec::new();
    let start = Instant::now();
    while seen.len() < 4 && start.elapsed() < DEADLINE {
        if let Ok(l) = lines.recv_timeout(Duration::from_secs(5)) {
            seen.push(l);
        }
    }
    assert!(
        follow.try_wait().ok().flatten().is_none(),
        "logs -f must keep running"
    );
    let _ = follow.kill();
    let _ = follow.wait();
    assert_eq!(seen.len(), 4, "followed lines: {seen:?}");
    let numbers: Vec<u64> = seen
        .iter()
        .filter_map(|l| l.strip_prefix("tick ")?.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 4, "{seen:?}");
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");

    // exec: output, exit codes, stdin.
    assert_eq!(
        c.kubectl(&["exec", "printer", "--", "hostname"]),
        "printer\n"
    );
    let out = c.kubectl_out(
        &[
            "exec",
            "printer",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "out\n");
    assert!(stderr_of(&out).contains("err\n"), "{}", stderr_of(&out));
    assert_eq!(
        c.kubectl_in(&["exec", "-i", "printer", "--", "cat"], Some("hi\n")),
        "hi\n"
    );
    let err = c.kubectl_fails(&["exec", "stuck", "--", "true"], None);
    assert!(err.contains("is waiting to start"), "{err}");
    // kubectl 1.33 (what the dispatcher picks for this server) as well.
    let v133 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
    if Path::new(v133).exists() {
        let out = c
            .kubectl_cmd_with(
                v133,
                &["exec", "printer", "--", "sh", "-c", "hostname; exit 7"],
            )
            .output()
            .expect("kubectl 1.33");
        assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
        assert_eq!(stdout_of(&out), "printer\n");
    }
    // exec -it, with a terminal from script(1) when it is installed.
    if Path::new("/usr/bin/script").exists() {
        let cmd = format!(
            "{} --kubeconfig {} --cache-dir {} exec -it printer -- sh -c 'tty; exit 4'",
            common::kubectl_binary(),
            c.kubeconfig.display(),
            c.dir.path().join("kubectl-cache").display()
        );
        let out = Command::new("/usr/bin/script")
            .args(["-qec", &cmd, "/dev/null"])
            .stdin(Stdio::piped())
            .output()
            .expect("script");
        let text = stdout_of(&out);
        assert_eq!(out.status.code(), Some(4), "{text}");
        assert!(
            text.contains("/dev/pts/"),
            "a terminal in the container: {text}"
        );
    }

    // port-forward to the echo server.
    let local = free_port();
    let mapping = format!("{local}:8080");
    let (mut pf, pf_lines) = spawn_lines(&c, &["port-forward", "pod/echo", &mapping]);
    let ready = pf_lines
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| String::new());
    assert!(ready.starts_with("Forwarding from"), "{ready}");
    for _ in 0..2 {
        let body = http_get(local).expect("GET through port-forward");
        assert!(body.contains("echo v1 from echo"), "{body}");
    }
    let _ = pf.kill();
    let _ = pf.wait();

    // logs --previous after a restart.
    let p = wait_for("crasher to restart", || {
        let p = c.get_json(&["pod", "crasher"]);
        let restarts = p["status"]["containerStatuses"][0]["restartCount"]
            .as_i64()
            .unwrap_or(0);
        (restarts >= 1).then_some(p)
    });
    let out = c.kubectl_out(&["logs", "crasher", "--previous"], None);
    let previous = stdout_of(&out);
    assert!(out.status.success(), "{} {p}", stderr_of(&out));
    assert!(previous.starts_with("attempt at "), "{previous}");
    assert_eq!(previous.lines().count(), 1, "{previous}");
}
