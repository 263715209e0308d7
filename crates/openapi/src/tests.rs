//! Behaviour of the public API over the real registry and schemas.

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::OpenApi;

/// One instance for all tests: building every document takes a moment.
fn api() -> &'static OpenApi {
    static API: OnceLock<OpenApi> = OnceLock::new();
    API.get_or_init(OpenApi::new)
}

fn document(path: &str) -> Value {
    let bytes = api()
        .document(path)
        .unwrap_or_else(|| panic!("no document at {path}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

#[test]
fn index_lists_core_and_every_registry_group_version_with_hashes() {
    let index = api().index();
    let paths = index["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.contains_key("api/v1"));
    for r in berth_api::REGISTRY {
        let path = if r.group.is_empty() {
            format!("api/{}", r.version)
        } else {
            format!("apis/{}/{}", r.group, r.version)
        };
        let url = paths[&path]["serverRelativeURL"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let hash = url
            .strip_prefix(&format!("/openapi/v3/{path}?hash="))
            .unwrap_or_default();
        assert_eq!(hash.len(), 128, "{path}: {url}");
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
            "{url}"
        );
        assert_eq!(api().document_hash(&path).as_deref(), Some(hash));
    }
    assert!(api().document("apis/nope/v1").is_none());
}

#[test]
fn documents_are_stable_and_cached() {
    let a = api().document("apis/apps/v1");
    let b = api().document("/apis/apps/v1");
    assert!(matches!((&a, &b), (Some(a), Some(b)) if std::sync::Arc::ptr_eq(a, b)));
    let fresh = OpenApi::new();
    assert_eq!(
        fresh.document("apis/apps/v1").as_deref(),
        a.as_deref(),
        "generation is deterministic"
    );
}

#[test]
fn deployment_patch_operation_is_what_kubectl_looks_for() {
    let doc = document("apis/apps/v1");
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "apps", "version": "v1", "kind": "Deployment"})
    );
    let names: Vec<&str> = patch["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for wanted in ["fieldValidation", "dryRun", "fieldManager", "force"] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    let media: Vec<&String> = patch["requestBody"]["content"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    for wanted in [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ] {
        assert!(
            media.iter().any(|m| *m == wanted),
            "{wanted} missing from {media:?}"
        );
    }
    // Every PATCH of the kind (status and scale included) carries fieldValidation,
    // since kubectl checks whichever it meets first.
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        if let Some(op) = item.get("patch") {
            let has = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "fieldValidation");
            assert!(has, "{path} PATCH lacks fieldValidation");
        }
    }
    assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
    let scale =
        &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["get"];
    assert_eq!(scale["x-kubernetes-group-version-kind"]["kind"], "Scale");
    assert!(doc["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"].is_object());
}

