//! tcpSocket probes: healthy when a TCP connection to the port can be opened.

use crate::dial::dial;
use crate::outcome::Outcome;
use crate::target::{resolve_container_port, Target};
use k8s_openapi::api::core::v1::TCPSocketAction;
use std::time::Duration;
use tokio::time::Instant;

pub(crate) async fn probe_tcp(
    action: &TCPSocketAction,
    target: &Target,
    timeout: Duration,
) -> Outcome {
    let port = match resolve_container_port(&action.port, &target.container) {
        Ok(port) => port,
        Err(err) => return Outcome::Unknown(err.to_string()),
    };
    let host = match action.host.as_deref() {
        Some(host) if !host.is_empty() => host,
        _ => target.pod_ip.as_str(),
    };
    match dial(host, port, Instant::now() + timeout).await {
        // Connected is all a TCP probe asks; the stream closes on drop.
        Ok(_stream) => Outcome::Success,
        Err(message) => Outcome::Failure(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe_once::probe_once;
    use crate::test_support::{closed_port, local_target, FakeExec};
    use k8s_openapi::api::core::v1::Probe;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn probe(port: IntOrString, host: Option<&str>) -> Probe {
        Probe {
            tcp_socket: Some(TCPSocketAction {
                port,
                host: host.map(str::to_string),
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn open_port_succeeds_by_number_and_by_name() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = local_target(port);
        let exec = FakeExec::new();
        let by_number = probe(IntOrString::Int(port.into()), None);
        assert_eq!(
            probe_once(&by_number, &target, &*exec).await,
            Outcome::Success
        );
        let by_name = probe(IntOrString::String("http".into()), None);
        assert_eq!(
            probe_once(&by_name, &target, &*exec).await,
            Outcome::Success
        );
    }

    #[tokio::test]
    async fn host_field_overrides_pod_ip() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut target = local_target(port);
        target.pod_ip = "127.0.0.2".into();
        let p = probe(IntOrString::Int(port.into()), Some("127.0.0.1"));
        assert_eq!(
            probe_once(&p, &target, &*FakeExec::new()).await,
            Outcome::Success
        );
    }

    #[tokio::test]
    async fn closed_port_fails_with_gos_dial_error() {
        let port = closed_port();
        let p = probe(IntOrString::Int(port.into()), None);
        assert_eq!(
            probe_once(&p, &local_target(port), &*FakeExec::new()).await,
            Outcome::Failure(format!(
                "dial tcp 127.0.0.1:{port}: connect: connection refused"
            ))
        );
    }

    #[tokio::test]
    async fn unknown_port_name_is_unknown() {
        let p = probe(IntOrString::String("grpc".into()), None);
        assert_eq!(
            probe_once(&p, &local_target(80), &*FakeExec::new()).await,
            Outcome::Unknown(r#"strconv.Atoi: parsing "grpc": invalid syntax"#.into())
        );
    }
}
