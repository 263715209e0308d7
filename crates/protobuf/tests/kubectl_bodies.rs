//! Request bodies captured from a real kubectl 1.32 (`kubectl create ...`, `auth can-i`,
//! `create token` against a recording server); see tests/fixtures/kubectl/README.md. kubectl
//! writes every non-pointer field, so these also prove the Go zero-value handling: the
//! expected JSON is what kubectl sends for the same command with a JSON body.

use berth_protobuf::decode;
use serde_json::{json, Value};

fn decoded(name: &str) -> Value {
    // At run time: a binary built in another clone carries that clone's path.
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let path = format!("{dir}/tests/fixtures/kubectl/{name}.bin");
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    decode(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default"})
}

/// The JSON must be accepted by the k8s-openapi type.
fn valid<T: serde::de::DeserializeOwned>(value: &Value) {
    if let Err(e) = serde_json::from_value::<T>(value.clone()) {
        panic!("k8s-openapi rejects {value}: {e}");
    }
}

#[test]
fn create_deployment() {
    // kubectl create deployment web --image=nginx:1.27 --replicas=0 --port=80
    let v = decoded("deployment");
    assert_eq!(
        v,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}], "resources": {}}]}
                },
                "strategy": {}
            },
            "status": {}
        })
    );
    valid::<k8s_openapi::api::apps::v1::Deployment>(&v);
}

#[test]
fn create_configmap_secret_namespace() {
    let cm = decoded("configmap");
    assert_eq!(
        cm,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("settings"), "data": {"mode": "prod"}})
    );
    valid::<k8s_openapi::api::core::v1::ConfigMap>(&cm);

    let secret = decoded("secret");
    assert_eq!(
        secret,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("db"), "data": {"password": "czNjcjN0"}})
    );
    valid::<k8s_openapi::api::core::v1::Secret>(&secret);

    let ns = decoded("namespace");
    assert_eq!(
        ns,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}, "spec": {}, "status": {}})
    );
    valid::<k8s_openapi::api::core::v1::Namespace>(&ns);
}

#[test]
fn create_service_clusterip() {
    // kubectl create service clusterip web --tcp=80:8080
    let v = decoded("service");
    let mut metadata = meta("web");
    metadata["labels"] = json!({"app": "web"});
    assert_eq!(
        v,
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": metadata,
            "spec": {
                "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                "selector": {"app": "web"},
                "type": "ClusterIP"
            },
            "status": {"loadBalancer": {}}
        })
    );
    valid::<k8s_openapi::api::core::v1::Service>(&v);
}

#[test]
fn create_job_and_cronjob() {
    let job = decoded("job");
    assert_eq!(
        job,
        json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": meta("pi"),
            "spec": {"template": {
                "metadata": {},
                "spec": {"containers": [{"name": "pi", "image": "perl", "command": ["perl", "-e", "print 1"], "resources": {}}], "restartPolicy": "Never"}
            }},
            "status": {}
        })
    );
    valid::<k8s_openapi::api::batch::v1::Job>(&job);

    let cronjob = decoded("cronjob");
    assert_eq!(cronjob["spec"]["schedule"], json!("0 3 * * *"));
    assert_eq!(
        cronjob["spec"]["jobTemplate"]["metadata"],
        json!({"name": "nightly"})
    );
    assert_eq!(
        cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
        json!("OnFailure")
    );
    valid::<k8s_openapi::api::batch::v1::CronJob>(&cronjob);
}

#[test]
fn create_role() {
    let v = decoded("role");
    assert_eq!(
        v,
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta("pod-reader"),
            "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
        })
    );
    valid::<k8s_openapi::api::rbac::v1::Role>(&v);
}

#[test]
fn auth_can_i() {
    // kubectl auth can-i create deployments.apps
    let v = decoded("cani");
    assert_eq!(
        v,
        json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "metadata": {},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "group": "apps", "resource": "deployments"}},
            "status": {}
        })
    );
    valid::<k8s_openapi::api::authorization::v1::SelfSubjectAccessReview>(&v);
}

#[test]
fn create_token() {
    // kubectl create token default --duration=1h
    let v = decoded("token");
    assert_eq!(
        v,
        json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {},
            "spec": {"expirationSeconds": 3600},
            "status": {}
        })
    );
    // k8s-openapi makes status.expirationTimestamp required, so no client body (JSON clients
    // send null) deserializes as is: the server has to drop the status first.
    let mut without_status = v.clone();
    if let Some(object) = without_status.as_object_mut() {
        object.remove("status");
    }
    valid::<k8s_openapi::api::authentication::v1::TokenRequest>(&without_status);
}
