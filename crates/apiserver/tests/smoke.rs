//! The in-process harness itself works: a typed create and get through kube.

mod support;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

#[tokio::test]
async fn typed_create_and_get_round_trip() {
    let server = support::TestServer::memory().await;
    let client = server.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("smoke".into());
    cm.data = Some([("a".to_string(), "b".to_string())].into());
    let created = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    let got = cms.get("smoke").await.expect("get");
    assert_eq!(
        got.data.and_then(|d| d.get("a").cloned()),
        Some("b".to_string())
    );
}

#[tokio::test]
async fn metrics_count_requests_and_store_operations() {
    let server = support::TestServer::memory().await;
    let client = server.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("m".into());
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = client.request_text(req).await.expect("metrics");
    assert!(
        text.contains(
            "apiserver_request_total{verb=\"create\",resource=\"configmaps\",code=\"201\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "berth_store_operation_duration_seconds_count{operation=\"create\",result=\"ok\"}"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn events_aggregate_repeats_and_describe_finds_them() {
    use k8s_openapi::api::core::v1::Event;
    use kube::api::ListParams;
    let server = support::TestServer::memory().await;
    let client = server.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("ev".into());
    let cm = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect("create");
    let obj = serde_json::to_value(&cm).expect("json");
    let srv = &server.running.server;
    for _ in 0..3 {
        berth_apiserver::events::record(
            srv,
            &obj,
            berth_apiserver::events::EventType::Warning,
            "Broken",
            "it broke",
            "test",
        )
        .await;
    }
    let events: Api<Event> = Api::namespaced(client, "default");
    let uid = cm.metadata.uid.unwrap_or_default();
    let found = events
        .list(&ListParams::default().fields(&format!("involvedObject.uid={uid}")))
        .await
        .expect("list");
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].count, Some(3));
    assert_eq!(found.items[0].reason.as_deref(), Some("Broken"));
    assert_eq!(found.items[0].type_.as_deref(), Some("Warning"));
}
