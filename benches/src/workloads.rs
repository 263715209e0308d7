//! The controllers phase, in the node phase's `berth up` cluster: the four
//! operations Docker Swarm was timed on, on this machine, with real containers.
//!
//! ```text
//! Deployment echo:1 ×50 → all available ─▶ scale to 100 → all available
//!   ─▶ delete one pod → a replacement Ready ─▶ set image echo:2, 10 at a time
//!      (maxSurge 0, maxUnavailable 10, like `--update-parallelism 10`) → rolled out
//! ```

use anyhow::{bail, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const NAME: &str = "bench-web";

/// Docker Swarm on this machine (the issue's figures).
pub const SWARM_50: Duration = Duration::from_millis(16_500);
pub const SWARM_50_TO_100: Duration = Duration::from_millis(16_500);
pub const SWARM_REPLACE: Duration = Duration::from_millis(5_700);
pub const SWARM_ROLLING_100: Duration = Duration::from_secs(42);

pub struct Workloads {
    pub up_50: Duration,
    pub scale_to_100: Duration,
    pub replace_one: Duration,
    pub rolling_100: Duration,
}

fn deployment(ns: &str) -> Result<Deployment> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": ns},
        "spec": {"replicas": 50, "selector": {"matchLabels": {"app": NAME}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 10}},
            "template": {"metadata": {"labels": {"app": NAME}}, "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "echo", "image": "localhost/berth/echo:1"}]}}},
    }))?)
}

/// Poll the Deployment until `done` holds (every 100 ms, at most `limit`).
async fn until(
    api: &Api<Deployment>,
    limit: Duration,
    what: &str,
    done: impl Fn(&Deployment) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(d) = api.get(NAME).await {
            if done(&d) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("{what} not reached within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn settled(d: &Deployment, replicas: i32) -> bool {
    let Some(s) = &d.status else { return false };
    s.observed_generation >= d.metadata.generation
        && s.replicas == Some(replicas)
        && s.updated_replicas == Some(replicas)
        && s.available_replicas == Some(replicas)
}

async fn ready_pods(pods: &Api<Pod>) -> BTreeSet<String> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={NAME}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    list.into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|p| p.metadata.name)
        .collect()
}

pub async fn measure(client: &Client, ns: &str, progress: &impl Fn(&str)) -> Result<Workloads> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let limit = Duration::from_secs(180);

    progress("controllers: Deployment of 50 → all available");
    let t = Instant::now();
    api.create(&PostParams::default(), &deployment(ns)?).await?;
    until(&api, limit, "50 available", |d| settled(d, 50)).await?;
    let up_50 = t.elapsed();

    progress("controllers: scale 50 → 100");
    let t = Instant::now();
    let scale = serde_json::json!({"spec": {"replicas": 100}});
    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&scale))
        .await?;
    until(&api, limit, "100 available", |d| settled(d, 100)).await?;
    let scale_to_100 = t.elapsed();

    progress("controllers: delete one pod → replacement Ready");
    let before = ready_pods(&pods).await;
    let Some(victim) = before.iter().next().cloned() else {
        bail!("no ready pod to delete");
    };
    let t = Instant::now();
    pods.delete(&victim, &DeleteParams::default().grace_period(0))
        .await?;
    let deadline = Instant::now() + limit;
    loop {
        let now = ready_pods(&pods).await;
        if now.iter().any(|p| !before.contains(p)) {
            break;
        }
        if Instant::now() > deadline {
            bail!("no replacement for {victim} within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let replace_one = t.elapsed();
    until(&api, limit, "100 available again", |d| settled(d, 100)).await?;

    progress("controllers: rolling update of 100 to echo:2, 10 at a time");
    let t = Instant::now();
    let image = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "echo", "image": "localhost/berth/echo:2"}]}}}});
    api.patch(NAME, &PatchParams::default(), &Patch::Strategic(&image))
        .await?;
    until(&api, limit, "rolled out to echo:2", |d| settled(d, 100)).await?;
    let rolling_100 = t.elapsed();

    let _ = api.delete(NAME, &DeleteParams::background()).await;
    Ok(Workloads {
        up_50,
        scale_to_100,
        replace_one,
        rolling_100,
    })
}
