//! The taint eviction controller (upstream pkg/controller/tainteviction,
//! the "taint manager"): pods on a node with NoExecute taints they do not
//! tolerate are deleted at once; pods tolerating them for
//! `tolerationSeconds` are deleted when that time has passed since the taint
//! was added. Each eviction gets a DisruptionTarget condition and an event.

use crate::events;
use crate::informers::{hash_json, ChangeFilter, Informer};
use crate::runner::{error_policy, run_reconcile, Context};
use crate::ControllerError;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::ResourceExt;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const COMPONENT: &str = "taint-eviction-controller";

/// ToleratesTaint: effect (empty = any), key (empty + Exists = any), then
/// Exists, or Equal (the default) with an equal value.
pub fn tolerates(tol: &Toleration, taint: &Taint) -> bool {
    let effect = tol.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = tol.key.as_deref().unwrap_or("");
    let op = tol.operator.as_deref().unwrap_or("Equal");
    if key.is_empty() {
        return op == "Exists";
    }
    if key != taint.key {
        return false;
    }
    match op {
        "Exists" => true,
        "Equal" | "" => tol.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// No NoExecute taint, or all tolerated forever.
    Never,
    Now,
    After(Duration),
}

/// When a pod with `tolerations` must go given the node's NoExecute `taints`.
/// Each taint is tolerated by its first matching toleration for
/// `tolerationSeconds` (absent = forever, negative = 0) counted from the
/// taint's `timeAdded` (or `first_seen` of it when unset).
pub fn decide(
    taints: &[Taint],
    tolerations: &[Toleration],
    now: Timestamp,
    first_seen: &dyn Fn(&Taint) -> Timestamp,
) -> Eviction {
    let mut deadline: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let Some(tol) = tolerations.iter().find(|tol| tolerates(tol, taint)) else {
            return Eviction::Now;
        };
        let Some(seconds) = tol.toleration_seconds else {
            continue;
        };
        let start = taint
            .time_added
            .as_ref()
            .map_or_else(|| first_seen(taint), |t| t.0);
        let due = start
            .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(seconds.max(0)))
            .unwrap_or(start);
        deadline = Some(deadline.map_or(due, |d| d.min(due)));
    }
    match deadline {
        None => Eviction::Never,
        Some(d) if d <= now => Eviction::Now,
        Some(d) => Eviction::After(Duration::try_from(now.duration_until(d)).unwrap_or_default()),
    }
}

struct State {
    nodes: Arc<Informer<Node>>,
    /// When a taint without timeAdded was first seen, per (node, key, value).
    first_seen: Mutex<HashMap<(String, String, String), Timestamp>>,
    /// Pods with a pending (timed) eviction, for the cancel event.
    scheduled: Mutex<HashSet<String>>,
}

fn pod_key(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any())
}

async fn evict(client: &kube::Client, pod: &Pod) -> Result<(), kube::Error> {
    let ns = pod.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    events::record(
        client,
        COMPONENT,
        pod,
        "Normal",
        "TaintManagerEviction",
        format!("Marking for deletion Pod {}", pod_key(pod)),
    )
    .await;
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
        "lastTransitionTime": Time(Timestamp::now()),
    }]}});
    let name = pod.name_any();
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Strategic(condition))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(e) => return Err(e),
    }
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn reconcile(
    pod: Arc<Pod>,
    ctx: Arc<Context>,
    state: Arc<State>,
) -> Result<Action, ControllerError> {
    // Every input (the pod, its node's taints) wakes us: no periodic
    // resync, which at 150,000 pods would be a busy loop of its own.
    let idle = Action::await_change();
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let (Some(node_name), None) = (node_name, &pod.metadata.deletion_timestamp) else {
        return Ok(idle);
    };
    let taints: Vec<Taint> = state
        .nodes
        .get(None, &node_name)
        .and_then(|n| n.spec.as_ref()?.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.effect == "NoExecute")
        .collect();
    let now = Timestamp::now();
    let first_seen = |t: &Taint| {
        let key = (
            node_name.clone(),
            t.key.clone(),
            t.value.clone().unwrap_or_default(),
        );
        let mut seen = state.first_seen.lock().unwrap_or_else(|p| p.into_inner());
        *seen.entry(key).or_insert(now)
    };
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let key = pod_key(&pod);
    let decision = decide(&taints, &tolerations, now, &first_seen);
    let was_scheduled = {
        let mut scheduled = state.scheduled.lock().unwrap_or_else(|p| p.into_inner());
        match decision {
            Eviction::After(_) => !scheduled.insert(key.clone()),
            _ => scheduled.remove(&key),
        }
    };
    match decision {
        Eviction::Now => {
            evict(&ctx.client, &pod).await?;
            Ok(idle)
        }
        // A little slack so the requeue lands after the deadline, not before.
        Eviction::After(d) => Ok(Action::requeue(d + Duration::from_millis(50))),
        Eviction::Never => {
            if was_scheduled {
                events::record(
                    &ctx.client,
                    COMPONENT,
                    pod.as_ref(),
                    "Normal",
                    "TaintManagerEviction",
                    format!("Cancelling deletion of Pod {key}"),
                )
                .await;
            }
            Ok(idle)
        }
    }
}

