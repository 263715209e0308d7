use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::ByteString;
use serde_json::{json, Value};

use super::fixtures::{pod, pod_json, UID};
use crate::{resolve_env, Allocatable, EnvSource, PodFacts, SpecError};

/// An in-memory API: configmaps and secrets in namespace "web", services anywhere.
struct Fake {
    config_maps: Vec<ConfigMap>,
    secrets: Vec<Secret>,
    services: Vec<Service>,
    fail_services: bool,
}

fn named<T: for<'de> k8s_openapi::serde::Deserialize<'de>>(v: Value) -> T {
    match serde_json::from_value(v) {
        Ok(x) => x,
        Err(e) => panic!("bad fixture: {e}"),
    }
}

#[async_trait]
impl EnvSource for Fake {
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>, String> {
        if name == "broken" {
            return Err("Get \"https://api/configmaps/broken\": connection refused".into());
        }
        Ok(self
            .config_maps
            .iter()
            .find(|c| {
                c.metadata.namespace.as_deref() == Some(ns)
                    && c.metadata.name.as_deref() == Some(name)
            })
            .cloned())
    }
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Secret>, String> {
        Ok(self
            .secrets
            .iter()
            .find(|c| {
                c.metadata.namespace.as_deref() == Some(ns)
                    && c.metadata.name.as_deref() == Some(name)
            })
            .cloned())
    }
    async fn services(&self, ns: &str) -> Result<Vec<Service>, String> {
        if self.fail_services {
            return Err("boom".into());
        }
        Ok(self
            .services
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
            .cloned()
            .collect())
    }
}

