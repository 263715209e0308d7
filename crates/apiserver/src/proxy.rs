//! pods/{name}/log|exec|attach|portforward: find the pod's node and proxy the
//! request to that node agent's server, upgrades (SPDY, WebSocket) included.
//!
//! ```text
//! client ─▶ pod (404) ─▶ container (400 when ambiguous/invalid) ─▶ scheduled? running? (400)
//!        ─▶ node InternalIP + daemonEndpoints.kubeletEndpoint.Port
//!        ─▶ TLS (client cert kube-apiserver-kubelet-client, kubelet cert verified against the CA)
//!        ─▶ GET|POST /containerLogs|/exec|/attach|/portForward/{ns}/{pod}[/{container}]
//!        ◀─ body streamed back; 101: both connections upgraded and bytes copied both ways
//! ```

use crate::request::{Query, ResourceRequest, Verb};
use crate::rest::{read, Reply};
use crate::Server;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use berth_api::status::ApiError;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Who the API server is to the node agents.
pub const KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";
const KUBELET_CLIENT_GROUP: &str = "system:masters";
const DEFAULT_KUBELET_PORT: i64 = 10250;
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

tokio::task_local! {
    /// The client connection's pending upgrade (HTTP/1.1 only), set by the
    /// server around request handling: the handlers only see headers and body.
    static CLIENT_UPGRADE: Option<OnUpgrade>;
}

/// Run `f` with the client's pending upgrade available to the proxy.
pub async fn with_client_upgrade<F: std::future::Future>(
    upgrade: Option<OnUpgrade>,
    f: F,
) -> F::Output {
    CLIENT_UPGRADE.scope(upgrade, f).await
}

