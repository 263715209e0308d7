//! Bad input: a table of malformed or invalid requests. Each must get the
//! `Status` kube-apiserver sends (code, reason, for 422 the `details.causes`
//! field paths, and where upstream's text is well known a piece of the
//! message), and none may change anything in the store.
//!
//! ```text
//! setup: namespace, ConfigMaps, Secret, Deployment, Service, bound Pod ─▶ wait until the store is quiet
//! each row: dump store ─▶ raw request (any method/path/content type/bytes) ─▶ check Status ─▶ dump == before
//! ```
//!
//! Kubernetes is the reference: a row whose expectation berth does not meet
//! stays as it is, and the test lists every such row at the end. Where a row's
//! expectation is not obvious, the comment names the upstream code it follows.

mod support;

use http::Method;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::TestServer;

const NS: &str = "bad-input";
const JSON: &str = "application/json";
const YAML: &str = "application/yaml";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";
const APPLY: &str = "application/apply-patch+yaml";

/// One request and the Status Kubernetes answers it with.
struct Row {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    code: u16,
    /// `""` is upstream's StatusReasonUnknown (omitted from the JSON).
    reason: &'static str,
    /// Each must appear as a `details.causes[].field`.
    fields: Vec<&'static str>,
    /// A piece of the message.
    message: Option<String>,
}

fn row(name: &'static str, method: Method, path: impl Into<String>) -> Row {
    Row {
        name,
        method,
        path: path.into(),
        content_type: None,
        body: Vec::new(),
        code: 0,
        reason: "",
        fields: Vec::new(),
        message: None,
    }
}

impl Row {
    fn json(self, body: &Value) -> Self {
        self.raw(JSON, serde_json::to_vec(body).unwrap_or_default())
    }
    fn raw(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type);
        self.body = body.into();
        self
    }
    fn expect(mut self, code: u16, reason: &'static str) -> Self {
        self.code = code;
        self.reason = reason;
        self
    }
    fn fields(mut self, fields: &[&'static str]) -> Self {
        self.fields = fields.to_vec();
        self
    }
    fn message(mut self, piece: impl Into<String>) -> Self {
        self.message = Some(piece.into());
        self
    }
}

fn collection(api: &str, plural: &str) -> String {
    format!("{api}/namespaces/{NS}/{plural}")
}

fn configmaps() -> String {
    collection("/api/v1", "configmaps")
}
fn deployments() -> String {
    collection("/apis/apps/v1", "deployments")
}
fn services() -> String {
    collection("/api/v1", "services")
}
fn pods() -> String {
    collection("/api/v1", "pods")
}

fn config_map(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

fn container(name: &str) -> Value {
    json!({"name": name, "image": "nginx:1.27"})
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container("app")]},
            },
        },
    })
}

fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [container("app")]},
    })
}

fn service(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    })
}

fn pod_template() -> Value {
    json!({"spec": {"restartPolicy": "Never", "containers": [container("app")]}})
}

/// `v` with the value at JSON pointer `at` replaced (missing parents created
/// as objects; array items are addressed by index).
fn with(mut v: Value, at: &str, new: Value) -> Value {
    let mut cur = &mut v;
    for part in at.trim_start_matches('/').split('/') {
        let index = part
            .parse::<usize>()
            .ok()
            .filter(|i| cur.as_array().is_some_and(|a| *i < a.len()));
        if index.is_none() && !cur.is_object() {
            *cur = json!({});
        }
        cur = match index {
            Some(i) => &mut cur[i],
            None => &mut cur[part],
        };
    }
    *cur = new;
    v
}

