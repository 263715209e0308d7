//! The disruption controller (upstream pkg/controller/disruption): keeps
//! PodDisruptionBudget status — expectedPods, currentHealthy, desiredHealthy,
//! disruptionsAllowed, disruptedPods, observedGeneration and the
//! DisruptionAllowed condition — in line with the selected pods and the
//! scale of the controllers that own them.

use crate::events;
use crate::informers::Informer;
use crate::owner::controller_of;
use crate::pod_state::is_ready;
use crate::runner::{error_policy, run_reconcile, Context};
use crate::selector;
use crate::ControllerError;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{
    PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::{Resource, ResourceExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Upstream's disruption controller records events as this component.
pub const COMPONENT: &str = "controllermanager";
/// How long an eviction-approved pod may take to get a deletionTimestamp.
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);
pub const CONDITION: &str = "DisruptionAllowed";

/// GetScaledValueFromIntOrPercent: an int as is, "N%" of `total` rounded
/// up or down.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let pct: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid type: string is not a percentage: {s:?}"))?;
            let scaled = pct * i64::from(total);
            let v = if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            };
            i32::try_from(v).map_err(|_| format!("value {s} of {total} overflows"))
        }
    }
}

/// Whether expectedPods comes from the owners' scale (maxUnavailable, or a
/// percentage minAvailable) rather than from the pod count.
pub fn needs_scale(spec: &PodDisruptionBudgetSpec) -> bool {
    spec.max_unavailable.is_some() || matches!(spec.min_available, Some(IntOrString::String(_)))
}

/// (expectedPods, desiredHealthy) — getExpectedPodCount.
pub fn expected_and_desired(
    spec: &PodDisruptionBudgetSpec,
    pod_count: i32,
    scale: i32,
) -> Result<(i32, i32), String> {
    if let Some(max_unavailable) = &spec.max_unavailable {
        let max = scaled_value(max_unavailable, scale, true)?;
        return Ok((scale, (scale - max).max(0)));
    }
    match &spec.min_available {
        Some(IntOrString::Int(n)) => Ok((pod_count, *n)),
        Some(v @ IntOrString::String(_)) => Ok((scale, scaled_value(v, scale, true)?)),
        None => Ok((0, 0)),
    }
}

/// The pods a PDB selects: a nil selector none, an empty one all (policy/v1).
pub fn selects(pdb: &PodDisruptionBudget, pod: &Pod) -> bool {
    let Some(sel) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return false;
    };
    let empty = sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty);
    empty || selector::matches(sel, pod.metadata.labels.as_ref())
}

/// buildDisruptedPodMap: drop entries for pods gone, being deleted, or
/// overdue; return the kept ones and when the earliest becomes overdue.
pub fn build_disrupted(
    pods: &[Arc<Pod>],
    old: Option<&BTreeMap<String, Time>>,
    now: Timestamp,
) -> (BTreeMap<String, Time>, Option<Timestamp>) {
    let mut kept = BTreeMap::new();
    let mut recheck: Option<Timestamp> = None;
    let Some(old) = old else {
        return (kept, None);
    };
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(t) = old.get(&pod.name_any()) else {
            continue;
        };
        let due = t.0 + SignedDuration::from_secs(DELETION_TIMEOUT.as_secs() as i64);
        if due < now {
            continue;
        }
        recheck = Some(recheck.map_or(due, |r| r.min(due)));
        kept.insert(pod.name_any(), t.clone());
    }
    (kept, recheck)
}

/// countHealthyPods: ready, not being deleted, not just approved for eviction.
pub fn count_healthy(pods: &[Arc<Pod>], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    let healthy = pods.iter().filter(|p| {
        if p.metadata.deletion_timestamp.is_some() {
            return false;
        }
        let pending = disrupted.get(&p.name_any()).is_some_and(|t| {
            t.0 + SignedDuration::from_secs(DELETION_TIMEOUT.as_secs() as i64) > now
        });
        !pending && is_ready(p)
    });
    i32::try_from(healthy.count()).unwrap_or(i32::MAX)
}

/// meta.SetStatusCondition: transition time moves only when status does.
fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(c) => {
            if c.status == new.status {
                new.last_transition_time = c.last_transition_time.clone();
            }
            *c = new;
        }
        None => conditions.push(new),
    }
}

