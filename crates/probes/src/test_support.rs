//! Test servers and fakes: real sockets on 127.0.0.1 ephemeral ports, a scripted ExecRunner.

use crate::exec_probe::ExecRunner;
use crate::grpc_probe::{HealthCheckRequest, HealthCheckResponse, ServingStatus};
use crate::target::Target;
use async_trait::async_trait;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::{Container, ContainerPort};
use prost::Message;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A target at 127.0.0.1 whose container names `port` "http".
pub fn local_target(port: u16) -> Target {
    Target {
        pod_ip: "127.0.0.1".into(),
        container_id: "cid-1".into(),
        container: Container {
            name: "app".into(),
            ports: Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: i32::from(port),
                ..Default::default()
            }]),
            ..Default::default()
        },
    }
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A request as the test HTTP server saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub path: String,
    pub headers: HeaderMap,
}

/// A tiny HTTP/1.1 server. Routes: `/status/N` answers N; `/slow` answers after 5s; `/big`
/// sends 1 MiB; `/chain/N` redirects to `/chain/N-1` until 0, which answers 200;
/// `/redirect?to=LOCATION&code=N` redirects (302 unless given).
pub struct HttpServer {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
    task: JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpServer {
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// The same server behind TLS with a self-signed certificate.
    pub async fn start_tls() -> Self {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
        let cert = key.cert.der().clone();
        let private = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()),
        );
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], private)
        .expect("server config");
        Self::start_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let seen = seen.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| route(req, seen.clone()));
                        let builder = hyper::server::conn::http1::Builder::new();
                        match tls {
                            Some(acceptor) => {
                                if let Ok(stream) = acceptor.accept(stream).await {
                                    let _ = builder
                                        .serve_connection(TokioIo::new(stream), service)
                                        .await;
                                }
                            }
                            None => {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                    });
                }
            }
        });
        HttpServer { port, seen, task }
    }

    pub fn seen(&self) -> Vec<SeenRequest> {
        lock(&self.seen).clone()
    }
}

async fn route(
    req: Request<Incoming>,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    lock(&seen).push(SeenRequest {
        path: req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: req.headers().clone(),
    });
    let respond = |code: u16, body: Bytes| {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
        response
    };
    let redirect = |code: u16, location: &str| {
        let mut response = respond(code, Bytes::new());
        if let Ok(value) = HeaderValue::from_str(location) {
            response.headers_mut().insert(http::header::LOCATION, value);
        }
        response
    };
    let response = if let Some(code) = path.strip_prefix("/status/") {
        respond(code.parse().unwrap_or(500), Bytes::from_static(b"hello"))
    } else if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
        respond(200, Bytes::new())
    } else if path == "/big" {
        respond(200, Bytes::from(vec![b'x'; 1024 * 1024]))
    } else if let Some(n) = path.strip_prefix("/chain/") {
        match n.parse::<u32>().unwrap_or(0) {
            0 => respond(200, Bytes::new()),
            n => redirect(302, &format!("/chain/{}", n - 1)),
        }
    } else if path == "/redirect" {
        let mut to = String::new();
        let mut code = 302;
        for pair in query.split('&') {
            if let Some(v) = pair.strip_prefix("to=") {
                to = v.replace("%2F", "/").replace("%3A", ":");
            } else if let Some(v) = pair.strip_prefix("code=") {
                code = v.parse().unwrap_or(302);
            }
        }
        if to.is_empty() {
            respond(code, Bytes::new())
        } else {
            redirect(code, &to)
        }
    } else {
        respond(404, Bytes::new())
    };
    Ok(response)
}

/// A gRPC server (hyper HTTP/2) answering grpc.health.v1.Health/Check by service name:
/// "" or "up" SERVING, "down" NOT_SERVING, "slow" after 5s, "missing" NOT_FOUND. Without the
/// health service it answers UNIMPLEMENTED. Records the user agents it saw.
pub struct GrpcHealthServer {
    pub port: u16,
    pub user_agents: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for GrpcHealthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GrpcHealthServer {
    pub async fn start(implements_health: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let user_agents = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let user_agents = user_agents.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let user_agents = user_agents.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            grpc_route(req, implements_health, user_agents.clone())
                        });
                        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        });
        GrpcHealthServer {
            port,
            user_agents,
            task,
        }
    }
}

