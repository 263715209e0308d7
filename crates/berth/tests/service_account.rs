//! Service account tokens end to end: a real `berth up` (API server,
//! controllers, containerd, node agent) and the real kubectl 1.32.
//!
//! ```text
//! kubectl create token default (protobuf TokenRequest) ─▶ token ─▶ kubectl --token auth whoami
//! busybox pod ─▶ admission adds kube-api-access-xxxxx ─▶ kubelet: TokenRequest bound to the pod,
//!   kube-root-ca.crt (root-CA publisher), namespace ─▶ files in the container
//!   ─▶ token read from the pod authenticates from the host
//! ```
//!
//! Needs root, containerd and kubectl 1.32; skipped (with a message) otherwise.

#[path = "agent/harness.rs"]
#[allow(dead_code)]
mod harness;
use harness::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A kubeconfig for the same server that authenticates with `token` only (no client
/// certificate, which would take precedence over the token).
fn token_kubeconfig(a: &Agent, token: &str, name: &str) -> std::path::PathBuf {
    let admin = std::fs::read_to_string(&a.kubeconfig).expect("kubeconfig");
    let field = |key: &str| {
        admin
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} not in the kubeconfig"))
            .trim()
            .to_string()
    };
    let (server, ca) = (field("server:"), field("certificate-authority-data:"));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: {token}\n"
    );
    let path = a.work.join(format!("{name}.kubeconfig"));
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

/// `kubectl auth whoami -o json` as `token`: the username, or kubectl's error.
fn whoami(a: &Agent, token: &str, name: &str) -> Result<String, String> {
    let kc = token_kubeconfig(a, token, name);
    let out = std::process::Command::new("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")
        .arg("--kubeconfig")
        .arg(&kc)
        .arg("--cache-dir")
        .arg(a.work.join(format!("{name}-cache")))
        .args(["auth", "whoami", "-o", "json"])
        .env("HOME", &a.work)
        .output()
        .expect("kubectl");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let review: Value = serde_json::from_slice(&out.stdout).expect("whoami json");
    Ok(review["status"]["userInfo"]["username"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

fn wait_default_service_account(a: &Agent, ns: &str) {
    let start = Instant::now();
    while !a
        .kubectl(&["get", "serviceaccount", "default", "-n", ns], None)
        .status
        .success()
    {
        assert!(
            start.elapsed() < DEADLINE,
            "no default ServiceAccount in {ns}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn kubectl_create_token_authenticates() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let ns = a.namespace("sa-token");
    wait_default_service_account(a, &ns);
    // kubectl sends the TokenRequest as protobuf.
    let token = a
        .kubectl_ok(&["create", "token", "default", "-n", &ns], None)
        .trim()
        .to_string();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
    assert_eq!(
        whoami(a, &token, "create-token"),
        Ok(format!("system:serviceaccount:{ns}:default"))
    );
    let short = a.kubectl(
        &["create", "token", "default", "-n", &ns, "--duration", "1m"],
        None,
    );
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr)
            .contains("may not specify a duration less than 10 minutes"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    let missing = a.kubectl(&["create", "token", "ghost", "-n", &ns], None);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("serviceaccounts \"ghost\" not found")
    );
    // Deleting the account revokes its tokens.
    a.kubectl_ok(&["delete", "serviceaccount", "default", "-n", &ns], None);
    assert!(whoami(a, &token, "revoked").is_err());
}

#[test]
fn pods_see_their_token_ca_and_namespace() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let ns = a.namespace("sa-pod");
    wait_default_service_account(a, &ns);
    let dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    let script = format!(
        "echo TOKEN=$(cat {dir}/token); echo NS=$(cat {dir}/namespace); \
         echo MODE=$(stat -L -c %a {dir}/token); echo CA-BEGIN; cat {dir}/ca.crt; echo CA-END; sleep 3600"
    );
    a.create(
        &ns,
        pod_manifest("reader", json!([busybox("reader", &script)]), json!({})),
    );
    a.create(
        &ns,
        pod_manifest(
            "opted-out",
            json!([busybox(
                "c",
                "ls /var/run/secrets/kubernetes.io 2>&1; echo DONE; sleep 3600"
            )]),
            json!({"automountServiceAccountToken": false}),
        ),
    );

    let pod = a.wait_running_ready(&ns, "reader");
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        volumes.iter().any(|v| v["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("kube-api-access-"))),
        "{volumes:#?}"
    );
    let log = a.wait_log(&ns, "reader", "reader", 0, "CA-END");
    let line = |prefix: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {log}"))
            .trim()
            .to_string()
    };
    assert_eq!(line("NS="), ns);
    assert_eq!(line("MODE="), "644");
    let ca_in_pod: String = log
        .split("CA-BEGIN")
        .nth(1)
        .and_then(|r| r.split("CA-END").next())
        .unwrap_or_default()
        .trim()
        .to_string();
    let published = a.kubectl_ok(
        &[
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            &ns,
            "-o",
            "json",
        ],
        None,
    );
    let published: Value = serde_json::from_str(&published).expect("configmap json");
    assert!(
        ca_in_pod.starts_with("-----BEGIN CERTIFICATE-----"),
        "{log}"
    );
    assert_eq!(
        ca_in_pod,
        published["data"]["ca.crt"].as_str().unwrap_or("").trim()
    );

    // The pod's token, used from the host, is the pod's service account.
    let token = line("TOKEN=");
    assert_eq!(
        whoami(a, &token, "pod-token"),
        Ok(format!("system:serviceaccount:{ns}:default"))
    );

    let log = a.wait_log(&ns, "opted-out", "c", 0, "DONE");
    assert!(log.contains("No such file or directory"), "{log}");

    // The pod's token dies with the pod.
    a.kubectl_ok(
        &[
            "delete",
            "pod",
            "reader",
            "-n",
            &ns,
            "--grace-period=1",
            "--wait=true",
        ],
        None,
    );
    let start = Instant::now();
    while whoami(a, &token, "pod-token-after").is_ok() {
        assert!(
            start.elapsed() < DEADLINE,
            "the deleted pod's token still authenticates"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
