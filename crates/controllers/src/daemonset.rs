//! DaemonSet controller (apps/v1): one pod per eligible node, pinned to it by
//! a required node affinity on `metadata.name` (the scheduler binds it, as
//! upstream), with the default daemon tolerations; ControllerRevisions
//! `<ds>-<hash>` carry the template so `kubectl rollout history/undo` work;
//! RollingUpdate (maxUnavailable or maxSurge) and OnDelete; status counts.
//!
//! Pure parts: [`node_fit`], [`plan`] (per-node create/delete + rolling
//! update + status), [`revision_data`]. [`reconcile`] does the I/O.

use crate::clock::Clock;
use crate::error::{ControllerError, Result};
use crate::events;
use crate::owner::{controller_of, owner_reference};
use crate::pod_state::{availability, is_ready};
use crate::rollout::scaled_value;
use crate::runner::Context;
use crate::template_hash;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::{json, Value};
use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "daemonset-controller";
pub const REVISION_HASH_LABEL: &str = "controller-revision-hash";
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// Upstream's burstReplicas.
const BURST: usize = 250;

/// Whether the DaemonSet's pod belongs on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeFit {
    /// A new pod should be placed there.
    pub should_run: bool,
    /// An existing pod may stay (NoSchedule taints do not evict).
    pub should_continue: bool,
}

/// The tolerations upstream adds to every daemon pod, so daemons run on
/// nodes that are not ready, under pressure or cordoned.
pub fn daemon_tolerations(spec: &PodSpec) -> Vec<Toleration> {
    let mut list = spec.tolerations.clone().unwrap_or_default();
    let mut defaults = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        defaults.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    for (key, effect) in defaults {
        let t = Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(effect.into()),
            ..Default::default()
        };
        // Replace a user toleration for the same key+effect, as upstream's AddOrUpdate.
        list.retain(|u| !(u.key.as_deref() == Some(key) && u.effect.as_deref() == Some(effect)));
        list.push(t);
    }
    list
}

fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect
        .as_deref()
        .is_some_and(|e| !e.is_empty() && e != taint.effect)
    {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    let exists = t.operator.as_deref() == Some("Exists");
    if key.is_empty() {
        return exists;
    }
    if key != taint.key {
        return false;
    }
    exists || t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or(&[]);
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(want)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

/// Terms are ORed; inside a term every expression and field must match.
fn node_selector_matches(selector: &NodeSelector, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let name = node.name_any();
    selector.node_selector_terms.iter().any(|term| {
        let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
        let fields = term.match_fields.as_deref().unwrap_or(&[]);
        if exprs.is_empty() && fields.is_empty() {
            return false;
        }
        exprs
            .iter()
            .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
            && fields
                .iter()
                .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(name.as_str())))
    })
}

/// Does the pod template fit `node`: nodeSelector, required node affinity,
/// taints against the template's tolerations plus the daemon defaults.
pub fn node_fit(node: &Node, spec: &PodSpec) -> NodeFit {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let affinity_ok = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .is_none_or(|sel| node_selector_matches(sel, node));
    let tolerations = daemon_tolerations(spec);
    let untolerated = |effect: &str| {
        node.spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .filter(|t| t.effect == effect)
            .any(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
    };
    let should_continue = selector_ok && affinity_ok && !untolerated("NoExecute");
    NodeFit {
        should_run: should_continue && !untolerated("NoSchedule"),
        should_continue,
    }
}

/// The node a daemon pod is for: its nodeName, or (before the scheduler
/// binds it) the `metadata.name` in its required node affinity.
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|t| {
        t.match_fields.iter().flatten().find_map(|f| {
            (f.key == "metadata.name" && f.operator == "In")
                .then(|| f.values.as_ref()?.first().cloned())
                .flatten()
        })
    })
}

/// The affinity with its required node terms replaced by one that selects
/// exactly `node` (upstream's ReplaceDaemonSetPodNodeNameNodeAffinity).
fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let mut affinity = affinity.unwrap_or_default();
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
        }],
    });
    affinity
}

