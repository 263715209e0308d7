//! Port-forward over a WebSocket that tunnels SPDY (`SPDY/3.1+portforward.k8s.io`,
//! what kubectl ≥ 1.31 tries first): the WebSocket's binary messages carry
//! the raw bytes of a SPDY session, so the kubelet opens a plain SPDY
//! port-forward connection to the runtime and copies bytes between the two.
//!
//! ```text
//! kubectl ══ws binary msgs══▶ kubelet ──POST Upgrade: SPDY/3.1──▶ containerd
//!         ◀═════════════════        ◀═══════ raw SPDY frames ═════
//! ```

use super::http::{bad_request, empty, status_error, Body};
use super::relay;
use futures::{SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Message, Role};
use tokio_tungstenite::WebSocketStream;

pub const SPDY_PORT_FORWARD_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";
const PORT_FORWARD_PROTOCOL: &str = "portforward.k8s.io";

/// Accept the tunnel WebSocket and join it to a SPDY connection to `url`.
pub async fn port_forward(mut req: Request<Incoming>, url: &str) -> Response<Body> {
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return bad_request("missing Sec-WebSocket-Key");
    };
    // Open the runtime side first: a failure here is still an HTTP answer.
    let mut h = HeaderMap::new();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    h.insert(
        "x-stream-protocol-version",
        HeaderValue::from_static(PORT_FORWARD_PROTOCOL),
    );
    let resp = match relay::open(url, None, Method::POST, h).await {
        Ok(r) if r.status() == StatusCode::SWITCHING_PROTOCOLS => r,
        Ok(r) => {
            return status_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &format!(
                    "the runtime refused the port-forward stream: {}",
                    r.status()
                ),
            )
        }
        Err(e) => {
            return status_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &e.to_string(),
            )
        }
    };
    let upstream = hyper::upgrade::on(resp);
    let client = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match tokio::try_join!(client, upstream) {
            Ok((client, upstream)) => {
                let ws = WebSocketStream::from_raw_socket(TokioIo::new(client), Role::Server, None)
                    .await;
                carry(ws, upstream).await;
            }
            Err(e) => tracing::debug!("port-forward tunnel upgrade failed: {e}"),
        }
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut answer = Response::new(empty());
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = answer.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SPDY_PORT_FORWARD_TUNNEL),
    );
    answer
}

/// WebSocket binary messages → raw bytes and back, until both sides close.
async fn carry(ws: WebSocketStream<TokioIo<Upgraded>>, upstream: Upgraded) {
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut rd, mut wr) = tokio::io::split(TokioIo::new(upstream));
    let to_runtime = async move {
        while let Some(Ok(msg)) = ws_rx.next().await {
            let data = match msg {
                Message::Binary(b) => b,
                Message::Text(t) => t.as_bytes().to_vec().into(),
                Message::Close(_) => break,
                _ => continue,
            };
            if wr.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };
    let to_client = async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let msg = Message::Binary(bytes::Bytes::copy_from_slice(&buf[..n]));
                    if ws_tx.send(msg).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = ws_tx.send(normal_close()).await;
        let _ = ws_tx.close().await;
    };
    tokio::join!(to_runtime, to_client);
}

/// A normal closure (1000): Kubernetes clients treat any other close as an error.
fn normal_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
}