#[test]
fn kinds_carry_their_group_version_kind_for_explain() {
    let doc = document("apis/apps/v1");
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"]
            .as_array()
            .is_some_and(
                |l| l.contains(&json!({"group": "apps", "kind": "Deployment", "version": "v1"}))
            )
    );
    assert!(
        schemas["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"]
            .as_array()
            .is_some_and(|l| l
                .contains(&json!({"group": "apps", "kind": "DeploymentList", "version": "v1"})))
    );
    assert!(
        schemas["io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]
            ["x-kubernetes-group-version-kind"]
            .as_array()
            .is_some_and(
                |l| l.contains(&json!({"group": "apps", "kind": "DeleteOptions", "version": "v1"}))
            )
    );
    // Upstream descriptions survive, and $ref siblings are wrapped in allOf.
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert!(containers["description"]
        .as_str()
        .is_some_and(|d| d.contains("List of containers")));
    let affinity = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["affinity"];
    assert_eq!(
        affinity["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Affinity"
    );
    assert!(affinity.get("$ref").is_none());
}

#[test]
fn patch_extensions_sit_where_upstream_has_them() {
    let schemas = api().schemas("", "v1").unwrap_or_default();
    let prop = |def: &str, field: &str| schemas[def]["properties"][field].clone();
    let containers = prop("io.k8s.api.core.v1.PodSpec", "containers");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
    let ports = prop("io.k8s.api.core.v1.Container", "ports");
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        json!(["containerPort", "protocol"])
    );
    assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
    assert_eq!(
        prop("io.k8s.api.core.v1.PodSpec", "volumes")["x-kubernetes-patch-strategy"],
        "merge,retainKeys"
    );
    assert_eq!(
        prop("io.k8s.api.core.v1.ServiceSpec", "ports")["x-kubernetes-patch-merge-key"],
        "port"
    );
    assert_eq!(
        prop("io.k8s.api.core.v1.ServiceSpec", "selector")["x-kubernetes-map-type"],
        "atomic"
    );
    assert_eq!(
        prop("io.k8s.api.core.v1.PodSpec", "tolerations")["x-kubernetes-list-type"],
        "atomic"
    );
    assert_eq!(
        prop("io.k8s.api.core.v1.NodeSpec", "podCIDRs")["x-kubernetes-list-type"],
        "set"
    );
    assert_eq!(
        prop(
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "finalizers"
        )["x-kubernetes-patch-strategy"],
        "merge"
    );
    assert_eq!(
        prop(
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "ownerReferences"
        )["x-kubernetes-patch-merge-key"],
        "uid"
    );
    assert!(
        prop("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels")
            .get("x-kubernetes-map-type")
            .is_none()
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]["x-kubernetes-map-type"],
        "atomic"
    );
    assert_eq!(
        schemas["io.k8s.api.core.v1.LocalObjectReference"]["x-kubernetes-map-type"],
        "atomic"
    );

    let apps = api().schemas("apps", "v1").unwrap_or_default();
    let strategy = &apps["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
    let conditions = &apps["io.k8s.api.apps.v1.DeploymentStatus"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-patch-merge-key"], "type");
    let batch = api().schemas("batch", "v1").unwrap_or_default();
    assert_eq!(
        batch["io.k8s.api.batch.v1.JobStatus"]["properties"]["conditions"]
            ["x-kubernetes-list-type"],
        "atomic"
    );
}

/// Collects every `$ref` in a value.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves_within_its_document() {
    for entry in api().index()["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
    {
        let doc = document(&entry);
        let schemas = doc["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty(), "{entry} has no refs at all");
        for r in found {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{entry}: odd ref {r}"));
            assert!(schemas.contains_key(name), "{entry}: dangling {r}");
        }
        assert!(
            !String::from_utf8_lossy(&serde_json::to_vec(&doc).unwrap_or_default())
                .contains("$defs")
        );
    }
}

#[test]
fn every_registered_resource_has_its_paths() {
    for r in berth_api::REGISTRY {
        let gv = if r.group.is_empty() {
            format!("api/{}", r.version)
        } else {
            format!("apis/{}/{}", r.group, r.version)
        };
        let doc = document(&gv);
        let base = if r.namespaced() {
            format!("/{gv}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("/{gv}/{}", r.plural)
        };
        // Create-only kinds (the access reviews) have just POST, as upstream.
        if r.has_verb("list") {
            assert!(doc["paths"][&base]["get"].is_object(), "{base} list");
        }
        if r.has_verb("create") {
            assert!(doc["paths"][&base]["post"].is_object(), "{base} create");
        }
        if r.has_verb("patch") {
            assert!(
                doc["paths"][format!("{base}/{{name}}")]["patch"].is_object(),
                "{base} patch"
            );
        }
        for sub in r.subresources {
            assert!(
                doc["paths"][format!("{base}/{{name}}/{}", sub.name)].is_object(),
                "{base} {}",
                sub.name
            );
        }
        assert!(api().root_definition(r.group, r.version, r.kind).is_some());
    }
    let pods = document("api/v1");
    assert_eq!(
        pods["paths"]["/api/v1/pods"]["get"]["operationId"],
        "listCoreV1PodForAllNamespaces"
    );
    assert_eq!(
        pods["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/exec"]["get"]
            ["x-kubernetes-action"],
        "connect"
    );
}

#[test]
fn root_definitions_name_kinds_and_lists() {
    assert_eq!(
        api().root_definition("apps", "v1", "Deployment").as_deref(),
        Some("io.k8s.api.apps.v1.Deployment")
    );
    assert_eq!(
        api().root_definition("", "v1", "PodList").as_deref(),
        Some("io.k8s.api.core.v1.PodList")
    );
    assert_eq!(
        api()
            .root_definition("autoscaling", "v2", "HorizontalPodAutoscaler")
            .as_deref(),
        Some("io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler")
    );
    assert_eq!(api().root_definition("apps", "v1", "Nope"), None);
}

#[test]
fn unknown_fields_are_found_with_kubernetes_paths() {
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "anything/goes": "x"}, "annotations": {"a": "b"}, "bogus": 1},
        "spec": {
            "replicass": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
                    {"name": "b", "imagee": "nginx", "resources": {"limits": {"cpu": "1"}}}
                ]}
            },
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}
        }
    });
    let mut unknown = api().unknown_fields("apps", "v1", "Deployment", &deployment);
    unknown.sort();
    assert_eq!(
        unknown,
        vec![
            "metadata.bogus",
            "spec.replicass",
            "spec.template.spec.containers[1].imagee"
        ]
    );

    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"any key": "v"}, "extra": true});
    assert_eq!(
        api().unknown_fields("", "v1", "ConfigMap", &config_map),
        vec!["extra"]
    );
    let revision =
        json!({"kind": "ControllerRevision", "revision": 1, "data": {"free": {"form": true}}});
    assert!(api()
        .unknown_fields("apps", "v1", "ControllerRevision", &revision)
        .is_empty());
    assert!(api()
        .unknown_fields("apps", "v1", "NoSuchKind", &revision)
        .is_empty());
}

