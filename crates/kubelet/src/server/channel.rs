//! WebSocket `v5.channel.k8s.io` (what kubectl ≥ 1.30 speaks for exec and
//! attach), translated to the SPDY streams containerd serves
//! (`v4.channel.k8s.io` over SPDY/3.1): WebSocket v4 cannot close stdin,
//! SPDY can (a FIN on the stdin stream), so `echo hi | kubectl exec -i … cat`
//! ends.
//!
//! ```text
//! client (ws binary: channel byte + data)         runtime (SPDY streams)
//!   0 stdin  ───────────────────────────────▶ data on the stdin stream
//!   4 resize ───────────────────────────────▶ data on the resize stream
//! 255 [0] close stdin ──────────────────────▶ FIN on the stdin stream
//!   1 stdout ◀─────────────────────────────── data on the stdout stream
//!   2 stderr ◀─────────────────────────────── data on the stderr stream
//!   3 status ◀─────────────────────────────── data on the error stream (Status JSON)
//! ```

use super::http::{bad_request, empty, status_error, Body};
use super::relay;
use super::spdy::{self, Frame};
use super::streams::StreamOptions;
use futures::{SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Message, Role};
use tokio_tungstenite::WebSocketStream;

pub const V5_PROTOCOL: &str = "v5.channel.k8s.io";
/// The SPDY subprotocol asked of the runtime.
const RUNTIME_PROTOCOL: &str = "v4.channel.k8s.io";

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;
/// After one side ends, how long the other gets to finish.
const LINGER: Duration = Duration::from_secs(5);

/// SPDY stream ids by channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamIds {
    pub error: u32,
    pub stdin: Option<u32>,
    pub stdout: Option<u32>,
    pub stderr: Option<u32>,
    pub resize: Option<u32>,
}

impl StreamIds {
    /// Streams in the order the Kubernetes client opens them: error, stdin,
    /// stdout, stderr (not with a TTY), resize (only with a TTY).
    pub fn plan(opts: &StreamOptions) -> (Self, Vec<(u32, &'static str)>) {
        let mut next = 1u32;
        let mut order = Vec::new();
        let mut open = |kind: &'static str| {
            let id = next;
            next += 2;
            order.push((id, kind));
            id
        };
        let ids = StreamIds {
            error: open("error"),
            stdin: opts.stdin.then(|| open("stdin")),
            stdout: opts.stdout.then(|| open("stdout")),
            stderr: (opts.stderr && !opts.tty).then(|| open("stderr")),
            resize: opts.tty.then(|| open("resize")),
        };
        (ids, order)
    }

    pub fn channel_of(&self, stream: u32) -> Option<u8> {
        if stream == self.error {
            Some(ERROR)
        } else if Some(stream) == self.stdout {
            Some(STDOUT)
        } else if Some(stream) == self.stderr {
            Some(STDERR)
        } else {
            None
        }
    }
}

/// What one client message asks of the runtime connection.
pub fn translate_client_message(ids: &StreamIds, msg: &[u8]) -> Option<Vec<u8>> {
    let (&channel, data) = msg.split_first()?;
    match channel {
        STDIN if !data.is_empty() => ids.stdin.map(|id| spdy::data(id, data, false)),
        RESIZE => ids.resize.map(|id| spdy::data(id, data, false)),
        CLOSE if data.first() == Some(&STDIN) => ids.stdin.map(|id| spdy::data(id, &[], true)),
        _ => None,
    }
}

