//! ReplicationController controller (core/v1): the ReplicaSet controller's
//! behaviour with a map selector, as upstream runs the ReplicaSet code for
//! both kinds. Keeps `spec.replicas` active pods from the template, adopts
//! matching orphans, releases pods that stop matching, reports status.
//!
//! Reused from [`crate::replicaset`]: the template → pod builder and the
//! status arithmetic (through an in-memory ReplicaSet view of the RC).
//! Pure parts here: [`selector_of`], [`selector_matches`], [`deletion_order`],
//! [`plan_scale`], [`compute_status`].

use crate::error::{ControllerError, Result};
use crate::events;
use crate::owner::{self, controller_of, owner_reference};
use crate::pod_state::{is_active, is_ready, is_scheduled, ready_since};
use crate::replicaset;
use crate::runner::{error_policy, run_reconcile, Context};
use futures::future::join_all;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{
    Pod, ReplicationController, ReplicationControllerCondition, ReplicationControllerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::ResourceExt;
use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Upstream's event source for this controller.
pub const COMPONENT: &str = "replication-controller";
/// Upstream's burstReplicas.
const BURST_REPLICAS: usize = 500;

/// The RC's selector: `spec.selector`, or the template labels when it is
/// empty (what the API server defaults it to).
pub fn selector_of(rc: &ReplicationController) -> BTreeMap<String, String> {
    let spec = rc.spec.as_ref();
    match spec.and_then(|s| s.selector.clone()) {
        Some(sel) if !sel.is_empty() => sel,
        _ => spec
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default(),
    }
}

/// Every selector pair is among `labels`; an empty selector matches nothing.
pub fn selector_matches(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    !selector.is_empty()
        && labels.is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)))
}

/// The RC seen as a ReplicaSet, so the ReplicaSet controller's generic
/// helpers (pod from template, status counts) apply unchanged.
fn as_replicaset(rc: &ReplicationController) -> ReplicaSet {
    let spec = rc.spec.clone().unwrap_or_default();
    ReplicaSet {
        metadata: rc.metadata.clone(),
        spec: Some(ReplicaSetSpec {
            min_ready_seconds: spec.min_ready_seconds,
            replicas: spec.replicas,
            selector: LabelSelector {
                match_labels: Some(selector_of(rc)),
                match_expressions: None,
            },
            template: spec.template,
        }),
        status: None,
    }
}

/// The pod the template describes (`generateName: <rc>-`), controlled by `rc`.
pub fn pod_for(rc: &ReplicationController) -> Result<Pod> {
    let mut pod = replicaset::pod_from_template(&as_replicaset(rc))?;
    pod.metadata.owner_references = Some(vec![owner_reference(rc)?]);
    Ok(pod)
}

/// Pods in the order they should be deleted, like upstream's ActivePods
/// sort: unscheduled, Pending before Unknown before Running, not ready,
/// ready for less time, more restarts, newer.
pub fn deletion_order<P: Borrow<Pod>>(pods: &[P]) -> Vec<&Pod> {
    let mut order: Vec<&Pod> = pods.iter().map(|p| p.borrow()).collect();
    order.sort_by_key(|pod| {
        let phase = match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
            Some("Running") => 2,
            Some("Unknown") => 1,
            _ => 0,
        };
        let restarts: i32 = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map(|cs| cs.iter().map(|c| c.restart_count).sum())
            .unwrap_or(0);
        (
            is_scheduled(pod),
            phase,
            is_ready(pod),
            Reverse(ready_since(pod).flatten()),
            Reverse(restarts),
            Reverse(pod.metadata.creation_timestamp.as_ref().map(|t| t.0)),
        )
    });
    order
}

/// What one reconcile changes in the pod count.
#[derive(Debug, PartialEq, Eq)]
pub enum ScaleStep {
    Create(usize),
    /// Names of the pods to delete, cheapest first.
    Delete(Vec<String>),
    Nothing,
}

