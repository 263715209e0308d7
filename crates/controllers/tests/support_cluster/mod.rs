//! Shared test harness: in-process API server, polling with deadlines, and a
//! stand-in kubelet (node registration, leases, pod status patches).

#![allow(dead_code)] // each test binary uses a different subset
use berth_controllers::runner::Context;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use berth_apiserver::testing::TestServer;

pub async fn start() -> (TestServer, kube::Client, Arc<Context>) {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let ctx = Context::new(client.clone(), Duration::from_secs(30));
    (server, client, ctx)
}

pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn now() -> String {
    Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Register a node with a Ready=True status, as a kubelet does.
pub async fn create_node(client: &kube::Client, name: &str, labels: Value) -> Node {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {},
    }))
    .expect("node");
    let created = nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    set_node_ready(client, name, "True").await;
    created
}

pub async fn set_node_ready(client: &kube::Client, name: &str, status: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let t = now();
    let conditions = json!([
        {"type": "Ready", "status": status, "reason": "KubeletReady", "message": "kubelet is posting ready status",
         "lastHeartbeatTime": t, "lastTransitionTime": t},
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
         "lastHeartbeatTime": t, "lastTransitionTime": t},
    ]);
    nodes
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": conditions}})),
        )
        .await
        .expect("node status");
}

/// Create or renew the node's Lease in kube-node-lease.
pub async fn renew_lease(client: &kube::Client, name: &str) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let renew = Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew},
    });
    match leases.get_opt(name).await {
        Ok(Some(_)) => {
            let patch = json!({"spec": {"renewTime": renew}});
            let _ = leases
                .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                .await;
        }
        _ => {
            let l: Lease = serde_json::from_value(lease).expect("lease");
            let _ = leases.create(&PostParams::default(), &l).await;
        }
    }
}

/// A kubelet that keeps renewing `name`'s lease every 300 ms until aborted.
pub fn keep_renewing(client: kube::Client, name: &str) -> tokio::task::JoinHandle<()> {
    let name = name.to_string();
    tokio::spawn(async move {
        loop {
            renew_lease(&client, &name).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

/// Create a pod bound to `node` with the given labels and container ports.
pub async fn create_pod(
    client: &kube::Client,
    ns: &str,
    name: &str,
    node: &str,
    extra: Value,
) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut v = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "web"}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx",
                 "ports": [{"name": "http", "containerPort": 8080}]}]},
    });
    merge(&mut v, extra);
    let pod: Pod = serde_json::from_value(v).expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create pod")
}

pub fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

/// Patch pods/status as a kubelet would: Running, with IP and readiness.
pub async fn set_pod_status(client: &kube::Client, ns: &str, name: &str, ip: &str, ready: bool) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let status = json!({"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                        "lastTransitionTime": now()}],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("pod status");
}

pub fn pod_ready(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}
