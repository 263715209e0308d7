//! The node agent's HTTPS server (the kubelet API on :10250): container
//! logs, exec, attach and port-forward for the API server to proxy to.
//!
//! ```text
//! TCP ─▶ TLS (client certificate signed by the cluster CA, required) ─▶ HTTP/1.1 (+ upgrades)
//!   ├─ GET  /healthz
//!   ├─ GET  /stats/summary                             ─▶ stats::StatsProvider (Summary API JSON)
//!   ├─ GET  /containerLogs/{ns}/{pod}/{container}     ─▶ logs.rs (CRI log files)
//!   ├─ *    /exec/{ns}/{pod}/{container}              ─▶ streams.rs ─▶ CRI Exec ─▶ relay | channel
//!   ├─ *    /attach/{ns}/{pod}/{container}            ─▶ streams.rs ─▶ CRI Attach
//!   └─ *    /portForward/{ns}/{pod}                   ─▶ streams.rs ─▶ CRI PortForward ─▶ relay | tunnel
//! ```

pub mod channel;
pub mod http;
pub mod logs;
pub mod lookup;
pub mod relay;
pub mod spdy;
pub mod streams;
pub mod tls;
pub mod tunnel;

use self::http::{bad_request, full, not_found, status_error, Body};
use crate::config::KubeletConfig;
use crate::pod::runtime::Runtime;
use crate::stats::StatsProvider;
use ::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use berth_cri::api::{ContainerState, ContainerStatusRequest};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

pub use tls::ServingTls;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source} (pick another port for the node agent)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What the handlers need: where logs are, and the runtime.
pub struct NodeServer {
    pub logs_dir: PathBuf,
    pub runtime: Arc<dyn Runtime>,
    pub stats: Arc<StatsProvider>,
}

