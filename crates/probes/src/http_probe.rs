//! httpGet probes: a GET to the container, healthy on any status in 200..400.
//!
//! Follows kubelet's prober (pkg/probe/http): `User-Agent: kube-probe/1.33` and `Accept: */*`
//! unless the probe sets them, a `Host` header overrides the request's host, no keep-alive, no
//! certificate checks for https, at most 10 KiB of body read, redirects followed only while they
//! stay on the same host name (at most 10 requests), and a redirect to another host ends the
//! probe on that 3xx response, which counts as success (kubelet's "Probe terminated redirects"
//! warning). Error texts are those of Go's net/http client, as kubelet's events show them.

use crate::dial::{dial, errno_text};
use crate::outcome::Outcome;
use crate::target::{join_host_port, resolve_container_port, Target};
use crate::tls;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, CONNECTION, HOST, LOCATION, USER_AGENT};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::HTTPGetAction;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};
use url::Url;

/// What kubelet 1.33 sends as User-Agent on probes.
pub const PROBE_USER_AGENT: &str = "kube-probe/1.33";
/// kubelet reads at most this much of a probe's response body.
pub const MAX_HTTP_BODY: usize = 10 * 1024;
/// Go's http.Client gives up when asked to follow a redirect after this many requests.
const MAX_REQUESTS: usize = 10;

const AWAITING_HEADERS: &str = " (Client.Timeout exceeded while awaiting headers)";

/// The User-Agent of lifecycle hook requests (NewRequestForHTTPGetAction with "lifecycle").
pub const LIFECYCLE_USER_AGENT: &str = "kube-lifecycle/1.33";

pub(crate) async fn probe_http(
    action: &HTTPGetAction,
    target: &Target,
    timeout: Duration,
) -> Outcome {
    http_get(action, target, timeout, PROBE_USER_AGENT, true).await
}

/// A lifecycle hook's httpGet (postStart, preStop): like a probe's request
/// but with the lifecycle User-Agent, and any HTTP answer counts as success —
/// the kubelet only fails a hook whose request could not be made. The error
/// is Go's text, e.g. `Get "http://10.42.0.5:80/x": dial tcp …: connection refused`.
pub async fn lifecycle_http_get(
    action: &HTTPGetAction,
    target: &Target,
    timeout: Duration,
) -> Result<(), String> {
    match http_get(action, target, timeout, LIFECYCLE_USER_AGENT, false).await {
        Outcome::Success => Ok(()),
        Outcome::Failure(e) | Outcome::Unknown(e) => Err(e),
    }
}

async fn http_get(
    action: &HTTPGetAction,
    target: &Target,
    timeout: Duration,
    user_agent: &'static str,
    judge_status: bool,
) -> Outcome {
    let port = match resolve_container_port(&action.port, &target.container) {
        Ok(port) => port,
        Err(err) => return Outcome::Unknown(err.to_string()),
    };
    let scheme = match action.scheme.as_deref().map(str::to_ascii_lowercase) {
        Some(scheme) if !scheme.is_empty() => scheme,
        _ => "http".to_string(),
    };
    let host = match action.host.as_deref() {
        Some(host) if !host.is_empty() => host,
        _ => target.pod_ip.as_str(),
    };
    let url_text = format_url(&scheme, host, port, action.path.as_deref().unwrap_or(""));
    let url = match Url::parse(&url_text) {
        Ok(url) => url,
        Err(err) => return Outcome::Unknown(format!("parse {url_text:?}: {err}")),
    };
    let headers = match ProbeHeaders::from_action(action, user_agent) {
        Ok(headers) => headers,
        Err(err) => return Outcome::Failure(format!("Get {url_text:?}: {err}")),
    };
    get_following_redirects(
        url,
        url_text,
        headers,
        Instant::now() + timeout,
        judge_status,
    )
    .await
}

