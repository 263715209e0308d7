//! berth's kube-controller-manager: workload controllers as API clients.
//!
//! Each controller is a kube-runtime `Controller` (watcher → reflector →
//! reconcile queue) with level-triggered reconciles, per-object back-off on
//! errors and a periodic resync.

pub mod auto_rollback;
pub mod deployment;
pub mod error;
pub mod events;
pub mod owner;
pub mod pod_state;
pub mod replicaset;
pub mod rollout;
pub mod runner;
pub mod selector;
pub mod template_hash;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, Controller};
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
    tokio::join!(
        run_replicaset_controller(client.clone(), ctx.clone()),
        run_deployment_controller(client, ctx),
    );
}

async fn run_replicaset_controller(client: kube::Client, ctx: std::sync::Arc<Context>) {
    let controller = Controller::new(
        Api::<ReplicaSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let replicasets = controller.store();
    // A pod event wakes its controlling ReplicaSet, or — for an orphan —
    // every ReplicaSet in its namespace whose selector matches (adoption).
    let pod_owners = move |pod: Pod| -> Vec<ObjectRef<ReplicaSet>> {
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
            .state()
            .iter()
            .filter(|rs| rs.namespace() == ns)
            .filter(|rs| {
                rs.spec
                    .as_ref()
                    .is_some_and(|s| selector::matches(&s.selector, pod.metadata.labels.as_ref()))
            })
            .map(|rs| ObjectRef::from_obj(rs.as_ref()))
            .collect()
    };
    controller
        .watches(
            Api::<Pod>::all(client),
            watcher::Config::default(),
            pod_owners,
        )
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

async fn run_deployment_controller(client: kube::Client, ctx: std::sync::Arc<Context>) {
    Controller::new(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<ReplicaSet>::all(client), watcher::Config::default())
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
