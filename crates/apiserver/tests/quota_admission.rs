//! LimitRanger and ResourceQuota admission through real HTTP: defaults on
//! created pods, 403 Forbidden Statuses worded as kube-apiserver's, nothing
//! stored on rejection, `status.used` charged at admission (not on dry
//! run), and room freed only once `status.used` is recalculated (written
//! here by hand, as the quota controller would).

mod support;

use http::Method;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use support::TestServer;

const JSON: &str = "application/json";
const MERGE: &str = "application/merge-patch+json";

async fn send(
    client: &kube::Client,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = http::Request::builder().method(method.clone()).uri(path);
    let bytes = match body {
        Some(b) => {
            let ct = if method == Method::PATCH { MERGE } else { JSON };
            req = req.header(http::header::CONTENT_TYPE, ct);
            serde_json::to_vec(b).expect("json body")
        }
        None => Vec::new(),
    };
    let req = req.body(kube::client::Body::from(bytes)).expect("request");
    let resp = client.send(req).await.expect("transport");
    let code = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn must(client: &kube::Client, method: Method, path: &str, body: Option<&Value>) -> Value {
    let (code, v) = send(client, method.clone(), path, body).await;
    assert!(code < 300, "{method} {path}: {code} {v}");
    v
}

async fn namespace(client: &kube::Client, ns: &str) {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    must(client, Method::POST, "/api/v1/namespaces", Some(&body)).await;
}

fn pod(name: &str, requests: Value, limits: Value) -> Value {
    let mut resources = json!({});
    if !requests.is_null() {
        resources["requests"] = requests;
    }
    if !limits.is_null() {
        resources["limits"] = limits;
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": resources}]}})
}

fn pods(ns: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods")
}

/// Create a quota and write its status as the quota controller would.
async fn quota(client: &kube::Client, ns: &str, name: &str, hard: Value, used: Option<Value>) {
    let path = format!("/api/v1/namespaces/{ns}/resourcequotas");
    let body = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": {"hard": hard}});
    must(client, Method::POST, &path, Some(&body)).await;
    if let Some(used) = used {
        set_used(client, ns, name, hard, used).await;
    }
}

async fn set_used(client: &kube::Client, ns: &str, name: &str, hard: Value, used: Value) {
    let path = format!("/api/v1/namespaces/{ns}/resourcequotas/{name}/status");
    let body = json!({"status": {"hard": hard, "used": used}});
    must(client, Method::PATCH, &path, Some(&body)).await;
}

async fn used(client: &kube::Client, ns: &str, name: &str) -> Value {
    let path = format!("/api/v1/namespaces/{ns}/resourcequotas/{name}");
    must(client, Method::GET, &path, None).await["status"]["used"].clone()
}

fn assert_forbidden(code: u16, status: &Value, message: &str, name: &str, kind: &str) {
    assert_eq!(code, 403, "{status}");
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "Forbidden", "{status}");
    assert_eq!(status["message"], message);
    assert_eq!(status["details"]["name"], name, "{status}");
    assert_eq!(status["details"]["kind"], kind, "{status}");
}

#[tokio::test]
async fn limit_range_defaults_pods_and_rejects_over_max() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "lr").await;
    let lr = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"},
            "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "250m"}}]}});
    must(
        &client,
        Method::POST,
        "/api/v1/namespaces/lr/limitranges",
        Some(&lr),
    )
    .await;

    let created = must(
        &client,
        Method::POST,
        &pods("lr"),
        Some(&pod("plain", Value::Null, Value::Null)),
    )
    .await;
    let resources = &created["spec"]["containers"][0]["resources"];
    assert_eq!(
        resources["limits"],
        json!({"cpu": "500m", "memory": "256Mi"})
    );
    assert_eq!(
        resources["requests"],
        json!({"cpu": "250m", "memory": "256Mi"})
    );
    assert_eq!(
        created["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c"
    );
    // What a GET returns is what admission produced.
    let got = must(&client, Method::GET, &format!("{}/plain", pods("lr")), None).await;
    assert_eq!(got["spec"]["containers"][0]["resources"], *resources);

    let before = server.store_dump().await;
    let (code, status) = send(
        &client,
        Method::POST,
        &pods("lr"),
        Some(&pod("big", Value::Null, json!({"cpu": "2"}))),
    )
    .await;
    assert_forbidden(
        code,
        &status,
        "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2",
        "big",
        "pods",
    );
    assert_eq!(
        server.store_dump().await,
        before,
        "a rejected pod changes nothing"
    );
    let (code, _) = send(&client, Method::GET, &format!("{}/big", pods("lr")), None).await;
    assert_eq!(code, 404);

    // Dry run is admitted the same way.
    let (code, status) = send(
        &client,
        Method::POST,
        &format!("{}?dryRun=All", pods("lr")),
        Some(&pod("big", Value::Null, json!({"cpu": "2"}))),
    )
    .await;
    assert_eq!((code, status["reason"].as_str()), (403, Some("Forbidden")));

    // Claims: max on requests.storage.
    let pvc_lr = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "storage"},
        "spec": {"limits": [{"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}}]}});
    must(
        &client,
        Method::POST,
        "/api/v1/namespaces/lr/limitranges",
        Some(&pvc_lr),
    )
    .await;
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}});
    let (code, status) = send(
        &client,
        Method::POST,
        "/api/v1/namespaces/lr/persistentvolumeclaims",
        Some(&claim),
    )
    .await;
    assert_forbidden(
        code,
        &status,
        "persistentvolumeclaims \"data\" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi",
        "data",
        "persistentvolumeclaims",
    );
}

