//! Service networking figures on the two-node cluster of multinode/cluster.rs
//! (printed, never asserted; the tests assert only that requests succeeded):
//!
//! ```text
//! endpoint_routable_after_ready:  scale a Deployment behind a ClusterIP one pod at a time;
//!     kubectl watch ──▶ instant the pod is seen Ready ┐
//!     probers in a client pod on n1, GET VIP in a loop ┴▶ first answer "from <that pod>" − Ready
//! clusterip_throughput_against_pod_ip:  one echo pod on n2, clients in a pod on n1,
//!     C concurrent one-request connections for S s: pod IP, ClusterIP, pod IP, … (A/B rounds)
//! ```
//!
//! The clients are threads of this process moved (setns) into the network
//! namespace of a busybox pod on n1, so their traffic takes the pod → Service
//! path through n1's proxy rules; the echo pods run on n2.
//! Run: `cargo test --release -p berth --test netbench -- --ignored --nocapture --test-threads=1`.
//! Results also go to target/bench/netbench.json (workspace root).

#[path = "multinode/cluster.rs"]
mod cluster;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pods added one at a time for the routable-time figure.
const NEW_PODS: usize = 10;
/// Concurrent prober connections (several, so a new pod among n is hit within ms).
const PROBERS: usize = 4;
/// Throughput: concurrent clients, seconds per round, A/B rounds.
const CLIENTS: usize = 8;
const ROUND: Duration = Duration::from_secs(5);
const ROUNDS: usize = 3;
/// The node the clients run on; the measured pods run on the other one.
const CLIENT_NODE: &str = "n1";

/// A busybox pod `name` on the client node whose network namespace the clients enter.
fn client_netns(c: &cluster::Cluster, ns: &str, name: &str) -> std::path::PathBuf {
    let pod = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"{ns}","labels":{{"role":"{name}"}}}},
        "spec":{{"nodeSelector":{{"kubernetes.io/hostname":"{CLIENT_NODE}"}},"terminationGracePeriodSeconds":0,
        "containers":[{{"name":"c","image":"localhost/berth/busybox:1","command":["sleep","3600"]}}]}}}}"#
    );
    c.kubectl_ok(&["create", "-f", "-"], Some(&pod));
    c.wait_in(ns, "the client pod", cluster::DEADLINE, || {
        (c.ready_pods(ns, &format!("role={name}")).len() == 1).then_some(())
    });
    c.pod_netns(ns, name).expect("the client pod's netns")
}

/// One GET on a fresh connection (the echo server closes after each answer):
/// the name of the pod that answered.
fn get_once(addr: SocketAddr, timeout: Duration) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let from = body.lines().find_map(|l| l.split(" from ").nth(1))?;
    Some(from.trim().to_string())
}

fn vip(c: &cluster::Cluster, ns: &str, svc: &str) -> SocketAddr {
    let svc = c.json(&["get", "svc", "-n", ns, svc]);
    let ip = svc["spec"]["clusterIP"].as_str().expect("clusterIP");
    let port = svc["spec"]["ports"][0]["port"].as_i64().expect("port");
    format!("{ip}:{port}").parse().expect("VIP address")
}

/// p50 and max of `samples` (ms), nearest-rank.
fn p50_max(samples: &[f64]) -> (f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let p50 = sorted[(sorted.len() - 1) / 2];
    (p50, sorted[sorted.len() - 1])
}

/// Merge `value` under `key` into target/bench/netbench.json (each test writes its part).
fn record(key: &str, value: Value) {
    // At run time (cargo sets it): a binary built in another clone carries its path.
    let manifest_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let dir = std::path::Path::new(&manifest_dir).join("../../target/bench");
    std::fs::create_dir_all(&dir).expect("creating target/bench");
    let path = dir.join("netbench.json");
    let mut all: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    all[key] = value;
    let text = serde_json::to_string_pretty(&all).expect("json");
    std::fs::write(&path, text + "\n").expect("writing netbench.json");
    println!("netbench: written to {}", path.display());
}

/// Pods of `selector` by name, with the instant this process first saw each
/// Ready, from a `kubectl get -w` stream.
struct ReadyWatch {
    child: std::process::Child,
    ready_at: Arc<Mutex<HashMap<String, Instant>>>,
}