/// The status for the computed numbers (updatePdbStatus), or None if the
/// stored status already says so.
pub fn new_status(
    pdb: &PodDisruptionBudget,
    current_healthy: i32,
    desired_healthy: i32,
    expected: i32,
    disrupted: BTreeMap<String, Time>,
    now: Timestamp,
) -> Option<PodDisruptionBudgetStatus> {
    let allowed = if expected <= 0 {
        0
    } else {
        (current_healthy - desired_healthy).max(0)
    };
    let old = pdb.status.clone().unwrap_or_default();
    let mut conditions = old.conditions.clone().unwrap_or_default();
    let generation = pdb.metadata.generation;
    let (status, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    set_condition(
        &mut conditions,
        Condition {
            type_: CONDITION.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: generation,
            last_transition_time: Time(now),
        },
    );
    let status = PodDisruptionBudgetStatus {
        current_healthy,
        desired_healthy,
        expected_pods: expected,
        disruptions_allowed: allowed,
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        observed_generation: generation,
        conditions: Some(conditions),
    };
    let old_disrupted = old.disrupted_pods.clone().filter(|d| !d.is_empty());
    let same = PodDisruptionBudgetStatus {
        disrupted_pods: old_disrupted,
        ..old
    } == status;
    (!same).then_some(status)
}

/// The failSafe status: nothing may be disrupted, with the reason.
pub fn fail_safe_status(
    pdb: &PodDisruptionBudget,
    err: &str,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let mut status = pdb.status.clone().unwrap_or_default();
    status.disruptions_allowed = 0;
    let mut conditions = status.conditions.take().unwrap_or_default();
    set_condition(
        &mut conditions,
        Condition {
            type_: CONDITION.into(),
            status: "False".into(),
            reason: "SyncFailed".into(),
            message: err.into(),
            observed_generation: status.observed_generation,
            last_transition_time: Time(now),
        },
    );
    status.conditions = Some(conditions);
    status
}

fn replicas_of<K: Resource>(obj: &K, replicas: Option<i32>) -> (String, i32) {
    (
        obj.meta().uid.clone().unwrap_or_default(),
        replicas.unwrap_or(1),
    )
}

/// The controller (uid, scale) behind a pod's controllerRef: a ReplicaSet's
/// Deployment if it has one, the workload's spec.replicas for built-ins, the
/// /scale subresource for anything else. None if the owner is gone or is
/// another object of that name.
async fn owner_scale(
    ctx: &Context,
    ns: &str,
    owner: &OwnerReference,
) -> Result<Option<(String, i32)>, kube::Error> {
    let client = &ctx.client;
    let informers = &ctx.informers;
    let group = owner.api_version.split_once('/').map_or("", |(g, _)| g);
    let found = match (group, owner.kind.as_str()) {
        ("apps", "ReplicaSet") => {
            let Some(rs) = informers.replicasets().get(Some(ns), &owner.name) else {
                return Ok(None);
            };
            if rs.uid().as_deref() != Some(owner.uid.as_str()) {
                return Ok(None);
            }
            match controller_of(&rs.metadata).filter(|r| r.kind == "Deployment") {
                Some(d) => {
                    let Some(dep) = informers.deployments().get(Some(ns), &d.name) else {
                        return Ok(None);
                    };
                    if dep.uid().as_deref() != Some(d.uid.as_str()) {
                        return Ok(None);
                    }
                    return Ok(Some(replicas_of(
                        dep.as_ref(),
                        dep.spec.as_ref().and_then(|s| s.replicas),
                    )));
                }
                None => Some(replicas_of(
                    rs.as_ref(),
                    rs.spec.as_ref().and_then(|s| s.replicas),
                )),
            }
        }
        ("apps", "Deployment") => informers
            .deployments()
            .get(Some(ns), &owner.name)
            .map(|d| replicas_of(d.as_ref(), d.spec.as_ref().and_then(|s| s.replicas))),
        ("apps", "StatefulSet") => informers
            .get::<StatefulSet>()
            .get(Some(ns), &owner.name)
            .map(|s| replicas_of(s.as_ref(), s.spec.as_ref().and_then(|s| s.replicas))),
        ("", "ReplicationController") => informers
            .get::<ReplicationController>()
            .get(Some(ns), &owner.name)
            .map(|r| replicas_of(r.as_ref(), r.spec.as_ref().and_then(|s| s.replicas))),
        _ => {
            let gvk = match owner.api_version.split_once('/') {
                Some((g, v)) => GroupVersionKind::gvk(g, v, &owner.kind),
                None => GroupVersionKind::gvk("", &owner.api_version, &owner.kind),
            };
            let Ok((ar, caps)) = kube::discovery::pinned_kind(client, &gvk).await else {
                return Ok(None);
            };
            if !caps
                .subresources
                .iter()
                .any(|(s, _)| s.plural == format!("{}/scale", ar.plural) || s.plural == "scale")
            {
                return Ok(None);
            }
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
            let Some(obj) = api.get_opt(&owner.name).await? else {
                return Ok(None);
            };
            let scale = api.get_scale(&owner.name).await?;
            Some((
                obj.uid().unwrap_or_default(),
                scale.spec.and_then(|s| s.replicas).unwrap_or(0),
            ))
        }
    };
    Ok(found.filter(|(uid, _)| *uid == owner.uid))
}

/// getExpectedScale: the sum of the scales of the pods' controllers, and
/// the pods without one.
async fn expected_scale(
    ctx: &Context,
    ns: &str,
    pods: &[Arc<Pod>],
) -> Result<(i32, Vec<String>), String> {
    let mut scales: HashMap<String, i32> = HashMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let Some(owner) = controller_of(&pod.metadata) else {
            unmanaged.push(pod.name_any());
            continue;
        };
        if scales.contains_key(&owner.uid) {
            continue;
        }
        match owner_scale(ctx, ns, owner).await {
            Ok(Some((uid, n))) => {
                scales.insert(uid, n);
            }
            Ok(None) => return Err(format!("found no controllers for pod {:?}", pod.name_any())),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok((scales.values().sum(), unmanaged))
}

async fn reconcile(
    pdb: Arc<PodDisruptionBudget>,
    ctx: Arc<Context>,
    pods: Arc<Informer<Pod>>,
) -> Result<Action, ControllerError> {
    let ns = pdb.namespace().unwrap_or_else(|| "default".into());
    let api: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), &ns);
    let spec = pdb.spec.clone().unwrap_or_default();
    let selected: Vec<Arc<Pod>> = pods
        .in_namespace(&ns)
        .into_iter()
        .filter(|p| selects(&pdb, p))
        .collect();
    let now = Timestamp::now();
    let pod_count = i32::try_from(selected.len()).unwrap_or(i32::MAX);
    let scale = if needs_scale(&spec) {
        expected_scale(&ctx, &ns, &selected).await
    } else {
        Ok((0, Vec::new()))
    };
    let computed = scale.and_then(|(scale, unmanaged)| {
        expected_and_desired(&spec, pod_count, scale).map(|(e, d)| (e, d, unmanaged))
    });
    let (expected, desired, unmanaged) = match computed {
        Ok(v) => v,
        Err(err) => {
            // failSafe: write once per distinct error, not on every resync.
            let recorded = pdb.status.as_ref().is_some_and(|s| {
                s.disruptions_allowed == 0
                    && s.conditions.iter().flatten().any(|c| {
                        c.type_ == CONDITION && c.reason == "SyncFailed" && c.message == err
                    })
            });
            if !recorded {
                events::record(
                    &ctx.client,
                    COMPONENT,
                    pdb.as_ref(),
                    "Warning",
                    "CalculateExpectedPodCountFailed",
                    format!("Failed to calculate the number of expected pods: {err}"),
                )
                .await;
                let mut new = pdb.as_ref().clone();
                new.status = Some(fail_safe_status(&pdb, &err, now));
                api.replace_status(&pdb.name_any(), &PostParams::default(), &new)
                    .await?;
            }
            return Ok(Action::requeue(ctx.resync));
        }
    };
    let (disrupted, recheck) = build_disrupted(
        &selected,
        pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()),
        now,
    );
    let healthy = count_healthy(&selected, &disrupted, now);
    if let Some(status) = new_status(&pdb, healthy, desired, expected, disrupted, now) {
        if selected.is_empty() {
            events::record(
                &ctx.client,
                COMPONENT,
                pdb.as_ref(),
                "Normal",
                "NoPods",
                "No matching pods found".into(),
            )
            .await;
        }
        if !unmanaged.is_empty() {
            let sel = serde_json::to_string(&spec.selector).unwrap_or_default();
            events::record(&ctx.client, COMPONENT, pdb.as_ref(), "Warning", "UnmanagedPods", format!(
                "Pods selected by this PodDisruptionBudget (selector: {sel}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.")).await;
        }
        let mut new = pdb.as_ref().clone();
        new.status = Some(status);
        api.replace_status(&pdb.name_any(), &PostParams::default(), &new)
            .await?;
    }
    let action = match recheck {
        Some(t) => Action::requeue(
            Duration::try_from(now.duration_until(t))
                .unwrap_or_default()
                .min(ctx.resync),
        ),
        None => Action::requeue(ctx.resync),
    };
    Ok(action)
}

