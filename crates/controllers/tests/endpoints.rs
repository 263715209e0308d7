//! Endpoints and EndpointSlice controllers against the in-process API server.

#[path = "support_cluster/mod.rs"]
mod support;

use berth_controllers::endpoints::run_endpoints_controller;
use berth_controllers::endpointslice::{
    run_endpointslice_controller, EndpointSliceConfig, MANAGED_BY, MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
};
use k8s_openapi::api::core::v1::{EndpointSubset, Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

fn service(name: &str, extra: serde_json::Value) -> Service {
    let mut v = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "labels": {"team": "a"}},
        "spec": {"selector": {"app": "web"},
                 "ports": [{"name": "web", "port": 80, "targetPort": "http"}]},
    });
    merge(&mut v, extra);
    serde_json::from_value(v).expect("service")
}

fn counts(subsets: &[EndpointSubset]) -> (usize, usize) {
    subsets.iter().fold((0, 0), |(r, n), s| {
        (
            r + s.addresses.as_ref().map_or(0, Vec::len),
            n + s.not_ready_addresses.as_ref().map_or(0, Vec::len),
        )
    })
}

async fn slice_endpoints(client: &kube::Client, svc: &str) -> Vec<Endpoint> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let lp = ListParams::default().labels(&format!("{SERVICE_NAME_LABEL}={svc}"));
    api.list(&lp)
        .await
        .map(|l| l.items.into_iter().flat_map(|s| s.endpoints).collect())
        .unwrap_or_default()
}

fn ready(ep: &Endpoint) -> bool {
    ep.conditions.as_ref().and_then(|c| c.ready) == Some(true)
}