/// scheme://host:port + path, as kubelet's formatURL renders it (Go adds the `/` a relative
/// path lacks).
fn format_url(scheme: &str, host: &str, port: u16, path: &str) -> String {
    let slash = if path.is_empty() || path.starts_with('/') {
        ""
    } else {
        "/"
    };
    format!("{scheme}://{}{slash}{path}", join_host_port(host, port))
}

/// The request headers of a probe after kubelet's defaulting.
struct ProbeHeaders {
    /// Sent as given, in order (names already validated).
    fields: Vec<(HeaderName, HeaderValue)>,
    /// The first `Host` header, which replaces the URL's host in the request.
    host: Option<HeaderValue>,
}

impl ProbeHeaders {
    fn from_action(action: &HTTPGetAction, user_agent: &'static str) -> Result<Self, String> {
        let mut fields = Vec::new();
        let mut host = None;
        for header in action.http_headers.iter().flatten() {
            let name = HeaderName::from_bytes(header.name.as_bytes())
                .map_err(|_| format!("net/http: invalid header field name {:?}", header.name))?;
            let value = HeaderValue::from_str(&header.value).map_err(|_| {
                format!("net/http: invalid header field value for {:?}", header.name)
            })?;
            if name == HOST {
                host.get_or_insert(value);
            } else {
                fields.push((name, value));
            }
        }
        let has = |name: &HeaderName| fields.iter().any(|(n, _)| n == name);
        if !has(&USER_AGENT) {
            fields.push((USER_AGENT, HeaderValue::from_static(user_agent)));
        }
        let first_accept_empty = fields
            .iter()
            .find(|(n, _)| n == ACCEPT)
            .map(|(_, v)| v.is_empty());
        match first_accept_empty {
            None => fields.push((ACCEPT, HeaderValue::from_static("*/*"))),
            // An explicitly empty Accept means "send none".
            Some(true) => fields.retain(|(n, _)| n != ACCEPT),
            Some(false) => {}
        }
        // Go omits headers whose value is empty (e.g. a blanked User-Agent).
        fields.retain(|(_, v)| !v.is_empty());
        if host.as_ref().is_some_and(HeaderValue::is_empty) {
            host = None;
        }
        Ok(ProbeHeaders { fields, host })
    }
}

