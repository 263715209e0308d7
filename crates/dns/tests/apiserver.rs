//! berth-dns against the in-process API server: Services and EndpointSlices
//! created through the API show up in answers, and go away when deleted.

mod common;

use berth_apiserver::testing::TestServer;
use berth_dns::fixtures::*;
use berth_dns::proto::op::{Message, ResponseCode};
use berth_dns::proto::rr::RecordType;
use berth_dns::DnsConfig;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, PostParams};
use kube::Api;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Queries until `done` holds (watch events arrive asynchronously).
async fn eventually(
    addr: SocketAddr,
    name: &str,
    qtype: RecordType,
    done: impl Fn(&Message) -> bool,
) -> Message {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = common::udp(addr, name, qtype).await;
        if done(&response) {
            return response;
        }
        assert!(
            Instant::now() < deadline,
            "{name} {qtype}: last answer {response:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn answers_follow_services_and_endpoint_slices_in_the_api() {
    let api_server = TestServer::memory().await;
    let client = api_server.client().await;
    let cfg = DnsConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        upstream_resolv_conf: "/nonexistent/resolv.conf".into(),
        ..DnsConfig::default()
    };
    let dns = berth_dns::start(client.clone(), cfg).await.unwrap();
    let addr = dns.local_addr();

    // Once listed, unknown names are NXDOMAIN (SERVFAIL before).
    eventually(addr, "web.default.svc.cluster.local.", RecordType::A, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    })
    .await;

    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let mut web = cluster_ip_service("default", "web", &[], &[("http", "TCP", 80)]);
    if let Some(spec) = web.spec.as_mut() {
        spec.cluster_ip = None;
        spec.cluster_ips = None;
    }
    let created = services.create(&PostParams::default(), &web).await.unwrap();
    let cluster_ip = created
        .spec
        .and_then(|spec| spec.cluster_ip)
        .expect("the API server allocates a ClusterIP");
    let expected = format!("web.default.svc.cluster.local. A {cluster_ip}");
    eventually(addr, "web.default.svc.cluster.local.", RecordType::A, |m| {
        common::lines(&m.answers) == [expected.clone()]
    })
    .await;
    let srv = common::tcp(
        addr,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
    )
    .await;
    assert_eq!(
        common::lines(&srv.answers),
        ["_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local."]
    );

    // Headless Service: no answer until an EndpointSlice with a ready endpoint exists.
    services
        .create(
            &PostParams::default(),
            &headless_service("default", "db", &[("pg", "TCP", 5432)]),
        )
        .await
        .unwrap();
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let slice = endpoint_slice(
        "default",
        "db-x1",
        "db",
        &[("10.244.0.7", Some("db-0"), Some(true))],
        &[("pg", "TCP", 5432)],
    );
    slices.create(&PostParams::default(), &slice).await.unwrap();
    eventually(
        addr,
        "db-0.db.default.svc.cluster.local.",
        RecordType::A,
        |m| common::lines(&m.answers) == ["db-0.db.default.svc.cluster.local. A 10.244.0.7"],
    )
    .await;
    let ptr = common::udp(addr, "7.0.244.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(
        common::lines(&ptr.answers),
        ["7.0.244.10.in-addr.arpa. PTR db-0.db.default.svc.cluster.local."]
    );

    // Deletions withdraw the names.
    slices
        .delete("db-x1", &DeleteParams::default())
        .await
        .unwrap();
    eventually(addr, "db.default.svc.cluster.local.", RecordType::A, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    })
    .await;
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually(addr, "web.default.svc.cluster.local.", RecordType::A, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    })
    .await;
    dns.shutdown().await.unwrap();
}

#[tokio::test]
async fn verified_pod_names_follow_pod_ips_in_the_api() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Patch, PatchParams};

    let api_server = TestServer::memory().await;
    let client = api_server.client().await;
    let cfg = DnsConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        upstream_resolv_conf: "/nonexistent/resolv.conf".into(),
        pods: berth_dns::PodMode::Verified,
        ..DnsConfig::default()
    };
    let dns = berth_dns::start(client.clone(), cfg).await.unwrap();
    let addr = dns.local_addr();
    let name = "10-244-5-6.default.pod.cluster.local.";
    eventually(addr, name, RecordType::A, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    })
    .await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let status = serde_json::json!({
        "status": {"podIP": "10.244.5.6", "podIPs": [{"ip": "10.244.5.6"}]}
    });
    pods.patch_status("web-1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    eventually(addr, name, RecordType::A, |m| {
        common::lines(&m.answers) == ["10-244-5-6.default.pod.cluster.local. A 10.244.5.6"]
    })
    .await;
    dns.shutdown().await.unwrap();
}
