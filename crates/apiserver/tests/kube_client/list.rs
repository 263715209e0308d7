//! Lists: label and field selectors, and limit/continue pagination over one
//! consistent snapshot.

use crate::common::*;
use crate::support::TestServer;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::ResourceExt;

/// cm-0..cm-{n-1}; even ones `tier=a`, odd ones `tier=b`; cm-0 also `extra=yes`.
async fn tiered(cms: &Api<ConfigMap>, n: usize) {
    for i in 0..n {
        let tier = if i % 2 == 0 { "a" } else { "b" };
        let mut pairs = vec![("tier", tier)];
        if i == 0 {
            pairs.push(("extra", "yes"));
        }
        cms.create(
            &PostParams::default(),
            &labeled_config_map(&format!("cm-{i}"), &pairs),
        )
        .await
        .expect("create");
    }
}

async fn names(cms: &Api<ConfigMap>, lp: &ListParams) -> Vec<String> {
    sorted_names(&cms.list(lp).await.expect("list").items)
}

#[tokio::test]
async fn label_selectors_filter_lists() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "labels").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "labels");
    tiered(&cms, 6).await;

    let lp = |sel: &str| ListParams::default().labels(sel);
    assert_eq!(
        names(&cms, &lp("tier=a")).await,
        vec!["cm-0", "cm-2", "cm-4"]
    );
    assert_eq!(
        names(&cms, &lp("tier!=a,tier")).await,
        vec!["cm-1", "cm-3", "cm-5"]
    );
    assert_eq!(names(&cms, &lp("tier in (a,b),extra")).await, vec!["cm-0"]);
    assert_eq!(
        names(&cms, &lp("tier,!extra,tier notin (b)")).await,
        vec!["cm-2", "cm-4"]
    );
    assert!(names(&cms, &lp("tier=c")).await.is_empty());

    let bad = api_error(cms.list(&lp("tier in (a")).await);
    assert_eq!((bad.code, bad.reason.as_str()), (400, "BadRequest"));
}

#[tokio::test]
async fn field_selectors_filter_lists() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "fields").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "fields");
    tiered(&cms, 4).await;
    let fp = |sel: &str| ListParams::default().fields(sel);
    assert_eq!(names(&cms, &fp("metadata.name=cm-3")).await, vec!["cm-3"]);
    assert_eq!(
        names(&cms, &fp("metadata.name!=cm-3,metadata.namespace=fields")).await,
        vec!["cm-0", "cm-1", "cm-2"]
    );
    assert_eq!(
        names(
            &cms,
            &ListParams::default()
                .fields("metadata.name!=cm-0")
                .labels("tier=a")
        )
        .await,
        vec!["cm-2"]
    );

    // Kind-specific fields: pods by phase and by (empty) node name.
    let pods: Api<Pod> = Api::namespaced(client, "fields");
    for name in ["p1", "p2"] {
        pods.create(&PostParams::default(), &pod(name))
            .await
            .expect("create pod");
    }
    let pod_names = |lp: ListParams| {
        let pods = pods.clone();
        async move { sorted_names(&pods.list(&lp).await.expect("list pods").items) }
    };
    assert_eq!(
        pod_names(fp("status.phase=Pending")).await,
        vec!["p1", "p2"]
    );
    assert!(pod_names(fp("status.phase=Running")).await.is_empty());
    assert_eq!(pod_names(fp("spec.nodeName=")).await, vec!["p1", "p2"]);

    let bad = api_error(cms.list(&fp("data.k=v")).await);
    assert_eq!((bad.code, bad.reason.as_str()), (400, "BadRequest"));
    assert!(
        bad.message.contains("field label not supported: data.k"),
        "{}",
        bad.message
    );
}

/// Follow `continue` tokens to the end; returns the names of each page.
async fn pages(cms: &Api<ConfigMap>, base: ListParams) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut lp = base.clone();
    loop {
        let page = cms.list(&lp).await.expect("list page");
        out.push(page.items.iter().map(ResourceExt::name_any).collect());
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = base.clone().continue_token(&token),
            None => return out,
        }
        assert!(out.len() < 100, "pagination does not end");
    }
}

#[tokio::test]
async fn limit_and_continue_return_every_item_exactly_once() {
    let server = TestServer::sqlite().await;
    let client = server.client().await;
    namespace(&client, "pages").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "pages");
    tiered(&cms, 10).await;

    let first = cms
        .list(&ListParams::default().limit(3))
        .await
        .expect("first page");
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.metadata.remaining_item_count, Some(7));
    assert!(first.metadata.continue_.is_some());

    let all = pages(&cms, ListParams::default().limit(3)).await;
    assert_eq!(
        all.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 3, 1]
    );
    let flat: Vec<String> = all.concat();
    let mut expected: Vec<String> = (0..10).map(|i| format!("cm-{i}")).collect();
    expected.sort();
    assert_eq!(flat, expected, "every item once, in key order");

    // Selectors and paging together.
    let matching = pages(&cms, ListParams::default().labels("tier=a").limit(2)).await;
    assert!(matching.iter().all(|p| p.len() <= 2));
    let mut flat = matching.concat();
    flat.sort();
    assert_eq!(flat, vec!["cm-0", "cm-2", "cm-4", "cm-6", "cm-8"]);
}

#[tokio::test]
async fn continued_list_is_a_consistent_snapshot() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "snap").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "snap");
    tiered(&cms, 6).await;

    let first = cms
        .list(&ListParams::default().limit(2))
        .await
        .expect("first page");
    let token = first.metadata.continue_.clone().expect("continue token");
    // Changes after the first page are not part of this list.
    cms.create(&PostParams::default(), &config_map("cm-9", &[]))
        .await
        .expect("create late");
    cms.delete("cm-5", &DeleteParams::default())
        .await
        .expect("delete");
    let rest = pages(&cms, ListParams::default().limit(2).continue_token(&token)).await;
    let mut seen: Vec<String> = first.items.iter().map(ResourceExt::name_any).collect();
    seen.extend(rest.concat());
    assert_eq!(seen, vec!["cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "cm-5"]);
    // A fresh list sees the present.
    assert_eq!(
        names(&cms, &ListParams::default()).await,
        vec!["cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "cm-9"]
    );
}

#[tokio::test]
async fn lists_larger_than_one_chunk_arrive_whole() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    namespace(&client, "big").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "big");
    // 24 × 64 KiB: past the size at which the server streams a list in chunks.
    let filler = "x".repeat(64 * 1024);
    for i in 0..24 {
        let mut cm = config_map(&format!("cm-{i:02}"), &[("fill", &filler)]);
        cm.metadata.labels = labels(&[("half", if i % 2 == 0 { "even" } else { "odd" })]);
        cms.create(&PostParams::default(), &cm)
            .await
            .expect("create");
    }
    let all = cms.list(&ListParams::default()).await.expect("list");
    assert_eq!(all.items.len(), 24);
    assert!(all
        .items
        .iter()
        .all(|cm| cm.data.as_ref().and_then(|d| d.get("fill")) == Some(&filler)));
    let names: Vec<String> = all.items.iter().map(ResourceExt::name_any).collect();
    let expected: Vec<String> = (0..24).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, expected, "key order");
    let even = cms
        .list(&ListParams::default().labels("half=even"))
        .await
        .expect("list");
    assert_eq!(even.items.len(), 12);
}
