//! `run` against an in-process API server: objects created through the API
//! show up in the table of a throwaway network namespace, changes are applied
//! incrementally, and `cleanup` removes the table.

use berth_apiserver::testing::TestServer;
use berth_proxy::fixtures::{node, ready, service, slice};
use berth_proxy::netns::{skip_reason, TestNetns};
use berth_proxy::{cleanup, run, Nft, ProxyConfig};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams};
use std::time::{Duration, Instant};

async fn wait_for(nft: &Nft, what: &str, present: bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let listed = nft.list_table().unwrap_or_default();
        if listed.contains(what) == present {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn run_follows_the_api() {
    if let Some(reason) = skip_reason() {
        println!("SKIPPED: needs root, nft and ip: {reason}");
        return;
    }
    let server = TestServer::memory().await;
    let client = server.client().await;
    let ns = TestNetns::create().expect("netns");
    let nft = Nft::new(ns.nft_target());

    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let created = services
        .create(
            &PostParams::default(),
            &service("default", "web", "10.43.0.50", &[("http", "TCP", 80)]),
        )
        .await
        .expect("create service");
    let cluster_ip = created
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("service has a ClusterIP");
    let ports = [("http", "TCP", 8080)];
    slices
        .create(
            &PostParams::default(),
            &slice(
                "default",
                "web",
                "web-1",
                &[ready("10.42.0.11", "node-a")],
                &ports,
            ),
        )
        .await
        .expect("create slice");

    let mut cfg = ProxyConfig::new(node());
    cfg.nft = ns.nft_target();
    let proxy = tokio::spawn(run(client.clone(), cfg));

    assert!(
        wait_for(&nft, &format!("{cluster_ip} . tcp . 80 : goto svc-"), true).await,
        "service dispatched: {}",
        nft.list_table().unwrap_or_default()
    );
    assert!(wait_for(&nft, "dnat to 10.42.0.11:8080", true).await);

    // A second endpoint arrives through the watch.
    let mut updated = slices.get("web-1").await.expect("get slice");
    updated.endpoints.push(
        slice(
            "default",
            "web",
            "web-1",
            &[ready("10.42.0.12", "node-a")],
            &ports,
        )
        .endpoints
        .remove(0),
    );
    slices
        .replace("web-1", &PostParams::default(), &updated)
        .await
        .expect("replace slice");
    assert!(
        wait_for(&nft, "dnat to 10.42.0.12:8080", true).await,
        "second endpoint"
    );

    services
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete service");
    assert!(
        wait_for(&nft, "dnat to 10.42.0.11:8080", false).await,
        "service rules gone"
    );

    proxy.abort();
    let _ = proxy.await;
    cleanup(nft.target()).expect("cleanup");
    assert!(nft.list_table().is_err(), "table deleted");
}