fn client_upgrade() -> Option<OnUpgrade> {
    CLIENT_UPGRADE.try_with(|u| u.clone()).ok().flatten()
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

pub async fn handle(
    srv: &Arc<Server>,
    req: &ResourceRequest,
    sub: &str,
    q: &Query,
    headers: &HeaderMap,
) -> Reply {
    let info = req.info;
    let ns = req.namespace.as_deref().unwrap_or_default();
    let name = req.name.as_deref().unwrap_or_default();
    if info.kind != "Pod" || sub == "proxy" {
        return Err(ApiError::service_unavailable(format!(
            "{}/{sub} is not served by berth yet",
            info.plural
        )));
    }
    let (pod, _) = read(srv, info, Some(ns), name).await?;
    let container = if sub == "portforward" {
        None
    } else {
        Some(pick_container(&pod, name, q.get("container"))?)
    };
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if node.is_empty() {
        let c = container.clone().unwrap_or_else(|| first_container(&pod));
        return Err(ApiError::bad_request(format!(
            "container \"{c}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    }
    if let Some(c) = &container {
        match sub {
            "log" => check_log_status(&pod, name, c, q.flag("previous"))?,
            _ => check_running(&pod, name, c)?,
        }
    }
    let (host, port) = kubelet_address(srv, node).await?;
    let path = match (sub, &container) {
        ("log", Some(c)) => format!("/containerLogs/{ns}/{name}/{c}"),
        ("exec", Some(c)) => format!("/exec/{ns}/{name}/{c}"),
        ("attach", Some(c)) => format!("/attach/{ns}/{name}/{c}"),
        _ => format!("/portForward/{ns}/{name}"),
    };
    let query = kubelet_query(q);
    let uri = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let method = if req.verb == Verb::Create {
        Method::POST
    } else {
        Method::GET
    };
    forward(srv, node, &host, port, method, &uri, headers).await
}

/// GET `path` on `node`'s agent and return the whole body (e.g. /stats/summary).
pub async fn kubelet_get(srv: &Arc<Server>, node: &str, path: &str) -> Result<Vec<u8>, ApiError> {
    let (host, port) = kubelet_address(srv, node).await?;
    let resp = forward(srv, node, &host, port, Method::GET, path, &HeaderMap::new()).await?;
    if !resp.status().is_success() {
        return Err(ApiError::service_unavailable(format!(
            "node {node} answered {} for {path}",
            resp.status()
        )));
    }
    axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
        .await
        .map(|b| b.to_vec())
        .map_err(|e| ApiError::service_unavailable(format!("reading {path} from node {node}: {e}")))
}

fn first_container(pod: &Value) -> String {
    pod.pointer("/spec/containers/0/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn names(pod: &Value, field: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The container the request is about, as kube-apiserver chooses it.
pub fn pick_container(
    pod: &Value,
    pod_name: &str,
    asked: Option<&str>,
) -> Result<String, ApiError> {
    let containers = names(pod, "containers");
    let init = names(pod, "initContainers");
    let ephemeral = names(pod, "ephemeralContainers");
    match asked.filter(|c| !c.is_empty()) {
        Some(c) => {
            if containers
                .iter()
                .chain(&init)
                .chain(&ephemeral)
                .any(|n| n == c)
            {
                Ok(c.to_string())
            } else {
                Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {pod_name}"
                )))
            }
        }
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => {
            let mut msg = format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            Err(ApiError::bad_request(msg))
        }
    }
}

fn container_status<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|f| {
        pod.pointer(&format!("/status/{f}"))
            .and_then(Value::as_array)
    })
    .flatten()
    .find(|s| s["name"].as_str() == Some(container))
}

fn has_id(terminated: &Value) -> bool {
    terminated["containerID"]
        .as_str()
        .is_some_and(|s| !s.is_empty())
}

/// Whether there are logs to read, with the kubelet's messages when not.
pub fn check_log_status(
    pod: &Value,
    pod_name: &str,
    container: &str,
    previous: bool,
) -> Result<(), ApiError> {
    let waiting = |reason: &str| {
        ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
        ))
    };
    let Some(st) = container_status(pod, container) else {
        return Err(waiting("ContainerCreating"));
    };
    let state = &st["state"];
    let last = &st["lastState"]["terminated"];
    if previous {
        if last.is_object() && has_id(last) {
            return Ok(());
        }
        return Err(ApiError::bad_request(format!(
            "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
        )));
    }
    if state["running"].is_object() {
        return Ok(());
    }
    let terminated_msg = || {
        ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is terminated"
        ))
    };
    if state["terminated"].is_object() {
        if has_id(&state["terminated"]) || (last.is_object() && has_id(last)) {
            return Ok(());
        }
        return Err(terminated_msg());
    }
    if last.is_object() {
        return if has_id(last) {
            Ok(())
        } else {
            Err(terminated_msg())
        };
    }
    match state["waiting"]["reason"].as_str() {
        Some("ErrImagePull") => Err(waiting("image can't be pulled")),
        Some("ImagePullBackOff") => Err(waiting("trying and failing to pull image")),
        Some(reason) => Err(waiting(reason)),
        None if state["waiting"].is_object() => Err(waiting("")),
        None => Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start - no logs yet"
        ))),
    }
}

/// exec and attach need the container running.
pub fn check_running(pod: &Value, pod_name: &str, container: &str) -> Result<(), ApiError> {
    let Some(st) = container_status(pod, container) else {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: ContainerCreating"
        )));
    };
    let state = &st["state"];
    if state["running"].is_object() {
        return Ok(());
    }
    if let Some(reason) = state["waiting"]["reason"].as_str() {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
        )));
    }
    Err(ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{pod_name}\" is not running"
    )))
}

/// InternalIP (else the first address) and kubelet port of `node`.
async fn kubelet_address(srv: &Arc<Server>, node: &str) -> Result<(String, u16), ApiError> {
    let unavailable = |why: String| ApiError::service_unavailable(why);
    let nodes = berth_api::registry::lookup("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("nodes are not registered"))?;
    let (obj, _) = read(srv, nodes, None, node).await.map_err(|e| {
        if e.code == 404 {
            unavailable(format!("node \"{node}\" of the pod is not registered"))
        } else {
            e
        }
    })?;
    let addresses = obj
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let host = addresses
        .iter()
        .find(|a| a["type"] == "InternalIP")
        .or_else(|| addresses.first())
        .and_then(|a| a["address"].as_str())
        .map(str::to_string)
        .ok_or_else(|| unavailable(format!("node \"{node}\" reports no address")))?;
    let port = obj
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_i64)
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    let port = u16::try_from(port)
        .map_err(|_| unavailable(format!("node \"{node}\" reports kubelet port {port}")))?;
    Ok((host, port))
}

