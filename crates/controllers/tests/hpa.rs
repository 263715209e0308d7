//! HorizontalPodAutoscaler controller against the in-process API server,
//! with usage from the StaticMetrics test double (berth does not serve
//! metrics.k8s.io yet).

mod support;

use berth_controllers::clock::Clock;
use berth_controllers::hpa::{self, HpaConfig, PodMetrics, StaticMetrics};
use berth_controllers::runner::Context;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::{eventually, TestServer};

const NS: &str = "default";

fn replicaset(name: &str) -> ReplicaSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx",
                                  "resources": {"requests": {"cpu": "500m"}}}]}}},
    }))
    .expect("replicaset")
}

fn autoscaler(name: &str, kind: &str, behavior: Value) -> HorizontalPodAutoscaler {
    let mut spec = json!({
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
        "minReplicas": 1, "maxReplicas": 10,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 50}}}],
    });
    if !behavior.is_null() {
        spec["behavior"] = behavior;
    }
    serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": NS}, "spec": spec,
    }))
    .expect("hpa")
}

/// A running, ready pod of `app` that started ten minutes ago (past the CPU
/// initialization period), as a kubelet would report it.
async fn running_pod(client: &kube::Client, app: &str, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "nginx",
            "resources": {"requests": {"cpu": "500m"}}}]},
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    let started = (Timestamp::now() - SignedDuration::from_secs(600)).to_string();
    let ready = (Timestamp::now() - SignedDuration::from_secs(590)).to_string();
    let status = json!({"status": {
        "phase": "Running", "startTime": started,
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ready}],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("pod status");
}

fn usage(pods: &[&str], cpu: &str) -> Vec<PodMetrics> {
    pods.iter()
        .map(|p| {
            PodMetrics::new(
                NS,
                p,
                Timestamp::now(),
                Duration::from_secs(15),
                &[("c", "cpu", cpu)],
            )
        })
        .collect()
}

async fn spec_replicas(client: &kube::Client, name: &str) -> Option<i32> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    api.get(name).await.ok()?.spec?.replicas
}

async fn condition(client: &kube::Client, hpa: &str, type_: &str) -> Option<(String, String)> {
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    let h = api.get(hpa).await.ok()?;
    h.status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status, c.reason.unwrap_or_default()))
}

async fn event_messages(client: &kube::Client, reason: &str) -> Vec<String> {
    let api: Api<Event> = Api::namespaced(client.clone(), NS);
    api.list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.message)
        .collect()
}