pub async fn serve(mut req: Request<Incoming>, url: &str, opts: &StreamOptions) -> Response<Body> {
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return bad_request("missing Sec-WebSocket-Key");
    };
    let mut h = HeaderMap::new();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    h.insert(
        "x-stream-protocol-version",
        HeaderValue::from_static(RUNTIME_PROTOCOL),
    );
    let resp = match relay::open(url, None, Method::POST, h).await {
        Ok(r) if r.status() == StatusCode::SWITCHING_PROTOCOLS => r,
        Ok(r) => {
            return status_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &format!("the runtime refused the stream: {}", r.status()),
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
    let opts = opts.clone();
    tokio::spawn(async move {
        match tokio::try_join!(client, upstream) {
            Ok((client, upstream)) => run(client, upstream, &opts).await,
            Err(e) => tracing::debug!("exec stream upgrade failed: {e}"),
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
        HeaderValue::from_static(V5_PROTOCOL),
    );
    answer
}

type RuntimeWriter = Arc<Mutex<WriteHalf<TokioIo<Upgraded>>>>;

async fn send(w: &RuntimeWriter, frame: &[u8]) -> bool {
    w.lock().await.write_all(frame).await.is_ok()
}

async fn run(client: Upgraded, upstream: Upgraded, opts: &StreamOptions) {
    let (mut rd, wr) = tokio::io::split(TokioIo::new(upstream));
    let wr: RuntimeWriter = Arc::new(Mutex::new(wr));
    let (ids, order) = StreamIds::plan(opts);
    let mut headers = spdy::HeaderWriter::default();
    for (id, kind) in &order {
        let block = headers.encode(&[("streamtype", kind)]);
        if !send(&wr, &spdy::syn_stream(*id, &block, 0)).await {
            return;
        }
    }
    tracing::debug!(?order, "SPDY streams opened");
    let last_stream = order.last().map(|(id, _)| *id).unwrap_or(1);
    let ws = WebSocketStream::from_raw_socket(TokioIo::new(client), Role::Server, None).await;
    let (mut ws_tx, mut ws_rx) = ws.split();

    let to_runtime = {
        let wr = wr.clone();
        async move {
            while let Some(Ok(msg)) = ws_rx.next().await {
                let data = match msg {
                    Message::Binary(b) => b,
                    Message::Close(_) => break,
                    _ => continue,
                };
                if let Some(frame) = translate_client_message(&ids, &data) {
                    if !send(&wr, &frame).await {
                        break;
                    }
                }
            }
            // The client is gone: end the runtime session too.
            let _ = send(&wr, &spdy::goaway(last_stream)).await;
            let _ = wr.lock().await.shutdown().await;
        }
    };
    let to_client = {
        let wr = wr.clone();
        async move {
            loop {
                match spdy::read_frame(&mut rd).await {
                    Ok(Some(Frame::Data {
                        stream, payload, ..
                    })) => {
                        let Some(channel) = ids.channel_of(stream) else {
                            continue;
                        };
                        if payload.is_empty() {
                            continue;
                        }
                        let mut msg = Vec::with_capacity(payload.len() + 1);
                        msg.push(channel);
                        msg.extend_from_slice(&payload);
                        if ws_tx.send(Message::Binary(msg.into())).await.is_err() {
                            return;
                        }
                    }
                    Ok(Some(Frame::Control { kind, payload, .. })) => {
                        match kind {
                            spdy::PING => {
                                if let Some(id) = Frame::control_id(&payload) {
                                    let _ = send(&wr, &spdy::ping(id)).await;
                                }
                            }
                            spdy::GOAWAY => break,
                            _ => {} // SYN_REPLY, RST_STREAM, SETTINGS, WINDOW_UPDATE
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!("exec stream from the runtime: {e}");
                        break;
                    }
                }
            }
            let _ = ws_tx.send(normal_close()).await;
            let _ = ws_tx.close().await;
        }
    };
    tokio::pin!(to_runtime, to_client);
    tokio::select! {
        _ = &mut to_client => { let _ = tokio::time::timeout(LINGER, to_runtime).await; }
        _ = &mut to_runtime => { let _ = tokio::time::timeout(LINGER, to_client).await; }
    }
}

/// A normal closure (1000): Kubernetes clients treat any other close as an error.
fn normal_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(stdin: bool, tty: bool) -> StreamOptions {
        StreamOptions {
            command: vec!["sh".into()],
            stdin,
            stdout: true,
            stderr: true,
            tty,
        }
    }

    #[test]
    fn streams_open_in_client_order() {
        let (ids, order) = StreamIds::plan(&opts(true, false));
        assert_eq!(
            order,
            vec![(1, "error"), (3, "stdin"), (5, "stdout"), (7, "stderr")]
        );
        assert_eq!(ids.resize, None);
        let (ids, order) = StreamIds::plan(&opts(false, true));
        assert_eq!(order, vec![(1, "error"), (3, "stdout"), (5, "resize")]);
        assert_eq!(ids.stderr, None);
        assert_eq!(ids.channel_of(1), Some(ERROR));
        assert_eq!(ids.channel_of(3), Some(STDOUT));
        assert_eq!(ids.channel_of(5), None);
    }

    #[test]
    fn client_messages_become_spdy_frames() {
        let (ids, _) = StreamIds::plan(&opts(true, true));
        assert_eq!(
            translate_client_message(&ids, b"\x00hi"),
            Some(spdy::data(3, b"hi", false))
        );
        assert_eq!(
            translate_client_message(&ids, &[CLOSE, STDIN]),
            Some(spdy::data(3, b"", true))
        );
        let resize = br#"{"Width":80,"Height":24}"#;
        let mut msg = vec![RESIZE];
        msg.extend_from_slice(resize);
        assert_eq!(
            translate_client_message(&ids, &msg),
            Some(spdy::data(ids.resize.unwrap_or_default(), resize, false))
        );
        assert_eq!(translate_client_message(&ids, &[STDOUT, b'x']), None);
        assert_eq!(translate_client_message(&ids, &[]), None);
    }
}