/// Create or delete (at most a burst of) pods to reach `desired` active ones.
pub fn plan_scale<P: Borrow<Pod>>(active: &[P], desired: usize) -> ScaleStep {
    if active.len() < desired {
        ScaleStep::Create((desired - active.len()).min(BURST_REPLICAS))
    } else if active.len() > desired {
        let extra = (active.len() - desired).min(BURST_REPLICAS);
        ScaleStep::Delete(
            deletion_order(active)
                .into_iter()
                .take(extra)
                .map(|p| p.name_any())
                .collect(),
        )
    } else {
        ScaleStep::Nothing
    }
}

/// Status from the active pods (the ReplicaSet arithmetic) plus the
/// ReplicaFailure condition: set while creating/deleting fails, cleared
/// once a pass succeeds. Also how long until a ready pod becomes available.
pub fn compute_status<P: Borrow<Pod>>(
    rc: &ReplicationController,
    active: &[P],
    failure: Option<(&str, String)>,
) -> (ReplicationControllerStatus, Option<Duration>) {
    let min_ready = Duration::from_secs(
        u64::try_from(
            rc.spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0),
        )
        .unwrap_or(0),
    );
    let (rs_status, recheck) = replicaset::compute_status(&as_replicaset(rc), active, min_ready);
    let previous = rc
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut conditions: Vec<ReplicationControllerCondition> = previous
        .iter()
        .filter(|c| c.type_ != "ReplicaFailure")
        .cloned()
        .collect();
    if let Some((reason, message)) = failure {
        let kept = previous.iter().find(|c| {
            c.type_ == "ReplicaFailure"
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message.as_str())
        });
        conditions.push(kept.cloned().unwrap_or(ReplicationControllerCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some(reason.into()),
            message: Some(message),
            last_transition_time: Some(Time(Timestamp::now())),
        }));
    }
    let status = ReplicationControllerStatus {
        replicas: rs_status.replicas,
        fully_labeled_replicas: rs_status.fully_labeled_replicas,
        ready_replicas: rs_status.ready_replicas,
        available_replicas: rs_status.available_replicas,
        observed_generation: rs_status.observed_generation,
        conditions: (!conditions.is_empty()).then_some(conditions),
    };
    (status, recheck)
}