impl ReadyWatch {
    fn start(c: &cluster::Cluster, ns: &str, selector: &str) -> ReadyWatch {
        let mut child = Command::new(cluster::KUBECTL)
            .arg("--kubeconfig")
            .arg(&c.kubeconfig)
            .args(["get", "pods", "-n", ns, "-l", selector, "-w", "-o", "json"])
            .env("HOME", &c.work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get -w");
        let stdout = child.stdout.take().expect("watch stdout");
        let ready_at = Arc::new(Mutex::new(HashMap::new()));
        let seen = ready_at.clone();
        std::thread::spawn(move || {
            let objects = serde_json::Deserializer::from_reader(BufReader::new(stdout))
                .into_iter::<Value>()
                .map_while(Result::ok);
            for pod in objects {
                let now = Instant::now();
                let ready = cluster::condition(&pod, "Ready") == "True";
                if let (true, Some(name)) = (ready, pod["metadata"]["name"].as_str()) {
                    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                    seen.entry(name.to_string()).or_insert(now);
                }
            }
        });
        ReadyWatch { child, ready_at }
    }

    fn ready(&self) -> HashMap<String, Instant> {
        self.ready_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for ReadyWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "benchmark: make bench"]
fn endpoint_routable_after_ready() {
    let Some(c) = cluster::cluster() else { return };
    let ns = "routable";
    c.kubectl_ok(&["create", "namespace", ns], None);
    // The measured pods never run on the clients' node: the path crosses nodes.
    let deployment = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"routable"},
        "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"nodeSelector":{"kubernetes.io/hostname":"n2"},"terminationGracePeriodSeconds":0,
        "containers":[{"name":"echo","image":"localhost/berth/echo:1"}]}}}}"#;
    c.kubectl_ok(&["create", "-f", "-"], Some(deployment));
    c.kubectl_ok(
        &[
            "expose",
            "deployment",
            "web",
            "-n",
            ns,
            "--port=80",
            "--target-port=8080",
        ],
        None,
    );
    c.wait_in(ns, "the first replica", cluster::DEADLINE, || {
        (c.ready_pods(ns, "app=web").len() == 1).then_some(())
    });
    let netns = client_netns(c, ns, "client");
    let addr = vip(c, ns, "web");
    let watch = ReadyWatch::start(c, ns, "app=web");

    // Probers: the first instant each pod answered through the VIP.
    let first_answer: Mutex<HashMap<String, Instant>> = Mutex::new(HashMap::new());
    let stop = AtomicBool::new(false);
    let (answers, failures) = (AtomicU64::new(0), AtomicU64::new(0));
    let samples = std::thread::scope(|scope| {
        for _ in 0..PROBERS {
            scope.spawn(|| {
                cluster::enter_netns(&netns).expect("entering the client pod's netns");
                while !stop.load(Ordering::Relaxed) {
                    match get_once(addr, Duration::from_millis(500)) {
                        Some(pod) => {
                            let now = Instant::now();
                            answers.fetch_add(1, Ordering::Relaxed);
                            let mut seen = first_answer.lock().unwrap_or_else(|p| p.into_inner());
                            seen.entry(pod).or_insert(now);
                        }
                        None => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.wait_in(ns, "the VIP to answer", cluster::DEADLINE, || {
                let seen = first_answer.lock().unwrap_or_else(|p| p.into_inner());
                (!seen.is_empty()).then_some(())
            });
            let initial: Vec<String> = watch.ready().into_keys().collect();
            let mut samples = Vec::new();
            for replicas in 2..=NEW_PODS + 1 {
                c.kubectl_ok(
                    &[
                        "scale",
                        "deployment",
                        "web",
                        "-n",
                        ns,
                        &format!("--replicas={replicas}"),
                    ],
                    None,
                );
                let (pod, delta) =
                    c.wait_in(ns, "the new pod to answer", cluster::DEADLINE, || {
                        let ready = watch.ready();
                        let answered = first_answer.lock().unwrap_or_else(|p| p.into_inner());
                        ready
                            .iter()
                            .filter(|(name, _)| !initial.contains(name))
                            .filter(|(name, _)| !samples.iter().any(|(s, _)| s == *name))
                            .find_map(|(name, at)| {
                                let first = answered.get(name)?;
                                // Signed: the watch could in principle lag the proxy.
                                let ms = if first >= at {
                                    first.duration_since(*at).as_secs_f64() * 1e3
                                } else {
                                    -(at.duration_since(*first).as_secs_f64() * 1e3)
                                };
                                Some((name.clone(), ms))
                            })
                    });
                samples.push((pod, delta));
            }
            samples
        }));
        stop.store(true, Ordering::Relaxed);
        match result {
            Ok(samples) => samples,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    drop(watch);

    assert_eq!(samples.len(), NEW_PODS);
    let ms: Vec<f64> = samples.iter().map(|(_, d)| *d).collect();
    let (p50, max) = p50_max(&ms);
    let (answers, failures) = (answers.into_inner(), failures.into_inner());
    println!(
        "netbench: endpoint routable after Ready: p50 {p50:.0} ms, max {max:.0} ms ({} pods; \
         Ready = seen by a kubectl watch, routable = first answer through the ClusterIP from a \
         pod on n1, pods on n2; {answers} probes, {failures} failed)",
        ms.len()
    );
    for (pod, d) in &samples {
        println!("netbench:   {pod}: {d:.1} ms");
    }
    record(
        "endpoint_routable_after_ready",
        json!({
            "p50_ms": p50,
            "max_ms": max,
            "pods": ms.len(),
            "samples_ms": ms,
            "ready_from": "instant a kubectl watch in the test shows the pod Ready",
            "routable_at": "first answer from that pod through the ClusterIP (client pod on n1, pods on n2)",
            "probers": PROBERS,
            "probes": answers,
            "failed_probes": failures,
        }),
    );
    // Scaling up never removes an endpoint, so (almost) every probe is answered;
    // the echo pods have no readiness probe, so a new one may be Ready a few
    // ms before it listens, and a probe that lands then is refused.
    assert!(
        failures * 100 <= answers,
        "{failures} failed probes of {answers}"
    );
}

/// Requests answered by `addr` in `ROUND` with `CLIENTS` concurrent clients
/// in the network namespace `netns`: (answered, failed).
fn load(netns: &std::path::Path, addr: SocketAddr) -> (u64, u64) {
    let (answered, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let until = Instant::now() + ROUND;
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| {
                cluster::enter_netns(netns).expect("entering the clients' netns");
                while Instant::now() < until {
                    match get_once(addr, Duration::from_secs(2)) {
                        Some(_) => answered.fetch_add(1, Ordering::Relaxed),
                        None => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
    });
    (answered.into_inner(), failed.into_inner())
}

#[test]
#[ignore = "benchmark: make bench"]
fn clusterip_throughput_against_pod_ip() {
    let Some(c) = cluster::cluster() else { return };
    let ns = "tput";
    c.kubectl_ok(&["create", "namespace", ns], None);
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"echo","namespace":"tput","labels":{"app":"echo"}},
        "spec":{"nodeSelector":{"kubernetes.io/hostname":"n2"},"terminationGracePeriodSeconds":0,
        "containers":[{"name":"echo","image":"localhost/berth/echo:1"}]}}"#;
    c.kubectl_ok(&["create", "-f", "-"], Some(pod));
    c.kubectl_ok(
        &[
            "expose",
            "pod",
            "echo",
            "-n",
            ns,
            "--port=80",
            "--target-port=8080",
        ],
        None,
    );
    c.wait_in(ns, "the echo pod", cluster::DEADLINE, || {
        (c.ready_pods(ns, "app=echo").len() == 1).then_some(())
    });
    let pod_ip = c.json(&["get", "pod", "-n", ns, "echo"])["status"]["podIP"]
        .as_str()
        .expect("pod IP")
        .to_string();
    let direct: SocketAddr = format!("{pod_ip}:8080").parse().expect("pod address");
    let service = vip(c, ns, "echo");
    // One client pod per path: both paths end at the same server socket
    // (pod IP:8080), and a client reusing a source port for the other path
    // would meet the server's TIME_WAIT from the first with an unrelated
    // sequence and timestamp base: refused, retried a second later.
    let direct_netns = client_netns(c, ns, "client-direct");
    let service_netns = client_netns(c, ns, "client-service");
    // Both paths answer before anything is timed (routes and rules settle).
    for (netns, addr) in [(&direct_netns, direct), (&service_netns, service)] {
        c.wait_in(ns, "an answer", cluster::DEADLINE, || {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        cluster::enter_netns(netns).ok()?;
                        get_once(addr, Duration::from_secs(1)).filter(|p| p == "echo")
                    })
                    .join()
                    .ok()
                    .flatten()
            })
        });
    }

    let from_pod = ab_rounds((&direct_netns, direct), (&service_netns, service));
    println!(
        "netbench: HTTP req/s pod IP {:.0}, ClusterIP {:.0} (ratio {:.1}%), goal within 10% \
         ({CLIENTS} concurrent one-request connections from a pod on n1 to a pod on n2, \
         {ROUNDS}×{}s A/B rounds; failed: pod IP {}, ClusterIP {})",
        from_pod.pod_rps,
        from_pod.vip_rps,
        from_pod.ratio(),
        ROUND.as_secs(),
        from_pod.pod_failed,
        from_pod.vip_failed
    );
    record(
        "http_rps",
        json!({
            "pod_ip_rps": from_pod.pod_rps,
            "cluster_ip_rps": from_pod.vip_rps,
            "ratio_percent": from_pod.ratio(),
            "goal": "ClusterIP within 10% of the pod IP",
            "clients": CLIENTS,
            "client": "a pod on n1; the echo pod on n2",
            "round_seconds": ROUND.as_secs(),
            "rounds": from_pod.rounds,
            "failed": {"pod_ip": from_pod.pod_failed, "cluster_ip": from_pod.vip_failed},
        }),
    );
    // Correctness only: both paths served the load from the pod, with at most 1% failures.
    for (what, ok, failed) in [
        ("pod IP", from_pod.pod_ok, from_pod.pod_failed),
        ("ClusterIP", from_pod.vip_ok, from_pod.vip_failed),
    ] {
        assert!(ok > 0, "{what}: no request answered");
        assert!(failed * 100 <= ok, "{what}: {failed} failed of {ok}");
    }
}

