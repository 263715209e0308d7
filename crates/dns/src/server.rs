//! Binding UDP and TCP listeners and running the hickory server on them.

use crate::error::DnsError;
use crate::handler::DnsHandler;
use crate::records::ClusterRecords;
use hickory_server::Server;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};

/// Idle time after which a TCP client connection is closed.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;

/// A server listening on UDP and TCP at `local_addr()`.
pub struct RunningDns {
    addr: SocketAddr,
    server: Server<DnsHandler>,
    records: Arc<ClusterRecords>,
}

/// Binds `bind` on UDP and TCP (with port 0, one ephemeral port shared by
/// both) and starts answering with `handler`.
pub async fn serve(handler: DnsHandler, bind: SocketAddr) -> Result<RunningDns, DnsError> {
    let records = handler.records().clone();
    let (udp, tcp) = bind_pair(bind).await?;
    let addr = udp.local_addr().map_err(|source| DnsError::Bind {
        addr: bind,
        transport: "udp",
        source,
    })?;
    let mut server = Server::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
    tracing::info!(%addr, "cluster DNS listening on UDP and TCP");
    Ok(RunningDns {
        addr,
        server,
        records,
    })
}

async fn bind_pair(bind: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let udp_error = |source| DnsError::Bind {
        addr: bind,
        transport: "udp",
        source,
    };
    // With an ephemeral port the TCP side may find the UDP port taken; retry.
    let attempts = if bind.port() == 0 { 16 } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(bind).await.map_err(udp_error)?;
        let addr = udp.local_addr().map_err(udp_error)?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(source) => {
                last_error = Some(DnsError::Bind {
                    addr,
                    transport: "tcp",
                    source,
                })
            }
        }
    }
    Err(last_error.unwrap_or_else(|| DnsError::Server("no listener bound".into())))
}

impl RunningDns {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn records(&self) -> &Arc<ClusterRecords> {
        &self.records
    }

    /// Runs until a listener fails.
    pub async fn wait(mut self) -> Result<(), DnsError> {
        self.server
            .block_until_done()
            .await
            .map_err(|error| DnsError::Server(error.to_string()))
    }

    pub async fn shutdown(mut self) -> Result<(), DnsError> {
        self.server
            .shutdown_gracefully()
            .await
            .map_err(|error| DnsError::Server(error.to_string()))
    }
}