pub async fn reconcile(rc: Arc<ReplicationController>, ctx: Arc<Context>) -> Result<Action> {
    if rc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = rc.namespace().unwrap_or_else(|| "default".into());
    let uid = rc
        .uid()
        .ok_or_else(|| ControllerError::MissingField(rc.name_any(), "metadata.uid"))?;
    let selector = selector_of(&rc);
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let cache = ctx.informers.pods();
    // Expectations: act only once the cache shows our earlier writes.
    let manage = cache.caught_up(&uid);
    let owned = replicaset::claim_pods_by(&pods_api, &cache, rc.as_ref(), &uid, manage, |l| {
        selector_matches(&selector, l)
    })
    .await?;
    let active: Vec<Arc<Pod>> = owned.into_iter().filter(|p| is_active(p)).collect();
    let desired =
        usize::try_from(rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)).unwrap_or(0);

    let step = if manage {
        plan_scale(&active, desired)
    } else {
        ScaleStep::Nothing
    };
    let outcome = match step {
        ScaleStep::Create(n) => create_pods(&ctx, &pods_api, &rc, n)
            .await
            .map_err(|e| ("FailedCreate", e)),
        ScaleStep::Delete(names) => delete_pods(&ctx, &pods_api, &rc, &active, &names)
            .await
            .map_err(|e| ("FailedDelete", e)),
        ScaleStep::Nothing => Ok(()),
    };
    let failure = outcome
        .as_ref()
        .err()
        .map(|(reason, err)| (*reason, err.to_string()));
    let (status, recheck) = compute_status(&rc, &active, failure);
    if rc.status.as_ref() != Some(&status) {
        let api: Api<ReplicationController> = Api::namespaced(ctx.client.clone(), &ns);
        let mut updated = (*rc).clone();
        updated.status = Some(status);
        // A conflict means a newer RC is on its way: the next pass writes it.
        match api
            .replace_status(&rc.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    outcome.map_err(|(_, e)| e)?;
    if !manage {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    Ok(match recheck {
        Some(wait) => Action::requeue(wait.min(ctx.resync)),
        None => Action::requeue(ctx.resync),
    })
}

/// Create `count` pods in slow-start batches (1, 2, 4, …), as upstream: a
/// failing template costs one request, not hundreds.
async fn create_pods(
    ctx: &Context,
    api: &Api<Pod>,
    rc: &ReplicationController,
    count: usize,
) -> Result<()> {
    let pod = pod_for(rc)?;
    owner::create_pods_slow_start(ctx, api, rc, COMPONENT, &pod, count).await
}

async fn delete_pods(
    ctx: &Context,
    api: &Api<Pod>,
    rc: &ReplicationController,
    active: &[Arc<Pod>],
    names: &[String],
) -> Result<()> {
    let results = join_all(
        names
            .iter()
            .map(|name| async move { (name, api.delete(name, &DeleteParams::default()).await) }),
    )
    .await;
    let cache = ctx.informers.pods();
    let uid = rc.uid().unwrap_or_default();
    let mut first_error = None;
    for (name, result) in results {
        match result {
            Ok(outcome) => {
                if let Some(pod) = active.iter().find(|p| p.name_any() == *name) {
                    cache.expect_deleted(&uid, pod, outcome.left().as_ref());
                }
                let msg = format!("Deleted pod: {name}");
                events::record(
                    &ctx.client,
                    COMPONENT,
                    rc,
                    "Normal",
                    "SuccessfulDelete",
                    msg,
                )
                .await;
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(err) => {
                let msg = format!("Error deleting: {err}");
                events::record(&ctx.client, COMPONENT, rc, "Warning", "FailedDelete", msg).await;
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) => Err(err.into()),
        None => Ok(()),
    }
}

/// Run the ReplicationController controller until the watches end. A pod
/// event wakes its controlling RC or, for an orphan, every RC in its
/// namespace whose selector matches it (adoption).
pub async fn run_replicationcontroller_controller(_client: kube::Client, ctx: Arc<Context>) {
    let rc_cache = ctx.informers.get::<ReplicationController>();
    let pod_cache = ctx.informers.pods();
    let pod_events = pod_cache.subscribe();
    pod_cache.ready().await;
    let rcs = rc_cache.clone();
    let pod_owners = move |pod: Arc<Pod>| -> Vec<ObjectRef<ReplicationController>> {
        let ns = pod.namespace();
        if let Some(owner) = controller_of(&pod.metadata) {
            if owner.kind != "ReplicationController" {
                return Vec::new();
            }
            let r = ObjectRef::new(&owner.name);
            return vec![match &ns {
                Some(ns) => r.within(ns),
                None => r,
            }];
        }
        rcs.in_namespace(ns.as_deref().unwrap_or_default())
            .iter()
            .filter(|rc| selector_matches(&selector_of(rc), pod.metadata.labels.as_ref()))
            .map(|rc| ObjectRef::from_obj(rc.as_ref()))
            .collect()
    };
    Controller::for_shared_stream(rc_cache.subscribe(), rc_cache.ready_store().await)
        .watches_shared_stream(pod_events, pod_owners)
        .shutdown_on_signal()
        .run(
            |rc, ctx| run_reconcile(rc, ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "replicationcontroller controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rc(selector: serde_json::Value, status: serde_json::Value) -> ReplicationController {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "rc-uid", "generation": 3},
            "spec": {"replicas": 2, "selector": selector,
                     "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
            "status": status,
        }))
        .expect("rc")
    }

    fn pod(name: &str, node: Option<&str>, phase: &str, ready: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "web"},
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": phase,
                       "conditions": ready.map(|t| json!([{"type": "Ready", "status": "True", "lastTransitionTime": t}]))
                                     .unwrap_or(json!([{"type": "Ready", "status": "False"}]))},
        }))
        .expect("pod")
    }

    #[test]
    fn selector_defaults_to_template_labels_and_matches_subsets() {
        let cases = [
            (json!({"app": "web"}), json!({"app": "web"}), true),
            (json!({"app": "web"}), json!({"app": "web", "x": "y"}), true),
            (json!({"app": "web"}), json!({"app": "api"}), false),
            // Empty selector: the template labels are the selector.
            (json!({}), json!({"app": "web", "tier": "fe"}), true),
            (json!({}), json!({"app": "web"}), false),
            (
                json!(null),
                json!({"app": "web", "tier": "fe", "z": "1"}),
                true,
            ),
        ];
        for (selector, labels, want) in cases {
            let r = rc(selector.clone(), json!({}));
            let labels: BTreeMap<String, String> =
                serde_json::from_value(labels.clone()).expect("labels");
            assert_eq!(
                selector_matches(&selector_of(&r), Some(&labels)),
                want,
                "selector {selector} labels {labels:?}"
            );
        }
        assert!(!selector_matches(&BTreeMap::new(), None));
    }

    #[test]
    fn pod_is_named_labelled_and_controlled_by_the_rc() {
        let p = pod_for(&rc(json!({"app": "web"}), json!({}))).expect("pod");
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(p.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(p.labels().get("tier").map(String::as_str), Some("fe"));
        let refs = p.owner_references();
        assert_eq!(refs.len(), 1);
        assert_eq!(
            (
                refs[0].api_version.as_str(),
                refs[0].kind.as_str(),
                refs[0].uid.as_str(),
                refs[0].controller
            ),
            ("v1", "ReplicationController", "rc-uid", Some(true))
        );
    }

    #[test]
    fn scale_plan_table() {
        let running_ready = |n: &str, t: &str| pod(n, Some("node"), "Running", Some(t));
        let cases: Vec<(&str, Vec<Pod>, usize, ScaleStep)> = vec![
            ("create missing", vec![], 3, ScaleStep::Create(3)),
            (
                "steady",
                vec![running_ready("a", "2026-01-01T00:00:01Z")],
                1,
                ScaleStep::Nothing,
            ),
            (
                "unscheduled goes first",
                vec![
                    running_ready("ready", "2026-01-01T00:00:01Z"),
                    pod("pending", None, "Pending", None),
                ],
                1,
                ScaleStep::Delete(vec!["pending".into()]),
            ),
            (
                "not ready before ready",
                vec![
                    running_ready("ready", "2026-01-01T00:00:01Z"),
                    pod("unready", Some("node"), "Running", None),
                ],
                1,
                ScaleStep::Delete(vec!["unready".into()]),
            ),
            (
                "ready more recently goes first",
                vec![
                    running_ready("old", "2026-01-01T00:00:01Z"),
                    running_ready("recent", "2026-01-01T00:05:00Z"),
                ],
                1,
                ScaleStep::Delete(vec!["recent".into()]),
            ),
            (
                "scale to zero",
                vec![
                    running_ready("a", "2026-01-01T00:00:01Z"),
                    pod("b", Some("node"), "Pending", None),
                ],
                0,
                ScaleStep::Delete(vec!["b".into(), "a".into()]),
            ),
        ];
        for (name, pods, desired, want) in cases {
            assert_eq!(plan_scale(&pods, desired), want, "{name}");
        }
    }

    #[test]
    fn status_counts_and_replica_failure_condition() {
        let r = rc(json!({"app": "web"}), json!({"replicas": 0}));
        let pods = [
            pod("a", Some("n"), "Running", Some("2026-01-01T00:00:01Z")),
            pod("b", None, "Pending", None),
        ];
        let (status, _) = compute_status(&r, &pods, None);
        assert_eq!(
            (
                status.replicas,
                status.ready_replicas,
                status.available_replicas,
                status.fully_labeled_replicas,
                status.observed_generation
            ),
            (2, Some(1), Some(1), Some(0), Some(3))
        );
        assert!(status.conditions.is_none());
        let (failed, _) = compute_status(&r, &pods, Some(("FailedCreate", "quota".into())));
        let cond = failed.conditions.expect("conditions");
        assert_eq!(
            (cond[0].type_.as_str(), cond[0].reason.as_deref()),
            ("ReplicaFailure", Some("FailedCreate"))
        );
        // A later successful pass clears it.
        let mut r2 = r.clone();
        r2.status = Some(ReplicationControllerStatus {
            conditions: Some(cond),
            ..Default::default()
        });
        assert!(compute_status(&r2, &pods, None).0.conditions.is_none());
    }
}
