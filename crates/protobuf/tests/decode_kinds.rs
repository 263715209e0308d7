//! Objects built with k8s-pb (prost) structs, encoded and wrapped the way kubectl sends them,
//! must decode to the JSON a JSON client sends, and that JSON must survive a round trip through
//! the k8s-openapi type unchanged (k8s-openapi ignores unknown keys, so equality after the round
//! trip proves every key was a real field name).

use std::collections::BTreeMap;

use berth_protobuf::{decode, decode_with, encode, DecodeError, DecodeOptions, MAGIC};
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{json, Value};

/// 2026-11-23T10:00:00Z
const CREATED: i64 = 1_795_428_000;

fn envelope(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(object.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn quantity(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

fn meta_named(name: &str) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: s(name),
        ..Default::default()
    })
}

/// Decodes, compares with `expected`, checks the k8s-openapi round trip, and checks that
/// `encode` gives bytes prost reads back as the original object.
fn check<T, P>(api_version: &str, kind: &str, object: &P, expected: Value)
where
    T: serde::de::DeserializeOwned + serde::Serialize,
    P: Message + Default + PartialEq + std::fmt::Debug,
{
    let body = envelope(api_version, kind, object);
    let decoded = decode(&body).unwrap_or_else(|e| panic!("{kind}: {e}"));
    assert_eq!(
        decoded,
        expected,
        "{kind}: decoded JSON\n{}",
        serde_json::to_string_pretty(&decoded).unwrap_or_default()
    );
    let typed: T = serde_json::from_value(decoded.clone())
        .unwrap_or_else(|e| panic!("{kind}: k8s-openapi rejects it: {e}"));
    let round_trip = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(
        round_trip,
        without_nulls(&decoded),
        "{kind}: k8s-openapi round trip lost or renamed fields"
    );

    let encoded = encode(&decoded).unwrap_or_else(|e| panic!("{kind}: encode: {e}"));
    let unknown = Unknown::decode(&encoded[4..]).expect("envelope decodes with prost");
    assert_eq!(
        unknown.type_meta.and_then(|t| t.kind).as_deref(),
        Some(kind)
    );
    let back =
        P::decode(unknown.raw.unwrap_or_default().as_slice()).expect("object decodes with prost");
    assert_eq!(
        decode(&envelope(api_version, kind, &back)).ok(),
        Some(expected),
        "{kind}: encode/decode round trip"
    );
}

/// k8s-openapi drops `null` (creationTimestamp: null); compare without them.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

#[test]
fn deployment_with_containers_resources_and_int_or_string() {
    use k8s_pb::api::apps::v1 as apps;
    let app = labels(&[("app", "web")]);
    let deployment = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            namespace: s("default"),
            labels: app.clone(),
            creation_timestamp: Some(meta::Time {
                seconds: Some(CREATED),
                nanos: Some(0),
            }),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(3),
            selector: Some(meta::LabelSelector {
                match_labels: app.clone(),
                ..Default::default()
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: app,
                    ..Default::default()
                }),
                spec: Some(core::PodSpec {
                    containers: vec![core::Container {
                        name: s("nginx"),
                        image: s("nginx:1.27"),
                        command: vec!["nginx".into(), "-g".into(), "daemon off;".into()],
                        ports: vec![core::ContainerPort {
                            container_port: Some(80),
                            protocol: s("TCP"),
                            host_ip: s("127.0.0.1"),
                            ..Default::default()
                        }],
                        env: vec![
                            core::EnvVar {
                                name: s("MODE"),
                                value: s("prod"),
                                ..Default::default()
                            },
                            core::EnvVar {
                                name: s("POD_IP"),
                                value_from: Some(core::EnvVarSource {
                                    field_ref: Some(core::ObjectFieldSelector {
                                        field_path: s("status.podIP"),
                                        ..Default::default()
                                    }),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            },
                        ],
                        resources: Some(core::ResourceRequirements {
                            limits: [
                                ("cpu".to_string(), quantity("500m")),
                                ("memory".to_string(), quantity("128Mi")),
                            ]
                            .into(),
                            requests: [("cpu".to_string(), quantity("250m"))].into(),
                            ..Default::default()
                        }),
                        readiness_probe: Some(core::Probe {
                            handler: Some(core::ProbeHandler {
                                http_get: Some(core::HttpGetAction {
                                    path: s("/healthz"),
                                    port: Some(IntOrString {
                                        r#type: Some(1),
                                        int_val: None,
                                        str_val: s("http"),
                                    }),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            }),
                            period_seconds: Some(5),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_surge: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: s("25%"),
                    }),
                    max_unavailable: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(1),
                        str_val: s(""),
                    }),
                }),
            }),
            ..Default::default()
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "creationTimestamp": "2026-11-23T10:00:00Z",
            "labels": {"app": "web"}
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "nginx",
                        "image": "nginx:1.27",
                        "command": ["nginx", "-g", "daemon off;"],
                        "ports": [{"containerPort": 80, "protocol": "TCP", "hostIP": "127.0.0.1"}],
                        "env": [
                            {"name": "MODE", "value": "prod"},
                            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
                        ],
                        "resources": {
                            "limits": {"cpu": "500m", "memory": "128Mi"},
                            "requests": {"cpu": "250m"}
                        },
                        "readinessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http"},
                            "periodSeconds": 5
                        }
                    }]
                }
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}
            }
        }
    });
    check::<k8s_openapi::api::apps::v1::Deployment, _>(
        "apps/v1",
        "Deployment",
        &deployment,
        expected,
    );
}

