//! HTTPS: our own accept loop (to read client certificates), HTTP/1.1 and
//! HTTP/2, authentication, then routing to discovery, OpenAPI or REST.
//!
//! ```text
//! TCP ─▶ TLS (client cert optional) ─▶ hyper (h1|h2) ─▶ authn ─▶ route
//!        ├─ /version /healthz /livez /readyz /metrics
//!        ├─ /api /apis (discovery)      ├─ /openapi/v3[/...]
//!        └─ /api/v1/... /apis/g/v/...  ─▶ rest::handle
//! ```

use crate::body::{self, error_response, json_response};
use crate::request::{self, Query, Target};
use crate::{bootstrap, cache, controllers, discovery, join, pki, rest, Config, Server, User};
use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use berth_api::status::ApiError;
use berth_store::Store;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("PKI: {0}")]
    Pki(#[from] pki::PkiError),
    #[error("store: {0}")]
    Store(#[from] berth_store::StoreError),
    #[error("service account tokens: {0}")]
    ServiceAccountKey(#[from] crate::service_account_token::TokenError),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source} (is another server using the port? pick one with --https-port)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A started server: its address and state. Dropping it does not stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub server: Arc<Server>,
}

pub async fn start(mut config: Config, store: Arc<dyn Store>) -> Result<Running, StartError> {
    let mut hosts = config.tls_sans.clone();
    if !hosts.contains(&config.advertise_address) {
        hosts.push(config.advertise_address.clone());
    }
    let pki = pki::Pki::load_or_create(&config.data_dir.join("pki"), &hosts)?;
    let tls = tls_config(&pki).map_err(StartError::Tls)?;
    let tokens = crate::service_account_token::TokenSigner::from_pem(&pki.service_account_key)?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.bind,
        source,
    })?;
    config.bind = addr; // port 0 → the port actually bound
    let metrics = crate::metrics::Metrics::new();
    let store: Arc<dyn Store> = Arc::new(crate::metrics::MeteredStore::wrap(store, &metrics));
    let cache = cache::WatchCache::start(store.clone()).await?;
    let srv = Arc::new(Server {
        store,
        cache,
        openapi: Arc::new(berth_openapi::OpenApi::new()),
        config,
        metrics,
        pki,
        tokens,
        alloc_lock: Default::default(),
        quota_locks: Default::default(),
        pending_ips: Default::default(),
    });
    bootstrap::ensure(&srv).await;
    controllers::spawn_all(&srv);

    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let accept_srv = srv.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _peer)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let srv = accept_srv.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let user = user_from_tls(tls.get_ref().1);
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let srv = srv.clone();
                        let user = user.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                dispatch(srv, user, req.map(Body::new)).await,
                            )
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok(Running { addr, server: srv })
}

