//! `CriClient`: the runtime's CRI over its unix socket, with a deadline on every call.

mod image;
mod runtime;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::error::CriError;

/// Largest response accepted; a busy node's ListContainers is bigger than gRPC's 4 MiB default
/// (the kubelet allows 16 MiB too).
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Deadlines for calls to the runtime.
#[derive(Debug, Clone)]
pub struct CriClientOptions {
    /// How long to wait for the socket to accept a connection.
    pub connect_timeout: Duration,
    /// Deadline for ordinary calls (the kubelet's `--runtime-request-timeout`, 2 minutes).
    pub request_timeout: Duration,
    /// Deadline for `PullImage`; `None` waits as long as the pull takes (as the kubelet does).
    pub pull_timeout: Option<Duration>,
}

impl Default for CriClientOptions {
    fn default() -> Self {
        CriClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            pull_timeout: None,
        }
    }
}

/// A CRI client over a unix socket. Cheap to clone; clones share one HTTP/2 connection, which
/// is re-established after the runtime restarts.
#[derive(Clone)]
pub struct CriClient {
    socket: PathBuf,
    options: CriClientOptions,
    runtime: RuntimeServiceClient<Channel>,
    image: ImageServiceClient<Channel>,
}

impl std::fmt::Debug for CriClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CriClient")
            .field("socket", &self.socket)
            .field("options", &self.options)
            .finish()
    }
}

impl CriClient {
    /// Connects now; fails with `Unreachable` when nothing listens on the socket.
    /// `endpoint` is a path or `unix:///path`.
    pub async fn connect(endpoint: &str, options: CriClientOptions) -> Result<Self, CriError> {
        let socket = socket_path(endpoint);
        let channel = endpoint_for(&options)
            .connect_with_connector(unix_connector(socket.clone()))
            .await
            .map_err(|e| CriError::Unreachable {
                op: "Connect",
                endpoint: socket.display().to_string(),
                reason: error_chain(&e),
            })?;
        Ok(Self::from_channel(socket, options, channel))
    }

    /// Connects on first use; calls fail with `Unavailable` while nothing listens.
    pub fn connect_lazy(endpoint: &str, options: CriClientOptions) -> Self {
        let socket = socket_path(endpoint);
        let channel =
            endpoint_for(&options).connect_with_connector_lazy(unix_connector(socket.clone()));
        Self::from_channel(socket, options, channel)
    }

    fn from_channel(socket: PathBuf, options: CriClientOptions, channel: Channel) -> Self {
        CriClient {
            socket,
            options,
            runtime: RuntimeServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            image: ImageServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES),
        }
    }

    /// The same connection with other deadlines.
    pub fn with_options(mut self, options: CriClientOptions) -> Self {
        self.options = options;
        self
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn options(&self) -> &CriClientOptions {
        &self.options
    }

    /// Runs one call with a deadline, both sent to the runtime (`grpc-timeout`) and enforced
    /// here in case the runtime ignores it. `None` means no deadline.
    async fn call<C, Req, Resp, F, Fut>(
        op: &'static str,
        client: C,
        deadline: Option<Duration>,
        req: Req,
        rpc: F,
    ) -> Result<Resp, CriError>
    where
        F: FnOnce(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let mut request = tonic::Request::new(req);
        let answer = match deadline {
            Some(after) => {
                request.set_timeout(after);
                tokio::time::timeout(after, rpc(client, request))
                    .await
                    .map_err(|_| CriError::Timeout { op, after })?
            }
            None => rpc(client, request).await,
        };
        answer
            .map(tonic::Response::into_inner)
            .map_err(|status| CriError::from_status(op, status))
    }

    fn request_deadline(&self) -> Option<Duration> {
        Some(self.options.request_timeout)
    }

    /// The ordinary deadline plus `seconds` the runtime itself may wait (stop grace period,
    /// exec timeout), as the kubelet computes it.
    fn deadline_plus_seconds(&self, seconds: i64) -> Option<Duration> {
        let extra = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
        Some(self.options.request_timeout + extra)
    }
}

fn endpoint_for(options: &CriClientOptions) -> Endpoint {
    // The URI is required by tonic but unused: the connector below always dials the socket.
    Endpoint::from_static("http://localhost").connect_timeout(options.connect_timeout)
}

fn unix_connector(
    socket: PathBuf,
) -> impl tower::Service<
    Uri,
    Response = TokioIo<UnixStream>,
    Error = std::io::Error,
    Future = impl Future<Output = std::io::Result<TokioIo<UnixStream>>> + Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(move |_: Uri| {
        let socket = socket.clone();
        async move { UnixStream::connect(&socket).await.map(TokioIo::new) }
    })
}

/// `unix:///run/x.sock` and `/run/x.sock` both name the socket file.
pub fn socket_path(endpoint: &str) -> PathBuf {
    PathBuf::from(endpoint.strip_prefix("unix://").unwrap_or(endpoint))
}

/// An error with its causes, `a: b: c`, since tonic's transport error alone says little.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_path_accepts_unix_urls_and_paths() {
        assert_eq!(
            socket_path("unix:///run/x/containerd.sock"),
            PathBuf::from("/run/x/containerd.sock")
        );
        assert_eq!(socket_path("/tmp/a.sock"), PathBuf::from("/tmp/a.sock"));
    }

    #[tokio::test]
    async fn connect_to_missing_socket_is_unreachable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("none.sock");
        let options = CriClientOptions {
            connect_timeout: Duration::from_secs(1),
            ..Default::default()
        };
        let err = CriClient::connect(&sock.display().to_string(), options)
            .await
            .expect_err("nothing listens");
        assert!(err.is_unavailable(), "{err}");
        assert!(err.to_string().contains("none.sock"), "{err}");
    }

    #[tokio::test]
    async fn lazy_client_reports_unavailable_per_call() {
        use crate::RuntimeService;
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("none.sock");
        let client = CriClient::connect_lazy(
            &sock.display().to_string(),
            CriClientOptions {
                connect_timeout: Duration::from_secs(1),
                request_timeout: Duration::from_secs(5),
                pull_timeout: None,
            },
        );
        let err = client
            .version(Default::default())
            .await
            .expect_err("nothing listens");
        assert!(err.is_unavailable(), "{err}");
        assert_eq!(err.op(), "Version");
    }
}