/// What kubectl (a Go client) really sends: every non-pointer field, zero or not.
#[test]
fn go_zero_values_are_dropped_but_pointer_zeros_kept() {
    use k8s_pb::api::apps::v1 as apps;
    let deployment = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            generate_name: s(""),
            namespace: s(""),
            self_link: s(""),
            uid: s(""),
            resource_version: s(""),
            generation: Some(0),
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(0),
            min_ready_seconds: Some(0),
            paused: Some(false),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s(""),
                rolling_update: None,
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta::default()),
                spec: Some(core::PodSpec {
                    containers: vec![core::Container {
                        name: s("nginx"),
                        image: s("nginx"),
                        termination_message_path: s(""),
                        image_pull_policy: s(""),
                        stdin: Some(false),
                        tty: Some(false),
                        resources: Some(core::ResourceRequirements::default()),
                        ..Default::default()
                    }],
                    automount_service_account_token: Some(false),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
        status: Some(apps::DeploymentStatus {
            replicas: Some(0),
            observed_generation: Some(0),
            ..Default::default()
        }),
    };
    let body = envelope("apps/v1", "Deployment", &deployment);
    let decoded = decode(&body).expect("decodes");
    assert_eq!(
        decoded,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 0,
                "template": {
                    "metadata": {},
                    "spec": {
                        "containers": [{"name": "nginx", "image": "nginx", "resources": {}}],
                        "automountServiceAccountToken": false
                    }
                },
                "strategy": {}
            },
            "status": {}
        })
    );
    let exact = decode_with(
        &body,
        DecodeOptions {
            omit_go_zero_values: false,
        },
    )
    .expect("decodes");
    assert_eq!(exact["metadata"]["namespace"], json!(""));
    assert_eq!(exact["spec"]["paused"], json!(false));
    assert_eq!(
        exact["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        json!("")
    );
}

#[test]
fn configmap_with_data_and_binary_data() {
    let cm = core::ConfigMap {
        metadata: meta_named("settings"),
        data: labels(&[("mode", "prod"), ("empty", "")]),
        binary_data: [("blob".to_string(), vec![0u8, 1, 2, 255])].into(),
        immutable: None,
    };
    let expected = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"empty": "", "mode": "prod"},
        "binaryData": {"blob": "AAEC/w=="}
    });
    check::<k8s_openapi::api::core::v1::ConfigMap, _>("v1", "ConfigMap", &cm, expected);
}

#[test]
fn secret_data_is_base64() {
    let secret = core::Secret {
        metadata: meta_named("db"),
        data: [("password".to_string(), b"s3cr3t".to_vec())].into(),
        r#type: s("Opaque"),
        immutable: Some(false),
        ..Default::default()
    };
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "immutable": false,
        "data": {"password": "czNjcjN0"},
        "type": "Opaque"
    });
    check::<k8s_openapi::api::core::v1::Secret, _>("v1", "Secret", &secret, expected);
}