fn taints_fingerprint(node: &Node) -> u64 {
    hash_json(&node.spec.as_ref().and_then(|s| s.taints.as_ref()))
}

/// Run the taint eviction controller until the watches end.
pub async fn run_taint_eviction_controller(_client: kube::Client, ctx: Arc<Context>) {
    let nodes = ctx.informers.nodes();
    let pods = ctx.informers.pods();
    let node_events = nodes.subscribe();
    nodes.ready().await;
    let state = Arc::new(State {
        nodes: nodes.clone(),
        first_seen: Mutex::new(HashMap::new()),
        scheduled: Mutex::new(HashSet::new()),
    });
    // A node's taints changing re-evaluates every pod bound to it (found
    // through the pod cache's node index); other node updates do nothing.
    let taints = ChangeFilter::new(taints_fingerprint);
    let pod_cache = pods.clone();
    let pods_on_node = move |node: Arc<Node>| {
        let name = node.name_any();
        if !taints.changed(&node, nodes.get(None, &name).is_some()) {
            return Vec::new();
        }
        pod_cache
            .on_node(&name)
            .iter()
            .map(|p| ObjectRef::from_obj(p.as_ref()))
            .collect::<Vec<_>>()
    };
    Controller::for_shared_stream(pods.subscribe(), pods.ready_store().await)
        .watches_shared_stream(node_events, pods_on_node)
        .run(
            move |pod, ctx| {
                let state = state.clone();
                run_reconcile(pod, ctx, move |pod, ctx| reconcile(pod, ctx, state))
            },
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "taint eviction controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: Option<&str>, added: Option<&str>) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(Into::into),
            effect: "NoExecute".into(),
            time_added: added.map(|a| Time(a.parse().expect("time"))),
        }
    }

    fn tol(v: serde_json::Value) -> Toleration {
        serde_json::from_value(v).expect("toleration")
    }

    #[test]
    fn toleration_matching() {
        let t = taint("k", Some("v"), None);
        let cases = [
            (json!({"key": "k", "operator": "Equal", "value": "v"}), true),
            (
                json!({"key": "k", "value": "v", "effect": "NoExecute"}),
                true,
            ),
            (json!({"key": "k", "value": "w"}), false),
            (json!({"key": "k", "operator": "Exists"}), true),
            (
                json!({"key": "k", "operator": "Exists", "effect": "NoSchedule"}),
                false,
            ),
            (json!({"operator": "Exists"}), true),
            (json!({"key": "", "operator": "Equal"}), false),
            (json!({"key": "other", "operator": "Exists"}), false),
        ];
        for (v, want) in cases {
            assert_eq!(tolerates(&tol(v.clone()), &t), want, "{v}");
        }
    }

    #[test]
    fn eviction_decisions() {
        let now: Timestamp = "2024-01-01T00:01:00Z".parse().expect("now");
        let unseen = |_: &Taint| now;
        let unreachable = taint(
            "node.kubernetes.io/unreachable",
            None,
            Some("2024-01-01T00:00:00Z"),
        );
        let tol_for = |secs: Option<i64>| {
            let mut v = json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"});
            if let Some(s) = secs {
                v["tolerationSeconds"] = json!(s);
            }
            tol(v)
        };
        let cases = [
            (vec![], vec![], Eviction::Never),
            (vec![unreachable.clone()], vec![], Eviction::Now),
            (
                vec![unreachable.clone()],
                vec![tol_for(None)],
                Eviction::Never,
            ),
            (
                vec![unreachable.clone()],
                vec![tol_for(Some(300))],
                Eviction::After(Duration::from_secs(240)),
            ),
            (
                vec![unreachable.clone()],
                vec![tol_for(Some(30))],
                Eviction::Now,
            ),
            (
                vec![unreachable.clone()],
                vec![tol_for(Some(-5))],
                Eviction::Now,
            ),
            // A second, untolerated taint wins.
            (
                vec![unreachable.clone(), taint("x", None, None)],
                vec![tol_for(None)],
                Eviction::Now,
            ),
            // No timeAdded: counted from when it was first seen (now).
            (
                vec![taint("node.kubernetes.io/unreachable", None, None)],
                vec![tol_for(Some(10))],
                Eviction::After(Duration::from_secs(10)),
            ),
        ];
        for (i, (taints, tols, want)) in cases.into_iter().enumerate() {
            assert_eq!(decide(&taints, &tols, now, &unseen), want, "case {i}");
        }
    }
}