fn tls_config(pki: &pki::Pki) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut pki.serving_cert.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("serving certificate: {e}"))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut pki.serving_key.as_bytes())
        .map_err(|e| format!("serving key: {e}"))?
        .ok_or("serving key: no key in PEM")?;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut pki.ca_cert.as_bytes()) {
        roots
            .add(c.map_err(|e| format!("CA: {e}"))?)
            .map_err(|e| format!("CA: {e}"))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| format!("client verifier: {e}"))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("serving certificate: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// CN = user, O = groups, as Kubernetes reads client certificates.
fn user_from_tls(conn: &rustls::ServerConnection) -> Option<User> {
    let cert = conn.peer_certificates()?.first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let subject = parsed.subject();
    let name = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some(User { name, groups })
}

fn authenticate(srv: &Server, tls_user: Option<User>, req: &Request<Body>) -> Option<User> {
    if let Some(u) = tls_user {
        return Some(u);
    }
    let auth = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = auth.strip_prefix("Bearer ")?.trim();
    if !token.is_empty() && token == srv.pki.admin_token {
        return Some(User {
            name: "berth-admin".into(),
            groups: vec!["system:masters".into()],
        });
    }
    // JWTs have dots; the admin and join tokens never do.
    if token.contains('.') {
        match crate::service_account_token::authenticate(srv, token) {
            Ok(user) => return Some(user),
            Err(e) => tracing::debug!("service account token rejected: {e}"),
        }
        return None;
    }
    // The join token's secret part (agents may also send the whole token).
    let secret = token.rsplit("::").next().unwrap_or("");
    if !secret.is_empty() && secret == srv.pki.node_token {
        return Some(User {
            name: join::BOOTSTRAP_USER.into(),
            groups: vec![join::BOOTSTRAP_GROUP.into()],
        });
    }
    None
}

fn text(code: StatusCode, s: &str) -> Response<Body> {
    body::bytes_response(code, "text/plain; charset=utf-8", s.as_bytes().to_vec())
}

async fn dispatch(srv: Arc<Server>, tls_user: Option<User>, req: Request<Body>) -> Response<Body> {
    let started = Instant::now();
    let path = req.uri().path().to_string();
    let public = matches!(
        path.as_str(),
        "/version" | "/healthz" | "/livez" | "/readyz" | join::CACERTS_PATH
    ) || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/");
    let user = authenticate(&srv, tls_user, &req);
    let Some(user) = user.or_else(|| {
        public.then(|| User {
            name: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
        })
    }) else {
        return error_response(&ApiError::unauthorized());
    };
    // A join token buys node credentials and nothing else.
    if user.name == join::BOOTSTRAP_USER && path != join::CREDENTIALS_PATH {
        return error_response(&ApiError::new(
            403,
            "Forbidden",
            format!(
                "{} may only request node credentials at {}",
                join::BOOTSTRAP_USER,
                join::CREDENTIALS_PATH
            ),
        ));
    }
    let (verb, resource, resp) = route(&srv, &user, req).await;
    let resp = resp.unwrap_or_else(|e| error_response(&e));
    srv.metrics.request(
        &verb,
        &resource,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

async fn route(
    srv: &Arc<Server>,
    user: &User,
    req: Request<Body>,
) -> (String, String, Result<Response<Body>, ApiError>) {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let q = Query::parse(req.uri().query());
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let other = |r: Result<Response<Body>, ApiError>| ("get".to_string(), String::new(), r);
    match path.as_str() {
        "/version" => return other(Ok(json_response(StatusCode::OK, &discovery::version()))),
        "/healthz" | "/livez" | "/readyz" => return other(Ok(text(StatusCode::OK, "ok"))),
        "/metrics" => {
            return other(Ok(body::bytes_response(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                srv.metrics.encode().into_bytes(),
            )))
        }
        "/openapi/v3" => return other(Ok(json_response(StatusCode::OK, &srv.openapi.index()))),
        join::CACERTS_PATH => return other(Ok(join::cacerts(srv))),
        join::CREDENTIALS_PATH => {
            if method != axum::http::Method::POST || user.name != join::BOOTSTRAP_USER {
                return other(Err(ApiError::new(
                    403,
                    "Forbidden",
                    "node credentials are issued to a join token only (POST with Authorization: Bearer <token>)",
                )));
            }
            let raw = match axum::body::to_bytes(req.into_body(), 64 * 1024).await {
                Ok(b) => b,
                Err(_) => return other(Err(ApiError::too_large())),
            };
            return other(join::credentials(srv, &raw));
        }
        "/openapi/v2" => {
            // kubectl validates `kind: List` items client-side against v2.
            let Some(format) = berth_openapi::V2Format::negotiate(&accept) else {
                return other(Ok(text(StatusCode::NOT_ACCEPTABLE, "")));
            };
            let doc = srv.openapi.v2(format);
            let not_modified = req
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|tags| doc.not_modified(tags));
            let (status, body) = if not_modified {
                (StatusCode::NOT_MODIFIED, Body::empty())
            } else {
                (StatusCode::OK, Body::from(doc.body))
            };
            return other(Ok(Response::builder()
                .status(status)
                .header(header::CONTENT_TYPE, doc.content_type)
                .header(header::ETAG, doc.etag)
                .header(header::VARY, "Accept")
                .body(body)
                .unwrap_or_default()));
        }
        _ => {}
    }
    if path.starts_with("/healthz/") || path.starts_with("/livez/") || path.starts_with("/readyz/")
    {
        return other(Ok(text(StatusCode::OK, "ok")));
    }
    if let Some(gv) = path.strip_prefix("/openapi/v3/") {
        return other(match srv.openapi.document(gv) {
            Some(doc) => Ok(body::bytes_response(
                StatusCode::OK,
                "application/json",
                doc.as_ref().clone(),
            )),
            None => Err(ApiError::not_found_path()),
        });
    }
    if let Some(r) = crate::metrics_api::handle(srv, &path, &q).await {
        return ("get".to_string(), "metrics.k8s.io".to_string(), r);
    }
    let target = match request::parse(&method, &path, &q) {
        Ok(t) => t,
        Err(e) => return other(Err(e)),
    };
    match target {
        Target::Discovery(parts) => {
            let aggregated = discovery::wants_aggregated(&accept);
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            let r = match parts.as_slice() {
                ["api"] if aggregated => Ok(agg_response(&discovery::aggregated(true))),
                ["apis"] if aggregated => Ok(agg_response(&discovery::aggregated(false))),
                ["api"] => Ok(json_response(
                    StatusCode::OK,
                    &discovery::api_versions(&srv.config.advertise_address),
                )),
                ["apis"] => Ok(json_response(StatusCode::OK, &discovery::api_group_list())),
                ["api", v] => {
                    discovery::api_resource_list("", v).map(|v| json_response(StatusCode::OK, &v))
                }
                ["apis", g] => discovery::api_group(g).map(|v| json_response(StatusCode::OK, &v)),
                ["apis", g, v] => {
                    discovery::api_resource_list(g, v).map(|v| json_response(StatusCode::OK, &v))
                }
                _ => Err(ApiError::not_found_path()),
            };
            other(r)
        }
        Target::Other => other(Err(ApiError::not_found_path())),
        Target::Resource(r) => {
            let verb = r.verb.as_str().to_string();
            let resource = match &r.subresource {
                Some(s) => format!("{}/{}", r.info.plural, s),
                None => r.info.plural.to_string(),
            };
            let headers = req.headers().clone();
            // Streaming subresources (exec, port-forward) take over the connection.
            let upgrade = req.extensions().get::<hyper::upgrade::OnUpgrade>().cloned();
            let bytes = match axum::body::to_bytes(req.into_body(), body::MAX_BODY + 1).await {
                Ok(b) if b.len() > body::MAX_BODY => {
                    return (verb, resource, Err(ApiError::too_large()))
                }
                Ok(b) => b,
                Err(_) => return (verb, resource, Err(ApiError::too_large())),
            };
            let res = crate::proxy::with_client_upgrade(
                upgrade,
                rest::handle(srv, r, q, headers, bytes, user),
            )
            .await;
            (verb, resource, res)
        }
    }
}

fn agg_response(v: &serde_json::Value) -> Response<Body> {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    body::bytes_response(StatusCode::OK, discovery::AGGREGATED_CT, bytes)
}

/// Keep the trait in scope for `Arc<dyn Store>` users of this module.
#[allow(dead_code)]
fn _assert_store(_: &dyn Store) {}
