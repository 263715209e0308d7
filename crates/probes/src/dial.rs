//! Opening the TCP connection a probe needs, with errors worded as Go's net.Dial words them
//! (kubelet's events show Go's text, e.g. `dial tcp 10.0.0.5:80: connect: connection refused`).

use crate::target::join_host_port;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// Connects to `host:port` before `deadline`; the error is Go's dial error text.
pub(crate) async fn dial(host: &str, port: u16, deadline: Instant) -> Result<TcpStream, String> {
    let addr = join_host_port(host, port);
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match timeout_at(deadline, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(found)) => found.collect(),
            Ok(Err(_)) => return Err(format!("dial tcp: lookup {host}: no such host")),
            Err(_) => return Err(format!("dial tcp: lookup {host}: i/o timeout")),
        },
    };
    let mut first_error = None;
    for socket_addr in &addrs {
        match timeout_at(deadline, TcpStream::connect(socket_addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(err)) => {
                first_error.get_or_insert_with(|| connect_error_text(&addr, &err));
            }
            Err(_) => return Err(format!("dial tcp {addr}: i/o timeout")),
        }
    }
    Err(first_error.unwrap_or_else(|| format!("dial tcp: lookup {host}: no such host")))
}

/// `dial tcp ADDR: connect: <lower-case errno text>`, the way Go reports a failed connect(2).
fn connect_error_text(addr: &str, err: &io::Error) -> String {
    format!("dial tcp {addr}: connect: {}", errno_text(err))
}

/// Go prints syscall errors as the lower-case strerror text, without Rust's "(os error N)".
pub(crate) fn errno_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error ") {
        Some(at) => &text[..at],
        None => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Go's time.Duration String() for the whole-second timeouts probes use ("1s", "1m30s").
pub(crate) fn go_duration(d: Duration) -> String {
    let total = d.as_secs();
    let millis = d.subsec_millis();
    if total == 0 {
        return if millis == 0 {
            "0s".into()
        } else {
            format!("{millis}ms")
        };
    }
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    let seconds = if millis == 0 {
        format!("{s}s")
    } else {
        let fraction = format!("{millis:03}");
        format!("{s}.{}s", fraction.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => seconds,
        (0, _) => format!("{m}m{seconds}"),
        _ => format!("{h}h{m}m{seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations_like_go() {
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::from_secs(59)), "59s");
        assert_eq!(go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn strips_rust_errno_suffix() {
        let err = io::Error::from_raw_os_error(111);
        assert_eq!(errno_text(&err), "connection refused");
    }

    #[tokio::test]
    async fn refused_connect_reads_like_go() {
        // Bind then drop a listener, so the port is (almost certainly) closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = dial("127.0.0.1", port, Instant::now() + Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            format!("dial tcp 127.0.0.1:{port}: connect: connection refused")
        );
    }
}
