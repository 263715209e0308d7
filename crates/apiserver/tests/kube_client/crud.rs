//! Typed create/get/list/replace/delete through `kube::Api<T>` for the
//! common kinds, the errors clients branch on (404, 409), generateName and dry-run.

use crate::common::*;
use crate::support::TestServer;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::{v1 as hpa_v1, v2 as hpa_v2};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::response::StatusSummary;
use kube::ResourceExt;
use serde_json::json;
use std::net::Ipv4Addr;

#[tokio::test]
async fn pod_crud_with_server_defaults() {
    let server = TestServer::memory().await;
    let pods: Api<Pod> = Api::namespaced(server.client().await, "default");

    let created = pods
        .create(&PostParams::default(), &pod("web"))
        .await
        .expect("create pod");
    assert!(created.uid().is_some());
    assert!(created.resource_version().is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let spec = created.spec.clone().expect("spec");
    assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(spec.termination_grace_period_seconds, Some(30));
    assert_eq!(spec.service_account_name.as_deref(), Some("default"));
    assert_eq!(spec.scheduler_name.as_deref(), Some("default-scheduler"));
    assert_eq!(
        spec.containers[0].termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    assert_eq!(
        spec.containers[0].image_pull_policy.as_deref(),
        Some("IfNotPresent")
    );
    let status = created.status.clone().expect("status");
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));

    let got = pods.get("web").await.expect("get pod");
    assert_eq!(got.uid(), created.uid());
    let listed = pods.list(&ListParams::default()).await.expect("list pods");
    assert_eq!(sorted_names(&listed.items), vec!["web"]);

    let mut changed = got.clone();
    changed.labels_mut().insert("tier".into(), "front".into());
    let replaced = pods
        .replace("web", &PostParams::default(), &changed)
        .await
        .expect("replace pod");
    assert_eq!(
        replaced.labels().get("tier").map(String::as_str),
        Some("front")
    );
    assert_ne!(replaced.resource_version(), created.resource_version());

    // An unscheduled pod has nothing to stop: it goes at once, and pods return the deleted object.
    let deleted = pods
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete pod");
    assert!(deleted.is_left(), "pod delete returns the Pod");
    assert!(pods.get_opt("web").await.expect("get_opt").is_none());
}

#[tokio::test]
async fn deployment_crud_defaults_and_generation() {
    let server = TestServer::memory().await;
    let deploys: Api<Deployment> = Api::namespaced(server.client().await, "default");
    let created = deploys
        .create(
            &PostParams::default(),
            &deployment("web", 2, vec![container("app", "nginx:1.27")]),
        )
        .await
        .expect("create deployment");
    assert_eq!(created.metadata.generation, Some(1));
    let spec = created.spec.clone().expect("spec");
    let strategy = spec.strategy.clone().expect("strategy defaulted");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.expect("rollingUpdate defaulted");
    assert_eq!(
        rolling.max_surge,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("25%".into()))
    );
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.progress_deadline_seconds, Some(600));

    // A spec change moves the generation; a label change does not.
    let mut new_image = created.clone();
    new_image
        .spec
        .as_mut()
        .expect("spec")
        .template
        .spec
        .as_mut()
        .expect("pod spec")
        .containers[0]
        .image = Some("nginx:1.28".into());
    let v2 = deploys
        .replace("web", &PostParams::default(), &new_image)
        .await
        .expect("replace image");
    assert_eq!(v2.metadata.generation, Some(2));
    let mut relabeled = v2.clone();
    relabeled.labels_mut().insert("team".into(), "a".into());
    let v3 = deploys
        .replace("web", &PostParams::default(), &relabeled)
        .await
        .expect("replace labels");
    assert_eq!(v3.metadata.generation, Some(2));

    deploys
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete deployment");
    eventually_gone(&deploys, "web").await;
}

