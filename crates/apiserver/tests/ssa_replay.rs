//! Replays of what kubectl sends for `kubectl apply -f` (client-side) followed
//! by `kubectl apply --server-side -f` on the same manifests: the apply, the
//! `kubectl-last-applied` apply of the annotation alone, the csaupgrade
//! migration (a json-patch that folds the `kubectl-client-side-apply` Update
//! entry into the `kubectl` Apply entry) and the re-apply. Kubernetes accepts
//! the whole sequence and keeps every field the manifests set.

mod support;

use http::Method;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use support::TestServer;

const NS: &str = "cap";
const APPLY: &str = "application/apply-patch+yaml";
const JSON_PATCH: &str = "application/json-patch+json";
const JSON: &str = "application/json";
const CSA_MANAGER: &str = "kubectl-client-side-apply";
const SSA_MANAGER: &str = "kubectl";
const LAST_APPLIED_MANAGER: &str = "kubectl-last-applied";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// kubectl 1.33 against berth, `-v=8` style capture (namespace `cap`).
const KUBECTL_133_CAPTURE: &str = include_str!("fixtures/kubectl133_csa_to_ssa.json");

/// HTTP status and body (Null when not JSON).
async fn send(
    client: &kube::Client,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = http::Request::builder().method(method.clone()).uri(uri);
    if let Some(content_type) = content_type {
        request = request.header(http::header::CONTENT_TYPE, content_type);
    }
    let request = request
        .body(kube::client::Body::from(body))
        .expect("request");
    let response = client
        .send(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {uri}: transport: {e}"));
    let code = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A request that must answer 2xx; returns the body.
async fn must(
    client: &kube::Client,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Value {
    let what = format!("{method} {uri}");
    let (code, answer) = send(client, method, uri, content_type, body).await;
    assert!((200..300).contains(&code), "{what}: {code} {answer:#}");
    answer
}

async fn get(client: &kube::Client, uri: &str) -> Value {
    must(client, Method::GET, uri, None, Vec::new()).await
}

async fn create_namespace(client: &kube::Client) {
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}});
    must(
        client,
        Method::POST,
        "/api/v1/namespaces",
        Some(JSON),
        namespace.to_string().into_bytes(),
    )
    .await;
}

fn without_query(uri: &str) -> &str {
    uri.split('?').next().unwrap_or(uri)
}

fn managed_fields(object: &Value) -> Vec<Value> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn owns_last_applied(entry: &Value) -> bool {
    entry
        .pointer("/fieldsV1/f:metadata/f:annotations")
        .and_then(|annotations| annotations.get(format!("f:{LAST_APPLIED}")))
        .is_some()
}

fn entry_is(entry: &Value, manager: &str, operation: &str) -> bool {
    entry["manager"] == manager
        && entry["operation"] == operation
        && entry
            .get("subresource")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
}

/// Union of two FieldsV1 trees (every node is an object of children).
fn fields_union(a: &Value, b: &Value) -> Value {
    let mut out = a.as_object().cloned().unwrap_or_default();
    for (key, theirs) in b.as_object().into_iter().flatten() {
        let merged = match out.get(key) {
            Some(mine) => fields_union(mine, theirs),
            None => theirs.clone(),
        };
        out.insert(key.clone(), merged);
    }
    Value::Object(out)
}