/// Not an assertion of behaviour: prints the size of every document so the
/// memory budget can be checked (`cargo test -p berth-openapi -- --nocapture sizes`).
#[test]
fn sizes() {
    let mut total = 0;
    for (path, _) in api().index()["paths"].as_object().into_iter().flatten() {
        let len = api().document(path).map_or(0, |b| b.len());
        total += len;
        println!("{path}: {len} bytes");
    }
    println!("total: {total} bytes");
    assert!(total > 0);
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "default",
            "labels": {"app": "web"}, "annotations": {"deployment.kubernetes.io/revision": "1"},
            "creationTimestamp": "2024-05-01T10:00:00Z", "generation": 3,
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
                "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
        },
        "spec": {
            "replicas": 3,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"},
                         "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                "spec": {
                    "terminationGracePeriodSeconds": 30,
                    "hostNetwork": false,
                    "nodeSelector": {"disk": "ssd"},
                    "containers": [{
                        "name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                        "args": ["-g", "daemon off;"],
                        "env": [{"name": "A", "value": "1"},
                                {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": 1, "memory": "1Gi"}},
                        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
                        "livenessProbe": {"tcpSocket": {"port": 80}},
                        "securityContext": {"runAsNonRoot": true, "runAsUser": 1000,
                                            "capabilities": {"drop": ["ALL"]}}
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
                }
            }
        },
        "status": {"replicas": 3, "conditions": [{"type": "Available", "status": "True",
            "lastUpdateTime": "2024-05-01T10:00:05Z", "lastTransitionTime": "2024-05-01T10:00:05Z"}]}
    })
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "p"}},
        "spec": {
            "restartPolicy": "Always",
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                "ports": [{"containerPort": 8080, "name": "http"}],
                "resources": {"requests": {"cpu": "250m", "memory": "64Mi", "ephemeral-storage": "1G"}}}],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}]
        },
        "status": {"phase": "Running", "startTime": "2024-05-01T10:00:00+02:00", "podIP": "10.0.0.5"}
    })
}

fn decode(group: &str, kind: &str, obj: &Value) -> Option<String> {
    let version = "v1";
    api().decode_error(group, version, kind, obj)
}

/// Sets the value at a JSON pointer, creating objects on the way.
fn with(mut obj: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if obj.pointer(parent).is_none() {
        obj = with(obj, parent, json!({}));
    }
    match obj.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key.to_string(), value);
        }
        Some(Value::Array(items)) => {
            if let Some(slot) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = value;
            }
        }
        _ => panic!("no object at {parent}"),
    }
    obj
}

fn literal(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// What kubectl sends for a YAML integer beyond int64 (Go marshals the float64).
fn big_integer() -> Value {
    literal("100000000000000000000")
}

#[test]
fn realistic_objects_decode_cleanly() {
    assert_eq!(decode("apps", "Deployment", &deployment()), None);
    assert_eq!(decode("", "Pod", &pod()), None);
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "clusterIP": "10.96.0.10",
                 "ipFamilies": ["IPv4"], "sessionAffinity": "None",
                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080, "protocol": "TCP"},
                           {"name": "metrics", "port": 9090, "targetPort": 9090}]}
    });
    assert_eq!(decode("", "Service", &service), None);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                        "type": "Opaque", "data": {"password": "aHVudGVyMg=="}, "stringData": {"user": "admin"}});
    assert_eq!(decode("", "Secret", &secret), None);
    let list = json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": [pod()]});
    assert_eq!(decode("", "PodList", &list), None);
    assert_eq!(decode("", "NoSuchKind", &json!({"spec": 1})), None);
}

#[test]
fn nulls_are_accepted_everywhere() {
    let mut obj = deployment();
    for pointer in [
        "/spec/replicas",
        "/spec/strategy/rollingUpdate/maxSurge",
        "/metadata/labels",
        "/metadata/creationTimestamp",
        "/spec/template/spec/containers/0/resources/limits/cpu",
        "/spec/template/spec/containers/0/ports",
        "/spec/template/spec/hostNetwork",
        "/spec/selector",
    ] {
        obj = with(obj, pointer, Value::Null);
    }
    assert_eq!(decode("apps", "Deployment", &obj), None);
}