#[tokio::test]
async fn pod_count_quota_is_charged_at_admission() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "q").await;
    quota(&client, "q", "pods-quota", json!({"pods": "1"}), None).await;

    // The controller has not computed usage yet.
    let (code, status) = send(
        &client,
        Method::POST,
        &pods("q"),
        Some(&pod("a", Value::Null, Value::Null)),
    )
    .await;
    assert_forbidden(
        code,
        &status,
        "pods \"a\" is forbidden: status unknown for quota: pods-quota, resources: pods",
        "a",
        "pods",
    );

    set_used(
        &client,
        "q",
        "pods-quota",
        json!({"pods": "1"}),
        json!({"pods": "0"}),
    )
    .await;
    // Dry run: admitted, quota untouched.
    must(
        &client,
        Method::POST,
        &format!("{}?dryRun=All", pods("q")),
        Some(&pod("a", Value::Null, Value::Null)),
    )
    .await;
    assert_eq!(used(&client, "q", "pods-quota").await, json!({"pods": "0"}));

    must(
        &client,
        Method::POST,
        &pods("q"),
        Some(&pod("a", Value::Null, Value::Null)),
    )
    .await;
    assert_eq!(used(&client, "q", "pods-quota").await, json!({"pods": "1"}));

    let before = server.store_dump().await;
    let (code, status) = send(
        &client,
        Method::POST,
        &pods("q"),
        Some(&pod("b", Value::Null, Value::Null)),
    )
    .await;
    assert_forbidden(
        code,
        &status,
        "pods \"b\" is forbidden: exceeded quota: pods-quota, requested: pods=1, used: pods=1, limited: pods=1",
        "b",
        "pods",
    );
    assert_eq!(
        server.store_dump().await,
        before,
        "a rejected pod changes nothing"
    );

    // A second create of an existing pod is AlreadyExists, not a second charge.
    let (code, _) = send(
        &client,
        Method::POST,
        &pods("q"),
        Some(&pod("a", Value::Null, Value::Null)),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(used(&client, "q", "pods-quota").await, json!({"pods": "1"}));

    // Deleting frees room only once status.used is recalculated.
    must(
        &client,
        Method::DELETE,
        &format!("{}/a?gracePeriodSeconds=0", pods("q")),
        None,
    )
    .await;
    let (code, _) = send(
        &client,
        Method::POST,
        &pods("q"),
        Some(&pod("b", Value::Null, Value::Null)),
    )
    .await;
    assert_eq!(code, 403);
    set_used(
        &client,
        "q",
        "pods-quota",
        json!({"pods": "1"}),
        json!({"pods": "0"}),
    )
    .await;
    must(
        &client,
        Method::POST,
        &pods("q"),
        Some(&pod("b", Value::Null, Value::Null)),
    )
    .await;
    assert_eq!(used(&client, "q", "pods-quota").await, json!({"pods": "1"}));
}