/// The client's query for the node agent (the container is in the path).
fn kubelet_query(q: &Query) -> String {
    let mut keys: Vec<&String> = q.0.keys().filter(|k| k.as_str() != "container").collect();
    keys.sort();
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for k in keys {
        for v in q.0[k].split('\0') {
            ser.append_pair(k, v);
        }
    }
    ser.finish()
}

/// TLS to node agents: the CA verifies them, a CA-issued certificate identifies us.
fn client_tls(srv: &Server) -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIGS: Mutex<Option<HashMap<String, Arc<rustls::ClientConfig>>>> = Mutex::new(None);
    let mut guard = CONFIGS.lock().unwrap_or_else(|p| p.into_inner());
    let cache = guard.get_or_insert_with(HashMap::new);
    if let Some(c) = cache.get(&srv.pki.ca_cert) {
        return Ok(c.clone());
    }
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert, key) = srv
        .pki
        .issue_client(KUBELET_CLIENT_USER, &[KUBELET_CLIENT_GROUP])
        .map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut srv.pki.ca_cert.as_bytes()) {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key.as_bytes())
        .map_err(|e| e.to_string())?
        .ok_or("no key in the issued PEM")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| e.to_string())?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let cfg = Arc::new(cfg);
    cache.insert(srv.pki.ca_cert.clone(), cfg.clone());
    Ok(cfg)
}

/// Hop-by-hop and credential headers that must not reach the node agent.
fn forwardable(name: &header::HeaderName, upgrade: bool) -> bool {
    let n = name.as_str();
    let hop = matches!(
        n,
        "host"
            | "authorization"
            | "content-length"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authorization"
    ) || n.starts_with("impersonate-");
    let upgrade_header = matches!(n, "connection" | "upgrade");
    !hop && (upgrade || !upgrade_header)
}

