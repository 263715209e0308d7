//! Service account tokens against a real server: TokenRequest, bearer
//! authentication with the tokens it issues (and their revocation when the
//! bound objects go), and the ServiceAccount admission plugin on pods.

use berth_apiserver::testing::TestServer;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{json, Value};

/// POST `body` to `path` as `client`; the JSON answer, or the Status's code and message.
async fn post(client: &kube::Client, path: &str, body: &Value) -> Result<Value, (u16, String)> {
    let req = http::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("json"))
        .expect("request");
    client.request::<Value>(req).await.map_err(|e| match e {
        kube::Error::Api(s) => (s.code, s.message),
        other => (0, other.to_string()),
    })
}

async fn token_request(
    client: &kube::Client,
    ns: &str,
    sa: &str,
    spec: Value,
) -> Result<Value, (u16, String)> {
    post(
        client,
        &format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"),
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}),
    )
    .await
}

/// A client that presents `token` as its bearer token (no client certificate).
async fn token_client(server: &TestServer, token: &str) -> kube::Client {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(&server.running.server.pki.ca_cert);
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: {token}\n",
        server.url()
    );
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// Who the server says `token` is (SelfSubjectReview), or the error code.
async fn whoami(server: &TestServer, token: &str) -> Result<Value, u16> {
    let client = token_client(server, token).await;
    post(
        &client,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    )
    .await
    .map(|r| r["status"]["userInfo"].clone())
    .map_err(|(code, _)| code)
}

