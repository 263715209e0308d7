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
    let created = cms.create(&PostParams::default(), &cm).await.expect("create");
    assert!(created.metadata.uid.is_some());
    let got = cms.get("smoke").await.expect("get");
    assert_eq!(got.data.and_then(|d| d.get("a").cloned()), Some("b".to_string()));
}
