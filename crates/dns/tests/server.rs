//! The server on 127.0.0.1:<ephemeral>, records fed directly, queried over UDP and TCP.

mod common;

use berth_dns::fixtures::*;
use berth_dns::proto::op::ResponseCode;
use berth_dns::proto::rr::RecordType;
use berth_dns::{serve, ClusterRecords, DnsHandler, Forwarder, PodMode};
use std::sync::Arc;
use std::time::Duration;

async fn start() -> berth_dns::RunningDns {
    let records = Arc::new(ClusterRecords::new("cluster.local", 5, PodMode::Insecure).unwrap());
    records.apply_service(&cluster_ip_service(
        "default",
        "web",
        &["10.43.0.20"],
        &[("http", "TCP", 80)],
    ));
    // Enough endpoints that the A answer does not fit in 512 bytes.
    let ips: Vec<String> = (1..=60).map(|i| format!("10.244.3.{i}")).collect();
    let endpoints: Vec<(&str, Option<&str>, Option<bool>)> = ips
        .iter()
        .map(|ip| (ip.as_str(), None, Some(true)))
        .collect();
    records.apply_service(&headless_service("default", "big", &[]));
    records.apply_endpoint_slice(&endpoint_slice("default", "big-1", "big", &endpoints, &[]));
    let forwarder = Arc::new(Forwarder::new(Vec::new(), Duration::from_millis(100)));
    serve(
        DnsHandler::new(records, forwarder),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn answers_over_udp_and_tcp_on_the_same_port() {
    let server = start().await;
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    for response in [
        common::udp(addr, "web.default.svc.cluster.local.", RecordType::A).await,
        common::tcp(addr, "web.default.svc.cluster.local.", RecordType::A).await,
    ] {
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(response.metadata.authoritative);
        assert_eq!(
            common::lines(&response.answers),
            vec!["web.default.svc.cluster.local. A 10.43.0.20"]
        );
    }
    let nx = common::udp(addr, "nope.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.authorities.len(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn large_udp_answers_are_truncated_and_complete_over_tcp() {
    let server = start().await;
    let addr = server.local_addr();
    let udp = common::udp(addr, "big.default.svc.cluster.local.", RecordType::A).await;
    assert!(udp.metadata.truncation, "60 A records exceed 512 bytes");
    let edns = common::udp_with(addr, "big.default.svc.cluster.local.", RecordType::A, true).await;
    assert!(
        !edns.metadata.truncation,
        "fits in the 1232-byte EDNS buffer"
    );
    assert_eq!(edns.answers.len(), 60);
    let tcp = common::tcp(addr, "big.default.svc.cluster.local.", RecordType::A).await;
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 60);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn records_changed_after_start_are_answered() {
    let server = start().await;
    let addr = server.local_addr();
    server
        .records()
        .apply_service(&cluster_ip_service("default", "late", &["10.43.0.99"], &[]));
    let response = common::udp(addr, "late.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(
        common::lines(&response.answers),
        vec!["late.default.svc.cluster.local. A 10.43.0.99"]
    );
    server.shutdown().await.unwrap();
}