#[tokio::test]
async fn service_gets_cluster_ip_from_service_cidr() {
    let server = TestServer::sqlite().await;
    let svcs: Api<Service> = Api::namespaced(server.client().await, "default");
    let svc = |name: &str, ip: Option<&str>| -> Service {
        let mut spec =
            json!({"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]});
        if let Some(ip) = ip {
            spec["clusterIP"] = json!(ip);
        }
        typed(json!({"metadata": {"name": name}, "spec": spec}))
    };
    let a = svcs
        .create(&PostParams::default(), &svc("a", None))
        .await
        .expect("create service a");
    let b = svcs
        .create(&PostParams::default(), &svc("b", None))
        .await
        .expect("create service b");
    let ip_of = |s: &Service| -> Ipv4Addr {
        let spec = s.spec.as_ref().expect("spec");
        let ip = spec.cluster_ip.clone().expect("clusterIP allocated");
        assert_eq!(spec.cluster_ips.clone(), Some(vec![ip.clone()]));
        ip.parse().expect("clusterIP is IPv4")
    };
    let (ip_a, ip_b) = (ip_of(&a), ip_of(&b));
    for ip in [ip_a, ip_b] {
        assert_eq!(ip.octets()[..2], [10, 43], "{ip} not in 10.43.0.0/16");
    }
    assert_ne!(ip_a, ip_b);
    let spec = a.spec.clone().expect("spec");
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(spec.session_affinity.as_deref(), Some("None"));
    let ports = spec.ports.expect("ports");
    assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));

    // A replace that leaves clusterIP out keeps the allocated address.
    let mut again = a.clone();
    if let Some(s) = again.spec.as_mut() {
        s.cluster_ip = None;
        s.cluster_ips = None;
    }
    let kept = svcs
        .replace("a", &PostParams::default(), &again)
        .await
        .expect("replace service");
    assert_eq!(ip_of(&kept), ip_a);

    // An explicit address is honoured once; a second claim on it is invalid.
    let fixed = svcs
        .create(&PostParams::default(), &svc("fixed", Some("10.43.200.7")))
        .await
        .expect("create with fixed clusterIP");
    assert_eq!(ip_of(&fixed), Ipv4Addr::new(10, 43, 200, 7));
    let taken = api_error(
        svcs.create(&PostParams::default(), &svc("dup", Some("10.43.200.7")))
            .await,
    );
    assert_eq!((taken.code, taken.reason.as_str()), (422, "Invalid"));
    let outside = api_error(
        svcs.create(&PostParams::default(), &svc("out", Some("192.168.1.1")))
            .await,
    );
    assert_eq!((outside.code, outside.reason.as_str()), (422, "Invalid"));
}

#[tokio::test]
async fn config_map_crud_and_stale_replace_conflicts() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let created = cms
        .create(&PostParams::default(), &config_map("cfg", &[("a", "1")]))
        .await
        .expect("create");
    let mut first = created.clone();
    first.data = labels(&[("a", "2")]);
    let updated = cms
        .replace("cfg", &PostParams::default(), &first)
        .await
        .expect("replace with current resourceVersion");
    assert_eq!(updated.data, labels(&[("a", "2")]));

    // `created` still carries the old resourceVersion.
    let mut stale = created.clone();
    stale.data = labels(&[("a", "3")]);
    let status = api_error(cms.replace("cfg", &PostParams::default(), &stale).await);
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(status.status, Some(StatusSummary::Failure));
    assert_eq!(
        status.message,
        "Operation cannot be fulfilled on configmaps \"cfg\": the object has been modified; \
         please apply your changes to the latest version and try again"
    );
    let details = status.details.expect("details");
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("cfg", "configmaps")
    );
    assert_eq!(
        cms.get("cfg").await.expect("get").data,
        labels(&[("a", "2")]),
        "the stale write changed nothing"
    );
}

#[tokio::test]
async fn get_of_missing_object_is_not_found() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let status = api_error(cms.get("nope").await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "configmaps \"nope\" not found");
    let details = status.details.expect("details");
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("nope", "configmaps")
    );

    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let status = api_error(deploys.get("nope").await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "deployments.apps \"nope\" not found");
    assert_eq!(status.details.expect("details").group, "apps");
    assert!(deploys.get_opt("nope").await.expect("get_opt").is_none());

    let nss: Api<Namespace> = Api::all(client);
    let status = api_error(nss.get("nope").await);
    assert_eq!(status.message, "namespaces \"nope\" not found");
}

/// Kubernetes answers a completed delete of a ConfigMap with a Status naming
/// it (only pods, services, namespaces... return the object).
#[tokio::test]
async fn immediate_delete_of_config_map_returns_success_status() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let created = cms
        .create(&PostParams::default(), &config_map("gone", &[]))
        .await
        .expect("create");
    let res = cms
        .delete("gone", &DeleteParams::default())
        .await
        .expect("delete");
    let status = res.right().expect("a Status, not the deleted object");
    assert_eq!(status.status, Some(StatusSummary::Success));
    let details = status.details.expect("details");
    assert_eq!(details.name, "gone");
    assert_eq!(details.kind, "configmaps");
    assert_eq!(Some(details.uid), created.uid());
}

