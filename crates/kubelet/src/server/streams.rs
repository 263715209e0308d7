//! `/exec`, `/attach` and `/portForward`: ask the runtime (CRI Exec, Attach,
//! PortForward) for a streaming URL, then relay the client's upgraded
//! connection to it.
//!
//! ```text
//! request ─▶ pod + running container (CRI labels) ─▶ CRI Exec|Attach|PortForward ─▶ URL
//!   SPDY/3.1 upgrade ............................▶ relay as is (containerd speaks it)
//!   websocket v4.channel.k8s.io (and older) ....▶ relay as is
//!   websocket SPDY/3.1+portforward.k8s.io ......▶ tunnel (tunnel.rs)
//!   websocket v5.channel.k8s.io ................▶ translate to SPDY (channel.rs)
//! ```

use super::http::{bad_request, not_found, status_error, Body};
use super::{channel, lookup, relay, tunnel, NodeServer};
use berth_cri::api::{AttachRequest, ExecRequest, PortForwardRequest};
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

/// WebSocket subprotocols containerd's streaming server speaks for exec/attach.
pub const RUNTIME_WEBSOCKET_PROTOCOLS: &[&str] = &[
    "v4.channel.k8s.io",
    "v4.base64.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Exec,
    Attach,
}

/// What the client asked to stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamOptions {
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl StreamOptions {
    pub fn from_query(pairs: &[(String, String)]) -> Self {
        let flag = |v: &str| matches!(v, "1" | "true" | "True" | "TRUE");
        let mut o = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "command" => o.command.push(v.clone()),
                "stdin" | "input" => o.stdin = flag(v),
                "stdout" | "output" => o.stdout = flag(v),
                "stderr" | "error" => o.stderr = flag(v),
                "tty" => o.tty = flag(v),
                _ => {}
            }
        }
        o
    }
}

pub async fn exec_or_attach(
    srv: &NodeServer,
    req: Request<Incoming>,
    kind: Kind,
    ns: &str,
    pod: &str,
    container: &str,
    pairs: &[(String, String)],
) -> Response<Body> {
    let opts = StreamOptions::from_query(pairs);
    if !opts.stdin && !opts.stdout && !opts.stderr {
        return bad_request("you must specify at least 1 of stdin, stdout, stderr");
    }
    if kind == Kind::Exec && opts.command.is_empty() {
        return bad_request("you must specify at least one command for the container");
    }
    if !relay::is_upgrade(req.headers()) {
        return bad_request("Upgrade request required");
    }
    let rt = srv.runtime.as_ref();
    let found = match lookup::find_pod(rt, ns, pod).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(&format!("pod {ns}/{pod} does not exist on this node")),
        Err(e) => return runtime_error(&e),
    };
    let instances = match lookup::instances(rt, &found, container).await {
        Ok(i) => i,
        Err(e) => return runtime_error(&e),
    };
    let Some(running) = lookup::running(&instances) else {
        return not_found(&format!("container not found ({container:?})"));
    };
    let id = running.id.clone();

    let websocket = relay::is_websocket(req.headers());
    let offered = relay::websocket_protocols(req.headers());
    let runtime_ws: Vec<&String> = offered
        .iter()
        .filter(|p| RUNTIME_WEBSOCKET_PROTOCOLS.contains(&p.as_str()))
        .collect();
    let translate = websocket && offered.iter().any(|p| p == channel::V5_PROTOCOL);
    if websocket && !translate && runtime_ws.is_empty() {
        return bad_request(&format!(
            "none of the WebSocket protocols {offered:?} is supported; use {} or SPDY/3.1",
            channel::V5_PROTOCOL
        ));
    }

    let url = match kind {
        Kind::Exec => rt
            .exec(ExecRequest {
                container_id: id,
                cmd: opts.command.clone(),
                tty: opts.tty,
                stdin: opts.stdin,
                stdout: opts.stdout,
                stderr: opts.stderr && !opts.tty,
            })
            .await
            .map(|r| r.url),
        Kind::Attach => rt
            .attach(AttachRequest {
                container_id: id,
                stdin: opts.stdin,
                tty: opts.tty,
                stdout: opts.stdout,
                stderr: opts.stderr && !opts.tty,
            })
            .await
            .map(|r| r.url),
    };
    let url = match url {
        Ok(u) => u,
        Err(e) => return runtime_error(&e),
    };
    if translate {
        return channel::serve(req, &url, &opts).await;
    }
    let mut headers = relay::upgrade_headers(req.headers());
    if websocket {
        // Offer the runtime only what it speaks.
        headers.remove(header::SEC_WEBSOCKET_PROTOCOL);
        let list = runtime_ws
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(v) = HeaderValue::from_str(&list) {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, v);
        }
    }
    relay::relay(req, &url, None, headers).await
}

pub async fn port_forward(
    srv: &NodeServer,
    req: Request<Incoming>,
    ns: &str,
    pod: &str,
    query: Option<&str>,
) -> Response<Body> {
    if !relay::is_upgrade(req.headers()) {
        return bad_request("Upgrade request required");
    }
    let rt = srv.runtime.as_ref();
    let found = match lookup::find_pod(rt, ns, pod).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(&format!("pod {ns}/{pod} does not exist on this node")),
        Err(e) => return runtime_error(&e),
    };
    let Some(sandbox) = found.sandboxes.iter().find(|s| s.ready) else {
        return bad_request(&format!("pod {ns}/{pod} has no running sandbox"));
    };
    let url = match rt
        .port_forward(PortForwardRequest {
            pod_sandbox_id: sandbox.id.clone(),
            port: Vec::new(),
        })
        .await
    {
        Ok(r) => r.url,
        Err(e) => return runtime_error(&e),
    };
    let offered = relay::websocket_protocols(req.headers());
    if relay::is_websocket(req.headers())
        && offered
            .iter()
            .any(|p| p == tunnel::SPDY_PORT_FORWARD_TUNNEL)
    {
        return tunnel::port_forward(req, &url).await;
    }
    // SPDY, or the WebSocket port-forward protocol (ports in the query).
    let headers = relay::upgrade_headers(req.headers());
    relay::relay(req, &url, query, headers).await
}

fn runtime_error(e: &berth_cri::CriError) -> Response<Body> {
    status_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        &format!("container runtime: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_options_collect_commands_in_order() {
        let pairs: Vec<(String, String)> = [
            ("command", "sh"),
            ("command", "-c"),
            ("command", "exit 3"),
            ("stdin", "true"),
            ("stdout", "1"),
            ("tty", "false"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let o = StreamOptions::from_query(&pairs);
        assert_eq!(o.command, vec!["sh", "-c", "exit 3"]);
        assert!(o.stdin && o.stdout && !o.stderr && !o.tty);
    }
}
