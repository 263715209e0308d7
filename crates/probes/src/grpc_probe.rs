//! grpc probes: `grpc.health.v1.Health/Check` on the pod IP; healthy when the answer is SERVING.
//!
//! As kubelet's pkg/probe/grpc: plaintext HTTP/2, `kube-probe/1.33` user agent, the connection
//! is retried until the timeout (grpc-go's blocking dial), and every error is a failure with
//! kubelet's wording.

use crate::dial::go_duration;
use crate::http_probe::PROBE_USER_AGENT;
use crate::outcome::Outcome;
use crate::target::{join_host_port, Target};
use k8s_openapi::api::core::v1::GRPCAction;
use std::time::Duration;
use tokio::time::{sleep, timeout_at, Instant};
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

/// The request of grpc.health.v1.Health/Check (grpc/health/v1/health.proto).
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    pub service: String,
}

/// The response of grpc.health.v1.Health/Check; `status` is a [`ServingStatus`] number.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    pub status: i32,
}

/// grpc.health.v1.HealthCheckResponse.ServingStatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingStatus {
    Unknown = 0,
    Serving = 1,
    NotServing = 2,
    ServiceUnknown = 3,
}

/// The enum value's name as protobuf prints it (what kubelet quotes in its message).
fn serving_status_name(status: i32) -> String {
    match status {
        0 => "UNKNOWN".to_string(),
        1 => "SERVING".to_string(),
        2 => "NOT_SERVING".to_string(),
        3 => "SERVICE_UNKNOWN".to_string(),
        other => other.to_string(),
    }
}

const CHECK_PATH: &str = "/grpc.health.v1.Health/Check";
/// Pause between connection attempts while the server is not up yet.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

pub(crate) async fn probe_grpc(action: &GRPCAction, target: &Target, timeout: Duration) -> Outcome {
    let port = match u16::try_from(action.port) {
        Ok(port) if port > 0 => port,
        _ => return Outcome::Unknown(format!("invalid port number: {}", action.port)),
    };
    let addr = join_host_port(&target.pod_ip, port);
    let service = action.service.clone().unwrap_or_default();
    let deadline = Instant::now() + timeout;

    let channel = match connect(&addr, deadline).await {
        Ok(channel) => channel,
        Err(ConnectError::Timeout) => {
            return Outcome::Failure(format!(
                "timeout: failed to connect service {addr:?} within {}: context deadline exceeded",
                go_duration(timeout)
            ))
        }
        Err(ConnectError::Other(err)) => {
            return Outcome::Failure(format!(
                "error: failed to connect service at {addr:?}: {err}"
            ))
        }
    };

    match timeout_at(deadline, check(channel, service, timeout)).await {
        Err(_) => Outcome::Failure(format!(
            "timeout: health rpc did not complete within {}",
            go_duration(timeout)
        )),
        Ok(Ok(response)) if response.status == ServingStatus::Serving as i32 => Outcome::Success,
        Ok(Ok(response)) => Outcome::Failure(format!(
            "service unhealthy (responded with {:?})",
            serving_status_name(response.status)
        )),
        Ok(Err(status)) => Outcome::Failure(match status.code() {
            Code::Unimplemented => format!(
                "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
                status.message()
            ),
            Code::DeadlineExceeded => format!(
                "timeout: health rpc did not complete within {}",
                go_duration(timeout)
            ),
            // tonic enforces the request's grpc-timeout itself and reports it this way.
            Code::Cancelled if status.message() == "Timeout expired" => format!(
                "timeout: health rpc did not complete within {}",
                go_duration(timeout)
            ),
            code => format!(
                "error: health rpc probe failed: rpc error: code = {} desc = {}",
                go_code_name(code),
                status.message()
            ),
        }),
    }
}

enum ConnectError {
    Timeout,
    Other(String),
}

/// Dials until connected or the deadline passes, like grpc-go's `WithBlock` dial.
async fn connect(addr: &str, deadline: Instant) -> Result<Channel, ConnectError> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .and_then(|e| e.user_agent(PROBE_USER_AGENT))
        .map_err(|e| ConnectError::Other(e.to_string()))?;
    loop {
        match timeout_at(deadline, endpoint.connect()).await {
            Ok(Ok(channel)) => return Ok(channel),
            Ok(Err(_)) if Instant::now() + RECONNECT_PAUSE < deadline => {
                sleep(RECONNECT_PAUSE).await
            }
            Ok(Err(_)) | Err(_) => {
                tokio::time::sleep_until(deadline).await;
                return Err(ConnectError::Timeout);
            }
        }
    }
}