#[tokio::test]
async fn secret_string_data_is_merged_into_data() {
    let server = TestServer::memory().await;
    let secrets: Api<Secret> = Api::namespaced(server.client().await, "default");
    let secret = Secret {
        metadata: meta("creds"),
        data: Some([("user".to_string(), ByteString(b"admin".to_vec()))].into()),
        string_data: Some([("password".to_string(), "s3cret".to_string())].into()),
        ..Default::default()
    };
    let created = secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create secret");
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    let got = secrets.get("creds").await.expect("get secret");
    let data = got.data.expect("data");
    assert_eq!(data.get("user"), Some(&ByteString(b"admin".to_vec())));
    assert_eq!(
        data.get("password"),
        Some(&ByteString(b"s3cret".to_vec())),
        "stringData is written into data"
    );
    assert!(got.string_data.is_none(), "stringData is never returned");
}

#[tokio::test]
async fn namespace_crud_is_cluster_scoped() {
    let server = TestServer::memory().await;
    let nss: Api<Namespace> = Api::all(server.client().await);
    let created = nss
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta("team-a"),
                ..Default::default()
            },
        )
        .await
        .expect("create namespace");
    assert!(created.metadata.namespace.is_none());
    assert_eq!(
        created
            .labels()
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("team-a")
    );
    let status = created.status.clone().expect("status");
    assert_eq!(status.phase.as_deref(), Some("Active"));
    assert_eq!(
        created.spec.clone().and_then(|s| s.finalizers),
        Some(vec!["kubernetes".to_string()])
    );
    let names = sorted_names(&nss.list(&ListParams::default()).await.expect("list").items);
    for ns in ["default", "kube-system", "team-a"] {
        assert!(names.contains(&ns.to_string()), "{ns} in {names:?}");
    }
    let deleted = nss
        .delete("team-a", &DeleteParams::default())
        .await
        .expect("delete namespace");
    let terminating = deleted
        .left()
        .expect("namespace delete returns the Namespace");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(
        terminating.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    eventually_gone(&nss, "team-a").await;
}

#[tokio::test]
async fn job_gets_generated_selector_and_defaults() {
    let server = TestServer::memory().await;
    let jobs: Api<Job> = Api::namespaced(server.client().await, "default");
    let job: Job = typed(json!({
        "metadata": {"name": "pi"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "pi", "image": "perl:5.34", "command": ["perl", "-e", "1"]}]}}}
    }));
    let created = jobs
        .create(&PostParams::default(), &job)
        .await
        .expect("create job");
    let uid = created.uid().expect("uid");
    let spec = created.spec.clone().expect("spec");
    let selector = spec.selector.clone().expect("selector generated");
    assert_eq!(
        selector
            .match_labels
            .as_ref()
            .and_then(|m| m.get("batch.kubernetes.io/controller-uid")),
        Some(&uid)
    );
    let template_labels = spec
        .template
        .metadata
        .clone()
        .and_then(|m| m.labels)
        .expect("template labels");
    assert_eq!(
        template_labels.get("batch.kubernetes.io/controller-uid"),
        Some(&uid)
    );
    assert_eq!(
        template_labels.get("job-name").map(String::as_str),
        Some("pi")
    );
    assert_eq!(spec.backoff_limit, Some(6));
    assert_eq!(spec.completions, Some(1));
    assert_eq!(spec.parallelism, Some(1));
    assert_eq!(jobs.get("pi").await.expect("get").uid(), Some(uid));
    jobs.delete("pi", &DeleteParams::background())
        .await
        .expect("delete job");
    eventually_gone(&jobs, "pi").await;
}

#[tokio::test]
async fn hpa_is_one_object_seen_through_v2_and_v1() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let v2: Api<hpa_v2::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let v1: Api<hpa_v1::HorizontalPodAutoscaler> = Api::namespaced(client, "default");
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"});
    let created = v2
        .create(
            &PostParams::default(),
            &typed(json!({"metadata": {"name": "web"}, "spec": {
                "scaleTargetRef": target, "minReplicas": 2, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70}}}]}})),
        )
        .await
        .expect("create v2 hpa");

    let seen_v1 = v1.get("web").await.expect("get through v1");
    assert_eq!(seen_v1.uid(), created.uid());
    let spec = seen_v1.spec.clone().expect("v1 spec");
    assert_eq!(spec.target_cpu_utilization_percentage, Some(70));
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 5));
    assert_eq!(
        sorted_names(
            &v1.list(&ListParams::default())
                .await
                .expect("v1 list")
                .items
        ),
        vec!["web"]
    );

    // Written through v1, read through v2.
    let mut edited = seen_v1.clone();
    if let Some(s) = edited.spec.as_mut() {
        s.target_cpu_utilization_percentage = Some(55);
        s.max_replicas = 8;
    }
    v1.replace("web", &PostParams::default(), &edited)
        .await
        .expect("replace through v1");
    let back = v2
        .get("web")
        .await
        .expect("get through v2")
        .spec
        .expect("spec");
    assert_eq!(back.max_replicas, 8);
    let cpu = back
        .metrics
        .unwrap_or_default()
        .into_iter()
        .find_map(|m| m.resource.filter(|r| r.name == "cpu"))
        .expect("cpu metric");
    assert_eq!(cpu.target.average_utilization, Some(55));

    // v2 defaults an HPA without metrics to 80% CPU.
    let bare = v2
        .create(
            &PostParams::default(),
            &typed(json!({"metadata": {"name": "bare"},
                "spec": {"scaleTargetRef": target, "maxReplicas": 3}})),
        )
        .await
        .expect("create bare v2 hpa");
    let spec = bare.spec.expect("spec");
    assert_eq!(spec.min_replicas, Some(1));
    let metrics = spec.metrics.expect("metrics defaulted");
    assert_eq!(
        metrics[0]
            .resource
            .as_ref()
            .map(|r| (r.name.as_str(), r.target.average_utilization)),
        Some(("cpu", Some(80)))
    );
}

