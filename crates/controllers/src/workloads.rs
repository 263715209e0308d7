//! Staging crate for more of kube-controller-manager's workload controllers:
//! Job, CronJob, DaemonSet, StatefulSet and TTL-after-finished. Each module
//! is one controller (pure decision functions + a kube-runtime reconcile),
//! written to move into `berth-controllers` unchanged.

use crate::informers::{hash_json, ChangeFilter};
use crate::runner::{error_policy, run_reconcile, Context};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Node;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::ResourceExt;
use std::sync::Arc;

/// Knobs shared by the controllers; tests inject a clock and short back-offs.
#[derive(Clone, Default)]
pub struct Options {
    pub clock: crate::clock::Clock,
    /// Job pod back-off; its clock is replaced by `clock`.
    pub job: crate::job::JobOptions,
}

/// Run every controller of this crate until the watches end.
pub async fn run_all(client: kube::Client, ctx: Arc<Context>) {
    run_all_with(client, ctx, Options::default()).await
}

pub async fn run_all_with(client: kube::Client, ctx: Arc<Context>, options: Options) {
    let mut job_options = options.job.clone();
    job_options.clock = options.clock.clone();
    tokio::join!(
        run_job_controller_with(client.clone(), ctx.clone(), job_options),
        run_cronjob_controller_with(client.clone(), ctx.clone(), options.clock.clone()),
        run_ttl_after_finished_controller_with(client.clone(), ctx.clone(), options.clock.clone()),
        run_daemonset_controller_with(client.clone(), ctx.clone(), options.clock.clone()),
        crate::statefulset::run_statefulset_controller(client.clone(), ctx.clone()),
        crate::replicationcontroller::run_replicationcontroller_controller(
            client.clone(),
            ctx.clone()
        ),
    );
}

pub async fn run_job_controller(client: kube::Client, ctx: Arc<Context>) {
    run_job_controller_with(client, ctx, crate::job::JobOptions::default()).await
}

/// The Job controller with explicit options (tests shorten the back-off).
pub async fn run_job_controller_with(
    _client: kube::Client,
    ctx: Arc<Context>,
    options: crate::job::JobOptions,
) {
    let ctl = crate::job::JobController::new(options);
    let (jobs, pods) = (ctx.informers.get::<Job>(), ctx.informers.pods());
    let pod_events = pods.subscribe();
    pods.ready().await;
    Controller::for_shared_stream(jobs.subscribe(), jobs.ready_store().await)
        .owns_shared_stream(pod_events)
        .shutdown_on_signal()
        .run(
            move |j, ctx| {
                let ctl = ctl.clone();
                run_reconcile(j, ctx, move |j, c| crate::job::reconcile(j, c, ctl))
            },
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "job controller");
            }
        })
        .await;
}

pub async fn run_cronjob_controller(client: kube::Client, ctx: Arc<Context>) {
    run_cronjob_controller_with(client, ctx, crate::clock::Clock::System).await
}

/// The CronJob controller deciding by `clock` (tests move it forward).
pub async fn run_cronjob_controller_with(
    _client: kube::Client,
    ctx: Arc<Context>,
    clock: crate::clock::Clock,
) {
    let (cronjobs, jobs) = (ctx.informers.get::<CronJob>(), ctx.informers.get::<Job>());
    let job_events = jobs.subscribe();
    jobs.ready().await;
    Controller::for_shared_stream(cronjobs.subscribe(), cronjobs.ready_store().await)
        .owns_shared_stream(job_events)
        .shutdown_on_signal()
        .run(
            move |cj, ctx| {
                let clock = clock.clone();
                run_reconcile(cj, ctx, move |cj, c| {
                    crate::cronjob::reconcile(cj, c, clock)
                })
            },
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "cronjob controller");
            }
        })
        .await;
}

pub async fn run_ttl_after_finished_controller(client: kube::Client, ctx: Arc<Context>) {
    run_ttl_after_finished_controller_with(client, ctx, crate::clock::Clock::System).await
}

pub async fn run_ttl_after_finished_controller_with(
    _client: kube::Client,
    ctx: Arc<Context>,
    clock: crate::clock::Clock,
) {
    let jobs = ctx.informers.get::<Job>();
    Controller::for_shared_stream(jobs.subscribe(), jobs.ready_store().await)
        .shutdown_on_signal()
        .run(
            move |j, ctx| {
                let clock = clock.clone();
                run_reconcile(j, ctx, move |j, c| {
                    crate::ttl_after_finished::reconcile(j, c, clock)
                })
            },
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "ttl-after-finished controller");
            }
        })
        .await;
}

pub async fn run_daemonset_controller(client: kube::Client, ctx: Arc<Context>) {
    run_daemonset_controller_with(client, ctx, crate::clock::Clock::System).await
}

/// What of a node decides where daemon pods run: labels and spec (taints,
/// unschedulable). Status heartbeats of 5,000 nodes wake no DaemonSet.
fn node_placement_fingerprint(node: &Node) -> u64 {
    hash_json(&(&node.metadata.labels, &node.spec))
}

/// The DaemonSet controller; a node appearing, going, or changing labels or
/// taints wakes every DaemonSet.
pub async fn run_daemonset_controller_with(
    _client: kube::Client,
    ctx: Arc<Context>,
    clock: crate::clock::Clock,
) {
    let informers = ctx.informers.clone();
    let (daemonsets, pods, nodes) = (
        informers.get::<DaemonSet>(),
        informers.pods(),
        informers.nodes(),
    );
    let revisions = informers.get::<ControllerRevision>();
    let (pod_events, rev_events, node_events) =
        (pods.subscribe(), revisions.subscribe(), nodes.subscribe());
    pods.ready().await;
    nodes.ready().await;
    revisions.ready().await;
    let all = daemonsets.clone();
    let placement = ChangeFilter::new(node_placement_fingerprint);
    let all_daemonsets = move |node: Arc<Node>| -> Vec<ObjectRef<DaemonSet>> {
        let present = nodes.get(None, &node.name_any()).is_some();
        if !placement.changed(&node, present) {
            return Vec::new();
        }
        all.list()
            .iter()
            .map(|ds| ObjectRef::from_obj(ds.as_ref()))
            .collect()
    };
    Controller::for_shared_stream(daemonsets.subscribe(), daemonsets.ready_store().await)
        .owns_shared_stream(pod_events)
        .owns_shared_stream(rev_events)
        .watches_shared_stream(node_events, all_daemonsets)
        .shutdown_on_signal()
        .run(
            move |ds, ctx| {
                let clock = clock.clone();
                run_reconcile(ds, ctx, move |ds, c| {
                    crate::daemonset::reconcile(ds, c, clock)
                })
            },
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "daemonset controller");
            }
        })
        .await;
}
