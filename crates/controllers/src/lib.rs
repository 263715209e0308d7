//! berth's kube-controller-manager: workload controllers as API clients.
//!
//! Each controller is a kube-runtime `Controller` fed by the shared
//! informers of [`informers`] (one watch and one cache per resource kind for
//! all controllers, as kube-controller-manager's SharedInformerFactory), with
//! level-triggered reconciles that read the caches, per-object back-off on
//! errors and a periodic resync.

pub mod auto_rollback;
pub mod clock;
pub mod cluster;
pub mod cron_schedule;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoint_util;
pub mod endpoints;
pub mod endpointslice;
pub mod error;
pub mod events;
pub mod hpa;
pub mod informers;
pub mod job;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod owner;
pub mod pod_gc;
pub mod pod_state;
pub mod replicaset;
pub mod replicationcontroller;
pub mod resourcequota;
pub mod rollout;
pub mod root_ca_publisher;
pub mod runner;
pub mod selector;
pub mod service_lb;
pub mod statefulset;
pub mod taint_eviction;
pub mod template_hash;
pub mod ttl_after_finished;
pub mod workloads;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::ResourceExt;
use runner::{error_policy, run_reconcile, Context};
use std::time::Duration;

pub use error::ControllerError;

/// How often every object is reconciled even without events.
pub const DEFAULT_RESYNC: Duration = Duration::from_secs(300);

/// Run the ReplicaSet and Deployment controllers until the watches end.
pub async fn run_all(client: kube::Client) {
    run_all_with_resync(client, DEFAULT_RESYNC).await
}

pub async fn run_all_with_resync(client: kube::Client, resync: Duration) {
    run_all_with_context(client.clone(), Context::new(client, resync)).await
}

/// Run every controller with a prepared context (e.g. auto-rollback on by default).
pub async fn run_all_with_context(client: kube::Client, ctx: std::sync::Arc<Context>) {
    run_all_with_config(client, ctx, cluster::ClusterControllersConfig::default()).await
}

/// Every controller: workloads (ReplicaSet, Deployment, Job, CronJob,
/// DaemonSet, TTL) and cluster ones (endpoints, nodes, budgets, pod GC, IPAM).
pub async fn run_all_with_config(
    client: kube::Client,
    ctx: std::sync::Arc<Context>,
    cluster_config: cluster::ClusterControllersConfig,
) {
    tokio::join!(
        run_replicaset_controller(client.clone(), ctx.clone()),
        run_deployment_controller(client.clone(), ctx.clone()),
        workloads::run_all(client.clone(), ctx.clone()),
        hpa::run_hpa_controller(client.clone(), ctx.clone(), hpa::HpaConfig::default()),
        service_lb::run_service_lb_controller(client.clone(), ctx.clone()),
        cluster::run_all(client, ctx, cluster_config),
    );
}

async fn run_replicaset_controller(_client: kube::Client, ctx: std::sync::Arc<Context>) {
    let rs_cache = ctx.informers.replicasets();
    let pod_cache = ctx.informers.pods();
    let pod_events = pod_cache.subscribe();
    // WaitForCacheSync: a reconcile must never count pods in an empty cache.
    pod_cache.ready().await;
    let replicasets = rs_cache.clone();
    // A pod event wakes its controlling ReplicaSet, or — for an orphan —
    // every ReplicaSet in its namespace whose selector matches (adoption).
    let pod_owners = move |pod: std::sync::Arc<Pod>| -> Vec<ObjectRef<ReplicaSet>> {
        let ns = pod.namespace();
        if let Some(owner) = owner::controller_of(&pod.metadata) {
            if owner.kind == "ReplicaSet" {
                let r = ObjectRef::new(&owner.name);
                return vec![match &ns {
                    Some(ns) => r.within(ns),
                    None => r,
                }];
            }
            return Vec::new();
        }
        replicasets
            .in_namespace(ns.as_deref().unwrap_or_default())
            .iter()
            .filter(|rs| {
                rs.spec
                    .as_ref()
                    .is_some_and(|s| selector::matches(&s.selector, pod.metadata.labels.as_ref()))
            })
            .map(|rs| ObjectRef::from_obj(rs.as_ref()))
            .collect()
    };
    Controller::for_shared_stream(rs_cache.subscribe(), rs_cache.ready_store().await)
        .watches_shared_stream(pod_events, pod_owners)
        .shutdown_on_signal()
        .run(
            |rs, ctx| run_reconcile(rs, ctx, replicaset::reconcile),
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "replicaset controller");
            }
        })
        .await;
}

async fn run_deployment_controller(_client: kube::Client, ctx: std::sync::Arc<Context>) {
    let deployments = ctx.informers.deployments();
    let rs_cache = ctx.informers.replicasets();
    let pod_cache = ctx.informers.pods();
    let (rs_events, pod_events) = (rs_cache.subscribe(), pod_cache.subscribe());
    rs_cache.ready().await;
    pod_cache.ready().await;
    Controller::for_shared_stream(deployments.subscribe(), deployments.ready_store().await)
        .owns_shared_stream(rs_events)
        // Pods that look in trouble wake their Deployment, so a failing rollout
        // is noticed (and rolled back when asked) without waiting for a resync.
        .watches_shared_stream(pod_events, |pod| deployment_of_troubled_pod(&pod))
        .shutdown_on_signal()
        .run(
            |d, ctx| run_reconcile(d, ctx, deployment::reconcile),
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "deployment controller");
            }
        })
        .await;
}

/// The Deployment of a pod that is not ready and not merely starting:
/// ReplicaSet `<deployment>-<pod-template-hash>` owns it.
fn deployment_of_troubled_pod(pod: &Pod) -> Option<ObjectRef<Deployment>> {
    if pod_state::is_ready(pod) {
        return None;
    }
    let status = pod.status.as_ref()?;
    let waiting_badly = status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.as_deref())
        .any(|r| r != "ContainerCreating" && r != "PodInitializing");
    let running_unready = status.phase.as_deref() == Some("Running");
    if !waiting_badly && !running_unready {
        return None;
    }
    let owner = owner::controller_of(&pod.metadata)?;
    if owner.kind != "ReplicaSet" {
        return None;
    }
    let hash = pod.labels().get(template_hash::LABEL)?;
    let name = owner.name.strip_suffix(&format!("-{hash}"))?;
    let r = ObjectRef::new(name);
    Some(match pod.namespace() {
        Some(ns) => r.within(&ns),
        None => r,
    })
}