async fn get_following_redirects(
    first: Url,
    first_text: String,
    headers: ProbeHeaders,
    deadline: Instant,
    judge_status: bool,
) -> Outcome {
    let first_host = first.host_str().map(str::to_string);
    let mut url = first;
    let mut url_text = first_text;
    let mut host_override = headers.host.clone();
    let mut requests = 0;
    loop {
        requests += 1;
        let exchange = match send(&url, &headers.fields, host_override.as_ref(), deadline).await {
            Ok(exchange) => exchange,
            Err(err) => return Outcome::Failure(format!("Get {url_text:?}: {err}")),
        };
        let status = exchange.response.status().as_u16();
        let location = exchange
            .response
            .headers()
            .get(LOCATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if let (true, Some(location)) = (is_followed_redirect(status), location) {
            let next = match url.join(&location) {
                Ok(next) => next,
                Err(err) => {
                    return Outcome::Failure(format!(
                        "Get {url_text:?}: failed to parse Location header {location:?}: {err}"
                    ))
                }
            };
            if next.host_str().map(str::to_string) == first_host {
                if requests >= MAX_REQUESTS {
                    return Outcome::Failure(format!(
                        "Get {location:?}: stopped after 10 redirects"
                    ));
                }
                // Go keeps an overridden Host only across relative redirects.
                if Url::parse(&location).is_ok() {
                    host_override = None;
                }
                url_text = next.to_string();
                url = next;
                continue;
            }
            // Another host: stop here and judge this 3xx response (kubelet: a warning).
        }
        return match read_limited_body(exchange, deadline).await {
            Err(err) => Outcome::Unknown(err),
            Ok(()) if !judge_status || (200..400).contains(&status) => Outcome::Success,
            Ok(()) => Outcome::Failure(format!("HTTP probe failed with statuscode: {status}")),
        };
    }
}

fn is_followed_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// A response and the task driving its connection (aborted on drop: no keep-alive).
struct Exchange {
    response: Response<Incoming>,
    connection: JoinHandle<()>,
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// One GET on a fresh connection; the error is Go's text without the `Get "url": ` prefix.
async fn send(
    url: &Url,
    fields: &[(HeaderName, HeaderValue)],
    host_override: Option<&HeaderValue>,
    deadline: Instant,
) -> Result<Exchange, String> {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported protocol scheme {scheme:?}"));
    }
    let host = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let host_header = match host_override {
        Some(value) => value.clone(),
        None => HeaderValue::from_str(&join_host_port(&host, port)).map_err(|e| e.to_string())?,
    };
    let mut target = url.path().to_string();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let mut builder = Request::get(target)
        .header(HOST, host_header)
        .header(CONNECTION, "close");
    for (name, value) in fields {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;

    let attempt = async {
        let stream = dial(&host, port, deadline).await?;
        if scheme == "https" {
            let stream = tls::handshake(stream, &host).await?;
            exchange(stream, request).await
        } else {
            exchange(stream, request).await
        }
    };
    match timeout_at(deadline, attempt).await {
        Ok(Ok(exchange)) => Ok(exchange),
        // Errors caused by the deadline carry Go's Client.Timeout note.
        Ok(Err(err)) if Instant::now() >= deadline => Err(format!("{err}{AWAITING_HEADERS}")),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(format!("context deadline exceeded{AWAITING_HEADERS}")),
    }
}

async fn exchange<IO>(io: IO, request: Request<Empty<Bytes>>) -> Result<Exchange, String>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| hyper_error_text(&e))?;
    let connection = tokio::spawn(async move {
        // The connection ends with the exchange; its error, if any, surfaces via the response.
        let _ = connection.await;
    });
    match sender.send_request(request).await {
        Ok(response) => Ok(Exchange {
            response,
            connection,
        }),
        Err(err) => {
            connection.abort();
            Err(hyper_error_text(&err))
        }
    }
}

/// Go's words for the usual ways a server fails to answer.
fn hyper_error_text(err: &hyper::Error) -> String {
    use std::error::Error as _;
    if err.is_incomplete_message() {
        return "EOF".to_string();
    }
    match err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
    {
        Some(io) => format!("read tcp: {}", errno_text(io)),
        None => err.to_string(),
    }
}