/// What came back: HTTP status and the body parsed as JSON (Null if it is not).
async fn send(
    client: &kube::Client,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<(u16, Value), String> {
    let mut req = http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        req = req.header(http::header::CONTENT_TYPE, ct);
    }
    let req = req
        .body(kube::client::Body::from(body))
        .map_err(|e| format!("building request: {e}"))?;
    let resp = client
        .send(req)
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let code = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading body: {e}"))?
        .to_bytes();
    Ok((code, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

/// Send a request that must succeed (setup); returns the object.
async fn must(client: &kube::Client, method: Method, path: &str, body: &Value) -> Value {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let what = format!("{method} {path}");
    let ct = (method != Method::GET).then_some(JSON);
    match send(client, method, path, ct, bytes).await {
        Ok((code, obj)) if (200..300).contains(&code) => obj,
        Ok((code, status)) => panic!("setup {what}: {code} {status}"),
        Err(e) => panic!("setup {what}: {e}"),
    }
}

/// Wait for the server's own writes after setup (the namespace's `default`
/// ServiceAccount) and until two dumps in a row are equal.
async fn settle(server: &TestServer, client: &kube::Client) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let sa = format!("/api/v1/namespaces/{NS}/serviceaccounts/default");
    loop {
        if let Ok((200, _)) = send(client, Method::GET, &sa, None, vec![]).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no default ServiceAccount in {NS}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut last = server.store_dump().await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = server.store_dump().await;
        if now == last {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the store never stopped changing"
        );
        last = now;
    }
}

/// The stored objects the rows start from, as the server returned them.
struct Fixtures {
    cm: Value,
    frozen: Value,
    secret: Value,
    web: Value,
    svc: Value,
}

async fn setup(client: &kube::Client) -> Fixtures {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}});
    must(client, Method::POST, "/api/v1/namespaces", &ns).await;
    let cm = must(client, Method::POST, &configmaps(), &config_map("cm")).await;
    let frozen = with(config_map("frozen"), "/immutable", json!(true));
    let frozen = must(client, Method::POST, &configmaps(), &frozen).await;
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
        "type": "Opaque", "data": {"k": "dg=="},
    });
    let secret = must(
        client,
        Method::POST,
        &collection("/api/v1", "secrets"),
        &secret,
    )
    .await;
    let web = must(client, Method::POST, &deployments(), &deployment("web")).await;
    let svc = must(client, Method::POST, &services(), &service("svc")).await;
    // Holds node port 30123 for the "already allocated" row.
    let node_port = with(
        with(service("np-holder"), "/spec/type", json!("NodePort")),
        "/spec/ports/0/nodePort",
        json!(30123),
    );
    must(client, Method::POST, &services(), &node_port).await;
    let bound = with(pod("bound"), "/spec/nodeName", json!("node-1"));
    must(client, Method::POST, &pods(), &bound).await;
    Fixtures {
        cm,
        frozen,
        secret,
        web,
        svc,
    }
}