#[tokio::test]
async fn service_with_three_pods_one_unready() {
    let (_server, client, ctx) = start().await;
    tokio::spawn(run_endpoints_controller(client.clone(), ctx.clone()));
    tokio::spawn(run_endpointslice_controller(
        client.clone(),
        ctx,
        EndpointSliceConfig::default(),
    ));
    create_node(&client, "n1", json!({"topology.kubernetes.io/zone": "z1"})).await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc = services
        .create(&PostParams::default(), &service("web", json!({})))
        .await
        .expect("svc");
    for (i, ready) in [true, true, false].into_iter().enumerate() {
        let name = format!("web-{i}");
        create_pod(&client, "default", &name, "n1", json!({})).await;
        set_pod_status(
            &client,
            "default",
            &name,
            &format!("10.42.0.{}", 10 + i),
            ready,
        )
        .await;
    }
    // An unrelated pod is not selected.
    create_pod(
        &client,
        "default",
        "other",
        "n1",
        json!({"metadata": {"labels": {"app": "db"}}}),
    )
    .await;
    set_pod_status(&client, "default", "other", "10.42.0.99", true).await;

    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let ep = eventually("Endpoints with 2 ready, 1 not ready", || async {
        let ep = endpoints.get_opt("web").await.ok()??;
        (counts(ep.subsets.as_deref().unwrap_or(&[])) == (2, 1)).then_some(ep)
    })
    .await;
    let subset = &ep.subsets.as_ref().expect("subsets")[0];
    let port = &subset.ports.as_ref().expect("ports")[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.protocol.as_deref()),
        (Some("web"), 8080, Some("TCP"))
    );
    let addr = &subset.addresses.as_ref().expect("addresses")[0];
    assert_eq!(addr.ip, "10.42.0.10");
    assert_eq!(addr.node_name.as_deref(), Some("n1"));
    assert_eq!(
        addr.target_ref.as_ref().and_then(|r| r.name.as_deref()),
        Some("web-0")
    );
    assert_eq!(ep.labels().get("team").map(String::as_str), Some("a"));
    assert!(ep
        .annotations()
        .contains_key("endpoints.kubernetes.io/last-change-trigger-time"));

    let eps = eventually("slice with 2 ready of 3", || async {
        let eps = slice_endpoints(&client, "web").await;
        (eps.len() == 3 && eps.iter().filter(|e| ready(e)).count() == 2).then_some(eps)
    })
    .await;
    assert!(eps.iter().all(|e| e.zone.as_deref() == Some("z1")));
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let list = slices.list(&ListParams::default()).await.expect("slices");
    let ours: Vec<_> = list
        .items
        .iter()
        .filter(|s| s.labels().get(SERVICE_NAME_LABEL).map(String::as_str) == Some("web"))
        .collect();
    assert_eq!(ours.len(), 1);
    let slice = ours[0];
    assert!(
        slice.name_any().starts_with("web-") && slice.name_any().len() == "web-".len() + 5,
        "{}",
        slice.name_any()
    );
    assert_eq!(
        slice.labels().get(MANAGED_BY_LABEL).map(String::as_str),
        Some(MANAGED_BY)
    );
    assert_eq!(slice.owner_references()[0].uid, svc.uid().expect("uid"));
    assert_eq!(slice.address_type, "IPv4");
    let slice_name = slice.name_any();

    // No writes when nothing changed: an unrelated pod edit leaves both alone.
    let ep_rv = endpoints.get("web").await.expect("ep").resource_version();
    let slice_rv = slices
        .get(&slice_name)
        .await
        .expect("slice")
        .resource_version();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.patch(
        "web-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"x": "y"}}})),
    )
    .await
    .expect("annotate");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        endpoints.get("web").await.expect("ep").resource_version(),
        ep_rv
    );
    assert_eq!(
        slices
            .get(&slice_name)
            .await
            .expect("slice")
            .resource_version(),
        slice_rv
    );

    // The unready pod turns ready: both objects follow quickly, slice updated in place.
    let t0 = Instant::now();
    set_pod_status(&client, "default", "web-2", "10.42.0.12", true).await;
    eventually("slice: 3 ready", || async {
        let eps = slice_endpoints(&client, "web").await;
        (eps.iter().filter(|e| ready(e)).count() == 3).then_some(())
    })
    .await;
    let latency = t0.elapsed();
    assert!(
        latency < Duration::from_secs(1),
        "slice latency {latency:?}"
    );
    eventually("Endpoints: 3 ready", || async {
        let ep = endpoints.get_opt("web").await.ok()??;
        (counts(ep.subsets.as_deref().unwrap_or(&[])) == (3, 0)).then_some(())
    })
    .await;
    assert!(
        slices.get_opt(&slice_name).await.expect("get").is_some(),
        "slice was replaced, not updated"
    );

    // Terminating pod: gone from Endpoints, kept in the slice as terminating.
    pods.patch(
        "web-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["test/hold"]}})),
    )
    .await
    .expect("finalizer");
    pods.delete("web-1", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("slice: web-1 terminating", || async {
        let eps = slice_endpoints(&client, "web").await;
        let e = eps
            .iter()
            .find(|e| e.target_ref.as_ref().and_then(|r| r.name.as_deref()) == Some("web-1"))?;
        let c = e.conditions.as_ref()?;
        (c.terminating == Some(true) && c.ready == Some(false) && c.serving == Some(true))
            .then_some(())
    })
    .await;
    eventually("Endpoints: web-1 dropped", || async {
        let ep = endpoints.get_opt("web").await.ok()??;
        (counts(ep.subsets.as_deref().unwrap_or(&[])) == (2, 0)).then_some(())
    })
    .await;

    // Label change: the pod leaves the Service.
    pods.patch(
        "web-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "moved"}}})),
    )
    .await
    .expect("relabel");
    eventually("Endpoints: web-0 left", || async {
        let ep = endpoints.get_opt("web").await.ok()??;
        (counts(ep.subsets.as_deref().unwrap_or(&[])) == (1, 0)).then_some(())
    })
    .await;

    // Someone deletes the Endpoints: recreated. Service deleted: Endpoints go.
    endpoints
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete ep");
    eventually("Endpoints recreated", || async {
        endpoints.get_opt("web").await.ok()?.map(|_| ())
    })
    .await;
    services
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete svc");
    eventually("Endpoints deleted", || async {
        endpoints.get_opt("web").await.ok()?.is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn selectorless_services_are_left_alone_and_empty_services_get_a_placeholder() {
    let (_server, client, ctx) = start().await;
    tokio::spawn(run_endpoints_controller(client.clone(), ctx.clone()));
    tokio::spawn(run_endpointslice_controller(
        client.clone(),
        ctx,
        EndpointSliceConfig::default(),
    ));
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let mut manual = service("manual", json!({}));
    manual.spec.as_mut().expect("spec").selector = None;
    services
        .create(&PostParams::default(), &manual)
        .await
        .expect("svc");
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let mine: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "manual", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "192.168.1.1"}], "ports": [{"port": 5432}]}],
    }))
    .expect("endpoints");
    endpoints
        .create(&PostParams::default(), &mine)
        .await
        .expect("create");
    services
        .create(&PostParams::default(), &service("empty", json!({})))
        .await
        .expect("svc");

    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let placeholder = eventually("placeholder slice", || async {
        let lp = ListParams::default().labels(&format!("{SERVICE_NAME_LABEL}=empty"));
        let list = slices.list(&lp).await.ok()?;
        (list.items.len() == 1).then(|| list.items[0].clone())
    })
    .await;
    assert!(placeholder.endpoints.is_empty());
    let ep = eventually("empty Endpoints", || async {
        endpoints.get_opt("empty").await.ok()?
    })
    .await;
    assert!(ep.subsets.as_ref().is_none_or(Vec::is_empty));

    tokio::time::sleep(Duration::from_millis(500)).await;
    let manual_ep = endpoints.get("manual").await.expect("manual endpoints");
    assert_eq!(manual_ep.subsets.as_ref().map(Vec::len), Some(1));
    let lp = ListParams::default().labels(&format!("{SERVICE_NAME_LABEL}=manual"));
    assert!(slices.list(&lp).await.expect("list").items.is_empty());
}