/// The daemon pod for `node`.
pub fn pod_for(ds: &DaemonSet, node: &str, hash: &str) -> Result<Pod> {
    let spec = ds
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(ds.name_any(), "spec"))?;
    let tmeta = spec.template.metadata.clone().unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.insert(REVISION_HASH_LABEL.into(), hash.into());
    if let Some(g) = ds.metadata.generation {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), g.to_string());
    }
    let mut pod_spec = spec
        .template
        .spec
        .clone()
        .ok_or_else(|| ControllerError::MissingField(ds.name_any(), "spec.template.spec"))?;
    pod_spec.tolerations = Some(daemon_tolerations(&pod_spec));
    pod_spec.affinity = Some(pin_to_node(pod_spec.affinity.take(), node));
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", ds.name_any())),
            namespace: ds.namespace(),
            labels: Some(labels),
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![owner_reference(ds)?]),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    })
}

/// ControllerRevision data: the template as a strategic-merge patch that
/// replaces it (what `kubectl rollout undo` applies).
pub fn revision_data(ds: &DaemonSet) -> Value {
    let template = ds
        .spec
        .as_ref()
        .map(|s| serde_json::to_value(&s.template).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    let mut template = match template {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    template.insert("$patch".into(), json!("replace"));
    json!({"spec": {"template": template}})
}

fn pod_hash(pod: &Pod) -> Option<&str> {
    pod.labels().get(REVISION_HASH_LABEL).map(String::as_str)
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

#[derive(Debug, Default)]
pub struct DsPlan {
    /// Nodes that get a new pod.
    pub create_on: Vec<String>,
    pub delete: Vec<String>,
    /// (pod, node) of failed daemon pods being deleted (FailedDaemonPod events).
    pub failed: Vec<(String, String)>,
    pub status: DaemonSetStatus,
    pub requeue: Option<Duration>,
}

fn oldest_first(pods: &mut [&Pod]) {
    pods.sort_by_key(|p| {
        (
            p.metadata.creation_timestamp.as_ref().map(|t| t.0),
            p.name_any(),
        )
    });
}

/// Decide for `ds` given all nodes and its pods, at `now`. Pure.
pub fn plan<N: Borrow<Node>, P: Borrow<Pod>>(
    ds: &DaemonSet,
    nodes: &[N],
    pods: &[P],
    hash: &str,
    now: Timestamp,
) -> Result<DsPlan> {
    let nodes: Vec<&Node> = nodes.iter().map(|n| n.borrow()).collect();
    let nodes = nodes.as_slice();
    let pods: Vec<&Pod> = pods.iter().map(|p| p.borrow()).collect();
    let mut out = DsPlan::default();
    let spec = ds
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(ds.name_any(), "spec"))?;
    let pod_spec = spec.template.spec.clone().unwrap_or_default();
    let min_ready =
        Duration::from_secs(u64::try_from(spec.min_ready_seconds.unwrap_or(0)).unwrap_or(0));
    let available = |p: &Pod| availability(p, min_ready, now);

    let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for pod in pods
        .iter()
        .copied()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        if let Some(node) = target_node(pod) {
            by_node.entry(node).or_default().push(pod);
        }
    }
    let fits: HashMap<String, NodeFit> = nodes
        .iter()
        .map(|n| (n.name_any(), node_fit(n, &pod_spec)))
        .collect();
    let gone = NodeFit {
        should_run: false,
        should_continue: false,
    };
    let desired = i32::try_from(fits.values().filter(|f| f.should_run).count()).unwrap_or(i32::MAX);
    let surge_mode =
        rolling(ds).is_some_and(|(_, surge)| scaled_value(&surge, desired, true).unwrap_or(0) > 0);

    // 1. Per node: create missing, delete failed, excess and misplaced pods.
    let mut live: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for node in nodes {
        let name = node.name_any();
        let fit = fits.get(&name).copied().unwrap_or(gone);
        let mut here: Vec<&Pod> = by_node.get(&name).cloned().unwrap_or_default();
        oldest_first(&mut here);
        if fit.should_run && here.is_empty() {
            out.create_on.push(name.clone());
            continue;
        }
        if !fit.should_continue {
            out.delete.extend(here.iter().map(|p| p.name_any()));
            continue;
        }
        let (failed, running): (Vec<&Pod>, Vec<&Pod>) =
            here.into_iter().partition(|p| phase(p) == Some("Failed"));
        for p in &failed {
            out.failed.push((p.name_any(), name.clone()));
            out.delete.push(p.name_any());
        }
        // Keep the oldest pod (and, while surging, the oldest updated one too).
        let mut keep: Vec<&Pod> = Vec::new();
        if let Some(first) = running.first() {
            keep.push(first);
            if surge_mode && pod_hash(first) != Some(hash) {
                if let Some(updated) = running.iter().find(|p| pod_hash(p) == Some(hash)) {
                    keep.push(updated);
                }
            }
        }
        for p in &running {
            if !keep.iter().any(|k| k.name_any() == p.name_any()) {
                out.delete.push(p.name_any());
            }
        }
        if !keep.is_empty() {
            live.insert(name, keep);
        }
    }
    // Pods on nodes that no longer exist.
    for (node, here) in &by_node {
        if !fits.contains_key(node) {
            out.delete.extend(here.iter().map(|p| p.name_any()));
        }
    }

    // 2. Rolling update over nodes that keep pods.
    if let Some((max_unavailable, max_surge)) = rolling(ds) {
        let (del, create) =
            rolling_update(&live, &fits, hash, max_unavailable, max_surge, &available);
        out.delete.extend(del);
        out.create_on.extend(create);
    }
    out.create_on.truncate(BURST);
    out.delete.sort();
    out.delete.dedup();

    // 3. Status from what exists now.
    let mut status = DaemonSetStatus {
        observed_generation: ds.metadata.generation,
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
        ..Default::default()
    };
    let (mut available_n, mut updated_n) = (0, 0);
    let mut recheck: Option<Duration> = None;
    for node in nodes {
        let name = node.name_any();
        let fit = fits.get(&name).copied().unwrap_or(gone);
        let mut here: Vec<&Pod> = by_node.get(&name).cloned().unwrap_or_default();
        if fit.should_run {
            status.desired_number_scheduled += 1;
            if here.is_empty() {
                continue;
            }
            status.current_number_scheduled += 1;
            // Running before pending, then oldest.
            here.sort_by_key(|p| {
                (
                    phase(p) != Some("Running"),
                    p.metadata.creation_timestamp.as_ref().map(|t| t.0),
                )
            });
            let pod = here[0];
            if is_ready(pod) {
                status.number_ready += 1;
                match available(pod) {
                    Ok(()) => available_n += 1,
                    Err(Some(wait)) => recheck = Some(recheck.map_or(wait, |r| r.min(wait))),
                    Err(None) => {}
                }
            }
            if pod_hash(pod) == Some(hash) {
                updated_n += 1;
            }
        } else if !here.is_empty() {
            status.number_misscheduled += 1;
        }
    }
    status.number_available = Some(available_n);
    status.updated_number_scheduled = Some(updated_n);
    let unavailable = status.desired_number_scheduled - available_n;
    status.number_unavailable = (unavailable > 0).then_some(unavailable);
    out.status = status;
    out.requeue = recheck.map(|d| d + Duration::from_millis(100));
    Ok(out)
}

/// `(maxUnavailable, maxSurge)` for a RollingUpdate DaemonSet, against the
/// number of nodes that should run it; None for OnDelete.
fn rolling(ds: &DaemonSet) -> Option<(IntOrString, IntOrString)> {
    let strategy = ds
        .spec
        .as_ref()?
        .update_strategy
        .clone()
        .unwrap_or_default();
    if strategy.type_.as_deref() == Some("OnDelete") {
        return None;
    }
    let ru = strategy.rolling_update.unwrap_or_default();
    Some((
        ru.max_unavailable.unwrap_or(IntOrString::Int(1)),
        ru.max_surge.unwrap_or(IntOrString::Int(0)),
    ))
}

/// Upstream's rollingUpdate: which old pods to delete and which nodes get
/// a surge pod this pass.
fn rolling_update<F>(
    live: &BTreeMap<String, Vec<&Pod>>,
    fits: &HashMap<String, NodeFit>,
    hash: &str,
    max_unavailable: IntOrString,
    max_surge: IntOrString,
    available: &F,
) -> (Vec<String>, Vec<String>)
where
    F: Fn(&Pod) -> std::result::Result<(), Option<Duration>>,
{
    let desired = i32::try_from(fits.values().filter(|f| f.should_run).count()).unwrap_or(i32::MAX);
    let mut max_surge_n = scaled_value(&max_surge, desired, true).unwrap_or(0);
    let mut max_unavailable_n = scaled_value(&max_unavailable, desired, true).unwrap_or(1);
    if max_surge_n == 0 && max_unavailable_n == 0 {
        max_unavailable_n = 1;
    }
    if max_surge_n > 0 {
        max_unavailable_n = 0;
    } else {
        max_surge_n = 0;
    }
    let is_available = |p: &Pod| available(p).is_ok();
    let mut delete = Vec::new();
    let mut create = Vec::new();
    if max_surge_n == 0 {
        let mut unavailable = 0;
        let mut must_replace = Vec::new();
        let mut candidates = Vec::new();
        for (node, pods) in live {
            if !fits.get(node).is_some_and(|f| f.should_run) {
                continue;
            }
            let new = pods.iter().find(|p| pod_hash(p) == Some(hash));
            let old = pods.iter().find(|p| pod_hash(p) != Some(hash));
            match (new, old) {
                (Some(_), Some(_)) | (None, None) => unavailable += 1,
                (Some(n), None) => {
                    if !is_available(n) {
                        unavailable += 1;
                    }
                }
                (None, Some(o)) => {
                    if !is_available(o) {
                        must_replace.push(o.name_any());
                    } else if unavailable < max_unavailable_n {
                        candidates.push(o.name_any());
                    }
                }
            }
        }
        let room = usize::try_from((max_unavailable_n - unavailable).max(0)).unwrap_or(0);
        delete.extend(must_replace);
        delete.extend(candidates.into_iter().take(room));
    } else {
        let mut surging = 0;
        let mut must_surge = Vec::new();
        let mut candidates = Vec::new();
        for (node, pods) in live {
            if !fits.get(node).is_some_and(|f| f.should_run) {
                continue;
            }
            let new = pods.iter().find(|p| pod_hash(p) == Some(hash));
            let old = pods.iter().find(|p| pod_hash(p) != Some(hash));
            match (new, old) {
                (_, None) => {}
                (None, Some(o)) => {
                    if !is_available(o) {
                        must_surge.push(node.clone());
                    } else if surging < max_surge_n {
                        candidates.push(node.clone());
                    }
                }
                (Some(n), Some(o)) => {
                    if is_available(n) {
                        delete.push(o.name_any());
                    } else {
                        surging += 1;
                    }
                }
            }
        }
        let room = usize::try_from((max_surge_n - surging).max(0)).unwrap_or(0);
        create.extend(must_surge);
        create.extend(candidates.into_iter().take(room));
    }
    (delete, create)
}

/// Find or create the ControllerRevision for the current template; bump a
/// reused older one to the newest number (rollout undo); trim history.
async fn sync_revisions(ctx: &Context, ds: &DaemonSet, pods: &[Arc<Pod>]) -> Result<String> {
    let ns = ds.namespace().unwrap_or_else(|| "default".into());
    let uid = ds.uid().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let spec = ds
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(ds.name_any(), "spec"))?;
    let collision = ds.status.as_ref().and_then(|s| s.collision_count);
    let hash = template_hash::compute(&spec.template, collision);
    let data = revision_data(ds);
    let revisions = ctx.informers.get::<ControllerRevision>();
    let mut owned: Vec<ControllerRevision> = revisions
        .controlled_by(&uid)
        .into_iter()
        .map(|r| (*r).clone())
        .collect();
    owned.sort_by_key(|r| r.revision);
    let max = owned.last().map_or(0, |r| r.revision);
    let current = owned
        .iter()
        .find(|r| r.data.as_ref().map(|d| &d.0) == Some(&data));
    match current {
        Some(r) if r.revision < max => {
            let bumped = api
                .patch(
                    &r.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"revision": max + 1})),
                )
                .await?;
            revisions.expect_written(&uid, &bumped);
        }
        Some(_) => {}
        None => {
            let mut labels = spec
                .template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            labels.insert(REVISION_HASH_LABEL.into(), hash.clone());
            let revision = ControllerRevision {
                metadata: ObjectMeta {
                    name: Some(format!("{}-{hash}", ds.name_any())),
                    namespace: Some(ns.clone()),
                    labels: Some(labels),
                    annotations: ds.metadata.annotations.as_ref().and_then(|a| {
                        a.get("kubernetes.io/change-cause").map(|c| {
                            BTreeMap::from([("kubernetes.io/change-cause".to_string(), c.clone())])
                        })
                    }),
                    owner_references: Some(vec![owner_reference(ds)?]),
                    ..Default::default()
                },
                data: Some(RawExtension(data.clone())),
                revision: max + 1,
            };
            match api.create(&PostParams::default(), &revision).await {
                Ok(created) => revisions.expect_written(&uid, &created),
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    // Same name, different template: a hash collision. Bump
                    // collisionCount so the next pass hashes differently.
                    let existing = api.get(&revision.name_any()).await?;
                    let ours = controller_of(&existing.metadata).is_some_and(|o| o.uid == uid);
                    if !ours || existing.data.as_ref().map(|d| &d.0) != Some(&data) {
                        let ds_api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ns);
                        ds_api
                            .patch_status(
                                &ds.name_any(),
                                &PatchParams::default(),
                                &Patch::Merge(json!({"status": {"collisionCount": collision.unwrap_or(0) + 1}})),
                            )
                            .await?;
                        return Err(ControllerError::Invalid(
                            "controllerrevision",
                            format!("hash collision on {}", revision.name_any()),
                        ));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    // History: keep revisionHistoryLimit old revisions not used by any pod.
    let limit = usize::try_from(spec.revision_history_limit.unwrap_or(10)).unwrap_or(10);
    let in_use: Vec<&str> = pods.iter().filter_map(|p| pod_hash(p)).collect();
    let old: Vec<&ControllerRevision> = owned
        .iter()
        .filter(|r| r.data.as_ref().map(|d| &d.0) != Some(&data))
        .filter(|r| {
            !r.labels()
                .get(REVISION_HASH_LABEL)
                .is_some_and(|h| in_use.contains(&h.as_str()))
        })
        .collect();
    for r in old.iter().take(old.len().saturating_sub(limit)) {
        match api.delete(&r.name_any(), &DeleteParams::default()).await {
            Ok(outcome) => revisions.expect_deleted(&uid, r, outcome.left().as_ref()),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(hash)
}

pub async fn reconcile(ds: Arc<DaemonSet>, ctx: Arc<Context>, clock: Clock) -> Result<Action> {
    if ds.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = ds.namespace().unwrap_or_else(|| "default".into());
    let uid = ds
        .uid()
        .ok_or_else(|| ControllerError::MissingField(ds.name_any(), "metadata.uid"))?;
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let cache = ctx.informers.pods();
    // Expectations: decide only on caches that show our own writes (pods
    // and revisions), or a lagging cache would double a node's pod.
    if !cache.caught_up(&uid) || !ctx.informers.get::<ControllerRevision>().caught_up(&uid) {
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let nodes = ctx.informers.nodes().list();
    let pods: Vec<Arc<Pod>> = cache.controlled_by(&uid);
    let hash = sync_revisions(&ctx, &ds, &pods).await?;
    let plan = plan(&ds, &nodes, &pods, &hash, clock.now())?;

    for (pod, node) in &plan.failed {
        events::record(
            &ctx.client,
            COMPONENT,
            &*ds,
            "Warning",
            "FailedDaemonPod",
            format!("Found failed daemon pod {ns}/{pod} on node {node}, will try to kill it"),
        )
        .await;
    }
    for name in &plan.delete {
        match pods_api.delete(name, &DeleteParams::default()).await {
            Ok(outcome) => {
                if let Some(pod) = pods.iter().find(|p| p.name_any() == *name) {
                    cache.expect_deleted(&uid, pod, outcome.left().as_ref());
                }
                events::record(
                    &ctx.client,
                    COMPONENT,
                    &*ds,
                    "Normal",
                    "SuccessfulDelete",
                    format!("Deleted pod: {name}"),
                )
                .await;
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    for node in &plan.create_on {
        let pod = pod_for(&ds, node, &hash)?;
        match pods_api.create(&PostParams::default(), &pod).await {
            Ok(created) => {
                cache.expect_written(&uid, &created);
                events::record(
                    &ctx.client,
                    COMPONENT,
                    &*ds,
                    "Normal",
                    "SuccessfulCreate",
                    format!("Created pod: {}", created.name_any()),
                )
                .await;
            }
            Err(err) => {
                events::record(
                    &ctx.client,
                    COMPONENT,
                    &*ds,
                    "Warning",
                    "FailedCreate",
                    format!("Error creating: {err}"),
                )
                .await;
                return Err(err.into());
            }
        }
    }
    if ds.status.as_ref() != Some(&plan.status) {
        let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ns);
        let mut updated = (*ds).clone();
        updated.status = Some(plan.status.clone());
        api.replace_status(&ds.name_any(), &PostParams::default(), &updated)
            .await?;
    }
    Ok(Action::requeue(
        plan.requeue.map_or(ctx.resync, |d| d.min(ctx.resync)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, labels: Value, taints: Value) -> Node {
        serde_json::from_value(
            json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}}),
        )
        .expect("node")
    }

    fn spec(extra: Value) -> PodSpec {
        let mut base = json!({"containers": [{"name": "c", "image": "i"}]});
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).expect("spec")
    }

    #[test]
    fn node_fit_table() {
        let fit = |run, cont| NodeFit {
            should_run: run,
            should_continue: cont,
        };
        let cases = [
            (
                "plain node",
                node("n", json!({}), json!([])),
                spec(json!({})),
                fit(true, true),
            ),
            (
                "selector miss",
                node("n", json!({"disk": "hdd"}), json!([])),
                spec(json!({"nodeSelector": {"disk": "ssd"}})),
                fit(false, false),
            ),
            (
                "selector hit",
                node("n", json!({"disk": "ssd"}), json!([])),
                spec(json!({"nodeSelector": {"disk": "ssd"}})),
                fit(true, true),
            ),
            (
                "NoSchedule taint keeps existing pods",
                node(
                    "n",
                    json!({}),
                    json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
                ),
                spec(json!({})),
                fit(false, true),
            ),
            (
                "NoExecute taint evicts",
                node(
                    "n",
                    json!({}),
                    json!([{"key": "dedicated", "effect": "NoExecute"}]),
                ),
                spec(json!({})),
                fit(false, false),
            ),
            (
                "tolerated",
                node(
                    "n",
                    json!({}),
                    json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
                ),
                spec(
                    json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db"}]}),
                ),
                fit(true, true),
            ),
            (
                "not-ready and unschedulable are tolerated by default",
                node(
                    "n",
                    json!({}),
                    json!([
                {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"},
                {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
                ),
                spec(json!({})),
                fit(true, true),
            ),
            (
                "network-unavailable only for hostNetwork",
                node(
                    "n",
                    json!({}),
                    json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
                ),
                spec(json!({})),
                fit(false, true),
            ),
            (
                "network-unavailable, hostNetwork",
                node(
                    "n",
                    json!({}),
                    json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
                ),
                spec(json!({"hostNetwork": true})),
                fit(true, true),
            ),
            (
                "required affinity miss",
                node("n", json!({"zone": "b"}), json!([])),
                spec(
                    json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}}),
                ),
                fit(false, false),
            ),
            (
                "required affinity, second term",
                node("n", json!({"gen": "5"}), json!([])),
                spec(
                    json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}, {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["3"]}]}]}}}}),
                ),
                fit(true, true),
            ),
        ];
        for (name, n, s, want) in cases {
            assert_eq!(node_fit(&n, &s), want, "{name}");
        }
    }

    fn ds(strategy: Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "agent", "namespace": "default", "uid": "ds-uid", "generation": 2},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "updateStrategy": strategy,
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}],
                                           "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}]}}}}}},
        }))
        .expect("ds")
    }

    fn dpod(name: &str, node: &str, hash: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {REVISION_HASH_LABEL: hash}, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
        }))
        .expect("pod")
    }

    fn now() -> Timestamp {
        "2026-01-01T01:00:00Z".parse().expect("ts")
    }

    #[test]
    fn daemon_pod_is_pinned_tolerant_and_labelled() {
        let d = ds(json!({}));
        let p = pod_for(&d, "node-1", "abc").expect("pod");
        assert_eq!(target_node(&p).as_deref(), Some("node-1"));
        let terms = p
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|r| r.node_selector_terms.clone())
            .expect("terms");
        assert_eq!(terms.len(), 1, "user terms replaced by the pin");
        assert_eq!(
            p.labels().get(REVISION_HASH_LABEL).map(String::as_str),
            Some("abc")
        );
        assert_eq!(
            p.labels()
                .get(TEMPLATE_GENERATION_LABEL)
                .map(String::as_str),
            Some("2")
        );
        let tolerations = p.spec.and_then(|s| s.tolerations).expect("tolerations");
        assert_eq!(tolerations.len(), 6);
        assert_eq!(p.metadata.generate_name.as_deref(), Some("agent-"));
    }

    #[test]
    fn manage_creates_missing_and_removes_misplaced() {
        let d = ds(json!({"type": "OnDelete"}));
        let nodes = [
            node("a", json!({}), json!([])),
            node("b", json!({}), json!([])),
            node("c", json!({"x": "1"}), json!([])),
        ];
        let pods = [
            dpod("on-a", "a", "h", true),
            dpod("on-a-2", "a", "h", true),
            dpod("on-c", "c", "h", true),
            dpod("on-gone", "zz", "h", true),
        ];
        let mut failed = dpod("failed-b", "b", "h", false);
        if let Some(s) = failed.status.as_mut() {
            s.phase = Some("Failed".into());
        }
        let mut all = pods.to_vec();
        all.push(failed);
        let p = plan(&d, &nodes, &all, "h", now()).expect("plan");
        assert!(
            p.create_on.is_empty(),
            "b has a (failed) pod this pass; replaced next pass"
        );
        assert_eq!(p.delete, ["failed-b", "on-a-2", "on-c", "on-gone"]);
        assert_eq!(p.failed, [("failed-b".to_string(), "b".to_string())]);
        let p = plan(&d, &nodes, &pods, "h", now()).expect("plan");
        assert_eq!(p.create_on, ["b"]);
        let s = &p.status;
        assert_eq!(
            (
                s.desired_number_scheduled,
                s.current_number_scheduled,
                s.number_misscheduled,
                s.number_ready
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(
            (
                s.number_available,
                s.updated_number_scheduled,
                s.number_unavailable
            ),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(s.observed_generation, Some(2));
    }

    #[test]
    fn rolling_update_respects_max_unavailable() {
        let nodes: Vec<Node> = ["a", "b", "c"]
            .iter()
            .map(|n| node(n, json!({}), json!([])))
            .collect();
        let old = [
            dpod("pa", "a", "old", true),
            dpod("pb", "b", "old", true),
            dpod("pc", "c", "old", true),
        ];
        let d = ds(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}));
        let p = plan(&d, &nodes, &old, "new", now()).expect("plan");
        assert_eq!(p.delete.len(), 1);
        let d2 = ds(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}}));
        assert_eq!(
            plan(&d2, &nodes, &old, "new", now())
                .expect("plan")
                .delete
                .len(),
            3
        );
        // One node already unavailable (new pod not ready): no more deletions.
        let pods = [
            dpod("pa", "a", "new", false),
            dpod("pb", "b", "old", true),
            dpod("pc", "c", "old", true),
        ];
        assert!(plan(&d, &nodes, &pods, "new", now())
            .expect("plan")
            .delete
            .is_empty());
        // An unavailable old pod is replaced without using the budget (as
        // upstream), so one available old pod goes too.
        let pods = [
            dpod("pa", "a", "old", false),
            dpod("pb", "b", "old", true),
            dpod("pc", "c", "old", true),
        ];
        assert_eq!(
            plan(&d, &nodes, &pods, "new", now()).expect("plan").delete,
            ["pa", "pb"]
        );
        // OnDelete leaves old pods alone.
        let d3 = ds(json!({"type": "OnDelete"}));
        assert!(plan(&d3, &nodes, &old, "new", now())
            .expect("plan")
            .delete
            .is_empty());
    }

    #[test]
    fn rolling_update_with_surge_creates_then_deletes() {
        let nodes: Vec<Node> = ["a", "b"]
            .iter()
            .map(|n| node(n, json!({}), json!([])))
            .collect();
        let d = ds(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
        );
        let old = [dpod("pa", "a", "old", true), dpod("pb", "b", "old", true)];
        let p = plan(&d, &nodes, &old, "new", now()).expect("plan");
        assert_eq!((p.create_on.len(), p.delete.len()), (1, 0));
        // New pod on a is available: its old pod goes, and b may surge now.
        let pods = [
            dpod("pa", "a", "old", true),
            dpod("na", "a", "new", true),
            dpod("pb", "b", "old", true),
        ];
        let p = plan(&d, &nodes, &pods, "new", now()).expect("plan");
        assert_eq!(p.delete, ["pa"]);
        assert_eq!(p.create_on, ["b"]);
    }

    #[test]
    fn revision_data_replaces_the_template() {
        let data = revision_data(&ds(json!({})));
        assert_eq!(data["spec"]["template"]["$patch"], json!("replace"));
        assert_eq!(
            data["spec"]["template"]["metadata"]["labels"]["app"],
            json!("agent")
        );
    }
}