#[tokio::test]
async fn scales_up_by_the_allowed_step_then_down_after_the_window() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let metrics = Arc::new(StaticMetrics::new());
    let config = HpaConfig {
        sync_period: Duration::from_millis(500),
        ..HpaConfig::default()
    };
    tokio::spawn(hpa::run_hpa_controller_with(
        client.clone(),
        Context::new(client.clone(), Duration::from_secs(30)),
        config,
        metrics.clone(),
        Clock::System,
    ));

    // No ReplicaSet controller runs: the pods stay the two made here, so the
    // only writer of spec.replicas is the autoscaler.
    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    rs.create(&PostParams::default(), &replicaset("web"))
        .await
        .expect("create rs");
    running_pod(&client, "web", "web-a").await;
    running_pod(&client, "web", "web-b").await;
    // 1250m of 500m requested = 250% against a 50% target: 10 pods wanted.
    metrics.set(NS, usage(&["web-a", "web-b"], "1250m"));

    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    let behavior = json!({"scaleDown": {"stabilizationWindowSeconds": 5}});
    hpas.create(
        &PostParams::default(),
        &autoscaler("web", "ReplicaSet", behavior),
    )
    .await
    .expect("create hpa");

    // The default scale-up policy allows max(+4 pods, +100%) per 15 s: 2 → 6.
    eventually("scale up to 6", || async {
        (spec_replicas(&client, "web").await == Some(6)).then_some(())
    })
    .await;
    let limited = eventually("ScalingLimited", || async {
        condition(&client, "web", "ScalingLimited")
            .await
            .filter(|(s, _)| s == "True")
    })
    .await;
    assert_eq!(limited.1, "ScaleUpLimit");
    let status = hpas.get("web").await.expect("hpa").status.expect("status");
    assert_eq!(status.desired_replicas, 6);
    assert!(status.last_scale_time.is_some());
    let cpu = status
        .current_metrics
        .as_ref()
        .and_then(|m| m.first())
        .and_then(|m| m.resource.as_ref())
        .map(|r| r.current.clone())
        .expect("current cpu metric");
    assert_eq!(cpu.average_utilization, Some(250));
    assert_eq!(cpu.average_value.map(|q| q.0).as_deref(), Some("1250m"));
    assert_eq!(
        condition(&client, "web", "ScalingActive").await,
        Some(("True".into(), "ValidMetricFound".into()))
    );
    assert!(event_messages(&client, "SuccessfulRescale").await.contains(
        &"New size: 6; reason: cpu resource utilization (percentage of request) above target"
            .to_string()
    ));

    // The autoscaling/v1 view carries the same numbers (kubectl may read it).
    let v1: Api<k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler> =
        Api::namespaced(client.clone(), NS);
    let v1_status = v1.get("web").await.expect("v1 hpa").status.expect("status");
    assert_eq!(v1_status.current_cpu_utilization_percentage, Some(250));
    assert_eq!(v1_status.desired_replicas, 6);

    // Still inside the 15 s policy period: no second step.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(spec_replicas(&client, "web").await, Some(6));

    // Usage drops to 5% of request: the 5 s window first holds the count…
    metrics.set(NS, usage(&["web-a", "web-b"], "25m"));
    eventually("scale-down stabilized", || async {
        condition(&client, "web", "AbleToScale")
            .await
            .filter(|(_, reason)| reason == "ScaleDownStabilized")
    })
    .await;
    assert_eq!(spec_replicas(&client, "web").await, Some(6));
    // …then the scale-down goes through to minReplicas.
    eventually("scale down to 1", || async {
        (spec_replicas(&client, "web").await == Some(1)).then_some(())
    })
    .await;
    assert!(event_messages(&client, "SuccessfulRescale")
        .await
        .contains(&"New size: 1; reason: All metrics below target".to_string()));
}

#[tokio::test]
async fn reports_missing_metrics_api_and_missing_target() {
    // The full controller manager, with the real (API-backed) metrics source.
    let (_server, client) = support::start().await;
    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    rs.create(&PostParams::default(), &replicaset("api"))
        .await
        .expect("create rs");
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    hpas.create(
        &PostParams::default(),
        &autoscaler("api", "ReplicaSet", Value::Null),
    )
    .await
    .expect("create hpa");
    hpas.create(
        &PostParams::default(),
        &autoscaler("ghost", "Deployment", Value::Null),
    )
    .await
    .expect("create hpa");

    let active = eventually("ScalingActive=False", || async {
        condition(&client, "api", "ScalingActive")
            .await
            .filter(|(s, _)| s == "False")
    })
    .await;
    assert_eq!(active.1, "FailedGetResourceMetric");
    assert_eq!(
        condition(&client, "api", "AbleToScale").await,
        Some(("True".into(), "SucceededGetScale".into()))
    );
    assert_eq!(spec_replicas(&client, "api").await, Some(2));

    let able = eventually("AbleToScale=False", || async {
        condition(&client, "ghost", "AbleToScale")
            .await
            .filter(|(s, _)| s == "False")
    })
    .await;
    assert_eq!(able.1, "FailedGetScale");
    eventually("FailedGetScale event", || async {
        (!event_messages(&client, "FailedGetScale").await.is_empty()).then_some(())
    })
    .await;
}