fn fake() -> Fake {
    let secret = Secret {
        metadata: named(json!({ "name": "creds", "namespace": "web" })),
        data: Some(BTreeMap::from([
            ("username".to_string(), ByteString(b"admin".to_vec())),
            ("password".to_string(), ByteString(b"s3cr3t".to_vec())),
        ])),
        ..Default::default()
    };
    Fake {
        config_maps: vec![
            named(
                json!({ "metadata": { "name": "app-config", "namespace": "web" }, "data": { "LOG_LEVEL": "debug", "MODE": "prod" } }),
            ),
            named(
                json!({ "metadata": { "name": "extra", "namespace": "web" }, "data": { "MODE": "canary", "REGION": "eu" } }),
            ),
        ],
        secrets: vec![secret],
        services: vec![
            named(
                json!({ "metadata": { "name": "kubernetes", "namespace": "default" }, "spec": {
                "clusterIP": "10.96.0.1", "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443 }] } }),
            ),
            named(
                json!({ "metadata": { "name": "other", "namespace": "default" }, "spec": {
                "clusterIP": "10.96.0.50", "ports": [{ "port": 80 }] } }),
            ),
            named(
                json!({ "metadata": { "name": "my-svc", "namespace": "web" }, "spec": {
                "clusterIP": "10.96.3.4", "ports": [{ "port": 80, "protocol": "TCP" }, { "name": "metrics-port", "port": 9102, "protocol": "UDP" }] } }),
            ),
            named(
                json!({ "metadata": { "name": "headless", "namespace": "web" }, "spec": { "clusterIP": "None", "ports": [{ "port": 5432 }] } }),
            ),
            named(
                json!({ "metadata": { "name": "v6", "namespace": "web" }, "spec": { "clusterIP": "fd00::10", "ports": [{ "port": 8080 }] } }),
            ),
        ],
        fail_services: false,
    }
}

fn facts() -> PodFacts {
    PodFacts {
        node_name: "node-1".into(),
        host_ip: "192.168.1.10".into(),
        pod_ip: "10.244.1.7".into(),
        pod_ips: vec!["10.244.1.7".into(), "fd00:10:244:1::7".into()],
    }
}

const ALLOC: Allocatable = Allocatable {
    cpu_millis: 2000,
    memory_bytes: 4 << 30,
    ephemeral_storage_bytes: 0,
};

async fn env_for(
    container: Value,
    spec: Value,
    src: &Fake,
) -> Result<Vec<(String, String)>, SpecError> {
    let mut v = pod_json("api-0", "web", container, spec);
    super::fixtures::merge(
        &mut v,
        json!({ "metadata": { "labels": { "app": "api", "tier": "be" }, "annotations": { "build": "42\n\"rc\"" } } }),
    );
    let p = pod(v);
    let c = p
        .spec
        .as_ref()
        .map(|s| s.containers[0].clone())
        .unwrap_or_default();
    resolve_env(&p, &c, src, &facts(), &ALLOC).await
}

fn get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn service_links() {
    let env = env_for(json!({}), json!({}), &fake()).await.expect("env");
    let want: &[(&str, &str)] = &[
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
        ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
        ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
        ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
        ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
        ("KUBERNETES_PORT_443_TCP_PORT", "443"),
        ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
        ("MY_SVC_SERVICE_HOST", "10.96.3.4"),
        ("MY_SVC_SERVICE_PORT", "80"),
        ("MY_SVC_SERVICE_PORT_METRICS_PORT", "9102"),
        ("MY_SVC_PORT", "tcp://10.96.3.4:80"),
        ("MY_SVC_PORT_80_TCP", "tcp://10.96.3.4:80"),
        ("MY_SVC_PORT_80_TCP_PROTO", "tcp"),
        ("MY_SVC_PORT_80_TCP_PORT", "80"),
        ("MY_SVC_PORT_80_TCP_ADDR", "10.96.3.4"),
        ("MY_SVC_PORT_9102_UDP", "udp://10.96.3.4:9102"),
        ("MY_SVC_PORT_9102_UDP_PROTO", "udp"),
        ("MY_SVC_PORT_9102_UDP_PORT", "9102"),
        ("MY_SVC_PORT_9102_UDP_ADDR", "10.96.3.4"),
        ("V6_PORT_8080_TCP", "tcp://[fd00::10]:8080"),
    ];
    for (k, v) in want {
        assert_eq!(get(&env, k), Some(*v), "{k}");
    }
    assert!(
        env.iter()
            .all(|(k, _)| !k.starts_with("HEADLESS_") && !k.starts_with("OTHER_")),
        "headless and other namespaces excluded"
    );
    let mut names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    let sorted = {
        let mut s = names.clone();
        s.sort_unstable();
        s
    };
    assert_eq!(names, sorted, "service vars come sorted");
    names.dedup();
    assert_eq!(names.len(), env.len(), "no duplicates");

    let env = env_for(json!({}), json!({ "enableServiceLinks": false }), &fake())
        .await
        .expect("env");
    assert!(
        env.iter().all(|(k, _)| k.starts_with("KUBERNETES_")),
        "only the master service without links: {env:?}"
    );
    assert_eq!(env.len(), 8);

    let failing = Fake {
        fail_services: true,
        ..fake()
    };
    assert_eq!(
        env_for(json!({}), json!({}), &failing).await,
        Err(SpecError::CreateContainerConfigError(
            "failed to list services when setting up env vars".into()
        ))
    );
}

#[tokio::test]
async fn env_from_and_expansion_order() {
    let env = env_for(
        json!({
            "envFrom": [
                { "configMapRef": { "name": "app-config" } },
                { "prefix": "X_", "configMapRef": { "name": "extra" } },
                { "configMapRef": { "name": "extra" } },
                { "secretRef": { "name": "creds" }, "prefix": "DB_" },
                { "configMapRef": { "name": "absent", "optional": true } },
                { "secretRef": { "name": "absent", "optional": true } },
            ],
            "env": [
                { "name": "LOG_LEVEL", "value": "info" },
                { "name": "GREETING", "value": "hello $(DB_username) in $(MODE)" },
                { "name": "ESCAPED", "value": "$$(GREETING) and $(LATER) and $(NOPE)" },
                { "name": "API", "value": "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)" },
                { "name": "LATER", "value": "late" },
                { "name": "EMPTY" },
                { "name": "SELF", "value": "$(SELF)x" },
            ],
        }),
        json!({ "enableServiceLinks": false }),
        &fake(),
    )
    .await
    .expect("env");
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).take(12).collect();
    assert_eq!(
        names,
        vec![
            "LOG_LEVEL",
            "MODE",
            "X_MODE",
            "X_REGION",
            "REGION",
            "DB_password",
            "DB_username",
            "GREETING",
            "ESCAPED",
            "API",
            "LATER",
            "EMPTY"
        ]
    );
    let want: &[(&str, &str)] = &[
        ("LOG_LEVEL", "info"),
        ("MODE", "canary"),
        ("X_REGION", "eu"),
        ("DB_password", "s3cr3t"),
        ("GREETING", "hello admin in canary"),
        ("ESCAPED", "$(GREETING) and $(LATER) and $(NOPE)"),
        ("API", "https://10.96.0.1:443"),
        ("LATER", "late"),
        ("EMPTY", ""),
        ("SELF", "$(SELF)x"),
    ];
    for (k, v) in want {
        assert_eq!(get(&env, k), Some(*v), "{k}");
    }
}

#[tokio::test]
async fn config_map_and_secret_keys() {
    let env = env_for(
        json!({ "env": [
            { "name": "LEVEL", "valueFrom": { "configMapKeyRef": { "name": "app-config", "key": "LOG_LEVEL" } } },
            { "name": "PASS", "valueFrom": { "secretKeyRef": { "name": "creds", "key": "password" } } },
            { "name": "OPT_KEY", "valueFrom": { "configMapKeyRef": { "name": "app-config", "key": "nokey", "optional": true } } },
            { "name": "OPT_CM", "valueFrom": { "configMapKeyRef": { "name": "absent", "key": "k", "optional": true } } },
            { "name": "OPT_SECRET", "valueFrom": { "secretKeyRef": { "name": "absent", "key": "k", "optional": true } } },
            { "name": "OPT_SECRET_KEY", "valueFrom": { "secretKeyRef": { "name": "creds", "key": "k", "optional": true } } },
        ] }),
        json!({ "enableServiceLinks": false }),
        &fake(),
    )
    .await
    .expect("env");
    assert_eq!(get(&env, "LEVEL"), Some("debug"));
    assert_eq!(get(&env, "PASS"), Some("s3cr3t"));
    for absent in ["OPT_KEY", "OPT_CM", "OPT_SECRET", "OPT_SECRET_KEY"] {
        assert_eq!(
            get(&env, absent),
            None,
            "optional and missing: {absent} is not set at all"
        );
    }

    let failures: Vec<(Value, &str)> = vec![
        (
            json!({ "envFrom": [{ "configMapRef": { "name": "missing" } }] }),
            "configmap \"missing\" not found",
        ),
        (
            json!({ "envFrom": [{ "secretRef": { "name": "missing" } }] }),
            "secret \"missing\" not found",
        ),
        (
            json!({ "env": [{ "name": "A", "valueFrom": { "configMapKeyRef": { "name": "missing", "key": "k" } } }] }),
            "configmap \"missing\" not found",
        ),
        (
            json!({ "env": [{ "name": "A", "valueFrom": { "configMapKeyRef": { "name": "app-config", "key": "nokey" } } }] }),
            "couldn't find key nokey in ConfigMap web/app-config",
        ),
        (
            json!({ "env": [{ "name": "A", "valueFrom": { "secretKeyRef": { "name": "nope", "key": "k" } } }] }),
            "secret \"nope\" not found",
        ),
        (
            json!({ "env": [{ "name": "A", "valueFrom": { "secretKeyRef": { "name": "creds", "key": "token" } } }] }),
            "couldn't find key token in Secret web/creds",
        ),
        // Transport errors fail even for optional references.
        (
            json!({ "env": [{ "name": "A", "valueFrom": { "configMapKeyRef": { "name": "broken", "key": "k", "optional": true } } }] }),
            "Get \"https://api/configmaps/broken\": connection refused",
        ),
        (
            json!({ "env": [{ "name": "A", "valueFrom": { "fieldRef": { "fieldPath": "spec.foo" } } }] }),
            "field label not supported: spec.foo",
        ),
        (
            json!({ "env": [{ "name": "A", "valueFrom": { "fieldRef": { "apiVersion": "v2", "fieldPath": "metadata.name" } } }] }),
            "unsupported pod version: v2",
        ),
        (
            json!({ "env": [{ "name": "A", "valueFrom": { "fieldRef": { "fieldPath": "spec.containers['x']" } } }] }),
            "field label does not support subscript: spec.containers['x']",
        ),
        (
            json!({ "env": [{ "name": "A", "valueFrom": { "resourceFieldRef": { "resource": "limits.gpu" } } }] }),
            "unsupported container resource : limits.gpu",
        ),
        (
            json!({ "env": [{ "name": "A", "valueFrom": { "resourceFieldRef": { "containerName": "ghost", "resource": "limits.cpu" } } }] }),
            "container ghost not found",
        ),
    ];
    for (container, msg) in failures {
        let got = env_for(
            container.clone(),
            json!({ "enableServiceLinks": false }),
            &fake(),
        )
        .await;
        assert_eq!(
            got,
            Err(SpecError::CreateContainerConfigError(msg.into())),
            "{container}"
        );
    }
}

#[tokio::test]
async fn downward_api_fields() {
    let field = |name: &str, path: &str| json!({ "name": name, "valueFrom": { "fieldRef": { "apiVersion": "v1", "fieldPath": path } } });
    let env = env_for(
        json!({ "env": [
            field("POD_NAME", "metadata.name"),
            field("POD_NAMESPACE", "metadata.namespace"),
            field("POD_UID", "metadata.uid"),
            field("APP", "metadata.labels['app']"),
            field("NO_LABEL", "metadata.labels['missing']"),
            field("BUILD", "metadata.annotations['build']"),
            field("LABELS", "metadata.labels"),
            field("ANNOTATIONS", "metadata.annotations"),
            field("NODE", "spec.nodeName"),
            field("SA", "spec.serviceAccountName"),
            field("HOST_IP", "status.hostIP"),
            field("POD_IP", "status.podIP"),
            field("POD_IPS", "status.podIPs"),
            { "name": "REF", "value": "$(POD_NAME).$(POD_NAMESPACE)" },
        ] }),
        json!({ "enableServiceLinks": false }),
        &fake(),
    )
    .await
    .expect("env");
    let want: &[(&str, &str)] = &[
        ("POD_NAME", "api-0"),
        ("POD_NAMESPACE", "web"),
        ("POD_UID", UID),
        ("APP", "api"),
        ("NO_LABEL", ""),
        ("BUILD", "42\n\"rc\""),
        ("LABELS", "app=\"api\"\ntier=\"be\""),
        ("ANNOTATIONS", "build=\"42\\n\\\"rc\\\"\""),
        ("NODE", "node-1"),
        ("SA", "default"),
        ("HOST_IP", "192.168.1.10"),
        ("POD_IP", "10.244.1.7"),
        ("POD_IPS", "10.244.1.7,fd00:10:244:1::7"),
        ("REF", "api-0.web"),
    ];
    for (k, v) in want {
        assert_eq!(get(&env, k), Some(*v), "{k}");
    }
}

#[tokio::test]
async fn downward_api_resources() {
    let res = |name: &str, resource: &str, divisor: Option<&str>| {
        let mut sel = json!({ "resource": resource });
        if let Some(d) = divisor {
            sel["divisor"] = json!(d);
        }
        json!({ "name": name, "valueFrom": { "resourceFieldRef": sel } })
    };
    let env = env_for(
        json!({
            "resources": { "requests": { "cpu": "250m", "memory": "64Mi" }, "limits": { "cpu": "500m", "memory": "128Mi" } },
            "env": [
                res("CPU_LIMIT", "limits.cpu", None),
                res("CPU_LIMIT_M", "limits.cpu", Some("1m")),
                res("CPU_REQUEST_M", "requests.cpu", Some("1m")),
                res("MEM_LIMIT", "limits.memory", None),
                res("MEM_LIMIT_MI", "limits.memory", Some("1Mi")),
                res("MEM_REQUEST_MI", "requests.memory", Some("1Mi")),
                res("MEM_REQUEST_M", "requests.memory", Some("1M")),
                res("EPHEMERAL", "limits.ephemeral-storage", None),
            ],
        }),
        json!({ "enableServiceLinks": false }),
        &fake(),
    )
    .await
    .expect("env");
    let want: &[(&str, &str)] = &[
        ("CPU_LIMIT", "1"),
        ("CPU_LIMIT_M", "500"),
        ("CPU_REQUEST_M", "250"),
        ("MEM_LIMIT", "134217728"),
        ("MEM_LIMIT_MI", "128"),
        ("MEM_REQUEST_MI", "64"),
        ("MEM_REQUEST_M", "68"),
        ("EPHEMERAL", "0"),
    ];
    for (k, v) in want {
        assert_eq!(get(&env, k), Some(*v), "{k}");
    }

    // No limits: node allocatable stands in; no requests: zero.
    let env = env_for(
        json!({ "env": [
            res("CPU_LIMIT", "limits.cpu", None),
            res("CPU_LIMIT_M", "limits.cpu", Some("1m")),
            res("MEM_LIMIT_MI", "limits.memory", Some("1Mi")),
            res("CPU_REQUEST", "requests.cpu", None),
        ] }),
        json!({ "enableServiceLinks": false }),
        &fake(),
    )
    .await
    .expect("env");
    assert_eq!(get(&env, "CPU_LIMIT"), Some("2"));
    assert_eq!(get(&env, "CPU_LIMIT_M"), Some("2000"));
    assert_eq!(get(&env, "MEM_LIMIT_MI"), Some("4096"));
    assert_eq!(get(&env, "CPU_REQUEST"), Some("0"));
}