/// client-go's csaupgrade for one CSA manager: the SSA manager's Apply entry
/// (or, without one, the CSA manager's newest Update entry renamed) gets the
/// union of both sets; the CSA manager's Update entries go away.
fn upgraded(entries: Vec<Value>, csa: &str, ssa: &str) -> Vec<Value> {
    let mut entries = entries;
    let target = match entries.iter().position(|e| entry_is(e, ssa, "Apply")) {
        Some(index) => index,
        None => match entries.iter().position(|e| entry_is(e, csa, "Update")) {
            Some(index) => {
                entries[index]["operation"] = json!("Apply");
                entries[index]["manager"] = json!(ssa);
                index
            }
            None => return entries,
        },
    };
    let api_version = entries[target]["apiVersion"].clone();
    let csa_set = entries
        .iter()
        .find(|e| entry_is(e, csa, "Update") && e["apiVersion"] == api_version)
        .map(|e| e["fieldsV1"].clone());
    if let Some(csa_set) = csa_set {
        entries[target]["fieldsV1"] = fields_union(&entries[target]["fieldsV1"], &csa_set);
    }
    entries.retain(|e| !entry_is(e, csa, "Update"));
    entries
}

/// kubectl's `migrateToSSAIfNecessary`: the json-patch it sends, or None
/// when no Update manager owns the last-applied annotation.
fn migration_patch(live: &Value) -> Option<Value> {
    let entries = managed_fields(live);
    let mut csa_managers: Vec<String> = entries
        .iter()
        .filter(|e| e["operation"] == "Update" && owns_last_applied(e))
        .filter_map(|e| e["manager"].as_str().map(str::to_string))
        .collect();
    csa_managers.dedup();
    let mut migrated = entries.clone();
    for csa in &csa_managers {
        migrated = upgraded(migrated, csa, SSA_MANAGER);
    }
    if migrated == entries {
        return None;
    }
    Some(json!([
        {"op": "replace", "path": "/metadata/managedFields", "value": migrated},
        {"op": "replace", "path": "/metadata/resourceVersion",
         "value": live["metadata"]["resourceVersion"].clone()},
    ]))
}

/// `kubectl apply --server-side -f` for one object, as kubectl 1.32/1.33 do
/// it. Returns the final object and whether a migration was sent.
async fn server_side_apply(
    client: &kube::Client,
    object_uri: &str,
    config: &Value,
) -> (Value, bool) {
    let apply_uri =
        format!("{object_uri}?fieldManager={SSA_MANAGER}&fieldValidation=Strict&force=false");
    let body = config.to_string().into_bytes();
    let applied = must(client, Method::PATCH, &apply_uri, Some(APPLY), body.clone()).await;
    let mut live = applied.clone();
    // saveLastApplyAnnotationIfNecessary
    if let Some(annotation) = applied
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
    {
        let owned_by_apply = managed_fields(&applied)
            .iter()
            .any(|e| e["operation"] == "Apply" && owns_last_applied(e));
        if !owned_by_apply {
            let just_annotation = json!({
                "apiVersion": config["apiVersion"], "kind": config["kind"],
                "metadata": {"name": config["metadata"]["name"], "namespace": NS,
                             "annotations": {LAST_APPLIED: annotation}},
            });
            let uri =
                format!("{object_uri}?fieldManager={LAST_APPLIED_MANAGER}&fieldValidation=Strict");
            live = must(
                client,
                Method::PATCH,
                &uri,
                Some(APPLY),
                just_annotation.to_string().into_bytes(),
            )
            .await;
        }
    }
    let Some(patch) = migration_patch(&live) else {
        return (live, false);
    };
    let uri = format!("{object_uri}?fieldManager={SSA_MANAGER}&fieldValidation=Strict");
    must(
        client,
        Method::PATCH,
        &uri,
        Some(JSON_PATCH),
        patch.to_string().into_bytes(),
    )
    .await;
    let reapplied = must(client, Method::PATCH, &apply_uri, Some(APPLY), body).await;
    (reapplied, true)
}

/// One request of the capture.
struct Captured {
    method: Method,
    content_type: Option<String>,
    uri: String,
    body: Option<String>,
}

fn capture() -> Vec<Captured> {
    let requests: Vec<Value> = serde_json::from_str(KUBECTL_133_CAPTURE).expect("fixture JSON");
    requests
        .iter()
        .map(|r| Captured {
            method: r["method"]
                .as_str()
                .and_then(|m| m.parse().ok())
                .expect("method"),
            content_type: r["contentType"].as_str().map(str::to_string),
            uri: r["url"].as_str().expect("url").to_string(),
            body: r["body"].as_str().map(str::to_string),
        })
        .collect()
}