#[test]
fn decode_errors_read_like_kube_apiserver() {
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        ("apps", "Deployment", with(deployment(), "/spec/replicas", json!("3")),
         "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
        ("apps", "Deployment", with(deployment(), "/spec/replicas", json!(1.5)),
         "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
        ("", "Pod", with(pod(), "/spec/containers/0/resources/requests/cpu", json!("lots")),
         "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
        ("", "Pod", with(pod(), "/spec/containers/0/resources/requests/cpu", json!(true)),
         "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
        ("", "Pod", with(pod(), "/metadata/labels/app", json!(5)),
         "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
        ("", "Pod", with(pod(), "/spec/containers/0/ports/0/containerPort", json!("80")),
         "json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"),
        ("apps", "Deployment", with(deployment(), "/spec/template/spec/hostNetwork", json!("true")),
         "json: cannot unmarshal string into Go struct field PodSpec.spec.template.spec.hostNetwork of type bool"),
        ("apps", "Deployment", with(deployment(), "/spec/strategy/rollingUpdate/maxSurge", json!(true)),
         "json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type int32"),
        ("apps", "Deployment", with(deployment(), "/spec/strategy/rollingUpdate/maxSurge", json!({"a": 1})),
         "json: cannot unmarshal object into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type int32"),
        ("apps", "Deployment", with(deployment(), "/metadata/creationTimestamp", json!("yesterday")),
         r#"parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006""#),
        ("apps", "Deployment", with(deployment(), "/metadata/creationTimestamp", json!(17)),
         "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"),
        ("apps", "Deployment", with(deployment(), "/spec/template/spec/containers", json!({"name": "x"})),
         "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"),
        ("apps", "Deployment", with(deployment(), "/spec/template", json!("t")),
         "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.template of type v1.PodTemplateSpec"),
        ("apps", "Deployment", with(deployment(), "/spec/template/spec/containers/0/args", json!("-g")),
         "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.args of type []string"),
        ("apps", "Deployment", with(deployment(), "/spec/template/spec/containers/0/resources/limits", json!("1")),
         "json: cannot unmarshal string into Go struct field ResourceRequirements.spec.template.spec.containers.resources.limits of type v1.ResourceList"),
        ("apps", "Deployment", with(deployment(), "/spec/template/spec/terminationGracePeriodSeconds", big_integer()),
         "json: cannot unmarshal number 100000000000000000000 into Go struct field PodSpec.spec.template.spec.terminationGracePeriodSeconds of type int64"),
        ("apps", "Deployment", with(deployment(), "/spec/replicas", literal("2.0")),
         "json: cannot unmarshal number 2.0 into Go struct field DeploymentSpec.spec.replicas of type int32"),
        ("", "Secret", json!({"kind": "Secret", "data": {"k": "not base64!"}}),
         "illegal base64 data at input byte 3"),
        ("", "Secret", json!({"kind": "Secret", "data": {"k": 1}}),
         "json: cannot unmarshal number into Go struct field Secret.data of type []uint8"),
        ("", "Service", json!({"kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 1.5}]}}),
         "json: cannot unmarshal number 1.5 into Go struct field ServicePort.spec.ports.targetPort of type int32"),
        ("", "Pod", with(pod(), "/spec/containers/0/ports/0", json!(8080)),
         "json: cannot unmarshal number into Go struct field Container.spec.containers.ports of type v1.ContainerPort"),
        ("", "Pod", json!(["not", "an", "object"]),
         "json: cannot unmarshal array into Go value of type v1.Pod"),
    ];
    for (group, kind, obj, want) in cases {
        assert_eq!(
            decode(group, kind, &obj).as_deref(),
            Some(want),
            "{kind}: {obj}"
        );
    }
}

#[test]
fn a_quantity_error_stops_decoding_before_an_earlier_type_mismatch_is_reported() {
    let obj = with(pod(), "/metadata/labels/app", json!(5));
    let obj = with(
        obj,
        "/spec/containers/0/resources/requests/cpu",
        json!("1.2.3"),
    );
    assert_eq!(
        decode("", "Pod", &obj).as_deref(),
        Some("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    );
}

#[test]
fn micro_time_fields_need_six_fractional_digits() {
    let event = |time: &str| {
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
               "eventTime": time, "reportingController": "x", "reportingInstance": "y", "action": "a", "reason": "r"})
    };
    let version = "v1";
    assert_eq!(
        api().decode_error(
            "events.k8s.io",
            version,
            "Event",
            &event("2024-05-01T10:00:00.123456Z")
        ),
        None
    );
    assert_eq!(
        api()
            .decode_error(
                "events.k8s.io",
                version,
                "Event",
                &event("2024-05-01T10:00:00Z")
            )
            .as_deref(),
        Some(
            r#"parsing time "2024-05-01T10:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000""#
        )
    );
}
