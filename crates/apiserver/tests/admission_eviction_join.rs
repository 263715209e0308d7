//! Pod admission (priority, default tolerations), the eviction API honouring
//! PodDisruptionBudgets, and the node join endpoints — against a real server.

use berth_apiserver::testing::TestServer;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, EvictParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn pod(name: &str, extra_spec: serde_json::Value) -> Pod {
    let mut spec = json!({"containers": [{"name": "c", "image": "busybox"}]});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra_spec.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "db"}},
        "spec": spec,
    }))
    .expect("pod")
}

#[tokio::test]
async fn pods_get_priority_and_default_tolerations() {
    let server = TestServer::memory().await;
    let pods: Api<Pod> = Api::namespaced(server.client().await, "default");
    let plain = pods
        .create(&PostParams::default(), &pod("plain", json!({})))
        .await
        .expect("create");
    let spec = plain.spec.expect("spec");
    assert_eq!(spec.priority, Some(0));
    assert_eq!(
        spec.preemption_policy.as_deref(),
        Some("PreemptLowerPriority")
    );
    let tolerations = spec.tolerations.expect("tolerations");
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let t = tolerations
            .iter()
            .find(|t| t.key.as_deref() == Some(key))
            .unwrap_or_else(|| panic!("no default toleration for {key}: {tolerations:?}"));
        assert_eq!(t.effect.as_deref(), Some("NoExecute"));
        assert_eq!(t.toleration_seconds, Some(300));
    }
    // A pod's own toleration of the key wins: no duplicate is added.
    let own = pods
        .create(
            &PostParams::default(),
            &pod(
                "own",
                json!({"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}]}),
            ),
        )
        .await
        .expect("create");
    let t = own.spec.expect("spec").tolerations.expect("tolerations");
    assert_eq!(t.len(), 2, "{t:?}");

    let critical = pods
        .create(
            &PostParams::default(),
            &pod(
                "critical",
                json!({"priorityClassName": "system-cluster-critical"}),
            ),
        )
        .await
        .expect("create");
    assert_eq!(critical.spec.expect("spec").priority, Some(2_000_000_000));

    let err = pods
        .create(
            &PostParams::default(),
            &pod("nope", json!({"priorityClassName": "gold"})),
        )
        .await
        .expect_err("unknown class");
    match err {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 403);
            assert!(
                e.message
                    .contains("no PriorityClass with name gold was found"),
                "{}",
                e.message
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn eviction_honours_the_disruption_budget() {
    let server = TestServer::memory().await;
    // kube retries 429 for minutes by default; this test wants to see it.
    let kc = kube::config::Kubeconfig::read_from(&server.kubeconfig).expect("kubeconfig");
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    cfg.default_retry = false;
    let client = kube::Client::try_from(cfg).expect("client");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    for name in ["db-0", "db-1"] {
        pods.create(&PostParams::default(), &pod(name, json!({})))
            .await
            .expect("create");
        let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .expect("status");
    }
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "db"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}},
    }))
    .expect("pdb");
    pdbs.create(&PostParams::default(), &pdb)
        .await
        .expect("create pdb");
    // What the disruption controller would write: no disruption allowed.
    let set = |allowed: i32, healthy: i32| {
        json!({"status": {"observedGeneration": 1, "disruptionsAllowed": allowed,
            "currentHealthy": healthy, "desiredHealthy": 2, "expectedPods": 2}})
    };
    pdbs.patch_status("db", &PatchParams::default(), &Patch::Merge(&set(0, 2)))
        .await
        .expect("pdb status");
    let err = pods
        .evict("db-0", &EvictParams::default())
        .await
        .expect_err("budget exhausted");
    match err {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 429);
            assert_eq!(e.reason, "TooManyRequests");
            assert!(
                e.message
                    .contains("would violate the pod's disruption budget"),
                "{}",
                e.message
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert!(
        pods.get("db-0").await.is_ok(),
        "a refused eviction deletes nothing"
    );

    pdbs.patch_status("db", &PatchParams::default(), &Patch::Merge(&set(1, 3)))
        .await
        .expect("pdb status");
    pods.evict("db-0", &EvictParams::default())
        .await
        .expect("eviction allowed");
    let after = pdbs.get_status("db").await.expect("pdb");
    let status = after.status.expect("status");
    assert_eq!(status.disruptions_allowed, 0);
    assert!(status
        .disrupted_pods
        .is_some_and(|d| d.contains_key("db-0")));
    // The budget is spent: the next eviction is refused.
    let err = pods.evict("db-1", &EvictParams::default()).await;
    assert!(matches!(err, Err(kube::Error::Api(e)) if e.code == 429));
}

#[tokio::test]
async fn the_join_token_buys_node_credentials_and_nothing_else() {
    let server = TestServer::memory().await;
    let pki = &server.running.server.pki;
    let token = pki.join_token();
    let (hash, secret) = berth_apiserver::pki::parse_join_token(&token).expect("token");
    assert_eq!(hash, berth_apiserver::pki::ca_hash(&pki.ca_cert));

    let mut cfg = kube::Config::new(server.url().parse().expect("url"));
    cfg.accept_invalid_certs = true;
    let anon = kube::Client::try_from(cfg.clone()).expect("client");
    let ca = anon
        .request_text(
            http::Request::get("/cacerts")
                .body(Vec::new())
                .expect("req"),
        )
        .await
        .expect("cacerts are public");
    assert_eq!(ca, pki.ca_cert);

    let with_token = |t: &str| {
        let mut c = cfg.clone();
        c.headers.push((
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&format!("Bearer {t}")).expect("header"),
        ));
        kube::Client::try_from(c).expect("client")
    };
    let post = |name: &str| {
        http::Request::post("/berth/v1/node-credentials")
            .body(
                serde_json::to_vec(&json!({"nodeName": name, "addresses": ["10.0.0.7"]}))
                    .expect("json"),
            )
            .expect("req")
    };
    let creds: serde_json::Value = with_token(&secret)
        .request(post("worker-1"))
        .await
        .expect("credentials");
    assert!(creds["clientCert"]
        .as_str()
        .is_some_and(|c| c.contains("BEGIN CERTIFICATE")));
    assert!(creds["servingKey"]
        .as_str()
        .is_some_and(|c| c.contains("PRIVATE KEY")));

    let wrong = with_token("not-the-secret")
        .request_text(post("worker-1"))
        .await;
    assert!(matches!(wrong, Err(kube::Error::Api(e)) if e.code == 403 || e.code == 401));
    let bad_name = with_token(&secret).request_text(post("Bad_Name")).await;
    assert!(matches!(bad_name, Err(kube::Error::Api(e)) if e.code == 400));
    let snoop = with_token(&secret)
        .request_text(
            http::Request::get("/api/v1/secrets")
                .body(Vec::new())
                .expect("req"),
        )
        .await;
    assert!(
        matches!(snoop, Err(kube::Error::Api(e)) if e.code == 403),
        "the bootstrap token must not read the API"
    );
}