async fn grpc_route(
    req: Request<Incoming>,
    implements_health: bool,
    user_agents: Arc<Mutex<Vec<String>>>,
) -> Result<Response<GrpcBody>, Infallible> {
    if let Some(agent) = req.headers().get(http::header::USER_AGENT) {
        lock(&user_agents).push(String::from_utf8_lossy(agent.as_bytes()).into_owned());
    }
    let path_ok = req.uri().path() == "/grpc.health.v1.Health/Check";
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !implements_health || !path_ok {
        return Ok(trailers_only(12, "unknown service grpc.health.v1.Health"));
    }
    let request = match decode_grpc_frame(&body) {
        Some(request) => request,
        None => return Ok(trailers_only(13, "bad request frame")),
    };
    let status = match request.service.as_str() {
        "" | "up" => ServingStatus::Serving,
        "down" => ServingStatus::NotServing,
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            ServingStatus::Serving
        }
        _ => return Ok(trailers_only(5, "unknown service")),
    };
    let message = HealthCheckResponse {
        status: status as i32,
    }
    .encode_to_vec();
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(message.len()).unwrap_or(0));
    frame.put_slice(&message);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let mut response = Response::new(GrpcBody {
        data: Some(frame.freeze()),
        trailers: Some(trailers),
    });
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/grpc"));
    Ok(response)
}

/// Decodes one length-prefixed, uncompressed gRPC message.
pub fn decode_grpc_frame(body: &[u8]) -> Option<HealthCheckRequest> {
    let mut buf = body;
    if buf.remaining() < 5 || buf.get_u8() != 0 {
        return None;
    }
    let len = usize::try_from(buf.get_u32()).ok()?;
    HealthCheckRequest::decode(buf.get(..len)?).ok()
}

fn trailers_only(code: u8, message: &'static str) -> Response<GrpcBody> {
    let mut response = Response::new(GrpcBody {
        data: None,
        trailers: None,
    });
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(u16::from(code)));
    headers.insert("grpc-message", HeaderValue::from_static(message));
    response
}

/// A response body of at most one data frame followed by trailers.
pub struct GrpcBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl hyper::body::Body for GrpcBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if let Some(trailers) = self.trailers.take() {
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

/// What the fake runtime does for one exec call.
#[derive(Debug, Clone)]
pub enum Reply {
    Exit(i32, &'static str),
    Error(&'static str),
    /// Never finishes (the probe's timeout must end it).
    Hang,
}

/// An ExecRunner scripted per command name (first argument): replies are used in order, the
/// last one repeats. Records when each command ran.
#[derive(Default)]
pub struct FakeExec {
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    calls: Mutex<Vec<(String, Vec<String>, Instant)>>,
}

impl FakeExec {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn script(&self, command: &str, replies: Vec<Reply>) {
        lock(&self.scripts).insert(command.to_string(), replies.into());
    }

    /// When `command` was run, relative to `since`.
    pub fn call_offsets(&self, command: &str, since: Instant) -> Vec<Duration> {
        lock(&self.calls)
            .iter()
            .filter(|(name, _, _)| name == command)
            .map(|(_, _, at)| at.duration_since(since))
            .collect()
    }

    pub fn calls(&self) -> Vec<Vec<String>> {
        lock(&self.calls)
            .iter()
            .map(|(_, cmd, _)| cmd.clone())
            .collect()
    }
}

#[async_trait]
impl ExecRunner for FakeExec {
    async fn exec(
        &self,
        _container_id: &str,
        cmd: Vec<String>,
        _timeout: Duration,
    ) -> Result<(i32, Vec<u8>), String> {
        let name = cmd.first().cloned().unwrap_or_default();
        lock(&self.calls).push((name.clone(), cmd, Instant::now()));
        let reply = {
            let mut scripts = lock(&self.scripts);
            match scripts.get_mut(&name) {
                Some(queue) if queue.len() > 1 => queue.pop_front(),
                Some(queue) => queue.front().cloned(),
                None => None,
            }
        };
        match reply {
            Some(Reply::Exit(code, output)) => Ok((code, output.as_bytes().to_vec())),
            Some(Reply::Error(err)) => Err(err.to_string()),
            Some(Reply::Hang) => {
                tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
                Err("hung".to_string())
            }
            None => Err(format!("no script for {name:?}")),
        }
    }
}

/// An exec probe running `command` (a single word, the FakeExec script name).
pub fn exec_probe(command: &str) -> k8s_openapi::api::core::v1::Probe {
    k8s_openapi::api::core::v1::Probe {
        exec: Some(k8s_openapi::api::core::v1::ExecAction {
            command: Some(vec![command.to_string()]),
        }),
        ..Default::default()
    }
}