fn pdbs_in(
    pdbs: &Informer<PodDisruptionBudget>,
    ns: Option<String>,
) -> Vec<ObjectRef<PodDisruptionBudget>> {
    pdbs.in_namespace(ns.as_deref().unwrap_or_default())
        .iter()
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// Run the disruption controller until the watches end.
pub async fn run_disruption_controller(_client: kube::Client, ctx: Arc<Context>) {
    let informers = ctx.informers.clone();
    let pods = informers.pods();
    let pdbs = informers.get::<PodDisruptionBudget>();
    let (rs, deployments, sets, rcs) = (
        informers.replicasets(),
        informers.deployments(),
        informers.get::<StatefulSet>(),
        informers.get::<ReplicationController>(),
    );
    let (pod_events, rs_events, d_events, set_events) = (
        pods.subscribe(),
        rs.subscribe(),
        deployments.subscribe(),
        sets.subscribe(),
    );
    pods.ready().await;
    rs.ready().await;
    deployments.ready().await;
    sets.ready().await;
    rcs.ready().await;
    // PDBs per namespace are few: any pod or workload change in a namespace
    // re-evaluates its PDBs (covers label changes and scale changes alike).
    let (p1, p2, p3, p4) = (pdbs.clone(), pdbs.clone(), pdbs.clone(), pdbs.clone());
    Controller::for_shared_stream(pdbs.subscribe(), pdbs.ready_store().await)
        .watches_shared_stream(pod_events, move |pod: Arc<Pod>| {
            pdbs_in(&p1, pod.namespace())
        })
        .watches_shared_stream(rs_events, move |o: Arc<ReplicaSet>| {
            pdbs_in(&p2, o.namespace())
        })
        .watches_shared_stream(d_events, move |o: Arc<Deployment>| {
            pdbs_in(&p3, o.namespace())
        })
        .watches_shared_stream(set_events, move |o: Arc<StatefulSet>| {
            pdbs_in(&p4, o.namespace())
        })
        .run(
            move |pdb, ctx| {
                let pods = pods.clone();
                run_reconcile(pdb, ctx, move |pdb, ctx| reconcile(pdb, ctx, pods))
            },
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "disruption controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PodDisruptionBudgetSpec {
        serde_json::from_value(v).expect("spec")
    }

    #[test]
    fn scaled_values_round_up() {
        let cases = [
            (IntOrString::Int(2), 10, 2),
            (IntOrString::String("50%".into()), 5, 3),
            (IntOrString::String("10%".into()), 10, 1),
            (IntOrString::String("1%".into()), 10, 1),
            (IntOrString::String("0%".into()), 10, 0),
        ];
        for (v, total, want) in cases {
            assert_eq!(scaled_value(&v, total, true), Ok(want), "{v:?} of {total}");
        }
        assert!(scaled_value(&IntOrString::String("half".into()), 10, true).is_err());
    }

    #[test]
    fn expected_and_desired_by_spec() {
        let cases = [
            (json!({"minAvailable": 2}), 4, 10, (4, 2)),
            (json!({"minAvailable": "50%"}), 4, 5, (5, 3)),
            (json!({"maxUnavailable": 1}), 4, 5, (5, 4)),
            (json!({"maxUnavailable": "30%"}), 4, 5, (5, 3)),
            (json!({"maxUnavailable": 10}), 4, 5, (5, 0)),
        ];
        for (s, pods, scale, want) in cases {
            assert_eq!(
                expected_and_desired(&spec(s.clone()), pods, scale),
                Ok(want),
                "{s}"
            );
        }
        assert!(needs_scale(&spec(json!({"maxUnavailable": 1}))));
        assert!(needs_scale(&spec(json!({"minAvailable": "10%"}))));
        assert!(!needs_scale(&spec(json!({"minAvailable": 1}))));
    }

    fn pod(name: &str, ready: bool, deleting: bool) -> Arc<Pod> {
        let mut v = json!({"metadata": {"name": name, "labels": {"app": "web"}},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}});
        if deleting {
            v["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        Arc::new(serde_json::from_value(v).expect("pod"))
    }

    #[test]
    fn healthy_count_and_disrupted_cleanup() {
        let now: Timestamp = "2024-01-01T00:10:00Z".parse().expect("now");
        let pods = vec![
            pod("a", true, false),
            pod("b", true, false),
            pod("c", false, false),
            pod("d", true, true),
            pod("e", true, false),
        ];
        let t = |s: &str| Time(s.parse().expect("time"));
        let old: BTreeMap<String, Time> = [
            ("b".to_string(), t("2024-01-01T00:09:00Z")), // recent: kept
            ("e".to_string(), t("2024-01-01T00:00:00Z")), // overdue: dropped
            ("d".to_string(), t("2024-01-01T00:09:30Z")), // being deleted: dropped
            ("gone".to_string(), t("2024-01-01T00:09:30Z")),
        ]
        .into();
        let (kept, recheck) = build_disrupted(&pods, Some(&old), now);
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(
            recheck.map(|r| r.to_string()).as_deref(),
            Some("2024-01-01T00:11:00Z")
        );
        assert_eq!(count_healthy(&pods, &kept, now), 2); // a, e
    }

    #[test]
    fn status_and_condition() {
        let now: Timestamp = "2024-01-01T00:00:00Z".parse().expect("now");
        let mut pdb: PodDisruptionBudget = serde_json::from_value(json!({
            "metadata": {"name": "p", "generation": 3}, "spec": {"minAvailable": 2}}))
        .expect("pdb");
        let s = new_status(&pdb, 3, 2, 3, BTreeMap::new(), now).expect("changed");
        assert_eq!((s.disruptions_allowed, s.observed_generation), (1, Some(3)));
        let c = &s.conditions.as_ref().expect("conditions")[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            (CONDITION, "True", "SufficientPods")
        );
        pdb.status = Some(s);
        let later: Timestamp = "2024-01-01T00:05:00Z".parse().expect("later");
        assert_eq!(new_status(&pdb, 3, 2, 3, BTreeMap::new(), later), None);
        let s = new_status(&pdb, 2, 2, 3, BTreeMap::new(), later).expect("changed");
        assert_eq!(s.disruptions_allowed, 0);
        let c = &s.conditions.as_ref().expect("conditions")[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "InsufficientPods")
        );
        assert_eq!(c.last_transition_time, Time(later));
        // No pods expected: nothing may be disrupted even if the numbers say so.
        assert_eq!(
            new_status(&pdb, 1, 0, 0, BTreeMap::new(), now).map(|s| s.disruptions_allowed),
            Some(0)
        );
    }

    #[test]
    fn selector_semantics() {
        let p = pod("a", true, false);
        let with = |sel: serde_json::Value| -> PodDisruptionBudget {
            serde_json::from_value(json!({"metadata": {"name": "x"}, "spec": {"selector": sel}}))
                .expect("pdb")
        };
        assert!(selects(&with(json!({})), &p));
        assert!(selects(&with(json!({"matchLabels": {"app": "web"}})), &p));
        assert!(!selects(&with(json!({"matchLabels": {"app": "db"}})), &p));
        assert!(!selects(&with(serde_json::Value::Null), &p));
    }
}
