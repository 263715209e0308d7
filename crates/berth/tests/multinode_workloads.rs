//! Multi-node end-to-end tests of the controllers with real containers:
//! DaemonSet, Job, CronJob, rollout/undo, automatic rollback, a killed
//! agent's pods moving, and drain honouring a PodDisruptionBudget.
//! The server runs with a short node grace period so failover is quick.

#[path = "multinode/cluster.rs"]
mod cluster;

use cluster::{condition, Cluster, DEADLINE};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::RwLock;
use std::time::Duration;

/// Tests that take a node away hold this for writing; the others for reading.
static NODES: RwLock<()> = RwLock::new(());

fn cluster() -> Option<&'static Cluster> {
    cluster::cluster_with(&["--node-monitor-grace-period", "6s"])
}

fn examples(name: &str) -> String {
    // At run time: a binary built in another clone carries that clone's path.
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    format!("{dir}/../../examples/{name}")
}

fn all_pods(c: &Cluster, ns: &str, selector: &str) -> Vec<Value> {
    c.json(&["get", "pods", "-n", ns, "-l", selector])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn daemonset_runs_on_every_node_and_jobs_and_cronjobs_complete() {
    let Some(c) = cluster() else { return };
    let _shared = NODES.read().unwrap_or_else(|p| p.into_inner());
    let ns = "batch";
    c.kubectl_ok(&["create", "namespace", ns], None);
    for f in ["daemonset.yaml", "job.yaml", "cronjob.yaml"] {
        c.kubectl_ok(&["apply", "-n", ns, "-f", &examples(f)], None);
    }
    // One daemon pod per node.
    c.wait_in(ns, "a node-echo pod ready on each node", DEADLINE, || {
        let nodes: BTreeSet<String> = c
            .ready_pods(ns, "app=node-echo")
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        (nodes.len() == cluster::NODES).then_some(())
    });
    // The Job: every pod fails once, restarts, and the Job completes.
    c.wait_in(ns, "job count Complete", Duration::from_secs(90), || {
        let job = c.json(&["get", "job", "-n", ns, "count"]);
        (condition(&job, "Complete") == "True").then_some(())
    });
    let job = c.json(&["get", "job", "-n", ns, "count"]);
    assert_eq!(job["status"]["succeeded"], 3, "{}", job["status"]);
    let restarted = all_pods(c, ns, "batch.kubernetes.io/job-name=count")
        .iter()
        .filter(|p| p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(1))
        .count();
    assert!(restarted >= 3, "every pod retried once");

    // A Job that always fails stops at its backoffLimit.
    let failing = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"doomed"},
        "spec":{"backoffLimit":1,"template":{"spec":{"restartPolicy":"Never",
        "containers":[{"name":"c","image":"localhost/berth/busybox:1","command":["sh","-c","exit 3"]}]}}}}"#;
    c.kubectl_ok(&["create", "-n", ns, "-f", "-"], Some(failing));
    let reason = c.wait_in(ns, "job doomed Failed", Duration::from_secs(90), || {
        let job = c.json(&["get", "job", "-n", ns, "doomed"]);
        job["status"]["conditions"].as_array().and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == "Failed" && c["status"] == "True")
                .map(|c| c["reason"].as_str().unwrap_or("").to_string())
        })
    });
    assert_eq!(reason, "BackoffLimitExceeded");

    // The CronJob fires within its minute and its Job succeeds.
    c.wait_in(
        ns,
        "a Job from CronJob tick to succeed",
        Duration::from_secs(100),
        || {
            let jobs = c.json(&["get", "jobs", "-n", ns]);
            jobs["items"]
                .as_array()?
                .iter()
                .any(|j| {
                    j["metadata"]["ownerReferences"][0]["name"] == "tick"
                        && j["status"]["succeeded"] == 1
                })
                .then_some(())
        },
    );
    let cj = c.json(&["get", "cronjob", "-n", ns, "tick"]);
    assert!(
        cj["status"]["lastScheduleTime"].is_string(),
        "{}",
        cj["status"]
    );
}