#[test]
fn namespace() {
    let ns = core::Namespace {
        metadata: meta_named("team-a"),
        spec: Some(core::NamespaceSpec::default()),
        status: None,
    };
    let expected = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}, "spec": {}});
    check::<k8s_openapi::api::core::v1::Namespace, _>("v1", "Namespace", &ns, expected);
}

#[test]
fn service_with_int_and_string_target_ports() {
    let port = |name: &str, port: i32, target: IntOrString| core::ServicePort {
        name: s(name),
        protocol: s("TCP"),
        port: Some(port),
        target_port: Some(target),
        ..Default::default()
    };
    let svc = core::Service {
        metadata: meta_named("web"),
        spec: Some(core::ServiceSpec {
            ports: vec![
                port(
                    "http",
                    80,
                    IntOrString {
                        r#type: Some(0),
                        int_val: Some(8080),
                        str_val: None,
                    },
                ),
                port(
                    "metrics",
                    9090,
                    IntOrString {
                        r#type: Some(1),
                        int_val: None,
                        str_val: s("metrics"),
                    },
                ),
            ],
            selector: labels(&[("app", "web")]),
            cluster_ip: s("10.96.0.10"),
            cluster_ips: vec!["10.96.0.10".into()],
            r#type: s("ClusterIP"),
            ..Default::default()
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics"}
            ],
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.10",
            "type": "ClusterIP",
            "clusterIPs": ["10.96.0.10"]
        }
    });
    check::<k8s_openapi::api::core::v1::Service, _>("v1", "Service", &svc, expected);
}

#[test]
fn autoscaling_v1_hpa() {
    use k8s_pb::api::autoscaling::v1 as autoscaling;
    let hpa = autoscaling::HorizontalPodAutoscaler {
        metadata: meta_named("web"),
        spec: Some(autoscaling::HorizontalPodAutoscalerSpec {
            scale_target_ref: Some(autoscaling::CrossVersionObjectReference {
                kind: s("Deployment"),
                name: s("web"),
                api_version: s("apps/v1"),
            }),
            min_replicas: Some(1),
            max_replicas: Some(5),
            target_cpu_utilization_percentage: Some(80),
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "targetCPUUtilizationPercentage": 80
        }
    });
    check::<k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler, _>(
        "autoscaling/v1",
        "HorizontalPodAutoscaler",
        &hpa,
        expected,
    );
}