async fn check(
    channel: Channel,
    service: String,
    timeout: Duration,
) -> Result<HealthCheckResponse, tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(HealthCheckRequest { service });
    // Tell the server our deadline, as grpc-go does with the context's.
    request.set_timeout(timeout);
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::new();
    let path = http::uri::PathAndQuery::from_static(CHECK_PATH);
    client
        .unary(request, path, codec)
        .await
        .map(tonic::Response::into_inner)
}

/// grpc-go's names for status codes (they differ from tonic's Debug in `OK` and `Canceled`).
fn go_code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe_once::probe_once;
    use crate::test_support::{
        closed_port, decode_grpc_frame, local_target, FakeExec, GrpcHealthServer,
    };
    use k8s_openapi::api::core::v1::Probe;
    use prost::Message;

    fn probe(port: u16, service: Option<&str>) -> Probe {
        Probe {
            grpc: Some(GRPCAction {
                port: port.into(),
                service: service.map(str::to_string),
            }),
            ..Default::default()
        }
    }

    async fn run(port: u16, service: Option<&str>) -> Outcome {
        probe_once(
            &probe(port, service),
            &local_target(port),
            &*FakeExec::new(),
        )
        .await
    }

    #[test]
    fn messages_encode_as_health_proto() {
        let request = HealthCheckRequest {
            service: "db".into(),
        };
        assert_eq!(request.encode_to_vec(), [0x0a, 2, b'd', b'b']);
        assert_eq!(
            HealthCheckRequest::default().encode_to_vec(),
            Vec::<u8>::new()
        );
        let response = HealthCheckResponse::decode(&[0x08, 2][..]).unwrap();
        assert_eq!(response.status, ServingStatus::NotServing as i32);
        let framed = [&[0u8, 0, 0, 0, 4][..], &request.encode_to_vec()].concat();
        assert_eq!(decode_grpc_frame(&framed), Some(request));
    }

    #[tokio::test]
    async fn serving_is_success() {
        let server = GrpcHealthServer::start(true).await;
        assert_eq!(run(server.port, None).await, Outcome::Success);
        assert_eq!(run(server.port, Some("up")).await, Outcome::Success);
        let agents = server.user_agents.lock().unwrap().clone();
        assert!(
            agents.iter().all(|a| a.starts_with("kube-probe/1.33")),
            "{agents:?}"
        );
    }

    #[tokio::test]
    async fn not_serving_fails() {
        let server = GrpcHealthServer::start(true).await;
        assert_eq!(
            run(server.port, Some("down")).await,
            Outcome::Failure(r#"service unhealthy (responded with "NOT_SERVING")"#.into())
        );
    }

    #[tokio::test]
    async fn error_statuses_fail_with_grpc_go_wording() {
        let server = GrpcHealthServer::start(true).await;
        assert_eq!(
            run(server.port, Some("missing")).await,
            Outcome::Failure(
                "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"
                    .into()
            )
        );
        let without_health = GrpcHealthServer::start(false).await;
        assert_eq!(
            run(without_health.port, None).await,
            Outcome::Failure(
                "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health"
                    .into()
            )
        );
    }

    #[tokio::test]
    async fn slow_rpc_times_out() {
        let server = GrpcHealthServer::start(true).await;
        assert_eq!(
            run(server.port, Some("slow")).await,
            Outcome::Failure("timeout: health rpc did not complete within 1s".into())
        );
    }

    #[tokio::test]
    async fn unreachable_server_fails_after_the_timeout() {
        let port = closed_port();
        let started = std::time::Instant::now();
        assert_eq!(
            run(port, None).await,
            Outcome::Failure(format!(
                "timeout: failed to connect service \"127.0.0.1:{port}\" within 1s: context deadline exceeded"
            ))
        );
        assert!(started.elapsed() >= Duration::from_secs(1));
    }
}