async fn forward(
    srv: &Arc<Server>,
    node: &str,
    host: &str,
    port: u16,
    method: Method,
    uri: &str,
    headers: &HeaderMap,
) -> Reply {
    let upgrade = is_upgrade(headers);
    let client_upgrade = if upgrade {
        Some(client_upgrade().ok_or_else(|| {
            ApiError::bad_request("streaming upgrades need an HTTP/1.1 connection")
        })?)
    } else {
        None
    };
    let addr = format!("{host}:{port}");
    let dial_err = |why: String| {
        ApiError::service_unavailable(format!(
            "error dialing backend: node \"{node}\" at {addr}: {why}"
        ))
    };
    let tls =
        client_tls(srv).map_err(|e| ApiError::internal(format!("kubelet client TLS: {e}")))?;
    let server_name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| dial_err(format!("bad address: {e}")))?;
    let stream = tokio::time::timeout(DIAL_TIMEOUT, async {
        let tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        tokio_rustls::TlsConnector::from(tls)
            .connect(server_name, tcp)
            .await
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| dial_err("timed out".into()))?
    .map_err(dial_err)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| dial_err(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("kubelet connection: {e}");
        }
    });
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(h) = builder.headers_mut() {
        for (k, v) in headers {
            if forwardable(k, upgrade) {
                h.append(k.clone(), v.clone());
            }
        }
        if let Ok(v) = HeaderValue::from_str(&addr) {
            h.insert(header::HOST, v);
        }
    }
    let request = builder
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let resp = tokio::time::timeout(RESPONSE_TIMEOUT, sender.send_request(request))
        .await
        .map_err(|_| dial_err("no answer".into()))?
        .map_err(|e| dial_err(e.to_string()))?;

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return Err(ApiError::internal(
                "the node agent switched protocols without an upgrade request",
            ));
        };
        let mut answer = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
        if let Some(h) = answer.headers_mut() {
            *h = resp.headers().clone();
        }
        let kubelet_upgrade = hyper::upgrade::on(resp);
        tokio::spawn(async move {
            match tokio::try_join!(client_upgrade, kubelet_upgrade) {
                Ok((client, kubelet)) => {
                    let mut a = TokioIo::new(client);
                    let mut b = TokioIo::new(kubelet);
                    if let Err(e) = tokio::io::copy_bidirectional(&mut a, &mut b).await {
                        tracing::debug!("stream proxy ended: {e}");
                    }
                }
                Err(e) => tracing::debug!("stream proxy upgrade: {e}"),
            }
        });
        return answer
            .body(Body::empty())
            .map_err(|e| ApiError::internal(e.to_string()));
    }
    let (parts, body) = resp.into_parts();
    let mut out = Response::new(Body::new(body));
    *out.status_mut() = parts.status;
    for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(statuses: Value) -> Value {
        json!({
            "spec": {"containers": [{"name": "app"}, {"name": "side"}], "initContainers": [{"name": "init"}]},
            "status": {"containerStatuses": statuses},
        })
    }

    fn msg(r: Result<(), ApiError>) -> String {
        r.err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn container_choice_follows_kube_apiserver() {
        let p = pod(json!([]));
        assert_eq!(
            pick_container(&p, "web", Some("side")).ok(),
            Some("side".into())
        );
        assert_eq!(
            pick_container(&p, "web", Some("init")).ok(),
            Some("init".into())
        );
        let e = pick_container(&p, "web", None).err().map(|e| e.message);
        assert_eq!(
            e.as_deref(),
            Some("a container name must be specified for pod web, choose one of: [app side] or one of the init containers: [init]")
        );
        let e = pick_container(&p, "web", Some("x")).err().map(|e| e.code);
        assert_eq!(e, Some(400));
        let one = json!({"spec": {"containers": [{"name": "only"}]}});
        assert_eq!(pick_container(&one, "web", None).ok(), Some("only".into()));
    }

    #[test]
    fn log_status_messages_match_the_kubelet() {
        let running = pod(json!([{"name": "app", "state": {"running": {}}, "lastState": {}}]));
        assert!(check_log_status(&running, "web", "app", false).is_ok());
        assert_eq!(
            msg(check_log_status(&running, "web", "app", true)),
            "previous terminated container \"app\" in pod \"web\" not found"
        );
        let crashing = pod(json!([{"name": "app",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "containerd://abc"}}}]));
        assert!(check_log_status(&crashing, "web", "app", false).is_ok());
        assert!(check_log_status(&crashing, "web", "app", true).is_ok());
        let creating =
            pod(json!([{"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}]));
        assert_eq!(
            msg(check_log_status(&creating, "web", "app", false)),
            "container \"app\" in pod \"web\" is waiting to start: ContainerCreating"
        );
        let pulling =
            pod(json!([{"name": "app", "state": {"waiting": {"reason": "ErrImagePull"}}}]));
        assert_eq!(
            msg(check_log_status(&pulling, "web", "app", false)),
            "container \"app\" in pod \"web\" is waiting to start: image can't be pulled"
        );
        assert_eq!(
            msg(check_log_status(&pod(json!([])), "web", "app", false)),
            "container \"app\" in pod \"web\" is waiting to start: ContainerCreating"
        );
        assert!(check_running(&running, "web", "app").is_ok());
        assert!(check_running(&creating, "web", "app").is_err());
    }

    #[test]
    fn kubelet_query_drops_container_and_keeps_command_order() {
        let q = Query::parse(Some(
            "command=sh&command=-c&command=exit%203&container=app&stdout=true",
        ));
        assert_eq!(
            kubelet_query(&q),
            "command=sh&command=-c&command=exit+3&stdout=true"
        );
    }

    #[test]
    fn credentials_and_hop_headers_stay_behind() {
        let h = |s: &'static str| header::HeaderName::from_static(s);
        assert!(!forwardable(&h("authorization"), true));
        assert!(!forwardable(&h("impersonate-user"), true));
        assert!(forwardable(&h("upgrade"), true));
        assert!(!forwardable(&h("upgrade"), false));
        assert!(forwardable(&h("sec-websocket-protocol"), true));
        assert!(forwardable(&h("x-stream-protocol-version"), true));
    }
}