#[tokio::test]
async fn compute_quota_requires_requests_and_sums_them() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "c").await;
    let hard = json!({"requests.cpu": "2", "pods": "10"});
    quota(
        &client,
        "c",
        "compute-resources",
        hard.clone(),
        Some(json!({"requests.cpu": "0", "pods": "0"})),
    )
    .await;

    let (code, status) = send(
        &client,
        Method::POST,
        &pods("c"),
        Some(&pod("bare", Value::Null, Value::Null)),
    )
    .await;
    assert_forbidden(
        code,
        &status,
        "pods \"bare\" is forbidden: failed quota: compute-resources: must specify requests.cpu for: c",
        "bare",
        "pods",
    );
    must(
        &client,
        Method::POST,
        &pods("c"),
        Some(&pod("one", json!({"cpu": "1"}), Value::Null)),
    )
    .await;
    assert_eq!(
        used(&client, "c", "compute-resources").await,
        json!({"requests.cpu": "1", "pods": "1"})
    );
    let (code, status) = send(
        &client,
        Method::POST,
        &pods("c"),
        Some(&pod("two", json!({"cpu": "2"}), Value::Null)),
    )
    .await;
    assert_forbidden(
        code,
        &status,
        "pods \"two\" is forbidden: exceeded quota: compute-resources, requested: requests.cpu=2, used: requests.cpu=1, limited: requests.cpu=2",
        "two",
        "pods",
    );
    must(
        &client,
        Method::POST,
        &pods("c"),
        Some(&pod("half", json!({"cpu": "500m"}), Value::Null)),
    )
    .await;
    assert_eq!(
        used(&client, "c", "compute-resources").await,
        json!({"requests.cpu": "1500m", "pods": "2"})
    );
}

#[tokio::test]
async fn object_counts_and_service_type_changes_are_charged() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "o").await;
    let hard = json!({"services": "5", "services.loadbalancers": "0", "configmaps": "1", "count/deployments.apps": "0"});
    quota(
        &client,
        "o",
        "objects",
        hard.clone(),
        Some(json!({"services": "0", "services.loadbalancers": "0", "configmaps": "0", "count/deployments.apps": "0"})),
    )
    .await;

    let cm =
        |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    must(
        &client,
        Method::POST,
        "/api/v1/namespaces/o/configmaps",
        Some(&cm("one")),
    )
    .await;
    let (code, status) = send(
        &client,
        Method::POST,
        "/api/v1/namespaces/o/configmaps",
        Some(&cm("two")),
    )
    .await;
    assert_forbidden(
        code,
        &status,
        "configmaps \"two\" is forbidden: exceeded quota: objects, requested: configmaps=1, used: configmaps=1, limited: configmaps=1",
        "two",
        "configmaps",
    );

    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let (code, status) = send(
        &client,
        Method::POST,
        "/apis/apps/v1/namespaces/o/deployments",
        Some(&deploy),
    )
    .await;
    assert_forbidden(
        code,
        &status,
        "deployments.apps \"web\" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=0, limited: count/deployments.apps=0",
        "web",
        "deployments",
    );
    assert_eq!(status["details"]["group"], "apps");

    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}]}});
    must(
        &client,
        Method::POST,
        "/api/v1/namespaces/o/services",
        Some(&svc),
    )
    .await;
    assert_eq!(used(&client, "o", "objects").await["services"], "1");
    let (code, status) = send(
        &client,
        Method::PATCH,
        "/api/v1/namespaces/o/services/s",
        Some(&json!({"spec": {"type": "LoadBalancer"}})),
    )
    .await;
    assert_forbidden(
        code,
        &status,
        "services \"s\" is forbidden: exceeded quota: objects, requested: services.loadbalancers=1, used: services.loadbalancers=0, limited: services.loadbalancers=0",
        "s",
        "services",
    );
    // An update that changes no usage passes and charges nothing.
    must(
        &client,
        Method::PATCH,
        "/api/v1/namespaces/o/services/s",
        Some(&json!({"metadata": {"labels": {"x": "y"}}})),
    )
    .await;
    assert_eq!(used(&client, "o", "objects").await["services"], "1");
}

#[tokio::test]
async fn concurrent_creates_never_exceed_the_quota() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "race").await;
    quota(
        &client,
        "race",
        "five",
        json!({"pods": "5"}),
        Some(json!({"pods": "0"})),
    )
    .await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                send(
                    &client,
                    Method::POST,
                    &pods("race"),
                    Some(&pod(&format!("p{i}"), Value::Null, Value::Null)),
                )
                .await
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.expect("task").0);
    }
    codes.sort_unstable();
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 5, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 403).count(), 7, "{codes:?}");
    assert_eq!(used(&client, "race", "five").await, json!({"pods": "5"}));
}
