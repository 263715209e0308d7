//! Forwarding of names outside the cluster zone to upstream nameservers: one
//! query per upstream over UDP (TCP when the answer is truncated), with a total
//! time budget, and upstreams that failed skipped for a while so that, when none
//! is reachable, clients get SERVFAIL at once instead of after a timeout each.

use crate::error::ForwardError;
use hickory_server::proto::op::{Edns, Message, MessageType, Query};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long an upstream that failed is skipped.
const DOWN_FOR: Duration = Duration::from_secs(5);
/// EDNS buffer size we advertise upstream (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;

struct Upstream {
    addr: SocketAddr,
    down_until: Mutex<Option<Instant>>,
}

impl Upstream {
    fn is_up(&self, now: Instant) -> bool {
        let down_until = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        down_until.is_none_or(|until| now >= until)
    }

    fn mark(&self, up: bool) {
        let mut down_until = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        *down_until = if up {
            None
        } else {
            Some(Instant::now() + DOWN_FOR)
        };
    }
}

pub struct Forwarder {
    upstreams: Vec<Upstream>,
    budget: Duration,
}

impl Forwarder {
    /// `budget` bounds one forwarded query across all upstreams.
    pub fn new(upstreams: Vec<SocketAddr>, budget: Duration) -> Self {
        Forwarder {
            upstreams: upstreams
                .into_iter()
                .map(|addr| Upstream {
                    addr,
                    down_until: Mutex::new(None),
                })
                .collect(),
            budget,
        }
    }

    pub fn upstreams(&self) -> Vec<SocketAddr> {
        self.upstreams
            .iter()
            .map(|upstream| upstream.addr)
            .collect()
    }

    /// Asks the upstreams, in order, until one answers (any response code).
    pub async fn forward(&self, query: &Query) -> Result<Message, ForwardError> {
        if self.upstreams.is_empty() {
            return Err(ForwardError::NoUpstream);
        }
        let started = Instant::now();
        let candidates: Vec<&Upstream> = self
            .upstreams
            .iter()
            .filter(|upstream| upstream.is_up(started))
            .collect();
        if candidates.is_empty() {
            return Err(ForwardError::AllUpstreamsDown);
        }
        let deadline = started + self.budget;
        let mut last_error = ForwardError::AllUpstreamsDown;
        for (tried, upstream) in candidates.iter().enumerate() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            // Share what is left between the upstreams not tried yet, so one dead
            // server does not eat the whole budget.
            let left = u32::try_from(candidates.len() - tried).unwrap_or(1);
            let slice = remaining / left.max(1);
            match exchange(upstream.addr, query, slice).await {
                Ok(message) => {
                    upstream.mark(true);
                    return Ok(message);
                }
                Err(error) => {
                    tracing::debug!(upstream = %upstream.addr, %error, "upstream failed");
                    upstream.mark(false);
                    last_error = error;
                }
            }
        }
        Err(last_error)
    }
}

/// One query to one upstream within `limit`.
async fn exchange(
    addr: SocketAddr,
    query: &Query,
    limit: Duration,
) -> Result<Message, ForwardError> {
    let deadline = Instant::now() + limit;
    let id: u16 = rand::random();
    let mut request = Message::query();
    request.metadata.id = id;
    request.metadata.recursion_desired = true;
    request.add_query(query.clone());
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    request.set_edns(edns);
    let bytes = request
        .to_vec()
        .map_err(|error| ForwardError::Encode(error.to_string()))?;

    let udp = tokio::time::timeout(limit, exchange_udp(addr, &bytes, id, query))
        .await
        .map_err(|_| ForwardError::Timeout { addr })??;
    if !udp.metadata.truncation {
        return Ok(udp);
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    tokio::time::timeout(remaining, exchange_tcp(addr, &bytes, id, query))
        .await
        .map_err(|_| ForwardError::Timeout { addr })?
}

async fn exchange_udp(
    addr: SocketAddr,
    bytes: &[u8],
    id: u16,
    query: &Query,
) -> Result<Message, ForwardError> {
    let io = |source| ForwardError::Io { addr, source };
    let local: SocketAddr = if addr.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    // A fresh socket per query gives a random source port (spoofing resistance)
    // and, being connected, reports ICMP port-unreachable as an immediate error.
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    socket.connect(addr).await.map_err(io)?;
    socket.send(bytes).await.map_err(io)?;
    let mut buffer = vec![0u8; 65535];
    loop {
        let len = socket.recv(&mut buffer).await.map_err(io)?;
        // Stray or spoofed datagrams are dropped; keep waiting for ours.
        if let Ok(message) = Message::from_vec(&buffer[..len]) {
            if is_answer_to(&message, id, query) {
                return Ok(message);
            }
        }
    }
}

async fn exchange_tcp(
    addr: SocketAddr,
    bytes: &[u8],
    id: u16,
    query: &Query,
) -> Result<Message, ForwardError> {
    let io = |source| ForwardError::Io { addr, source };
    let mut stream = TcpStream::connect(addr).await.map_err(io)?;
    let len =
        u16::try_from(bytes.len()).map_err(|_| ForwardError::Encode("query too long".into()))?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(io)?;
    let mut len_bytes = [0u8; 2];
    stream.read_exact(&mut len_bytes).await.map_err(io)?;
    let mut buffer = vec![0u8; usize::from(u16::from_be_bytes(len_bytes))];
    stream.read_exact(&mut buffer).await.map_err(io)?;
    let message = Message::from_vec(&buffer).map_err(|error| ForwardError::Malformed {
        addr,
        reason: error.to_string(),
    })?;
    if !is_answer_to(&message, id, query) {
        return Err(ForwardError::Malformed {
            addr,
            reason: "answer does not match the query".into(),
        });
    }
    Ok(message)
}

fn is_answer_to(message: &Message, id: u16, query: &Query) -> bool {
    message.metadata.id == id
        && message.metadata.message_type == MessageType::Response
        && message.queries.len() == 1
        && message.queries[0].name() == query.name()
        && message.queries[0].query_type() == query.query_type()
}