fn assert_configmap_intact(cm: &Value) {
    assert_eq!(
        cm.pointer("/data/greeting"),
        Some(&json!("hello from berth")),
        "{cm:#}"
    );
    assert_eq!(
        cm.pointer("/metadata/labels/app"),
        Some(&json!("web")),
        "{cm:#}"
    );
    assert!(
        cm.pointer("/metadata/annotations")
            .and_then(|a| a.get(LAST_APPLIED))
            .is_some(),
        "{cm:#}"
    );
}

fn assert_deployment_intact(deploy: &Value) {
    let at = |pointer: &str| deploy.pointer(pointer).cloned().unwrap_or(Value::Null);
    assert_eq!(at("/metadata/labels/app"), json!("web"), "{deploy:#}");
    assert_eq!(at("/spec/replicas"), json!(3), "{deploy:#}");
    assert_eq!(
        at("/spec/selector/matchLabels/app"),
        json!("web"),
        "{deploy:#}"
    );
    assert_eq!(
        at("/spec/template/metadata/labels/app"),
        json!("web"),
        "{deploy:#}"
    );
    let container = at("/spec/template/spec/containers/0");
    assert_eq!(container["name"], "echo", "{deploy:#}");
    assert_eq!(container["image"], "localhost/berth/echo:1", "{deploy:#}");
    assert_eq!(container["ports"][0]["containerPort"], 8080, "{deploy:#}");
    assert_eq!(container["ports"][0]["name"], "http", "{deploy:#}");
    assert_eq!(container["env"][0]["name"], "GREETING", "{deploy:#}");
    assert_eq!(
        container["env"][0]["valueFrom"]["configMapKeyRef"],
        json!({"key": "greeting", "name": "web-config"}),
        "{deploy:#}"
    );
    assert_eq!(
        container["resources"]["limits"]["memory"], "64Mi",
        "{deploy:#}"
    );
    assert_eq!(
        container["resources"]["requests"]["cpu"], "50m",
        "{deploy:#}"
    );
    assert_eq!(
        at("/spec/template/spec/containers")
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

fn assert_service_intact(svc: &Value, cluster_ip: &Value) {
    let ports = svc.pointer("/spec/ports").cloned().unwrap_or(Value::Null);
    assert_eq!(ports.as_array().map(Vec::len), Some(1), "{svc:#}");
    assert_eq!(ports[0]["name"], "http", "{svc:#}");
    assert_eq!(ports[0]["port"], 80, "{svc:#}");
    assert_eq!(ports[0]["targetPort"], "http", "{svc:#}");
    assert_eq!(ports[0]["protocol"], "TCP", "{svc:#}");
    assert_eq!(
        svc.pointer("/spec/selector/app"),
        Some(&json!("web")),
        "{svc:#}"
    );
    assert_eq!(
        svc.pointer("/metadata/labels/app"),
        Some(&json!("web")),
        "{svc:#}"
    );
    assert_eq!(svc.pointer("/spec/clusterIP"), Some(cluster_ip), "{svc:#}");
    assert_eq!(
        svc.pointer("/spec/type"),
        Some(&json!("ClusterIP")),
        "{svc:#}"
    );
}

const CONFIGMAP: &str = "/api/v1/namespaces/cap/configmaps/web-config";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/cap/deployments/web";
const SERVICE: &str = "/api/v1/namespaces/cap/services/web";

#[tokio::test]
async fn kubectl_133_client_side_then_server_side_apply_keeps_every_field() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    create_namespace(&client).await;

    let mut cluster_ip = Value::Null;
    for (index, request) in capture().into_iter().enumerate() {
        if request.method == Method::GET {
            continue;
        }
        let content_type = request.content_type.as_deref();
        let body = if content_type == Some(JSON_PATCH) {
            // Built from the live object as kubectl does; the captured
            // managedFields must be what the same migration gives here.
            let live = get(&client, without_query(&request.uri)).await;
            let patch = migration_patch(&live)
                .unwrap_or_else(|| panic!("#{index}: nothing to migrate in {live:#}"));
            let captured: Value =
                serde_json::from_str(request.body.as_deref().unwrap_or("null")).expect("capture");
            let fields = |p: &Value| -> Vec<Value> {
                p[0]["value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| json!([e["manager"], e["operation"], e["fieldsV1"]]))
                    .collect()
            };
            assert_eq!(
                fields(&patch),
                fields(&captured),
                "#{index}: migration differs"
            );
            patch.to_string()
        } else {
            request.body.clone().unwrap_or_default()
        };
        let what = format!("#{index} {} {}", request.method, request.uri);
        let (code, answer) = send(
            &client,
            request.method,
            &request.uri,
            content_type,
            body.into_bytes(),
        )
        .await;
        assert!((200..300).contains(&code), "{what}: {code} {answer:#}");
        if request.uri.starts_with("/api/v1/namespaces/cap/services?") {
            cluster_ip = answer
                .pointer("/spec/clusterIP")
                .cloned()
                .unwrap_or_default();
        }
        // Every object stays whole after every step.
        match without_query(&request.uri) {
            CONFIGMAP | "/api/v1/namespaces/cap/configmaps" => assert_configmap_intact(&answer),
            DEPLOYMENT | "/apis/apps/v1/namespaces/cap/deployments" => {
                assert_deployment_intact(&answer)
            }
            SERVICE | "/api/v1/namespaces/cap/services" => {
                assert_service_intact(&answer, &cluster_ip)
            }
            other => panic!("unexpected request to {other}"),
        }
    }

    assert_configmap_intact(&get(&client, CONFIGMAP).await);
    assert_deployment_intact(&get(&client, DEPLOYMENT).await);
    assert_service_intact(&get(&client, SERVICE).await, &cluster_ip);

    // A second `kubectl apply --server-side`: nothing left to migrate, no change.
    let requests = capture();
    for uri in [CONFIGMAP, DEPLOYMENT, SERVICE] {
        let before = get(&client, uri).await;
        assert!(
            managed_fields(&before)
                .iter()
                .all(|e| e["manager"] != CSA_MANAGER),
            "{before:#}"
        );
        let config = requests
            .iter()
            .find(|r| {
                r.content_type.as_deref() == Some(APPLY)
                    && r.uri.contains("fieldManager=kubectl&")
                    && without_query(&r.uri) == uri
            })
            .and_then(|r| serde_json::from_str::<Value>(r.body.as_deref()?).ok())
            .expect("captured apply");
        let (after, migrated) = server_side_apply(&client, uri, &config).await;
        assert!(!migrated, "{uri}: migrated again: {after:#}");
        assert_eq!(
            after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
            "{uri}: a repeated apply changed the object"
        );
    }
    assert_configmap_intact(&get(&client, CONFIGMAP).await);
    assert_deployment_intact(&get(&client, DEPLOYMENT).await);
    assert_service_intact(&get(&client, SERVICE).await, &cluster_ip);
}

/// The Deployment of kubectl 1.32's capture (shared/notes): client-side
/// create, a client-side change (new label), then `apply --server-side`
/// twice. kubectl 1.32 migrates exactly like 1.33.
fn web_v2(tier: bool) -> Value {
    let mut labels = json!({"app": "web"});
    if tier {
        labels["tier"] = json!("frontend");
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"labels": labels, "name": "web", "namespace": NS},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "env": [{"name": "MODE", "value": "v2"}],
                    "image": "nginx:1.26", "name": "nginx",
                    "ports": [{"containerPort": 80}],
                }]},
            },
        },
    })
}