/// Listen on `cfg.server_port` (0: any free port) and serve; returns the bound address.
pub async fn start(
    cfg: &KubeletConfig,
    tls: &ServingTls,
    runtime: Arc<dyn Runtime>,
    stats: Arc<StatsProvider>,
) -> Result<SocketAddr, ServerError> {
    let tls = Arc::new(tls::server_config(tls)?);
    let bind = SocketAddr::from(([0, 0, 0, 0], cfg.server_port));
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| ServerError::Bind { addr: bind, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr: bind, source })?;
    let srv = Arc::new(NodeServer {
        logs_dir: cfg.logs_dir(),
        runtime,
        stats,
    });
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let tcp = match listener.accept().await {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::debug!("node server accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let srv = srv.clone();
            tokio::spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::debug!("node server TLS handshake: {e}");
                        return;
                    }
                };
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let srv = srv.clone();
                    async move { Ok::<_, std::convert::Infallible>(route(&srv, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Ok(addr)
}

/// `a=b&c=d` as pairs, in order (repeated keys kept).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn route(srv: &NodeServer, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let pairs = query_pairs(query.as_deref());
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    let streaming = method == Method::GET || method == Method::POST;
    match segments.as_slice() {
        ["healthz"] => text(StatusCode::OK, "ok"),
        ["stats", "summary"] if method == Method::GET => stats_summary(srv).await,
        ["containerLogs", ns, pod, container] if method == Method::GET => {
            container_logs(srv, ns, pod, container, &pairs).await
        }
        ["exec", ns, pod, container] | ["exec", ns, pod, _, container] if streaming => {
            streams::exec_or_attach(srv, req, streams::Kind::Exec, ns, pod, container, &pairs).await
        }
        ["attach", ns, pod, container] | ["attach", ns, pod, _, container] if streaming => {
            streams::exec_or_attach(srv, req, streams::Kind::Attach, ns, pod, container, &pairs)
                .await
        }
        ["portForward", ns, pod] | ["portForward", ns, pod, _] if streaming => {
            streams::port_forward(srv, req, ns, pod, query.as_deref()).await
        }
        _ => not_found(&format!("the node agent does not serve {method} {path}")),
    }
}

async fn stats_summary(srv: &NodeServer) -> Response<Body> {
    let summary = srv.stats.summary().await;
    match serde_json::to_vec(summary.as_ref()) {
        Ok(body) => {
            let mut r = Response::new(full(body));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => internal(&format!("encoding the summary: {e}")),
    }
}

fn text(code: StatusCode, s: &str) -> Response<Body> {
    let mut r = Response::new(full(s.to_string()));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Which file to read: the current or previous instance, and the id of the
/// instance to watch while following.
async fn pick_log(
    srv: &NodeServer,
    ns: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<(PathBuf, Option<String>), Response<Body>> {
    let rt = srv.runtime.as_ref();
    let found = lookup::find_pod(rt, ns, pod)
        .await
        .map_err(|e| internal(&format!("container runtime: {e}")))?;
    let previous_missing = || {
        bad_request(&format!(
            "previous terminated container \"{container}\" in pod \"{pod}\" not found"
        ))
    };
    let Some(found) = found else {
        // The sandbox is gone; its log files may still be there.
        let dir = lookup::orphan_log_dir(&srv.logs_dir, ns, pod, container)
            .ok_or_else(|| not_found(&format!("pod {ns}/{pod} does not exist on this node")))?;
        let numbers = lookup::numbered_logs(&dir);
        let pick = if previous {
            numbers.iter().rev().nth(1).ok_or_else(previous_missing)?
        } else {
            numbers.last().ok_or_else(|| {
                bad_request(&format!(
                    "container \"{container}\" in pod \"{pod}\" is waiting to start - no logs yet"
                ))
            })?
        };
        return Ok((dir.join(format!("{pick}.log")), None));
    };
    let dir = lookup::container_log_dir(&srv.logs_dir, ns, pod, &found.uid, container);
    let instances = lookup::instances(rt, &found, container)
        .await
        .map_err(|e| internal(&format!("container runtime: {e}")))?;
    let numbers = lookup::numbered_logs(&dir);
    let current = instances.first();
    if previous {
        if let Some(prev) = instances.get(1) {
            let path = lookup::log_path(rt, &prev.id)
                .await
                .unwrap_or_else(|| dir.join(format!("{}.log", prev.attempt)));
            return Ok((path, None));
        }
        // Older instances may have been removed; their files stay.
        let below = current.map(|c| c.attempt).or(numbers.last().copied());
        let n = below
            .and_then(|b| numbers.iter().rev().find(|n| **n < b))
            .ok_or_else(previous_missing)?;
        return Ok((dir.join(format!("{n}.log")), None));
    }
    match current {
        Some(c) => {
            let path = lookup::log_path(rt, &c.id)
                .await
                .unwrap_or_else(|| dir.join(format!("{}.log", c.attempt)));
            Ok((path, Some(c.id.clone())))
        }
        None => match numbers.last() {
            Some(n) => Ok((dir.join(format!("{n}.log")), None)),
            None => Err(bad_request(&format!(
                "container \"{container}\" in pod \"{pod}\" is waiting to start - no logs yet"
            ))),
        },
    }
}

fn internal(msg: &str) -> Response<Body> {
    status_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", msg)
}

async fn container_logs(
    srv: &NodeServer,
    ns: &str,
    pod: &str,
    container: &str,
    pairs: &[(String, String)],
) -> Response<Body> {
    let opts = match logs::LogOptions::from_query(pairs, chrono::Utc::now()) {
        Ok(o) => o,
        Err(e) => return bad_request(&e),
    };
    let (path, watch_id) = match pick_log(srv, ns, pod, container, opts.previous).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let alive: Option<logs::Alive> = watch_id.map(|id| {
        let rt = srv.runtime.clone();
        let f: logs::Alive = Arc::new(move || {
            let rt = rt.clone();
            let id = id.clone();
            Box::pin(async move {
                rt.container_status(ContainerStatusRequest {
                    container_id: id,
                    verbose: false,
                })
                .await
                .ok()
                .and_then(|r| r.status)
                .is_some_and(|s| s.state == ContainerState::ContainerRunning as i32)
            })
        });
        f
    });
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(logs::stream(path, opts, alive, tx));
    let mut r = Response::new(self::http::channel(rx));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}
