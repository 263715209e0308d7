//! Multi-node end-to-end tests: a `berth server` and two `berth agent`s in
//! network namespaces, real containerd, real kubectl. See multinode/cluster.rs.

#[path = "multinode/cluster.rs"]
mod cluster;

use cluster::cluster;
use std::collections::BTreeSet;

#[test]
fn agents_join_with_the_token_and_replicas_spread_over_both_nodes() {
    let Some(c) = cluster() else { return };
    let nodes = c.json(&["get", "nodes"]);
    let names: BTreeSet<String> = nodes["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, BTreeSet::from(["n1".to_string(), "n2".to_string()]));
    // The node reports the address it joined with.
    let n1 = c.json(&["get", "node", "n1"]);
    assert!(
        n1["status"]["addresses"].as_array().is_some_and(|a| a
            .iter()
            .any(|a| a["address"] == format!("10.99.{}.11", c.id))),
        "n1 addresses: {}",
        n1["status"]["addresses"]
    );

    c.kubectl_ok(&["create", "namespace", "spread"], None);
    c.kubectl_ok(
        &[
            "create",
            "deployment",
            "web",
            "-n",
            "spread",
            "--image=localhost/berth/echo:1",
            "--replicas=4",
        ],
        None,
    );
    let pods = c.wait_in("spread", "4 ready replicas", cluster::DEADLINE, || {
        let pods = c.ready_pods("spread", "app=web");
        (pods.len() == 4).then_some(pods)
    });
    let used: BTreeSet<&str> = pods.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(used.len(), 2, "replicas should use both nodes: {pods:?}");
    // Exec reaches a pod on a joined node through that node's server.
    c.kubectl_ok(
        &[
            "run",
            "bb",
            "-n",
            "spread",
            "--image=localhost/berth/busybox:1",
            "--overrides={\"spec\":{\"nodeSelector\":{\"kubernetes.io/hostname\":\"n2\"}}}",
            "--",
            "sleep",
            "3600",
        ],
        None,
    );
    c.wait_in("spread", "bb ready on n2", cluster::DEADLINE, || {
        let ready = c.ready_pods("spread", "run=bb");
        (ready.len() == 1 && ready[0].1 == "n2").then_some(())
    });
    let out = c.kubectl_ok(&["exec", "-n", "spread", "bb", "--", "hostname"], None);
    assert_eq!(out.trim(), "bb");
}

#[test]
fn a_wrong_token_is_refused_with_a_clear_error() {
    let Some(c) = cluster() else { return };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["agent", "--server", &c.server_url])
        .args(["--token", &format!("berth::{}::wrong", "0".repeat(64))])
        .args(["--node-name", "intruder", "--data-dir"])
        .arg(c.work.join("intruder"))
        .output()
        .expect("run berth agent");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("wrong server, or a token from another cluster"),
        "stderr: {err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["agent", "--server", &c.server_url, "--token", "nonsense"])
        .args(["--data-dir"])
        .arg(c.work.join("intruder"))
        .output()
        .expect("run berth agent");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("berth::<64 hex digits>::<secret>"));
}