fn rows(f: &Fixtures) -> Vec<Row> {
    let post = Method::POST;
    let put = Method::PUT;
    let patch = Method::PATCH;
    let cm_item = format!("{}/cm", configmaps());
    let web_item = format!("{}/web", deployments());
    let uid_of_cm = f.cm["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let dns_subdomain = "a lowercase RFC 1123 subdomain must consist of";
    let clash_ip = match f.svc.pointer("/spec/clusterIP").and_then(Value::as_str) {
        Some("10.43.250.250") => "10.43.250.251",
        _ => "10.43.250.250",
    };
    let taken_ip = f
        .svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let pod_with = |at: &str, v: Value| with(pod("p"), at, v);
    let dep_with = |at: &str, v: Value| with(deployment("d"), at, v);
    let cm_with = |at: &str, v: Value| with(config_map("c"), at, v);
    vec![
        // ── bodies that do not decode: transformDecodeError → 400 BadRequest
        // (apiserver/pkg/endpoints/handlers/rest.go).
        row("bad JSON body", post.clone(), configmaps())
            .raw(JSON, &br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x""#[..])
            .expect(400, "BadRequest"),
        row("empty body", post.clone(), configmaps())
            .raw(JSON, Vec::new())
            .expect(400, "BadRequest"),
        row("JSON array body", post.clone(), configmaps())
            .json(&json!([config_map("x")]))
            .expect(400, "BadRequest"),
        row("JSON string body", post.clone(), configmaps())
            .json(&json!("a config map"))
            .expect(400, "BadRequest"),
        row("YAML garbage", post.clone(), configmaps())
            .raw(YAML, &b"kind: ConfigMap\nmetadata: {name: [x\n  data: :\n"[..])
            .expect(400, "BadRequest"),
        row("truncated protobuf", post.clone(), configmaps())
            .raw(PROTOBUF, &b"k8s\x00\x0a\x0b\x0a\x02v1\x12"[..])
            .expect(400, "BadRequest"),
        // negotiation.NewUnsupportedMediaTypeError.
        row("body in an unsupported media type", post.clone(), configmaps())
            .raw("text/plain", &b"name=x"[..])
            .expect(415, "UnsupportedMediaType"),
        row("metadata is not an object", post.clone(), configmaps())
            .json(&cm_with("/metadata", json!("c")))
            .expect(400, "BadRequest"),
        row("replicas is a string", post.clone(), deployments())
            .json(&dep_with("/spec/replicas", json!("three")))
            .expect(400, "BadRequest"),
        // resource.Quantity's UnmarshalJSON fails while decoding.
        row("unparsable quantity", post.clone(), pods())
            .json(&pod_with(
                "/spec/containers/0/resources",
                json!({"requests": {"cpu": "lots"}}),
            ))
            .expect(400, "BadRequest")
            .message("quantities must match the regular expression"),
        // ── the body's type and identity against the URL.
        row("wrong kind for the endpoint", post.clone(), configmaps())
            .json(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}))
            .expect(400, "BadRequest")
            .message(r#"Secret in version "v1" cannot be handled as a ConfigMap"#),
        row("apiVersion of another group", post.clone(), configmaps())
            .json(&cm_with("/apiVersion", json!("apps/v1")))
            .expect(400, "BadRequest")
            .message(r#"no kind "ConfigMap" is registered for version "apps/v1""#),
        row("apiVersion that does not exist", post.clone(), configmaps())
            .json(&cm_with("/apiVersion", json!("v2")))
            .expect(400, "BadRequest"),
        // rest.EnsureObjectNamespaceMatchesRequestNamespace.
        row("namespace in body differs from URL", post.clone(), configmaps())
            .json(&cm_with("/metadata/namespace", json!("other")))
            .expect(400, "BadRequest")
            .message("the namespace of the provided object does not match the namespace sent on the request"),
        // handlers.checkName.
        row("name in body differs from URL on PUT", put.clone(), cm_item.clone())
            .json(&with(f.cm.clone(), "/metadata/name", json!("other")))
            .expect(400, "BadRequest")
            .message("the name of the object (other) does not match the name on the URL (cm)"),
        // ValidateObjectMeta.
        row("missing metadata.name without generateName", post.clone(), configmaps())
            .json(&cm_with("/metadata", json!({"labels": {"a": "b"}})))
            .expect(422, "Invalid")
            .fields(&["metadata.name"])
            .message("name or generateName is required"),
        // ── names, labels and annotations.
        row("name with uppercase letters", post.clone(), configmaps())
            .json(&config_map("Bad-Name"))
            .expect(422, "Invalid")
            .fields(&["metadata.name"])
            .message(dns_subdomain),
        row("name with an underscore", post.clone(), configmaps())
            .json(&config_map("bad_name"))
            .expect(422, "Invalid")
            .fields(&["metadata.name"])
            .message(dns_subdomain),
        row("name of 254 characters", post.clone(), configmaps())
            .json(&config_map(&"a".repeat(254)))
            .expect(422, "Invalid")
            .fields(&["metadata.name"])
            .message("must be no more than 253 characters"),
        row("name with a leading dash", post.clone(), configmaps())
            .json(&config_map("-leading"))
            .expect(422, "Invalid")
            .fields(&["metadata.name"])
            .message(dns_subdomain),
        // Service names are DNS-1035 labels (ValidateServiceName).
        row("Service name starting with a digit", post.clone(), services())
            .json(&service("1svc"))
            .expect(422, "Invalid")
            .fields(&["metadata.name"])
            .message("a DNS-1035 label must consist of"),
        row("invalid label key", post.clone(), configmaps())
            .json(&cm_with("/metadata/labels", json!({"bad key!": "v"})))
            .expect(422, "Invalid")
            .fields(&["metadata.labels"]),
        row("invalid label value", post.clone(), configmaps())
            .json(&cm_with("/metadata/labels", json!({"k": "bad value!"})))
            .expect(422, "Invalid")
            .fields(&["metadata.labels"]),
        row("label value of 64 characters", post.clone(), configmaps())
            .json(&cm_with("/metadata/labels", json!({"k": "v".repeat(64)})))
            .expect(422, "Invalid")
            .fields(&["metadata.labels"])
            .message("must be no more than 63 characters"),
        row("invalid annotation key", post.clone(), configmaps())
            .json(&cm_with("/metadata/annotations", json!({"bad/key/x": "v"})))
            .expect(422, "Invalid")
            .fields(&["metadata.annotations"]),
        // ── workload specs (pkg/apis/{apps,core,batch}/validation).
        row("negative replicas", post.clone(), deployments())
            .json(&dep_with("/spec/replicas", json!(-1)))
            .expect(422, "Invalid")
            .fields(&["spec.replicas"])
            .message("must be greater than or equal to 0"),
        row("no containers", post.clone(), deployments())
            .json(&dep_with("/spec/template/spec/containers", json!([])))
            .expect(422, "Invalid")
            .fields(&["spec.template.spec.containers"]),
        row("container without image", post.clone(), deployments())
            .json(&dep_with(
                "/spec/template/spec/containers",
                json!([{"name": "app"}]),
            ))
            .expect(422, "Invalid")
            .fields(&["spec.template.spec.containers[0].image"]),
        row("duplicate container names", post.clone(), deployments())
            .json(&dep_with(
                "/spec/template/spec/containers",
                json!([container("app"), container("app")]),
            ))
            .expect(422, "Invalid")
            .fields(&["spec.template.spec.containers[1].name"])
            .message("Duplicate value"),
        row("container port 0", post.clone(), deployments())
            .json(&dep_with(
                "/spec/template/spec/containers/0/ports",
                json!([{"containerPort": 0}]),
            ))
            .expect(422, "Invalid")
            .fields(&["spec.template.spec.containers[0].ports[0].containerPort"]),
        row("container port 70000", post.clone(), deployments())
            .json(&dep_with(
                "/spec/template/spec/containers/0/ports",
                json!([{"containerPort": 70000}]),
            ))
            .expect(422, "Invalid")
            .fields(&["spec.template.spec.containers[0].ports[0].containerPort"])
            .message("must be between 1 and 65535, inclusive"),
        row("unknown restartPolicy", post.clone(), pods())
            .json(&pod_with("/spec/restartPolicy", json!("Sometimes")))
            .expect(422, "Invalid")
            .fields(&["spec.restartPolicy"])
            .message("Unsupported value"),
        row("negative CPU request", post.clone(), pods())
            .json(&pod_with(
                "/spec/containers/0/resources",
                json!({"requests": {"cpu": "-1"}}),
            ))
            .expect(422, "Invalid")
            .fields(&["spec.containers[0].resources.requests[cpu]"])
            .message("must be greater than or equal to 0"),
        row("CPU request above its limit", post.clone(), pods())
            .json(&pod_with(
                "/spec/containers/0/resources",
                json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
            ))
            .expect(422, "Invalid")
            .fields(&["spec.containers[0].resources.requests"])
            .message("must be less than or equal to cpu limit of 1"),
        row("selector does not match template labels", post.clone(), deployments())
            .json(&dep_with("/spec/selector/matchLabels", json!({"app": "other"})))
            .expect(422, "Invalid")
            .fields(&["spec.template.metadata.labels"])
            .message("`selector` does not match template `labels`"),
        row("Job with negative completions", post.clone(), collection("/apis/batch/v1", "jobs"))
            .json(&json!({
                "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                "spec": {"completions": -1, "template": pod_template()},
            }))
            .expect(422, "Invalid")
            .fields(&["spec.completions"])
            .message("must be greater than or equal to 0"),
        row("CronJob with a bad schedule", post.clone(), collection("/apis/batch/v1", "cronjobs"))
            .json(&json!({
                "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
                "spec": {"schedule": "every tuesday", "jobTemplate": {"spec": {"template": pod_template()}}},
            }))
            .expect(422, "Invalid")
            .fields(&["spec.schedule"]),
        row("Service without ports", post.clone(), services())
            .json(&with(service("noports"), "/spec/ports", json!([])))
            .expect(422, "Invalid")
            .fields(&["spec.ports"]),
        row("Service of an unknown type", post.clone(), services())
            .json(&with(service("bogus"), "/spec/type", json!("Bogus")))
            .expect(422, "Invalid")
            .fields(&["spec.type"]),
        // The node-port allocator (registry/core/service/storage/alloc.go).
        row("Service nodePort out of range", post.clone(), services())
            .json(&with(
                with(service("np"), "/spec/type", json!("NodePort")),
                "/spec/ports/0/nodePort",
                json!(80),
            ))
            .expect(422, "Invalid")
            .fields(&["spec.ports[0].nodePort"])
            .message("provided port is not in the valid range. The range of valid ports is 30000-32767"),
        row("Service nodePort already allocated", post.clone(), services())
            .json(&with(
                with(service("np2"), "/spec/type", json!("NodePort")),
                "/spec/ports/0/nodePort",
                json!(30123),
            ))
            .expect(422, "Invalid")
            .fields(&["spec.ports[0].nodePort"])
            .message("provided port is already allocated"),
        // The cluster IP allocator (registry/core/service/ipallocator).
        row("Service clusterIP outside the service CIDR", post.clone(), services())
            .json(&with(service("far"), "/spec/clusterIP", json!("10.99.0.1")))
            .expect(422, "Invalid")
            .fields(&["spec.clusterIPs"])
            .message("the provided IP (10.99.0.1) is not in the valid range. The range of valid IPs is 10.43.0.0/16"),
        row("Service clusterIP already allocated", post.clone(), services())
            .json(&with(service("twin"), "/spec/clusterIP", json!(taken_ip.clone())))
            .expect(422, "Invalid")
            .fields(&["spec.clusterIPs"])
            .message("provided IP is already allocated"),
        // ── existence and concurrency.
        // NamespaceLifecycle admission.
        row("create in a namespace that does not exist", post.clone(), "/api/v1/namespaces/nope/configmaps")
            .json(&config_map("c"))
            .expect(404, "NotFound")
            .message(r#"namespaces "nope" not found"#),
        row("duplicate create", post.clone(), configmaps())
            .json(&config_map("cm"))
            .expect(409, "AlreadyExists")
            .message(r#"configmaps "cm" already exists"#),
        // storage.ErrResourceVersionSetOnCreate is a plain error that
        // InterpretCreateError passes through: a 500 with no reason
        // (apiserver/pkg/storage/errors/storage.go, etcd3 store.Create).
        // kube-apiserver answers this user error with a bare 500 from its storage
        // layer; berth answers 400 BadRequest with the same message on purpose.
        row("create with resourceVersion set", post.clone(), configmaps())
            .json(&cm_with("/metadata/resourceVersion", json!("5")))
            .expect(400, "BadRequest")
            .message("resourceVersion should not be set on objects to be created"),
        row("stale resourceVersion on PUT", put.clone(), cm_item.clone())
            .json(&with(
                with(f.cm.clone(), "/metadata/resourceVersion", json!("1")),
                "/data/k",
                json!("v2"),
            ))
            .expect(409, "Conflict")
            .message("the object has been modified; please apply your changes to the latest version and try again"),
        row("PUT of a Deployment that does not exist", put.clone(), format!("{}/ghost", deployments()))
            .json(&deployment("ghost"))
            .expect(404, "NotFound")
            .message(r#"deployments.apps "ghost" not found"#),
        // ── updates that validation refuses.
        row("immutable Deployment selector changed", put.clone(), web_item.clone())
            .json(&with(
                with(f.web.clone(), "/spec/selector/matchLabels", json!({"app": "web2"})),
                "/spec/template/metadata/labels",
                json!({"app": "web2"}),
            ))
            .expect(422, "Invalid")
            .fields(&["spec.selector"])
            .message("field is immutable"),
        row("Service clusterIP changed", put.clone(), format!("{}/svc", services()))
            .json(&with(
                with(f.svc.clone(), "/spec/clusterIP", json!(clash_ip)),
                "/spec/clusterIPs",
                json!([clash_ip]),
            ))
            .expect(422, "Invalid")
            .fields(&["spec.clusterIPs[0]"])
            .message("may not change once set"),
        row("immutable ConfigMap data changed", put.clone(), format!("{}/frozen", configmaps()))
            .json(&with(f.frozen.clone(), "/data/k", json!("v2")))
            .expect(422, "Invalid")
            .fields(&["data"])
            .message("field is immutable when `immutable` is set"),
        row("Secret type changed", put.clone(), collection("/api/v1", "secrets") + "/sec")
            .json(&with(f.secret.clone(), "/type", json!("example.com/custom")))
            .expect(422, "Invalid")
            .fields(&["type"])
            .message("field is immutable"),
        // ValidateScale.
        row("scale to negative replicas", put.clone(), format!("{web_item}/scale"))
            .json(&json!({
                "apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {"name": "web", "namespace": NS}, "spec": {"replicas": -1},
            }))
            .expect(422, "Invalid")
            .fields(&["spec.replicas"])
            .message("must be greater than or equal to 0"),
        // registry/core/pod/storage.BindingREST.assignPod.
        row("binding of an already bound pod", post.clone(), format!("{}/bound/binding", pods()))
            .json(&json!({
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"},
                "target": {"apiVersion": "v1", "kind": "Node", "name": "node-2"},
            }))
            .expect(409, "Conflict")
            .message(r#"pod bound is already assigned to node "node-1""#),
        // ── patches (apiserver/pkg/endpoints/handlers/patch.go).
        row("patch in an unsupported content type", patch.clone(), cm_item.clone())
            .raw("text/plain", &br#"{"data":{"k":"v2"}}"#[..])
            .expect(415, "UnsupportedMediaType"),
        row("patch sent as application/json", patch.clone(), cm_item.clone())
            .raw(JSON, &br#"{"data":{"k":"v2"}}"#[..])
            .expect(415, "UnsupportedMediaType"),
        row("merge patch that is not JSON", patch.clone(), cm_item.clone())
            .raw(MERGE, &br#"{"data":"#[..])
            .expect(400, "BadRequest"),
        row("json-patch that is not an array", patch.clone(), cm_item.clone())
            .raw(JSON_PATCH, &br#"{"op":"replace","path":"/data/k","value":"v2"}"#[..])
            .expect(400, "BadRequest"),
        // patchObj.Apply failing → NewGenericServerResponse(422).
        row("json-patch test op failing", patch.clone(), cm_item.clone())
            .raw(JSON_PATCH, &br#"[{"op":"test","path":"/data/k","value":"nope"},{"op":"replace","path":"/data/k","value":"v2"}]"#[..])
            .expect(422, "Invalid"),
        row("json-patch removing a missing key", patch.clone(), cm_item.clone())
            .raw(JSON_PATCH, &br#"[{"op":"remove","path":"/data/missing"}]"#[..])
            .expect(422, "Invalid"),
        // mergepatch.ErrBadPatchFormatForRetainKeys → 400 (interpretStrategicMergePatchError).
        row("strategic merge patch with a bad $retainKeys directive", patch.clone(), cm_item.clone())
            .raw(STRATEGIC, &br#"{"$retainKeys":"data","data":{"k":"v2"}}"#[..])
            .expect(400, "BadRequest")
            .message("invalid patch format of retainKeys"),
        // The patched JSON no longer decodes into a ConfigMap → Invalid on field "patch".
        row("merge patch changing the kind", patch.clone(), cm_item.clone())
            .raw(MERGE, &br#"{"kind":"Secret"}"#[..])
            .expect(422, "Invalid")
            .fields(&["patch"]),
        // RFC 7386: a non-object patch replaces the document, which then does not decode.
        row("merge patch that is a JSON array", patch.clone(), cm_item.clone())
            .raw(MERGE, &b"[1,2]"[..])
            .expect(422, "Invalid")
            .fields(&["patch"]),
        // ValidatePatchOptions: PatchOptions.meta.k8s.io "" is invalid.
        row("apply patch without fieldManager", patch.clone(), cm_item.clone())
            .raw(APPLY, &b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v2\n"[..])
            .expect(422, "Invalid")
            .fields(&["fieldManager"])
            .message("is required for apply patch"),
        // ── query parameters.
        row("unknown field with fieldValidation=Strict", post.clone(), deployments() + "?fieldValidation=Strict")
            .json(&dep_with("/spec/foo", json!(1)))
            .expect(400, "BadRequest")
            .message(r#"strict decoding error: unknown field "spec.foo""#),
        // ValidateCreateOptions → CreateOptions.meta.k8s.io "" is invalid.
        row("bad fieldValidation value", post.clone(), configmaps() + "?fieldValidation=Bogus")
            .json(&config_map("fv"))
            .expect(422, "Invalid")
            .fields(&["fieldValidation"]),
        row("bad labelSelector syntax on list", Method::GET, configmaps() + "?labelSelector=app%20in%20(web")
            .expect(400, "BadRequest")
            .message("unable to parse requirement"),
        // The Pod field-label conversion func (pkg/apis/core/v1/conversion.go).
        row("unknown field selector", Method::GET, pods() + "?fieldSelector=spec.foo%3Dbar")
            .expect(400, "BadRequest")
            .message("field label not supported: spec.foo"),
        row("limit that is not a number", Method::GET, configmaps() + "?limit=abc")
            .expect(400, "BadRequest"),
        // ── size and routing.
        row("body over 3 MiB", post.clone(), configmaps())
            .json(&cm_with("/data/k", json!("x".repeat(3 * 1024 * 1024 + 512 * 1024))))
            .expect(413, "RequestEntityTooLarge")
            .message("limit is 3145728"),
        row("unknown resource path", post.clone(), collection("/api/v1", "widgets"))
            .json(&config_map("w"))
            .expect(404, "NotFound"),
        row("unknown subresource", Method::GET, format!("{cm_item}/bogus"))
            .expect(404, "NotFound"),
        // go-restful has the item route but no POST on it → 405 (serviceErrorHandler).
        row("POST to an item path", post.clone(), cm_item.clone())
            .json(&config_map("cm"))
            .expect(405, "MethodNotAllowed"),
        row("PUT on a collection", put.clone(), configmaps())
            .json(&config_map("cm"))
            .expect(405, "MethodNotAllowed"),
        // ── deletes last: if one wrongly succeeds, the rows above are unaffected.
        // ValidateDeleteOptions → DeleteOptions.meta.k8s.io "" is invalid.
        row("DELETE with a bad propagationPolicy", Method::DELETE, cm_item.clone() + "?propagationPolicy=Sideways")
            .expect(422, "Invalid")
            .fields(&["propagationPolicy"]),
        row("DELETE with a wrong uid precondition", Method::DELETE, cm_item.clone())
            .json(&json!({
                "apiVersion": "v1", "kind": "DeleteOptions",
                "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"},
            }))
            .expect(409, "Conflict")
            .message(format!(
                "Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: {uid_of_cm}"
            )),
    ]
}

/// Check one answer against the row; every difference, one per line.
fn differences(row: &Row, code: u16, status: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    if code != row.code {
        diffs.push(format!("HTTP {code}, want {}", row.code));
    }
    if status["kind"] != "Status" {
        diffs.push("body is not a Status".to_string());
    }
    if status["code"].as_u64() != Some(u64::from(row.code)) {
        diffs.push(format!("Status.code {}, want {}", status["code"], row.code));
    }
    let reason = status["reason"].as_str().unwrap_or("");
    if reason != row.reason {
        diffs.push(format!("reason {reason:?}, want {:?}", row.reason));
    }
    let causes: Vec<&str> = status
        .pointer("/details/causes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["field"].as_str())
        .collect();
    for field in &row.fields {
        if !causes.contains(field) {
            diffs.push(format!("no cause for field {field:?} (causes: {causes:?})"));
        }
    }
    let message = status["message"].as_str().unwrap_or("");
    if let Some(piece) = &row.message {
        if !message.contains(piece.as_str()) {
            diffs.push(format!("message lacks {piece:?}"));
        }
    }
    if !diffs.is_empty() {
        let shown: String = message.chars().take(300).collect();
        diffs.push(format!("berth said: {shown:?}"));
    }
    diffs
}

#[tokio::test]
async fn malformed_and_invalid_requests_get_kubernetes_status_and_change_nothing() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let fixtures = setup(&client).await;
    settle(&server, &client).await;

    let rows = rows(&fixtures);
    assert!(rows.len() >= 45, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let before = server.store_dump().await;
        let answer = send(
            &client,
            row.method.clone(),
            &row.path,
            row.content_type,
            row.body.clone(),
        )
        .await;
        let mut diffs = match &answer {
            Ok((code, status)) => differences(row, *code, status),
            Err(e) => vec![e.clone()],
        };
        if server.store_dump().await != before {
            diffs.insert(0, "the store changed".to_string());
        }
        if !diffs.is_empty() {
            failures.push(format!(
                "{} ({} {}): {}",
                row.name,
                row.method,
                row.path.chars().take(100).collect::<String>(),
                diffs.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows differ from Kubernetes:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