async fn wait_for_default_sa(client: &kube::Client, ns: &str) {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    for _ in 0..100 {
        if sas.get_opt("default").await.ok().flatten().is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no default ServiceAccount in {ns}");
}

#[tokio::test]
async fn token_request_issues_tokens_that_authenticate() {
    let server = TestServer::memory().await;
    let admin = server.client().await;
    wait_for_default_sa(&admin, "default").await;

    let issued = token_request(&admin, "default", "default", json!({}))
        .await
        .expect("token");
    assert_eq!(issued["kind"], "TokenRequest");
    assert_eq!(
        issued["spec"]["audiences"],
        json!(["https://kubernetes.default.svc.cluster.local"])
    );
    assert_eq!(issued["spec"]["expirationSeconds"], 3600);
    let expires = issued["status"]["expirationTimestamp"]
        .as_str()
        .expect("expirationTimestamp");
    let expires = chrono::DateTime::parse_from_rfc3339(expires).expect("rfc3339");
    let ttl = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((3590..=3600).contains(&ttl), "ttl {ttl}");
    let token = issued["status"]["token"].as_str().expect("token");

    let user = whoami(&server, token).await.expect("authenticated");
    assert_eq!(user["username"], "system:serviceaccount:default:default");
    assert_eq!(
        user["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    // The token works for ordinary requests too.
    let pods: Api<Pod> = Api::namespaced(token_client(&server, token).await, "default");
    pods.list(&Default::default()).await.expect("list as SA");

    // The admin token keeps working beside service account tokens.
    let admin_token = server.running.server.pki.admin_token.clone();
    assert_eq!(
        whoami(&server, &admin_token).await.expect("admin")["username"],
        "berth-admin"
    );
    assert_eq!(whoami(&server, "not.a.token").await.unwrap_err(), 401);

    // Another audience is not for this server.
    let other = token_request(
        &admin,
        "default",
        "default",
        json!({"audiences": ["vault"]}),
    )
    .await
    .expect("token");
    assert_eq!(other["spec"]["audiences"], json!(["vault"]));
    let other = other["status"]["token"].as_str().expect("token");
    assert_eq!(whoami(&server, other).await.unwrap_err(), 401);

    // A deleted ServiceAccount takes its tokens with it, even when recreated.
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    let mut sa = ServiceAccount::default();
    sa.metadata.name = Some("builder".into());
    sas.create(&PostParams::default(), &sa).await.expect("sa");
    let t = token_request(
        &admin,
        "default",
        "builder",
        json!({"expirationSeconds": 600}),
    )
    .await
    .expect("token");
    let t = t["status"]["token"].as_str().expect("token").to_string();
    assert_eq!(
        whoami(&server, &t).await.expect("builder")["username"],
        "system:serviceaccount:default:builder"
    );
    sas.delete("builder", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(whoami(&server, &t).await.unwrap_err(), 401);
    sas.create(&PostParams::default(), &sa)
        .await
        .expect("sa again");
    assert_eq!(whoami(&server, &t).await.unwrap_err(), 401);
}

#[tokio::test]
async fn token_request_errors_are_upstreams() {
    let server = TestServer::memory().await;
    let admin = server.client().await;
    wait_for_default_sa(&admin, "default").await;

    let (code, msg) = token_request(&admin, "default", "missing", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        (code, msg.as_str()),
        (404, "serviceaccounts \"missing\" not found")
    );
    let (code, msg) = token_request(
        &admin,
        "default",
        "default",
        json!({"expirationSeconds": 60}),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 422);
    assert!(
        msg.contains("may not specify a duration less than 10 minutes"),
        "{msg}"
    );
    let (code, _) = token_request(
        &admin,
        "default",
        "default",
        json!({"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "nope"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 404);
    let (code, msg) = token_request(
        &admin,
        "default",
        "default",
        json!({"boundObjectRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 400);
    assert_eq!(
        msg,
        "cannot bind token to object of type apps/v1, Kind=Deployment"
    );
}

#[tokio::test]
async fn pod_bound_tokens_die_with_the_pod() {
    let server = TestServer::memory().await;
    let admin = server.client().await;
    wait_for_default_sa(&admin, "default").await;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .expect("pod");
    let created = pods
        .create(&PostParams::default(), &pod)
        .await
        .expect("pod");
    let uid = created.metadata.uid.clone().expect("uid");

    let (code, _) = token_request(
        &admin,
        "default",
        "default",
        json!({"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "other"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 409);
    let bound = token_request(
        &admin,
        "default",
        "default",
        json!({"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": uid}}),
    )
    .await
    .expect("bound token");
    let token = bound["status"]["token"].as_str().expect("token");
    // The claims carry the pod, as upstream's do.
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("payload");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("b64"),
    )
    .expect("claims");
    assert_eq!(claims["kubernetes.io"]["pod"]["uid"], json!(uid));
    assert_eq!(claims["sub"], "system:serviceaccount:default:default");
    assert!(whoami(&server, token).await.is_ok());

    pods.delete("web", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete");
    for _ in 0..50 {
        if pods.get_opt("web").await.expect("get").is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(whoami(&server, token).await.unwrap_err(), 401);
}

#[tokio::test]
async fn pods_get_the_token_volume_unless_automount_is_off() {
    let server = TestServer::memory().await;
    let admin = server.client().await;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let pod = |name: &str, extra: Value| -> Pod {
        let mut spec = json!({"containers": [{"name": "c", "image": "busybox"}]});
        for (k, v) in extra.as_object().into_iter().flatten() {
            spec[k] = v.clone();
        }
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).expect("pod")
    };
    // Right after start: admission waits for the default ServiceAccount.
    let plain = pods
        .create(&PostParams::default(), &pod("plain", json!({})))
        .await
        .expect("create");
    let spec = plain.spec.expect("spec");
    assert_eq!(spec.service_account_name.as_deref(), Some("default"));
    let volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name.starts_with("kube-api-access-"))
        .expect("token volume");
    assert_eq!(volume.name.len(), "kube-api-access-".len() + 5);
    let sources = volume
        .projected
        .as_ref()
        .and_then(|p| p.sources.clone())
        .expect("sources");
    assert_eq!(
        sources[0]
            .service_account_token
            .as_ref()
            .and_then(|t| t.expiration_seconds),
        Some(3607)
    );
    let mount = &spec.containers[0].volume_mounts.as_ref().expect("mounts")[0];
    assert_eq!(
        mount.mount_path,
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    assert_eq!(mount.read_only, Some(true));
    assert_eq!(mount.name, volume.name);

    let off = pods
        .create(
            &PostParams::default(),
            &pod("off", json!({"automountServiceAccountToken": false})),
        )
        .await
        .expect("create");
    assert!(off
        .spec
        .expect("spec")
        .volumes
        .unwrap_or_default()
        .is_empty());

    let err = pods
        .create(
            &PostParams::default(),
            &pod("orphan", json!({"serviceAccountName": "ghost"})),
        )
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 403);
            assert_eq!(
                s.message,
                "pods \"orphan\" is forbidden: error looking up service account default/ghost: serviceaccount \"ghost\" not found"
            );
        }
        other => panic!("expected 403, got {other}"),
    }
}
