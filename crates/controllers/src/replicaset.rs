//! ReplicaSet controller: keep `spec.replicas` active pods carrying the
//! template, owned through a controller ownerReference; report status.
//!
//! Pods are read from the shared pod cache (by controller uid, plus the
//! namespace's orphans for adoption). Every create and delete is recorded as
//! an expectation on the pod informer; while the cache does not yet show
//! them, a reconcile only reports status and does not create or delete, so a
//! lagging cache never makes it over-create (upstream's expectations).

use crate::error::{ControllerError, Result};
use crate::events;
use crate::informers::Informer;
use crate::owner::{self, owner_reference};
use crate::pod_state::{availability, is_active, is_ready, is_scheduled, ready_since};
use crate::runner::Context;
use crate::selector;
use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::json;
use std::borrow::Borrow;
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "replicaset-controller";
/// Upstream's burstReplicas: most pods created or deleted in one reconcile.
const BURST_REPLICAS: usize = 500;

pub async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Context>) -> Result<Action> {
    if rs.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = rs.namespace().unwrap_or_else(|| "default".into());
    let uid = rs
        .uid()
        .ok_or_else(|| ControllerError::MissingField(rs.name_any(), "metadata.uid"))?;
    let spec = rs
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(rs.name_any(), "spec"))?;
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let cache = ctx.informers.pods();
    // Expectations: only act once the cache shows our earlier writes.
    let manage = cache.caught_up(&uid);
    let owned = claim_pods(&pods_api, &cache, rs.as_ref(), &uid, &spec.selector, manage).await?;
    let active: Vec<Arc<Pod>> = owned.into_iter().filter(|p| is_active(p)).collect();
    let desired = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);

    if manage && active.len() < desired {
        let missing = (desired - active.len()).min(BURST_REPLICAS);
        create_pods(&ctx, &pods_api, &rs, missing).await?;
    } else if manage && active.len() > desired {
        let extra = (active.len() - desired).min(BURST_REPLICAS);
        delete_pods(&ctx, &pods_api, &rs, &active, extra).await?;
    }

    let min_ready =
        Duration::from_secs(u64::try_from(spec.min_ready_seconds.unwrap_or(0)).unwrap_or(0));
    let (status, recheck) = compute_status(&rs, &active, min_ready);
    if rs.status.as_ref() != Some(&status) {
        let rs_api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
        rs_api
            .patch_status(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await?;
    }
    if !manage {
        // The pod events that satisfy the expectations wake us too.
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    Ok(match recheck {
        Some(wait) => Action::requeue(wait.min(ctx.resync)),
        None => Action::requeue(ctx.resync),
    })
}

/// The pods `owner` controls, from the cache: its own pods that still match
/// `selector` (the others are released) and, when `adopt` is set, matching
/// orphans of its namespace, adopted (recorded as expectations).
pub async fn claim_pods<K>(
    api: &Api<Pod>,
    cache: &Informer<Pod>,
    owner: &K,
    uid: &str,
    selector: &LabelSelector,
    adopt: bool,
) -> Result<Vec<Arc<Pod>>>
where
    K: kube::Resource<DynamicType = ()>,
{
    claim_pods_by(api, cache, owner, uid, adopt, |labels| {
        selector::matches(selector, labels)
    })
    .await
}

/// [`claim_pods`] with the selector as a predicate on the pod's labels.
pub async fn claim_pods_by<K>(
    api: &Api<Pod>,
    cache: &Informer<Pod>,
    owner: &K,
    uid: &str,
    adopt: bool,
    matches: impl Fn(Option<&std::collections::BTreeMap<String, String>>) -> bool,
) -> Result<Vec<Arc<Pod>>>
where
    K: kube::Resource<DynamicType = ()>,
{
    let ns = owner.meta().namespace.clone().unwrap_or_default();
    let mut owned = Vec::new();
    for pod in cache.controlled_by(uid) {
        if matches(pod.metadata.labels.as_ref()) {
            owned.push(pod);
        } else if pod.metadata.deletion_timestamp.is_none() {
            crate::owner::release(api, &pod, uid).await?;
        }
    }
    if adopt {
        for pod in cache.orphans_in(&ns) {
            if pod.metadata.deletion_timestamp.is_none() && matches(pod.metadata.labels.as_ref()) {
                let adopted = crate::owner::adopt(api, owner, (*pod).clone()).await?;
                cache.expect_written(uid, &adopted);
                owned.push(Arc::new(adopted));
            }
        }
    }
    Ok(owned)
}

/// Build the pod the template describes, owned by `rs`.
pub fn pod_from_template(rs: &ReplicaSet) -> Result<Pod> {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .ok_or_else(|| ControllerError::MissingField(rs.name_any(), "spec.template"))?;
    let tmeta = template.metadata.clone().unwrap_or_default();
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", rs.name_any())),
            namespace: rs.namespace(),
            labels: tmeta.labels,
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![owner_reference(rs)?]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    })
}

async fn create_pods(ctx: &Context, api: &Api<Pod>, rs: &ReplicaSet, count: usize) -> Result<()> {
    let pod = pod_from_template(rs)?;
    owner::create_pods_slow_start(ctx, api, rs, COMPONENT, &pod, count).await
}

