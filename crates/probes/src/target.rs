//! What a probe is aimed at, and resolving a probe's port (number or container port name).

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The container a probe runs against.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Default host for httpGet and tcpSocket, and the only host for grpc.
    pub pod_ip: String,
    /// The runtime's container id; exec probes run in it and results carry it.
    pub container_id: String,
    /// The container spec: its name, its named ports and the env used to expand exec commands.
    pub container: Container,
}

/// Why a probe's port could not be turned into a number; the texts are kubelet's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Neither a container port name nor a number (Go's strconv.Atoi error).
    #[error("strconv.Atoi: parsing {0:?}: invalid syntax")]
    NotANumber(String),
    /// A number that is no TCP port.
    #[error("invalid port number: {0}")]
    OutOfRange(i64),
}

/// Resolves a probe port the way kubelet does: an integer as is; a string as the name of one of
/// the container's ports, falling back to parsing it as a number; then checks 1..=65535.
pub fn resolve_container_port(port: &IntOrString, container: &Container) -> Result<u16, PortError> {
    let number: i64 = match port {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(name) => match find_port_by_name(container, name) {
            Some(n) => i64::from(n),
            None => parse_go_int(name).ok_or_else(|| PortError::NotANumber(name.clone()))?,
        },
    };
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or(PortError::OutOfRange(number))
}

fn find_port_by_name(container: &Container, name: &str) -> Option<i32> {
    container
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some(name))
        .map(|p| p.container_port)
}

/// Go's strconv.Atoi accepts an optional sign and decimal digits only.
fn parse_go_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `host:port`, with IPv6 literals in brackets (Go's net.JoinHostPort).
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ContainerPort;

    fn container_with_port(name: &str, number: i32) -> Container {
        Container {
            name: "app".into(),
            ports: Some(vec![ContainerPort {
                name: Some(name.into()),
                container_port: number,
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn resolves_numbers_names_and_numeric_strings() {
        let c = container_with_port("http", 8080);
        assert_eq!(resolve_container_port(&IntOrString::Int(80), &c), Ok(80));
        assert_eq!(
            resolve_container_port(&IntOrString::String("http".into()), &c),
            Ok(8080)
        );
        assert_eq!(
            resolve_container_port(&IntOrString::String("9090".into()), &c),
            Ok(9090)
        );
    }

    #[test]
    fn reports_errors_as_kubelet() {
        let c = container_with_port("http", 8080);
        let err = resolve_container_port(&IntOrString::String("metrics".into()), &c).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"strconv.Atoi: parsing "metrics": invalid syntax"#
        );
        let err = resolve_container_port(&IntOrString::Int(0), &c).unwrap_err();
        assert_eq!(err.to_string(), "invalid port number: 0");
        let err = resolve_container_port(&IntOrString::Int(70000), &c).unwrap_err();
        assert_eq!(err.to_string(), "invalid port number: 70000");
        let named_zero = container_with_port("zero", 0);
        let err = resolve_container_port(&IntOrString::String("zero".into()), &named_zero);
        assert_eq!(err, Err(PortError::OutOfRange(0)));
    }

    #[test]
    fn joins_ipv6_hosts_in_brackets() {
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
    }
}