#[tokio::test]
async fn lease_crud_for_leader_election() {
    let server = TestServer::sqlite().await;
    let leases: Api<Lease> = Api::namespaced(server.client().await, "kube-system");
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let lease: Lease = Lease {
        metadata: meta("leader"),
        spec: Some(typed(
            json!({"holderIdentity": "node-a", "leaseDurationSeconds": 15}),
        )),
    };
    let created = leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("create lease");
    assert_eq!(
        created.metadata.generation, None,
        "leases track no generation"
    );
    let mut renewed = created.clone();
    if let Some(s) = renewed.spec.as_mut() {
        s.renew_time = Some(now.clone());
        s.acquire_time = Some(now);
        s.lease_transitions = Some(1);
    }
    let stored = leases
        .replace("leader", &PostParams::default(), &renewed)
        .await
        .expect("renew lease");
    let spec = stored.spec.expect("spec");
    assert!(spec.renew_time.is_some());
    assert_eq!(spec.holder_identity.as_deref(), Some("node-a"));
    assert_eq!(spec.lease_transitions, Some(1));
    // Stale holders lose the race.
    let status = api_error(
        leases
            .replace("leader", &PostParams::default(), &created)
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    leases
        .delete("leader", &DeleteParams::default())
        .await
        .expect("delete lease");
    assert!(leases.get_opt("leader").await.expect("get_opt").is_none());
}

#[tokio::test]
async fn generate_name_gives_unique_names() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let template = ConfigMap {
        metadata: ObjectMeta {
            generate_name: Some("gen-".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let a = cms
        .create(&PostParams::default(), &template)
        .await
        .expect("create a");
    let b = cms
        .create(&PostParams::default(), &template)
        .await
        .expect("create b");
    for obj in [&a, &b] {
        let name = obj.name_any();
        assert!(
            name.starts_with("gen-") && name.len() == 9,
            "generated {name}"
        );
        assert_eq!(obj.metadata.generate_name.as_deref(), Some("gen-"));
        cms.get(&name).await.expect("generated object is stored");
    }
    assert_ne!(a.name_any(), b.name_any());
}

#[tokio::test]
async fn dry_run_create_patch_and_delete_leave_the_store_alone() {
    let server = TestServer::sqlite().await;
    let client = server.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &config_map("kept", &[("a", "1")]))
        .await
        .expect("create kept");
    settle(&server, &client).await;
    let before = server.store_dump().await;

    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let preview = cms
        .create(&dry, &config_map("ghost", &[("a", "1")]))
        .await
        .expect("dry-run create");
    assert_eq!(preview.name_any(), "ghost");
    assert!(
        preview.uid().is_some(),
        "dry-run create returns the object it would store"
    );
    assert_same_store(&before, &server.store_dump().await);

    let patched = cms
        .patch(
            "kept",
            &PatchParams::default().dry_run(),
            &Patch::Merge(json!({"data": {"a": "2"}})),
        )
        .await
        .expect("dry-run patch");
    assert_eq!(patched.data, labels(&[("a", "2")]));
    assert_same_store(&before, &server.store_dump().await);

    // kube sends `dryRun: ["All"]` in the DeleteOptions body, not the query.
    cms.delete("kept", &DeleteParams::default().dry_run())
        .await
        .expect("dry-run delete");
    assert_same_store(&before, &server.store_dump().await);
    assert!(cms.get_opt("ghost").await.expect("get_opt").is_none());
    assert_eq!(
        cms.get("kept").await.expect("get").data,
        labels(&[("a", "1")])
    );
}