/// Order pods so the cheapest to lose come first, like upstream's
/// ActivePods sort: unscheduled, then Pending/Unknown before Running, then
/// not ready, then ready most recently, then newest.
fn deletion_rank(
    pod: &Pod,
) -> (
    bool,
    u8,
    bool,
    std::cmp::Reverse<Option<Timestamp>>,
    std::cmp::Reverse<Option<Timestamp>>,
) {
    let phase = match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Running") => 2,
        Some("Unknown") => 1,
        _ => 0,
    };
    (
        is_scheduled(pod),
        phase,
        is_ready(pod),
        std::cmp::Reverse(ready_since(pod).flatten()),
        std::cmp::Reverse(pod.metadata.creation_timestamp.as_ref().map(|t| t.0)),
    )
}

async fn delete_pods(
    ctx: &Context,
    api: &Api<Pod>,
    rs: &ReplicaSet,
    active: &[Arc<Pod>],
    count: usize,
) -> Result<()> {
    let mut victims: Vec<&Pod> = active.iter().map(|p| p.as_ref()).collect();
    victims.sort_by_key(|p| deletion_rank(p));
    victims.truncate(count);
    let results = join_all(victims.iter().map(|p| async move {
        (
            *p,
            api.delete(&p.name_any(), &DeleteParams::default()).await,
        )
    }))
    .await;
    let cache = ctx.informers.pods();
    let uid = rs.uid().unwrap_or_default();
    let mut first_error = None;
    for (pod, result) in results {
        let name = pod.name_any();
        match result {
            Ok(outcome) => {
                cache.expect_deleted(&uid, pod, outcome.left().as_ref());
                let msg = format!("Deleted pod: {name}");
                events::record(
                    &ctx.client,
                    COMPONENT,
                    rs,
                    "Normal",
                    "SuccessfulDelete",
                    msg,
                )
                .await;
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) => Err(err.into()),
        None => Ok(()),
    }
}

/// Status from the active pods; also how long until a ready pod becomes
/// available (so minReadySeconds is honoured without polling).
pub fn compute_status<P: Borrow<Pod>>(
    rs: &ReplicaSet,
    active: &[P],
    min_ready: Duration,
) -> (ReplicaSetStatus, Option<Duration>) {
    let template_labels = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let now = Timestamp::now();
    let mut fully_labeled = 0;
    let mut ready = 0;
    let mut available = 0;
    let mut recheck: Option<Duration> = None;
    for pod in active {
        let pod: &Pod = pod.borrow();
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        if template_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
        {
            fully_labeled += 1;
        }
        if is_ready(pod) {
            ready += 1;
        }
        match availability(pod, min_ready, now) {
            Ok(()) => available += 1,
            Err(Some(wait)) => recheck = Some(recheck.map_or(wait, |r| r.min(wait))),
            Err(None) => {}
        }
    }
    let previous = rs.status.clone().unwrap_or_default();
    let status = ReplicaSetStatus {
        replicas: i32::try_from(active.len()).unwrap_or(i32::MAX),
        fully_labeled_replicas: Some(fully_labeled),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        observed_generation: rs.metadata.generation,
        conditions: previous.conditions,
        terminating_replicas: previous.terminating_replicas,
    };
    (status, recheck.map(|d| d + Duration::from_millis(100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: Option<&str>, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": if node.is_some() { "Running" } else { "Pending" },
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                                       "lastTransitionTime": "2026-01-01T00:00:10Z"}]},
        }))
        .expect("pod")
    }

    #[test]
    fn deletes_unscheduled_then_unready_first() {
        let pods = [
            pod("ready", Some("n"), true),
            pod("unready", Some("n"), false),
            pod("pending", None, false),
        ];
        let mut order: Vec<&Pod> = pods.iter().collect();
        order.sort_by_key(|p| deletion_rank(p));
        let names: Vec<String> = order.iter().map(|p| p.name_any()).collect();
        assert_eq!(names, ["pending", "unready", "ready"]);
    }

    #[test]
    fn template_pod_is_owned_and_labelled() {
        let rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u-1"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}},
        }))
        .expect("rs");
        let p = pod_from_template(&rs).expect("pod");
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(p.labels().get("app").map(String::as_str), Some("web"));
        let owner = &p.owner_references()[0];
        assert_eq!(
            (
                owner.uid.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            ("u-1", Some(true), Some(true))
        );
    }

    #[test]
    fn min_ready_seconds_delays_availability() {
        let rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {"selector": {}, "template": {"metadata": {"labels": {"app": "web"}}}},
        }))
        .expect("rs");
        let mut fresh = pod("fresh", Some("n"), true);
        if let Some(c) = fresh.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c[0].last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                Timestamp::now(),
            ));
        }
        let old = pod("old", Some("n"), true);
        let (status, recheck) = compute_status(&rs, &[fresh, old], Duration::from_secs(60));
        assert_eq!(
            (
                status.replicas,
                status.ready_replicas,
                status.available_replicas
            ),
            (2, Some(2), Some(1))
        );
        assert_eq!(status.observed_generation, Some(2));
        assert!(recheck.is_some_and(|d| d <= Duration::from_secs(61)));
    }
}