/// Reads (and discards) at most [`MAX_HTTP_BODY`] bytes of the body, as kubelet does before
/// judging the status; a longer body is cut off without error.
async fn read_limited_body(mut exchange: Exchange, deadline: Instant) -> Result<(), String> {
    let body = exchange.response.body_mut();
    let mut read = 0;
    while read < MAX_HTTP_BODY {
        match timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(
                    "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
                        .to_string(),
                )
            }
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err("unexpected EOF".to_string()),
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    read += data.len();
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe_once::probe_once;
    use crate::test_support::{closed_port, local_target, FakeExec, HttpServer};
    use k8s_openapi::api::core::v1::{HTTPHeader, Probe};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn probe(path: &str, port: u16) -> Probe {
        Probe {
            http_get: Some(HTTPGetAction {
                path: Some(path.into()),
                port: IntOrString::Int(port.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn with_headers(mut p: Probe, headers: &[(&str, &str)]) -> Probe {
        if let Some(action) = p.http_get.as_mut() {
            action.http_headers = Some(
                headers
                    .iter()
                    .map(|(name, value)| HTTPHeader {
                        name: name.to_string(),
                        value: value.to_string(),
                    })
                    .collect(),
            );
        }
        p
    }

    async fn run(p: &Probe, port: u16) -> Outcome {
        probe_once(p, &local_target(port), &*FakeExec::new()).await
    }

    #[tokio::test]
    async fn lifecycle_get_accepts_any_answer_and_fails_only_without_one() {
        let server = HttpServer::start().await;
        let action = |path: &str, port: u16| HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(port.into()),
            ..Default::default()
        };
        let timeout = Duration::from_secs(2);
        let ok = lifecycle_http_get(
            &action("/status/500", server.port),
            &local_target(server.port),
            timeout,
        )
        .await;
        assert_eq!(ok, Ok(()), "a 500 answer is still a run hook");
        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[0].headers.get("user-agent").map(|v| v.as_bytes()),
            Some(LIFECYCLE_USER_AGENT.as_bytes())
        );
        let port = closed_port();
        let err = lifecycle_http_get(&action("/hook", port), &local_target(port), timeout).await;
        let err = err.err().unwrap_or_default();
        assert!(
            err.starts_with(&format!("Get \"http://127.0.0.1:{port}/hook\": "))
                && err.contains("connection refused"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn status_codes_200_to_399_succeed() {
        let server = HttpServer::start().await;
        for code in [200, 204, 399] {
            let p = probe(&format!("/status/{code}"), server.port);
            assert_eq!(
                run(&p, server.port).await,
                Outcome::Success,
                "status {code}"
            );
        }
        // A redirect without Location is judged on its status.
        assert_eq!(
            run(&probe("/redirect", server.port), server.port).await,
            Outcome::Success
        );
    }

    #[tokio::test]
    async fn other_status_codes_fail_with_kubelets_message() {
        let server = HttpServer::start().await;
        for code in [400, 404, 500, 503] {
            let p = probe(&format!("/status/{code}"), server.port);
            assert_eq!(
                run(&p, server.port).await,
                Outcome::Failure(format!("HTTP probe failed with statuscode: {code}"))
            );
        }
    }

    #[tokio::test]
    async fn named_port_resolves_to_the_container_port() {
        let server = HttpServer::start().await;
        let mut p = probe("/status/200", 1);
        if let Some(action) = p.http_get.as_mut() {
            action.port = IntOrString::String("http".into());
        }
        assert_eq!(run(&p, server.port).await, Outcome::Success);
        if let Some(action) = p.http_get.as_mut() {
            action.port = IntOrString::String("admin".into());
        }
        assert_eq!(
            run(&p, server.port).await,
            Outcome::Unknown(r#"strconv.Atoi: parsing "admin": invalid syntax"#.into())
        );
    }

    #[tokio::test]
    async fn sends_kubelets_default_headers() {
        let server = HttpServer::start().await;
        let p = with_headers(probe("/status/200?x=1", server.port), &[("X-Custom", "a")]);
        assert_eq!(run(&p, server.port).await, Outcome::Success);
        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].path, "/status/200?x=1");
        let h = &seen[0].headers;
        assert_eq!(h["user-agent"], "kube-probe/1.33");
        assert_eq!(h["accept"], "*/*");
        assert_eq!(h["x-custom"], "a");
        assert_eq!(h["host"], format!("127.0.0.1:{}", server.port).as_str());
        assert_eq!(h["connection"], "close");
    }

    #[tokio::test]
    async fn probe_headers_override_defaults() {
        let server = HttpServer::start().await;
        let p = with_headers(
            probe("/status/200", server.port),
            &[
                ("Host", "example.com"),
                ("User-Agent", "mine"),
                ("Accept", ""),
            ],
        );
        assert_eq!(run(&p, server.port).await, Outcome::Success);
        let h = &server.seen()[0].headers;
        assert_eq!(h["host"], "example.com");
        assert_eq!(h["user-agent"], "mine");
        assert!(
            h.get("accept").is_none(),
            "an empty Accept removes the header"
        );
        assert_eq!(h.get_all("host").iter().count(), 1);
    }

    #[tokio::test]
    async fn host_field_replaces_pod_ip_and_scheme_is_case_insensitive() {
        let server = HttpServer::start().await;
        let mut p = probe("/status/200", server.port);
        if let Some(action) = p.http_get.as_mut() {
            action.host = Some("127.0.0.1".into());
            action.scheme = Some("HTTP".into());
        }
        let mut target = local_target(server.port);
        target.pod_ip = "192.0.2.1".into();
        assert_eq!(
            probe_once(&p, &target, &*FakeExec::new()).await,
            Outcome::Success
        );
    }

    #[tokio::test]
    async fn refused_connection_fails_with_gos_error() {
        let port = closed_port();
        assert_eq!(
            run(&probe("/healthz", port), port).await,
            Outcome::Failure(format!(
                "Get \"http://127.0.0.1:{port}/healthz\": dial tcp 127.0.0.1:{port}: connect: connection refused"
            ))
        );
    }

    #[tokio::test]
    async fn slow_server_times_out() {
        let server = HttpServer::start().await;
        let started = std::time::Instant::now();
        assert_eq!(
            run(&probe("/slow", server.port), server.port).await,
            Outcome::Failure(format!(
                "Get \"http://127.0.0.1:{}/slow\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                server.port
            ))
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn same_host_redirects_are_followed() {
        let server = HttpServer::start().await;
        let p = probe("/redirect?to=/status/200", server.port);
        assert_eq!(run(&p, server.port).await, Outcome::Success);
        let paths: Vec<String> = server.seen().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/redirect?to=/status/200", "/status/200"]);

        // An absolute redirect to the same host name is followed too, and judged at the end.
        let absolute = format!("http%3A%2F%2F127.0.0.1%3A{}%2Fstatus%2F500", server.port);
        let p = probe(&format!("/redirect?code=301&to={absolute}"), server.port);
        assert_eq!(
            run(&p, server.port).await,
            Outcome::Failure("HTTP probe failed with statuscode: 500".into())
        );
    }

    #[tokio::test]
    async fn redirect_to_another_host_ends_the_probe_successfully() {
        let server = HttpServer::start().await;
        let p = probe(
            "/redirect?to=http%3A%2F%2Fother.invalid%2Fstatus%2F500",
            server.port,
        );
        assert_eq!(run(&p, server.port).await, Outcome::Success);
        assert_eq!(server.seen().len(), 1, "the other host is not contacted");
    }

    #[tokio::test]
    async fn at_most_ten_requests_follow_redirects() {
        let server = HttpServer::start().await;
        // 9 redirects: 10 requests in all, the last one answers 200.
        assert_eq!(
            run(&probe("/chain/9", server.port), server.port).await,
            Outcome::Success
        );
        assert_eq!(server.seen().len(), 10);
        assert_eq!(
            run(&probe("/chain/10", server.port), server.port).await,
            Outcome::Failure("Get \"/chain/0\": stopped after 10 redirects".into())
        );
    }

    #[tokio::test]
    async fn big_bodies_are_cut_off_without_failing() {
        let server = HttpServer::start().await;
        assert_eq!(
            run(&probe("/big", server.port), server.port).await,
            Outcome::Success
        );
    }

    #[tokio::test]
    async fn https_skips_certificate_verification() {
        let server = HttpServer::start_tls().await;
        let mut ok = probe("/status/200", server.port);
        if let Some(action) = ok.http_get.as_mut() {
            action.scheme = Some("HTTPS".into());
        }
        assert_eq!(run(&ok, server.port).await, Outcome::Success);
        let mut failing = probe("/status/503", server.port);
        if let Some(action) = failing.http_get.as_mut() {
            action.scheme = Some("HTTPS".into());
        }
        assert_eq!(
            run(&failing, server.port).await,
            Outcome::Failure("HTTP probe failed with statuscode: 503".into())
        );
    }

    #[test]
    fn urls_are_formatted_like_kubelet() {
        assert_eq!(
            format_url("http", "10.0.0.1", 80, "/healthz"),
            "http://10.0.0.1:80/healthz"
        );
        assert_eq!(
            format_url("http", "10.0.0.1", 80, "healthz"),
            "http://10.0.0.1:80/healthz"
        );
        assert_eq!(
            format_url("https", "fd00::1", 443, ""),
            "https://[fd00::1]:443"
        );
    }
}