#[test]
fn rollout_history_undo_and_automatic_rollback() {
    let Some(c) = cluster() else { return };
    let _shared = NODES.read().unwrap_or_else(|p| p.into_inner());
    let ns = "rollout";
    c.kubectl_ok(&["create", "namespace", ns], None);
    c.kubectl_ok(
        &[
            "create",
            "deployment",
            "web",
            "-n",
            ns,
            "--image=localhost/berth/echo:1",
            "--replicas=4",
        ],
        None,
    );
    c.kubectl_ok(
        &[
            "rollout",
            "status",
            "-n",
            ns,
            "deployment/web",
            "--timeout=60s",
        ],
        None,
    );
    c.kubectl_ok(
        &[
            "set",
            "image",
            "-n",
            ns,
            "deployment/web",
            "echo=localhost/berth/echo:2",
        ],
        None,
    );
    // Sample during the rollout: never below replicas − maxUnavailable (4 − 1).
    let mut min_available = i64::MAX;
    c.wait_in(ns, "rollout to echo:2", Duration::from_secs(90), || {
        let d = c.json(&["get", "deployment", "-n", ns, "web"]);
        min_available = min_available.min(d["status"]["availableReplicas"].as_i64().unwrap_or(0));
        let s = &d["status"];
        (s["updatedReplicas"] == 4
            && s["availableReplicas"] == 4
            && s["replicas"] == 4
            && s["observedGeneration"] == d["metadata"]["generation"])
            .then_some(())
    });
    assert!(min_available >= 3, "availability dipped to {min_available}");
    let history = c.kubectl_ok(&["rollout", "history", "-n", ns, "deployment/web"], None);
    assert!(history.contains('1') && history.contains('2'), "{history}");
    c.kubectl_ok(&["rollout", "undo", "-n", ns, "deployment/web"], None);
    c.kubectl_ok(
        &[
            "rollout",
            "status",
            "-n",
            ns,
            "deployment/web",
            "--timeout=90s",
        ],
        None,
    );
    let d = c.json(&["get", "deployment", "-n", ns, "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "localhost/berth/echo:1"
    );

    // berth's addition: a broken image is rolled back without anyone asking.
    c.kubectl_ok(
        &[
            "annotate",
            "-n",
            ns,
            "deployment/web",
            "berth.dev/auto-rollback=true",
        ],
        None,
    );
    c.kubectl_ok(
        &[
            "set",
            "image",
            "-n",
            ns,
            "deployment/web",
            "echo=localhost/berth/does-not-exist",
        ],
        None,
    );
    let message = c.wait_in(ns, "automatic rollback", Duration::from_secs(90), || {
        let d = c.json(&["get", "deployment", "-n", ns, "web"]);
        let image = d["spec"]["template"]["spec"]["containers"][0]["image"].clone();
        let cond = d["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "RolledBack")?
            .clone();
        (image == "localhost/berth/echo:1" && cond["status"] == "True")
            .then(|| cond["message"].as_str().unwrap_or("").to_string())
    });
    assert!(
        message.contains("ErrImagePull") || message.contains("ImagePullBackOff"),
        "{message}"
    );
    c.kubectl_ok(
        &[
            "rollout",
            "status",
            "-n",
            ns,
            "deployment/web",
            "--timeout=90s",
        ],
        None,
    );
    let events = c.kubectl_ok(
        &[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "reason=AutoRollback",
        ],
        None,
    );
    assert!(events.contains("AutoRollback"), "{events}");
}

#[test]
fn a_killed_agents_pods_come_back_elsewhere_and_drain_honours_the_budget() {
    let Some(c) = cluster() else { return };
    let _exclusive = NODES.write().unwrap_or_else(|p| p.into_inner());
    let ns = "failover";
    c.kubectl_ok(&["create", "namespace", ns], None);
    // Pods tolerate an unreachable node for 2 s instead of 300 s.
    let deployment = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"survivor","namespace":"failover"},
        "spec":{"replicas":4,"selector":{"matchLabels":{"app":"survivor"}},"template":{"metadata":{"labels":{"app":"survivor"}},
        "spec":{"terminationGracePeriodSeconds":1,"tolerations":[
          {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":2},
          {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":2}],
        "containers":[{"name":"echo","image":"localhost/berth/echo:1"}]}}}}"#;
    c.kubectl_ok(&["create", "-f", "-"], Some(deployment));
    let pods = c.wait_in(ns, "4 survivors on both nodes", DEADLINE, || {
        let pods = c.ready_pods(ns, "app=survivor");
        let nodes: BTreeSet<&str> = pods.iter().map(|(_, n)| n.as_str()).collect();
        (pods.len() == 4 && nodes.len() == 2).then_some(pods.clone())
    });
    let on_n2: Vec<String> = pods
        .iter()
        .filter(|(_, n)| n == "n2")
        .map(|(p, _)| p.clone())
        .collect();

    c.kill_agent("n2");
    let started = std::time::Instant::now();
    c.wait_in(
        ns,
        "4 ready survivors, all on n1",
        Duration::from_secs(90),
        || {
            let pods = c.ready_pods(ns, "app=survivor");
            (pods.len() == 4 && pods.iter().all(|(_, n)| n == "n1")).then_some(())
        },
    );
    eprintln!(
        "pods of the killed node running elsewhere after {:?}",
        started.elapsed()
    );
    let node = c.json(&["get", "node", "n2"]);
    assert_eq!(condition(&node, "Ready"), "Unknown");
    let taints = node["spec"]["taints"].to_string();
    assert!(
        taints.contains("node.kubernetes.io/unreachable"),
        "{taints}"
    );
    // As upstream: the evicted pods stay Terminating until their node confirms.
    for p in &on_n2 {
        let out = c.kubectl(&["get", "pod", "-n", ns, p, "-o", "json"], None);
        let pod: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert!(
            !out.status.success() || pod["metadata"]["deletionTimestamp"].is_string(),
            "{p} from the lost node should be deleted"
        );
    }

    // The node comes back (and finishes those deletions), then is drained: a
    // budget of minAvailable 5 of 6 lets evictions through one at a time.
    c.restart_agent("n2");
    c.wait_nodes_ready(&["n2".to_string()])
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait_in(ns, "the lost node's pods to be gone", DEADLINE, || {
        on_n2
            .iter()
            .all(|p| {
                !c.kubectl(&["get", "pod", "-n", ns, p], None)
                    .status
                    .success()
            })
            .then_some(())
    });
    c.kubectl_ok(
        &["scale", "-n", ns, "deployment/survivor", "--replicas=6"],
        None,
    );
    c.wait_in(ns, "survivors on n2 again", DEADLINE, || {
        let pods = c.ready_pods(ns, "app=survivor");
        (pods.len() == 6 && pods.iter().any(|(_, n)| n == "n2")).then_some(())
    });
    let pdb = r#"{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"survivor","namespace":"failover"},
        "spec":{"minAvailable":5,"selector":{"matchLabels":{"app":"survivor"}}}}"#;
    c.kubectl_ok(&["create", "-f", "-"], Some(pdb));
    c.wait_in(ns, "the budget to allow one disruption", DEADLINE, || {
        let p = c.json(&["get", "pdb", "-n", ns, "survivor"]);
        (p["status"]["disruptionsAllowed"] == 1).then_some(())
    });
    let out = c.kubectl(
        &[
            "drain",
            "n2",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=120s",
        ],
        None,
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "drain: {text}");
    // kubectl retries evictions the budget refuses (429), as upstream.
    assert!(text.contains("evicting pod failover/survivor"), "{text}");
    let pods = c.ready_pods(ns, "app=survivor");
    assert!(pods.iter().all(|(_, n)| n == "n1"), "{pods:?}");
    c.kubectl_ok(&["uncordon", "n2"], None);
}

#[test]
fn hpa_scales_up_under_cpu_load_and_down_after_it() {
    let Some(c) = cluster() else { return };
    let _shared = NODES.read().unwrap_or_else(|p| p.into_inner());
    let ns = "hpa";
    c.kubectl_ok(&["create", "namespace", ns], None);
    let burner = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"burn","namespace":"hpa"},
        "spec":{"replicas":1,"selector":{"matchLabels":{"app":"burn"}},"template":{"metadata":{"labels":{"app":"burn"}},
        "spec":{"terminationGracePeriodSeconds":0,"containers":[{"name":"burn","image":"localhost/berth/busybox:1",
        "command":["sh","-c","while true; do :; done"],
        "resources":{"requests":{"cpu":"50m"},"limits":{"cpu":"200m"}}}]}}}}"#;
    c.kubectl_ok(&["create", "-f", "-"], Some(burner));
    let hpa = r#"{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"burn","namespace":"hpa"},
        "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"burn"},"minReplicas":1,"maxReplicas":3,
        "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":50}}}],
        "behavior":{"scaleDown":{"stabilizationWindowSeconds":0}}}}"#;
    c.kubectl_ok(&["create", "-f", "-"], Some(hpa));
    c.wait_in(
        ns,
        "the HPA to scale burn up to 3",
        Duration::from_secs(120),
        || {
            let d = c.json(&["get", "deployment", "-n", ns, "burn"]);
            (d["spec"]["replicas"] == 3).then_some(())
        },
    );
    let events = c.kubectl_ok(
        &[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "reason=SuccessfulRescale",
        ],
        None,
    );
    assert!(events.contains("New size: 3"), "{events}");
    // The load stops: the same pods, idle.
    let idle = r#"{"spec":{"template":{"spec":{"containers":[{"name":"burn","command":["sleep","3600"]}]}}}}"#;
    c.kubectl_ok(&["patch", "deployment", "burn", "-n", ns, "-p", idle], None);
    c.wait_in(
        ns,
        "the HPA to scale burn back to 1",
        Duration::from_secs(150),
        || {
            let d = c.json(&["get", "deployment", "-n", ns, "burn"]);
            (d["spec"]["replicas"] == 1).then_some(())
        },
    );
}