/// Totals of alternating pod-IP / ClusterIP load rounds from one netns.
struct AbResult {
    pod_ok: u64,
    pod_failed: u64,
    vip_ok: u64,
    vip_failed: u64,
    pod_rps: f64,
    vip_rps: f64,
    rounds: Vec<Value>,
}

impl AbResult {
    fn ratio(&self) -> f64 {
        self.vip_rps / self.pod_rps * 100.0
    }
}

/// `ROUNDS` × (pod IP, then ClusterIP), each from its client netns:
/// alternating cancels slow drifts.
fn ab_rounds(
    (direct_netns, direct): (&std::path::Path, SocketAddr),
    (service_netns, service): (&std::path::Path, SocketAddr),
) -> AbResult {
    let secs = ROUND.as_secs_f64();
    let mut r = AbResult {
        pod_ok: 0,
        pod_failed: 0,
        vip_ok: 0,
        vip_failed: 0,
        pod_rps: 0.0,
        vip_rps: 0.0,
        rounds: Vec::new(),
    };
    for _ in 0..ROUNDS {
        let a = load(direct_netns, direct);
        let b = load(service_netns, service);
        (r.pod_ok, r.pod_failed) = (r.pod_ok + a.0, r.pod_failed + a.1);
        (r.vip_ok, r.vip_failed) = (r.vip_ok + b.0, r.vip_failed + b.1);
        let (pod, vip) = (a.0 as f64 / secs, b.0 as f64 / secs);
        println!("netbench:   round: pod IP {pod:.0} req/s, ClusterIP {vip:.0} req/s");
        r.rounds
            .push(json!({"pod_ip_rps": pod, "cluster_ip_rps": vip}));
    }
    r.pod_rps = r.pod_ok as f64 / (secs * ROUNDS as f64);
    r.vip_rps = r.vip_ok as f64 / (secs * ROUNDS as f64);
    r
}
