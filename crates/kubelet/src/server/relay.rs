//! Joining a client's upgraded connection to the runtime's streaming server
//! (containerd serves exec/attach/port-forward on a loopback URL that the
//! CRI call returns).
//!
//! ```text
//! client ──upgrade (SPDY/3.1 | websocket v4)──▶ kubelet ──same request──▶ containerd URL
//!        ◀──────────── 101 ──────────────────          ◀──── 101 ──────
//!        ◀════════════ bytes copied both ways ══════════════════════════▶
//! ```

use super::http::{status_error, Body};
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;

/// Request headers that carry the upgrade negotiation to the runtime.
const UPGRADE_HEADERS: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "x-stream-protocol-version",
];

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("bad streaming URL {0:?} from the runtime")]
    Url(String),
    #[error("connecting to the runtime's streaming server at {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("talking to the runtime's streaming server: {0}")]
    Http(#[from] hyper::Error),
    #[error("building the request to the runtime: {0}")]
    Request(#[from] http::Error),
}

/// Whether the request asks for a connection upgrade (SPDY or WebSocket).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
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

pub fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The WebSocket subprotocols the client offers, in its order.
pub fn websocket_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// An HTTP/1.1 connection to the runtime's streaming server for `url`
/// (plus `query`, when the client's query must reach it).
pub async fn open(
    url: &str,
    query: Option<&str>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response<Incoming>, RelayError> {
    let uri: Uri = url.parse().map_err(|_| RelayError::Url(url.to_string()))?;
    let authority = uri
        .authority()
        .ok_or_else(|| RelayError::Url(url.to_string()))?
        .to_string();
    let mut path = uri.path().to_string();
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        path.push('?');
        path.push_str(q);
    }
    let tcp = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(|source| RelayError::Connect {
            addr: authority.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("streaming connection to the runtime: {e}");
        }
    });
    let mut req = Request::builder().method(method).uri(path);
    if let Some(h) = req.headers_mut() {
        *h = headers;
        h.insert(
            header::HOST,
            HeaderValue::from_str(&authority).map_err(http::Error::from)?,
        );
    }
    let req = req.body(Empty::<Bytes>::new())?;
    Ok(sender.send_request(req).await?)
}

/// The upgrade headers of `headers` (what the runtime needs to see).
pub fn upgrade_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in UPGRADE_HEADERS {
        for v in headers.get_all(*name) {
            if let Ok(n) = header::HeaderName::from_bytes(name.as_bytes()) {
                out.append(n, v.clone());
            }
        }
    }
    out
}

/// Copy bytes both ways until both sides are done.
pub async fn pump(client: Upgraded, upstream: Upgraded) {
    let mut a = TokioIo::new(client);
    let mut b = TokioIo::new(upstream);
    if let Err(e) = tokio::io::copy_bidirectional(&mut a, &mut b).await {
        tracing::debug!("stream relay ended: {e}");
    }
}

/// Forward the client's upgrade request to the runtime; on 101 answer 101
/// and join the connections, otherwise pass the runtime's answer on.
pub async fn relay(
    mut req: Request<Incoming>,
    url: &str,
    query: Option<&str>,
    headers: HeaderMap,
) -> Response<Body> {
    let method = req.method().clone();
    let resp = match open(url, query, method, headers).await {
        Ok(r) => r,
        Err(e) => {
            return status_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &e.to_string(),
            )
        }
    };
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return passthrough(resp).await;
    }
    let client_upgrade = hyper::upgrade::on(&mut req);
    let mut answer = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    if let Some(h) = answer.headers_mut() {
        *h = resp.headers().clone();
    }
    let upstream_upgrade = hyper::upgrade::on(resp);
    tokio::spawn(async move {
        match tokio::try_join!(client_upgrade, upstream_upgrade) {
            Ok((client, upstream)) => pump(client, upstream).await,
            Err(e) => tracing::debug!("stream upgrade failed: {e}"),
        }
    });
    answer
        .body(super::http::empty())
        .unwrap_or_else(|_| super::http::empty_response(StatusCode::INTERNAL_SERVER_ERROR))
}

/// A non-101 answer of the runtime, as it is.
async fn passthrough(resp: Response<Incoming>) -> Response<Body> {
    let (parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut out = Response::new(super::http::full(bytes));
    *out.status_mut() = parts.status;
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        out.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_upgrades_and_protocols() {
        let mut h = HeaderMap::new();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("v5.channel.k8s.io, v4.channel.k8s.io"),
        );
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(is_upgrade(&h));
        assert!(is_websocket(&h));
        assert_eq!(
            websocket_protocols(&h),
            vec!["v5.channel.k8s.io", "v4.channel.k8s.io"]
        );
        let fwd = upgrade_headers(&h);
        assert!(fwd.get(header::AUTHORIZATION).is_none());
        assert_eq!(fwd.len(), 3);
        h.remove(header::CONNECTION);
        assert!(!is_upgrade(&h));
    }
}