#[test]
fn self_subject_access_review() {
    use k8s_pb::api::authorization::v1 as authz;
    let review = authz::SelfSubjectAccessReview {
        metadata: Some(meta::ObjectMeta::default()),
        spec: Some(authz::SelfSubjectAccessReviewSpec {
            resource_attributes: Some(authz::ResourceAttributes {
                namespace: s("default"),
                verb: s("create"),
                group: s("apps"),
                resource: s("deployments"),
                ..Default::default()
            }),
            non_resource_attributes: None,
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {},
        "spec": {
            "resourceAttributes": {"namespace": "default", "verb": "create", "group": "apps", "resource": "deployments"}
        }
    });
    check::<k8s_openapi::api::authorization::v1::SelfSubjectAccessReview, _>(
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        &review,
        expected,
    );
}

#[test]
fn token_request() {
    use k8s_pb::api::authentication::v1 as authn;
    let request = authn::TokenRequest {
        metadata: meta_named("default"),
        spec: Some(authn::TokenRequestSpec {
            audiences: vec!["https://kubernetes.default.svc".into()],
            expiration_seconds: Some(3600),
            bound_object_ref: Some(authn::BoundObjectReference {
                kind: s("Pod"),
                api_version: s("v1"),
                name: s("web-0"),
                u_id: s("1234"),
            }),
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {"name": "default"},
        "spec": {
            "audiences": ["https://kubernetes.default.svc"],
            "expirationSeconds": 3600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web-0", "uid": "1234"}
        }
    });
    check::<k8s_openapi::api::authentication::v1::TokenRequest, _>(
        "authentication.k8s.io/v1",
        "TokenRequest",
        &request,
        expected,
    );
}

fn job_spec() -> k8s_pb::api::batch::v1::JobSpec {
    k8s_pb::api::batch::v1::JobSpec {
        backoff_limit: Some(0),
        template: Some(core::PodTemplateSpec {
            metadata: None,
            spec: Some(core::PodSpec {
                containers: vec![core::Container {
                    name: s("pi"),
                    image: s("perl"),
                    args: vec!["-e".into(), "print 1".into()],
                    ..Default::default()
                }],
                restart_policy: s("Never"),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

fn job_spec_json() -> Value {
    json!({
        "template": {
            "spec": {
                "containers": [{"name": "pi", "image": "perl", "args": ["-e", "print 1"]}],
                "restartPolicy": "Never"
            }
        },
        "backoffLimit": 0
    })
}

#[test]
fn job_keeps_explicit_zero_backoff_limit() {
    use k8s_pb::api::batch::v1 as batch;
    let job = batch::Job {
        metadata: meta_named("pi"),
        spec: Some(job_spec()),
        status: None,
    };
    let expected = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"}, "spec": job_spec_json()});
    check::<k8s_openapi::api::batch::v1::Job, _>("batch/v1", "Job", &job, expected);
}

#[test]
fn cronjob() {
    use k8s_pb::api::batch::v1 as batch;
    let cronjob = batch::CronJob {
        metadata: meta_named("nightly"),
        spec: Some(batch::CronJobSpec {
            schedule: s("0 3 * * *"),
            job_template: Some(batch::JobTemplateSpec {
                metadata: meta_named("nightly"),
                spec: Some(job_spec()),
            }),
            ..Default::default()
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {"metadata": {"name": "nightly"}, "spec": job_spec_json()}
        }
    });
    check::<k8s_openapi::api::batch::v1::CronJob, _>("batch/v1", "CronJob", &cronjob, expected);
}

#[test]
fn role_keeps_empty_strings_in_lists() {
    use k8s_pb::api::rbac::v1 as rbac;
    let role = rbac::Role {
        metadata: meta_named("pod-reader"),
        rules: vec![rbac::PolicyRule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec![String::new()],
            resources: vec!["pods".into()],
            resource_names: vec![],
            non_resource_ur_ls: vec![],
        }],
    };
    let expected = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "pod-reader"},
        "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
    });
    check::<k8s_openapi::api::rbac::v1::Role, _>(
        "rbac.authorization.k8s.io/v1",
        "Role",
        &role,
        expected,
    );
}

#[test]
fn pod_with_embedded_structs_and_micro_time() {
    // Volume.volumeSource and ConfigMapKeySelector.localObjectReference are Go embedded structs:
    // their fields sit directly in the parent's JSON.
    let pod = core::Pod {
        metadata: meta_named("p"),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("c"),
                image: s("busybox"),
                env: vec![core::EnvVar {
                    name: s("K"),
                    value_from: Some(core::EnvVarSource {
                        config_map_key_ref: Some(core::ConfigMapKeySelector {
                            local_object_reference: Some(core::LocalObjectReference {
                                name: s("settings"),
                            }),
                            key: s("mode"),
                            optional: Some(false),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            volumes: vec![core::Volume {
                name: s("cfg"),
                volume_source: Some(core::VolumeSource {
                    config_map: Some(core::ConfigMapVolumeSource {
                        local_object_reference: Some(core::LocalObjectReference {
                            name: s("settings"),
                        }),
                        default_mode: Some(0o644),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }],
            host_pid: Some(true),
            ..Default::default()
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "volumes": [{"name": "cfg", "configMap": {"name": "settings", "defaultMode": 420}}],
            "containers": [{
                "name": "c",
                "image": "busybox",
                "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode", "optional": false}}}]
            }],
            "hostPID": true
        }
    });
    check::<k8s_openapi::api::core::v1::Pod, _>("v1", "Pod", &pod, expected);
}

#[test]
fn event_series_uses_micro_time() {
    use k8s_pb::api::events::v1 as events;
    let event = events::Event {
        metadata: meta_named("e"),
        event_time: Some(meta::MicroTime {
            seconds: Some(CREATED),
            nanos: Some(123_456_789),
        }),
        reason: s("Started"),
        ..Default::default()
    };
    let decoded = decode(&envelope("events.k8s.io/v1", "Event", &event)).expect("decodes");
    assert_eq!(decoded["eventTime"], json!("2026-11-23T10:00:00.123456Z"));
    let typed: k8s_openapi::api::events::v1::Event =
        serde_json::from_value(decoded).expect("valid Event");
    assert_eq!(typed.reason.as_deref(), Some("Started"));
}

#[test]
fn raw_extension_embeds_json() {
    use k8s_pb::api::apps::v1 as apps;
    let revision = apps::ControllerRevision {
        metadata: meta_named("r1"),
        data: Some(k8s_pb::apimachinery::pkg::runtime::RawExtension {
            raw: Some(br#"{"spec":{"x":1}}"#.to_vec()),
        }),
        revision: Some(2),
    };
    let expected = json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "r1"},
        "data": {"spec": {"x": 1}},
        "revision": 2
    });
    check::<k8s_openapi::api::apps::v1::ControllerRevision, _>(
        "apps/v1",
        "ControllerRevision",
        &revision,
        expected,
    );
}

#[test]
fn api_resource_verbs_wrapper_is_an_array() {
    let list = meta::APIResourceList {
        group_version: s("v1"),
        resources: vec![meta::APIResource {
            name: s("pods"),
            namespaced: Some(true),
            kind: s("Pod"),
            verbs: Some(meta::Verbs {
                items: vec!["get".into(), "list".into()],
            }),
            singular_name: s("pod"),
            ..Default::default()
        }],
    };
    let value = berth_protobuf::decode_message(
        "k8s.io.apimachinery.pkg.apis.meta.v1.APIResourceList",
        &list.encode_to_vec(),
        DecodeOptions::default(),
    )
    .expect("decodes");
    assert_eq!(value["resources"][0]["verbs"], json!(["get", "list"]));
}

#[test]
fn errors_are_reported() {
    assert_eq!(
        decode(b"{\"kind\":\"Pod\"}"),
        Err(DecodeError::MissingMagic)
    );
    let mut truncated = MAGIC.to_vec();
    truncated.extend([0x0a, 0x80]); // field 1, LEN, then a length varint that never ends
    assert!(matches!(
        decode(&truncated),
        Err(DecodeError::Truncated { .. })
    ));

    let ns = core::Namespace {
        metadata: meta_named("x"),
        ..Default::default()
    };
    let err = decode(&envelope("v1", "Nonexistent", &ns)).expect_err("unknown kind");
    assert_eq!(
        err,
        DecodeError::UnknownKind {
            api_version: "v1".into(),
            kind: "Nonexistent".into()
        }
    );
    assert!(err.to_string().contains("Nonexistent"));
    let err = decode(&envelope("example.com/v1", "Widget", &ns)).expect_err("unknown group");
    assert!(matches!(err, DecodeError::UnknownKind { .. }));

    // An object whose bytes end inside a field.
    let mut body = envelope("v1", "Namespace", &ns);
    let unknown = Unknown::decode(&body[4..]).expect("valid");
    let mut raw = unknown.raw.clone().unwrap_or_default();
    raw.truncate(raw.len() - 1);
    body = MAGIC.to_vec();
    body.extend(
        Unknown {
            raw: Some(raw),
            ..unknown
        }
        .encode_to_vec(),
    );
    assert!(matches!(decode(&body), Err(DecodeError::Truncated { .. })));

    // A string field sent as a varint.
    let mut body = MAGIC.to_vec();
    body.extend(
        Unknown {
            type_meta: Some(TypeMeta {
                api_version: s("v1"),
                kind: s("Namespace"),
            }),
            raw: Some(vec![0x0a, 0x02, 0x08, 0x01]), // metadata { name: varint 1 }
            ..Default::default()
        }
        .encode_to_vec(),
    );
    assert!(matches!(
        decode(&body),
        Err(DecodeError::WireTypeMismatch { .. })
    ));
}