fn last_applied_of(config: &Value) -> String {
    let mut recorded = config.clone();
    recorded["metadata"]["annotations"] = json!({});
    format!("{recorded}\n")
}

#[tokio::test]
async fn kubectl_132_client_side_change_then_server_side_apply_keeps_every_field() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    create_namespace(&client).await;

    // kubectl apply -f (create).
    let first = web_v2(false);
    let mut create = first.clone();
    create["metadata"]["annotations"] = json!({LAST_APPLIED: last_applied_of(&first)});
    must(
        &client,
        Method::POST,
        &format!("/apis/apps/v1/namespaces/{NS}/deployments?fieldManager={CSA_MANAGER}&fieldValidation=Strict"),
        Some(JSON),
        create.to_string().into_bytes(),
    )
    .await;
    // kubectl apply -f (changed: a label more), a strategic merge patch.
    let second = web_v2(true);
    let patch = json!({"metadata": {
        "annotations": {LAST_APPLIED: last_applied_of(&second)},
        "labels": {"tier": "frontend"},
    }});
    must(
        &client,
        Method::PATCH,
        &format!("{DEPLOYMENT}?fieldManager={CSA_MANAGER}&fieldValidation=Strict"),
        Some("application/strategic-merge-patch+json"),
        patch.to_string().into_bytes(),
    )
    .await;

    let check = |deploy: &Value| {
        let at = |pointer: &str| deploy.pointer(pointer).cloned().unwrap_or(Value::Null);
        assert_eq!(
            at("/metadata/labels"),
            json!({"app": "web", "tier": "frontend"}),
            "{deploy:#}"
        );
        assert_eq!(at("/spec/replicas"), json!(2), "{deploy:#}");
        assert_eq!(
            at("/spec/template/metadata/labels/app"),
            json!("web"),
            "{deploy:#}"
        );
        let container = at("/spec/template/spec/containers/0");
        assert_eq!(container["name"], "nginx", "{deploy:#}");
        assert_eq!(container["image"], "nginx:1.26", "{deploy:#}");
        assert_eq!(
            container["env"],
            json!([{"name": "MODE", "value": "v2"}]),
            "{deploy:#}"
        );
        assert_eq!(container["ports"][0]["containerPort"], 80, "{deploy:#}");
    };

    // kubectl apply --server-side -f: apply, last-applied, migration, re-apply.
    let (after_first, migrated) = server_side_apply(&client, DEPLOYMENT, &second).await;
    assert!(
        migrated,
        "the client-side manager was not migrated: {after_first:#}"
    );
    check(&after_first);
    check(&get(&client, DEPLOYMENT).await);
    let managers: Vec<(Value, Value)> = managed_fields(&after_first)
        .iter()
        .map(|e| (e["manager"].clone(), e["operation"].clone()))
        .collect();
    assert!(
        !managers.contains(&(json!(CSA_MANAGER), json!("Update"))),
        "{managers:?}"
    );

    // And again: nothing to migrate, nothing changes.
    let (after_second, migrated) = server_side_apply(&client, DEPLOYMENT, &second).await;
    assert!(!migrated, "migrated twice: {after_second:#}");
    check(&after_second);
    assert_eq!(
        after_second["metadata"]["resourceVersion"],
        after_first["metadata"]["resourceVersion"]
    );

    // A field the applier drops afterwards is removed (pruning still works).
    let mut without_env = second.clone();
    without_env["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .expect("container")
        .remove("env");
    let (pruned, _) = server_side_apply(&client, DEPLOYMENT, &without_env).await;
    assert!(
        pruned
            .pointer("/spec/template/spec/containers/0/env")
            .is_none(),
        "{pruned:#}"
    );
    assert_eq!(
        pruned.pointer("/spec/template/spec/containers/0/image"),
        Some(&json!("nginx:1.26"))
    );
}
