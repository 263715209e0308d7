//! Forwarding names outside the cluster zone to a fake upstream started here
//! (the machine has no internet).

mod common;

use berth_dns::fixtures::*;
use berth_dns::proto::op::{Message, MessageType, ResponseCode};
use berth_dns::proto::rr::rdata::{A, SOA};
use berth_dns::proto::rr::{Name, RData, Record, RecordType};
use berth_dns::{handler_for, serve, DnsConfig, RunningDns};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// Answers `example.org` (A 192.0.2.1), `nx.example.org` (NXDOMAIN) and
/// `big.example.org` (truncated over UDP, three A records over TCP).
struct FakeUpstream {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
}

fn upstream_answer(request: &Message, over_tcp: bool) -> Vec<u8> {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.message_type = MessageType::Response;
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.clone());
    let name = request.queries[0].name().clone();
    let a = |ip: [u8; 4]| Record::from_rdata(name.clone(), 300, RData::A(A(ip.into())));
    match name.to_ascii().to_ascii_lowercase().as_str() {
        "example.org." => {
            response.add_answer(a([192, 0, 2, 1]));
        }
        "big.example.org." if !over_tcp => response.metadata.truncation = true,
        "big.example.org." => {
            response.add_answers([a([192, 0, 2, 10]), a([192, 0, 2, 11]), a([192, 0, 2, 12])]);
        }
        _ => {
            response.metadata.response_code = ResponseCode::NXDomain;
            let apex = Name::from_ascii("example.org.").unwrap();
            let soa = SOA::new(apex.clone(), apex.clone(), 1, 1, 1, 1, 60);
            response.add_authority(Record::from_rdata(apex, 60, RData::SOA(soa)));
        }
    }
    response.to_vec().unwrap()
}

async fn fake_upstream() -> FakeUpstream {
    // The UDP port the kernel picks may already be taken for TCP (by another
    // test binary running in parallel): try again with a fresh port.
    let (udp, tcp, addr) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(addr).await {
            break (udp, tcp, addr);
        }
    };
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = queries.clone();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        while let Ok((len, from)) = udp.recv_from(&mut buffer).await {
            counter.fetch_add(1, Ordering::SeqCst);
            let Ok(request) = Message::from_vec(&buffer[..len]) else {
                continue;
            };
            let _ = udp.send_to(&upstream_answer(&request, false), from).await;
        }
    });
    let counter = queries.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).await.is_err() {
                continue;
            }
            let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
            if stream.read_exact(&mut body).await.is_err() {
                continue;
            }
            let Ok(request) = Message::from_vec(&body) else {
                continue;
            };
            let answer = upstream_answer(&request, true);
            let mut framed = (answer.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&answer);
            let _ = stream.write_all(&framed).await;
        }
    });
    FakeUpstream { addr, queries }
}

async fn dns_with(upstreams: Vec<SocketAddr>, budget: Duration) -> RunningDns {
    let cfg = DnsConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        upstream_servers: upstreams,
        upstream_timeout: budget,
        // Never the machine's own resolvers: only the upstreams given here.
        upstream_resolv_conf: "/nonexistent/resolv.conf".into(),
        ..DnsConfig::default()
    };
    let handler = handler_for(&cfg).unwrap();
    handler
        .records()
        .apply_service(&external_name_service("default", "ext", "example.org"));
    serve(handler, cfg.bind).await.unwrap()
}

#[tokio::test]
async fn outside_names_are_forwarded_with_the_upstream_answer() {
    let upstream = fake_upstream().await;
    let dns = dns_with(vec![upstream.addr], Duration::from_secs(2)).await;
    let response = common::udp(dns.local_addr(), "Example.ORG.", RecordType::A).await;
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(!response.metadata.authoritative);
    assert!(response.metadata.recursion_available);
    assert_eq!(
        common::lines(&response.answers),
        vec!["Example.ORG. A 192.0.2.1"]
    );
    assert_eq!(response.answers[0].ttl, 300, "upstream TTLs are kept");

    let nx = common::tcp(dns.local_addr(), "nx.example.org.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.authorities.len(), 1, "upstream SOA is passed on");
    dns.shutdown().await.unwrap();
}

#[tokio::test]
async fn truncated_upstream_answers_are_retried_over_tcp() {
    let upstream = fake_upstream().await;
    let dns = dns_with(vec![upstream.addr], Duration::from_secs(2)).await;
    let response =
        common::udp_with(dns.local_addr(), "big.example.org.", RecordType::A, true).await;
    assert_eq!(response.answers.len(), 3);
    assert!(!response.metadata.truncation);
    dns.shutdown().await.unwrap();
}

#[tokio::test]
async fn external_name_targets_are_resolved_upstream() {
    let upstream = fake_upstream().await;
    let dns = dns_with(vec![upstream.addr], Duration::from_secs(2)).await;
    let response = common::udp(
        dns.local_addr(),
        "ext.default.svc.cluster.local.",
        RecordType::A,
    )
    .await;
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        common::lines(&response.answers),
        vec![
            "example.org. A 192.0.2.1",
            "ext.default.svc.cluster.local. CNAME example.org."
        ]
    );
    assert_eq!(
        response.answers[0].record_type(),
        RecordType::CNAME,
        "CNAME comes first"
    );
    dns.shutdown().await.unwrap();
}

#[tokio::test]
async fn cluster_names_are_never_forwarded() {
    let upstream = fake_upstream().await;
    let dns = dns_with(vec![upstream.addr], Duration::from_secs(2)).await;
    let response = common::udp(
        dns.local_addr(),
        "nope.default.svc.cluster.local.",
        RecordType::A,
    )
    .await;
    assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(upstream.queries.load(Ordering::SeqCst), 0);
    dns.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dead_upstream_is_skipped_for_the_next() {
    let closed = {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.local_addr().unwrap()
    };
    let upstream = fake_upstream().await;
    let dns = dns_with(vec![closed, upstream.addr], Duration::from_secs(2)).await;
    let response = common::udp(dns.local_addr(), "example.org.", RecordType::A).await;
    assert_eq!(
        common::lines(&response.answers),
        vec!["example.org. A 192.0.2.1"]
    );
    dns.shutdown().await.unwrap();
}

#[tokio::test]
async fn unreachable_upstreams_give_servfail_fast() {
    // Accepts datagrams and never answers.
    let black_hole = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dns = dns_with(
        vec![black_hole.local_addr().unwrap()],
        Duration::from_millis(300),
    )
    .await;
    let started = Instant::now();
    let first = common::udp(dns.local_addr(), "example.org.", RecordType::A).await;
    let first_took = started.elapsed();
    assert_eq!(first.metadata.response_code, ResponseCode::ServFail);
    assert!(
        first_took < Duration::from_secs(2),
        "bounded by the budget: {first_took:?}"
    );
    // The upstream is now marked down: no more waiting.
    let started = Instant::now();
    let second = common::udp(dns.local_addr(), "example.org.", RecordType::A).await;
    assert_eq!(second.metadata.response_code, ResponseCode::ServFail);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );

    let none = dns_with(Vec::new(), Duration::from_secs(2)).await;
    let started = Instant::now();
    let response = common::udp(none.local_addr(), "example.org.", RecordType::A).await;
    assert_eq!(response.metadata.response_code, ResponseCode::ServFail);
    assert!(started.elapsed() < Duration::from_millis(100));
    dns.shutdown().await.unwrap();
    none.shutdown().await.unwrap();
}
