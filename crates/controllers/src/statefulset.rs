//! StatefulSet controller (apps/v1), after upstream's statefulset package:
//! pods `<set>-<ordinal>` with a stable identity (hostname, subdomain,
//! pod-name/pod-index labels) and stable storage (PVCs
//! `<template>-<set>-<ordinal>` created before their pod and kept unless the
//! retention policy says Delete), OrderedReady or Parallel pod management,
//! RollingUpdate (highest ordinal first, partition, optional maxUnavailable)
//! or OnDelete, ControllerRevisions `<set>-<hash>` and status.
//!
//! ```text
//! pods, revisions, claims ──▶ sync_revisions (current, update, collisionCount)
//!                         ──▶ plan (pure: ordered steps + status)
//!                         ──▶ execute steps (claims → pod, deletes, label fixes)
//!                         ──▶ status, history trim
//! ```
//!
//! Pure parts: [`ordinal_of`], [`new_pod`], [`claims_for`],
//! [`plan_revision`], [`plan`], [`history_to_delete`].

use crate::error::{ControllerError, Result};
use crate::events;
use crate::informers::Informer;
use crate::owner::{controller_of, owner_reference};
use crate::pod_state::{availability, is_ready};
use crate::rollout::scaled_value;
use crate::runner::{error_policy, run_reconcile, Context};
use crate::selector;
use crate::template_hash;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::ResourceExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "statefulset-controller";
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// On pods: the name of their ControllerRevision; on revisions: the hash.
pub const REVISION_LABEL: &str = "controller-revision-hash";
/// Upstream truncates the set name so `<name>-<hash>` stays a valid name.
const MAX_REVISION_PREFIX: usize = 223;

// ---------------------------------------------------------------- identity

/// The ordinal of `pod_name` if it is `<set_name>-<digits>`.
pub fn ordinal_of(set_name: &str, pod_name: &str) -> Option<i32> {
    let (parent, digits) = pod_name.rsplit_once('-')?;
    if parent != set_name || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn pod_name(set_name: &str, ordinal: i32) -> String {
    format!("{set_name}-{ordinal}")
}

pub fn claim_name(template: &str, set_name: &str, ordinal: i32) -> String {
    format!("{template}-{set_name}-{ordinal}")
}

fn spec_replicas(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0)
}

fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
        .max(0)
}

fn is_parallel(set: &StatefulSet) -> bool {
    set.spec
        .as_ref()
        .and_then(|s| s.pod_management_policy.as_deref())
        == Some("Parallel")
}

fn is_on_delete(set: &StatefulSet) -> bool {
    set.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        == Some("OnDelete")
}

/// `(whenDeleted == Delete, whenScaled == Delete)`; both Retain by default.
fn retention(set: &StatefulSet) -> (bool, bool) {
    let policy = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let delete = |v: Option<&String>| v.map(String::as_str) == Some("Delete");
    (
        delete(policy.and_then(|p| p.when_deleted.as_ref())),
        delete(policy.and_then(|p| p.when_scaled.as_ref())),
    )
}

fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or(&[])
}

/// The claims of the pod at `ordinal`, as upstream builds them: the
/// template renamed, in the set's namespace, labelled with the selector's
/// matchLabels. Owner references follow the retention policy for a pod in
/// range (whenDeleted=Delete: owned by the set).
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Result<Vec<PersistentVolumeClaim>> {
    let (when_deleted, _) = retention(set);
    let match_labels = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|template| {
            let mut claim = template.clone();
            let name = claim_name(&template.name_any(), &set.name_any(), ordinal);
            let labels = claim.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(match_labels.clone());
            claim.metadata = ObjectMeta {
                name: Some(name),
                namespace: set.namespace(),
                labels: claim.metadata.labels.take(),
                annotations: claim.metadata.annotations.take(),
                owner_references: if when_deleted {
                    Some(vec![owner_reference(set)?])
                } else {
                    None
                },
                ..Default::default()
            };
            claim.status = None;
            Ok(claim)
        })
        .collect()
}

/// The pod at `ordinal` from `template` (the template of `revision`), with
/// its identity, its claims mounted and the revision label.
pub fn new_pod(
    set: &StatefulSet,
    template: &PodTemplateSpec,
    ordinal: i32,
    revision: &str,
) -> Result<Pod> {
    let name = pod_name(&set.name_any(), ordinal);
    let tmeta = template.metadata.clone().unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(REVISION_LABEL.into(), revision.into());
    let mut spec = template
        .spec
        .clone()
        .ok_or_else(|| ControllerError::MissingField(set.name_any(), "spec.template.spec"))?;
    spec.hostname = Some(name.clone());
    spec.subdomain = set
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty());
    // Claim volumes replace template volumes of the same name.
    let mut volumes: Vec<Volume> = claim_templates(set)
        .iter()
        .map(|t| Volume {
            name: t.name_any(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&t.name_any(), &set.name_any(), ordinal),
                read_only: None,
            }),
            ..Default::default()
        })
        .collect();
    for v in spec.volumes.take().unwrap_or_default() {
        if !volumes.iter().any(|c| c.name == v.name) {
            volumes.push(v);
        }
    }
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: set.namespace(),
            labels: Some(labels),
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![owner_reference(set)?]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    })
}

/// Name and pod-name/pod-index labels fit the ordinal.
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(ordinal) = ordinal_of(&set.name_any(), &pod.name_any()) else {
        return false;
    };
    let labels = pod.labels();
    pod.namespace() == set.namespace()
        && labels.get(POD_NAME_LABEL) == Some(&pod.name_any())
        && labels.get(POD_INDEX_LABEL) == Some(&ordinal.to_string())
}

// --------------------------------------------------------------- revisions

/// ControllerRevision data: a strategic-merge patch replacing the template
/// (what `kubectl rollout undo` applies), as upstream records it.
pub fn revision_data(template: &PodTemplateSpec) -> Value {
    let mut t = match serde_json::to_value(template) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    t.insert("$patch".into(), json!("replace"));
    json!({"spec": {"template": t}})
}

/// The template a revision recorded.
pub fn template_of_revision(rev: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = rev.data.as_ref()?.0.pointer("/spec/template")?.clone();
    if let Some(m) = t.as_object_mut() {
        m.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// A new ControllerRevision for `set` numbered `revision`.
pub fn new_revision(
    set: &StatefulSet,
    revision: i64,
    collision: i32,
) -> Result<ControllerRevision> {
    let spec = set
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(set.name_any(), "spec"))?;
    let hash = template_hash::compute(&spec.template, Some(collision).filter(|c| *c > 0));
    let prefix: String = set.name_any().chars().take(MAX_REVISION_PREFIX).collect();
    let mut labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), hash.clone());
    Ok(ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{prefix}-{hash}")),
            namespace: set.namespace(),
            labels: Some(labels),
            annotations: set.metadata.annotations.clone(),
            owner_references: Some(vec![owner_reference(set)?]),
            ..Default::default()
        },
        data: Some(RawExtension(revision_data(&spec.template))),
        revision,
    })
}

/// What the update revision is, given the set's revisions sorted by number.
#[derive(Debug)]
pub enum RevisionStep {
    /// The newest revision already records the template.
    Reuse(usize),
    /// An older revision records it (a rollback): give it the next number.
    Renumber(usize, i64),
    Create(Box<ControllerRevision>),
}

pub fn plan_revision(
    set: &StatefulSet,
    sorted: &[ControllerRevision],
    collision: i32,
) -> Result<RevisionStep> {
    let next = sorted.last().map_or(1, |r| r.revision + 1);
    let wanted = new_revision(set, next, collision)?;
    let data = wanted.data.as_ref().map(|d| &d.0);
    match sorted
        .iter()
        .rposition(|r| r.data.as_ref().map(|d| &d.0) == data)
    {
        Some(i) if i + 1 == sorted.len() => Ok(RevisionStep::Reuse(i)),
        Some(i) => Ok(RevisionStep::Renumber(i, next)),
        None => Ok(RevisionStep::Create(Box::new(wanted))),
    }
}

/// Names of revisions to delete so that at most revisionHistoryLimit
/// revisions are kept besides the live ones (current, update, and any a
/// pod still runs), oldest first.
pub fn history_to_delete(
    set: &StatefulSet,
    sorted: &[ControllerRevision],
    pods: &[Pod],
    live: &[&str],
) -> Vec<String> {
    let limit = usize::try_from(
        set.spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(10),
    )
    .unwrap_or(10);
    let in_use: BTreeSet<&str> = pods
        .iter()
        .filter_map(|p| p.labels().get(REVISION_LABEL).map(String::as_str))
        .chain(live.iter().copied())
        .collect();
    let history: Vec<String> = sorted
        .iter()
        .map(|r| r.name_any())
        .filter(|n| !in_use.contains(n.as_str()))
        .collect();
    let excess = history.len().saturating_sub(limit);
    history.into_iter().take(excess).collect()
}

// ------------------------------------------------------------------- plan

/// A revision as the plan needs it.
#[derive(Debug, Clone)]
pub struct Revision {
    pub name: String,
    pub template: PodTemplateSpec,
}

/// What the reconcile observed.
pub struct Observed<'a> {
    /// Pods the set controls.
    pub pods: &'a [Pod],
    /// Claims in the set's namespace (only those of its templates matter).
    pub claims: &'a [PersistentVolumeClaim],
    pub current: &'a Revision,
    pub update: &'a Revision,
    pub collision_count: i32,
    pub now: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// Failed or Succeeded: recreated with the same name once gone.
    Terminal,
    ScaleDown,
    Update,
}

#[derive(Debug)]
pub enum Step {
    /// Create the missing claims, then the pod.
    CreatePod {
        pod: Box<Pod>,
        claims: Vec<PersistentVolumeClaim>,
    },
    /// Create claims missing for an existing (Pending) pod.
    CreateClaims {
        pod: String,
        claims: Vec<PersistentVolumeClaim>,
    },
    DeletePod {
        name: String,
        reason: DeleteReason,
    },
    /// Restore the pod-name / pod-index labels.
    FixIdentity {
        name: String,
        ordinal: i32,
    },
    /// Point a claim's ownerReferences where the retention policy says.
    SetClaimOwners {
        claim: String,
        refs: Vec<OwnerReference>,
    },
}

#[derive(Debug, Default)]
pub struct StsPlan {
    pub steps: Vec<Step>,
    pub status: StatefulSetStatus,
    /// When a ready pod becomes available (minReadySeconds).
    pub requeue: Option<Duration>,
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn running_and_ready(pod: &Pod) -> bool {
    phase(pod) == Some("Running") && is_ready(pod)
}

fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn healthy(pod: &Pod) -> bool {
    running_and_ready(pod) && !terminating(pod)
}

fn revision_of(pod: &Pod) -> Option<&str> {
    pod.labels().get(REVISION_LABEL).map(String::as_str)
}

fn is_ref_to(r: &OwnerReference, api_version: &str, kind: &str, name: &str) -> bool {
    r.api_version == api_version && r.kind == kind && r.name == name
}

/// The claim's ownerReferences the retention policy asks for, when they
/// differ from what it has. Claims with a stale reference (same name,
/// other uid: an earlier set or pod) or another controller are left alone.
pub fn claim_owner_refs(
    set: &StatefulSet,
    claim: &PersistentVolumeClaim,
    pod: &Pod,
    in_range: bool,
) -> Option<Vec<OwnerReference>> {
    let set_uid = set.uid()?;
    let pod_uid = pod.uid()?;
    let (set_name, pod_name) = (set.name_any(), pod.name_any());
    let refs = claim.owner_references();
    let is_set = |r: &OwnerReference| is_ref_to(r, "apps/v1", "StatefulSet", &set_name);
    let is_pod = |r: &OwnerReference| is_ref_to(r, "v1", "Pod", &pod_name);
    if refs
        .iter()
        .any(|r| (is_set(r) && r.uid != set_uid) || (is_pod(r) && r.uid != pod_uid))
    {
        return None;
    }
    if refs
        .iter()
        .any(|r| !is_set(r) && !is_pod(r) && r.controller == Some(true))
    {
        return None;
    }
    let (when_deleted, when_scaled) = retention(set);
    let mut want: Vec<OwnerReference> = refs
        .iter()
        .filter(|r| !is_set(r) && !is_pod(r))
        .cloned()
        .collect();
    let controller_ref =
        |api_version: &str, kind: &str, name: String, uid: String| OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name,
            uid,
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
    // Scaled down: owned by the pod (deleted with it) when whenScaled=Delete;
    // otherwise owned by the set when whenDeleted=Delete.
    if !in_range && when_scaled {
        want.push(controller_ref("v1", "Pod", pod_name, pod_uid));
    } else if when_deleted && (in_range || !when_scaled) {
        want.push(controller_ref("apps/v1", "StatefulSet", set_name, set_uid));
    }
    (want.as_slice() != refs).then_some(want)
}

/// One replica slot: the pod there or the pod that would be created.
struct Slot<'a> {
    ordinal: i32,
    pod: Option<&'a Pod>,
    /// Revision name the slot has (its pod's) or would get.
    revision: String,
}

/// Which revision a new pod at `ordinal` gets (upstream's
/// newVersionedStatefulSetPod): the current one below the partition (or,
/// without rollingUpdate parameters, below status.currentReplicas).
fn uses_current_revision(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    let strategy = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    let is_rolling = strategy
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    match rolling {
        Some(ru) => ordinal < start + ru.partition.unwrap_or(0),
        None => {
            let current = set
                .status
                .as_ref()
                .and_then(|s| s.current_replicas)
                .unwrap_or(0);
            is_rolling && ordinal < start + current
        }
    }
}

fn partition(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .max(0)
}

fn max_unavailable(set: &StatefulSet) -> Option<IntOrString> {
    set.spec
        .as_ref()?
        .update_strategy
        .as_ref()?
        .rolling_update
        .as_ref()?
        .max_unavailable
        .clone()
}

/// Decide what to do for `set`, in upstream's order: replicas by ascending
/// ordinal (recreate terminal pods, create missing ones with their claims,
/// fix identity), then scale-down by descending ordinal, then the rolling
/// update. OrderedReady stops at the first pod that is not yet Running,
/// Ready and available; Parallel does everything at once. Pure.
pub fn plan(set: &StatefulSet, obs: &Observed) -> Result<StsPlan> {
    let set_name = set.name_any();
    let replicas = spec_replicas(set);
    let start = start_ordinal(set);
    let min_ready = Duration::from_secs(
        u64::try_from(
            set.spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0),
        )
        .unwrap_or(0),
    );
    let mut out = StsPlan::default();
    let mut recheck: Option<Duration> = None;
    let mut available = |pod: &Pod| -> bool {
        if !running_and_ready(pod) {
            return false;
        }
        match availability(pod, min_ready, obs.now) {
            Ok(()) => true,
            Err(wait) => {
                if let Some(w) = wait {
                    recheck = Some(recheck.map_or(w, |r: Duration| r.min(w)));
                }
                false
            }
        }
    };

    // Partition pods into replica slots and condemned (out of range).
    let mut in_range: BTreeMap<i32, &Pod> = BTreeMap::new();
    let mut condemned: Vec<(i32, &Pod)> = Vec::new();
    for pod in obs.pods {
        match ordinal_of(&set_name, &pod.name_any()) {
            Some(o) if o >= start && o < start + replicas => {
                in_range.insert(o, pod);
            }
            Some(o) => condemned.push((o, pod)),
            None => {}
        }
    }
    condemned.sort_by_key(|(o, _)| std::cmp::Reverse(*o));
    let slots: Vec<Slot> = (start..start + replicas)
        .map(|ordinal| {
            let pod = in_range.get(&ordinal).copied();
            let revision = match pod {
                Some(p) => revision_of(p).unwrap_or("").to_string(),
                None if uses_current_revision(set, ordinal) => obs.current.name.clone(),
                None => obs.update.name.clone(),
            };
            Slot {
                ordinal,
                pod,
                revision,
            }
        })
        .collect();

    // Status over the pods that exist.
    let existing: Vec<&Pod> = slots
        .iter()
        .filter_map(|s| s.pod)
        .chain(condemned.iter().map(|(_, p)| *p))
        .collect();
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(obs.current.name.clone()),
        update_revision: Some(obs.update.name.clone()),
        collision_count: Some(obs.collision_count),
        conditions: set.status.as_ref().and_then(|s| s.conditions.clone()),
        ..Default::default()
    };
    let (mut ready_n, mut available_n, mut current_n, mut updated_n) = (0, 0, 0, 0);
    for pod in &existing {
        if running_and_ready(pod) {
            ready_n += 1;
            if available(pod) {
                available_n += 1;
            }
        }
        if !terminating(pod) {
            if revision_of(pod) == Some(obs.current.name.as_str()) {
                current_n += 1;
            }
            if revision_of(pod) == Some(obs.update.name.as_str()) {
                updated_n += 1;
            }
        }
    }
    status.replicas = i32::try_from(existing.len()).unwrap_or(i32::MAX);

    // The first unhealthy pod (missing counts), replicas before condemned.
    let first_unhealthy: Option<String> = slots
        .iter()
        .find(|s| s.pod.is_none_or(|p| !healthy(p)))
        .map(|s| pod_name(&set_name, s.ordinal))
        .or_else(|| {
            condemned
                .iter()
                .rev()
                .find(|(_, p)| !healthy(p))
                .map(|(_, p)| p.name_any())
        });

    let monotonic = !is_parallel(set);
    let claim_names: BTreeMap<String, &PersistentVolumeClaim> =
        obs.claims.iter().map(|c| (c.name_any(), c)).collect();
    let mut blocked = set.metadata.deletion_timestamp.is_some();
    let mut deleting: BTreeSet<String> = BTreeSet::new();
    // Claims being collected do not wake the set: look again soon.
    let mut waiting_for_claims = false;

    // 1. Replicas, ascending.
    if !blocked {
        for slot in &slots {
            let name = pod_name(&set_name, slot.ordinal);
            let claims = claims_for(set, slot.ordinal)?;
            match slot.pod {
                Some(pod) if matches!(phase(pod), Some("Failed" | "Succeeded")) => {
                    if !terminating(pod) {
                        out.steps.push(Step::DeletePod {
                            name: name.clone(),
                            reason: DeleteReason::Terminal,
                        });
                        deleting.insert(name);
                    }
                    // Recreated on a later pass, once the old one is gone.
                    if monotonic {
                        blocked = true;
                        break;
                    }
                }
                None => {
                    // A claim still owned by an earlier pod of this name is
                    // about to be garbage collected: wait for it.
                    let stale = claims.iter().any(|c| {
                        claim_names.get(&c.name_any()).is_some_and(|existing| {
                            existing.metadata.deletion_timestamp.is_some()
                                || existing
                                    .owner_references()
                                    .iter()
                                    .any(|r| is_ref_to(r, "v1", "Pod", &name))
                        })
                    });
                    waiting_for_claims |= stale;
                    if !stale {
                        let revision = if slot.revision == obs.current.name {
                            obs.current
                        } else {
                            obs.update
                        };
                        let pod = new_pod(set, &revision.template, slot.ordinal, &revision.name)?;
                        let missing: Vec<PersistentVolumeClaim> = claims
                            .into_iter()
                            .filter(|c| !claim_names.contains_key(&c.name_any()))
                            .collect();
                        out.steps.push(Step::CreatePod {
                            pod: Box::new(pod),
                            claims: missing,
                        });
                    }
                    if monotonic {
                        blocked = true;
                        break;
                    }
                }
                Some(pod) => {
                    if phase(pod) == Some("Pending") {
                        let missing: Vec<PersistentVolumeClaim> = claims
                            .iter()
                            .filter(|c| !claim_names.contains_key(&c.name_any()))
                            .cloned()
                            .collect();
                        if !missing.is_empty() {
                            out.steps.push(Step::CreateClaims {
                                pod: name.clone(),
                                claims: missing,
                            });
                        }
                    }
                    if monotonic && (terminating(pod) || !available(pod)) {
                        blocked = true;
                        break;
                    }
                    if !identity_matches(set, pod) {
                        out.steps.push(Step::FixIdentity {
                            name: name.clone(),
                            ordinal: slot.ordinal,
                        });
                    }
                    push_claim_fixes(set, &claims, &claim_names, pod, true, &mut out.steps);
                }
            }
        }
    }

    // 2. Claims of condemned pods follow the retention policy before the
    //    pods go (whenScaled=Delete: owned by the pod, collected with it).
    if !blocked {
        for (ordinal, pod) in &condemned {
            if !terminating(pod) {
                let claims = claims_for(set, *ordinal)?;
                push_claim_fixes(set, &claims, &claim_names, pod, false, &mut out.steps);
            }
        }
    }

    // 3. Scale down, highest ordinal first.
    if !blocked {
        for (_, pod) in &condemned {
            let name = pod.name_any();
            if terminating(pod) {
                if monotonic {
                    blocked = true;
                    break;
                }
                continue;
            }
            let first = first_unhealthy.as_deref() == Some(name.as_str());
            if monotonic && !first && !available(pod) {
                blocked = true;
                break;
            }
            out.steps.push(Step::DeletePod {
                name: name.clone(),
                reason: DeleteReason::ScaleDown,
            });
            deleting.insert(name);
            if monotonic {
                blocked = true;
                break;
            }
        }
    }

    // 4. Rolling update, highest ordinal first, down to the partition.
    if !blocked && !is_on_delete(set) {
        let update_min = usize::try_from(partition(set)).unwrap_or(0);
        let slot_healthy = |s: &Slot| s.pod.is_some_and(healthy);
        let outdated = |s: &Slot| {
            s.revision != obs.update.name
                && s.pod.is_some_and(|p| !terminating(p))
                && !deleting.contains(&pod_name(&set_name, s.ordinal))
        };
        match max_unavailable(set) {
            None => {
                for slot in slots.iter().skip(update_min).rev() {
                    if outdated(slot) {
                        out.steps.push(Step::DeletePod {
                            name: pod_name(&set_name, slot.ordinal),
                            reason: DeleteReason::Update,
                        });
                        current_n -= 1;
                        break;
                    }
                    if !slot_healthy(slot) {
                        break;
                    }
                }
            }
            Some(max) => {
                let max = scaled_value(&max, replicas, false)?.max(1);
                let unavailable = i32::try_from(slots.iter().filter(|s| !slot_healthy(s)).count())
                    .unwrap_or(i32::MAX);
                let mut room = max - unavailable;
                for slot in slots.iter().skip(update_min).rev() {
                    if room <= 0 {
                        break;
                    }
                    if outdated(slot) {
                        out.steps.push(Step::DeletePod {
                            name: pod_name(&set_name, slot.ordinal),
                            reason: DeleteReason::Update,
                        });
                        current_n -= 1;
                        room -= 1;
                    }
                }
            }
        }
    }

    status.ready_replicas = Some(ready_n);
    status.available_replicas = Some(available_n);
    status.current_replicas = Some(current_n);
    status.updated_replicas = Some(updated_n);
    // A finished rolling update makes the update revision current.
    if !is_on_delete(set)
        && updated_n == replicas
        && ready_n == replicas
        && status.replicas == replicas
    {
        status.current_replicas = Some(updated_n);
        status.current_revision = status.update_revision.clone();
    }
    out.status = status;
    out.requeue = recheck.map(|d| d + Duration::from_millis(100));
    if waiting_for_claims {
        let soon = Duration::from_secs(1);
        out.requeue = Some(out.requeue.map_or(soon, |d| d.min(soon)));
    }
    Ok(out)
}

fn push_claim_fixes(
    set: &StatefulSet,
    claims: &[PersistentVolumeClaim],
    existing: &BTreeMap<String, &PersistentVolumeClaim>,
    pod: &Pod,
    in_range: bool,
    steps: &mut Vec<Step>,
) {
    for claim in claims {
        if let Some(found) = existing.get(&claim.name_any()) {
            if let Some(refs) = claim_owner_refs(set, found, pod, in_range) {
                steps.push(Step::SetClaimOwners {
                    claim: claim.name_any(),
                    refs,
                });
            }
        }
    }
}

// -------------------------------------------------------------------- I/O

fn api_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(e) => Some(e.code),
        _ => None,
    }
}

/// Adopt matching orphans (pods named `<set>-<n>`, revisions) and release
/// pods that stopped matching; returns the pods the set controls.
async fn claim_pods(
    api: &Api<Pod>,
    cache: &Informer<Pod>,
    set: &StatefulSet,
    uid: &str,
) -> Result<Vec<Arc<Pod>>> {
    let spec = set
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(set.name_any(), "spec"))?;
    let mut owned = Vec::new();
    for pod in cache.controlled_by(uid) {
        let matching = selector::matches(&spec.selector, pod.metadata.labels.as_ref());
        if matching {
            owned.push(pod);
        } else if !terminating(&pod) {
            let refs: Vec<_> = pod
                .owner_references()
                .iter()
                .filter(|r| r.uid != uid)
                .collect();
            let patch = json!({"metadata": {"ownerReferences": refs, "uid": pod.metadata.uid}});
            match api
                .patch(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await
            {
                Ok(released) => cache.expect_written(uid, &released),
                Err(e) if api_code(&e) == Some(404) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let ns = set.namespace().unwrap_or_default();
    for pod in cache.orphans_in(&ns) {
        let matching = selector::matches(&spec.selector, pod.metadata.labels.as_ref());
        let member = ordinal_of(&set.name_any(), &pod.name_any()).is_some();
        if matching && member && !terminating(&pod) {
            let mut refs = pod.owner_references().to_vec();
            refs.push(owner_reference(set)?);
            let patch = json!({"metadata": {"ownerReferences": refs, "uid": pod.metadata.uid}});
            let adopted = api
                .patch(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await?;
            cache.expect_written(uid, &adopted);
            owned.push(Arc::new(adopted));
        }
    }
    Ok(owned)
}

/// The set's revisions (orphans matching its selector adopted), sorted.
async fn list_revisions(
    api: &Api<ControllerRevision>,
    cache: &Informer<ControllerRevision>,
    set: &StatefulSet,
    uid: &str,
) -> Result<Vec<ControllerRevision>> {
    let spec = set
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(set.name_any(), "spec"))?;
    let mut owned: Vec<ControllerRevision> = cache
        .controlled_by(uid)
        .into_iter()
        .map(|r| (*r).clone())
        .collect();
    let ns = set.namespace().unwrap_or_default();
    for rev in cache.orphans_in(&ns) {
        if selector::matches(&spec.selector, rev.metadata.labels.as_ref()) {
            let mut refs = rev.owner_references().to_vec();
            refs.push(owner_reference(set)?);
            let patch = json!({"metadata": {"ownerReferences": refs, "uid": rev.metadata.uid}});
            let adopted = api
                .patch(
                    &rev.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await?;
            cache.expect_written(uid, &adopted);
            owned.push(adopted);
        }
    }
    owned.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
    Ok(owned)
}

/// Find or create the update revision; returns it with the collision count
/// used to name it (raised on a name clash with a different template).
async fn sync_update_revision(
    api: &Api<ControllerRevision>,
    cache: &Informer<ControllerRevision>,
    set: &StatefulSet,
    revisions: &mut Vec<ControllerRevision>,
) -> Result<(ControllerRevision, i32)> {
    let mut collision = set
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    for _ in 0..10 {
        match plan_revision(set, revisions, collision)? {
            RevisionStep::Reuse(i) => return Ok((revisions[i].clone(), collision)),
            RevisionStep::Renumber(i, next) => {
                let updated = api
                    .patch(
                        &revisions[i].name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(json!({"revision": next})),
                    )
                    .await?;
                cache.expect_written(&set.uid().unwrap_or_default(), &updated);
                revisions[i] = updated.clone();
                return Ok((updated, collision));
            }
            RevisionStep::Create(rev) => {
                match api.create(&PostParams::default(), rev.as_ref()).await {
                    Ok(created) => {
                        cache.expect_written(&set.uid().unwrap_or_default(), &created);
                        revisions.push(created.clone());
                        return Ok((created, collision));
                    }
                    Err(e) if api_code(&e) == Some(409) => {
                        let existing = api.get(&rev.name_any()).await?;
                        let ours =
                            controller_of(&existing.metadata).map(|r| r.uid.clone()) == set.uid();
                        if ours && existing.data == rev.data {
                            revisions.push(existing.clone());
                            return Ok((existing, collision));
                        }
                        collision += 1;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Err(ControllerError::Invalid(
        "controllerrevision",
        format!("no free revision name for {}", set.name_any()),
    ))
}

async fn record(ctx: &Context, set: &StatefulSet, warning: bool, reason: &str, msg: String) {
    let type_ = if warning { "Warning" } else { "Normal" };
    events::record(&ctx.client, COMPONENT, set, type_, reason, msg).await;
}

/// Create claims that do not exist yet, recording upstream's events.
async fn create_claims(
    ctx: &Context,
    api: &Api<PersistentVolumeClaim>,
    set: &StatefulSet,
    pod: &str,
    claims: &[PersistentVolumeClaim],
) -> Result<()> {
    let set_name = set.name_any();
    for claim in claims {
        let name = claim.name_any();
        match api.create(&PostParams::default(), claim).await {
            Ok(created) => {
                ctx.informers
                    .get::<PersistentVolumeClaim>()
                    .expect_written(&set.uid().unwrap_or_default(), &created);
                let msg =
                    format!("create Claim {name} Pod {pod} in StatefulSet {set_name} success");
                record(ctx, set, false, "SuccessfulCreate", msg).await;
            }
            Err(e) if api_code(&e) == Some(409) => {}
            Err(e) => {
                let msg = format!(
                    "create Claim {name} for Pod {pod} in StatefulSet {set_name} failed error: {e}"
                );
                record(ctx, set, true, "FailedCreate", msg).await;
                return Err(e.into());
            }
        }
    }
    Ok(())
}

async fn execute(ctx: &Context, set: &StatefulSet, ns: &str, steps: &[Step]) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let cache = ctx.informers.pods();
    let uid = set.uid().unwrap_or_default();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    let set_name = set.name_any();
    for step in steps {
        match step {
            Step::CreatePod { pod, claims } => {
                let name = pod.name_any();
                if let Err(e) = create_claims(ctx, &pvcs, set, &name, claims).await {
                    let msg =
                        format!("create Pod {name} in StatefulSet {set_name} failed error: {e}");
                    record(ctx, set, true, "FailedCreate", msg).await;
                    return Err(e);
                }
                match pods.create(&PostParams::default(), pod).await {
                    Ok(created) => {
                        cache.expect_written(&uid, &created);
                        let msg = format!("create Pod {name} in StatefulSet {set_name} successful");
                        record(ctx, set, false, "SuccessfulCreate", msg).await;
                    }
                    // Already there (a cache lag elsewhere): the next pass sees it.
                    Err(e) if api_code(&e) == Some(409) => return Err(e.into()),
                    Err(e) => {
                        let msg = format!(
                            "create Pod {name} in StatefulSet {set_name} failed error: {e}"
                        );
                        record(ctx, set, true, "FailedCreate", msg).await;
                        return Err(e.into());
                    }
                }
            }
            Step::CreateClaims { pod, claims } => {
                create_claims(ctx, &pvcs, set, pod, claims).await?;
            }
            Step::DeletePod { name, .. } => {
                let cached = cache.get(Some(ns), name);
                match pods.delete(name, &DeleteParams::default()).await {
                    Ok(outcome) => {
                        if let Some(pod) = &cached {
                            cache.expect_deleted(&uid, pod, outcome.left().as_ref());
                        }
                        let msg = format!("delete Pod {name} in StatefulSet {set_name} successful");
                        record(ctx, set, false, "SuccessfulDelete", msg).await;
                    }
                    Err(e) if api_code(&e) == Some(404) => {}
                    Err(e) => {
                        let msg = format!(
                            "delete Pod {name} in StatefulSet {set_name} failed error: {e}"
                        );
                        record(ctx, set, true, "FailedDelete", msg).await;
                        return Err(e.into());
                    }
                }
            }
            Step::FixIdentity { name, ordinal } => {
                let patch = json!({"metadata": {"labels": {
                    POD_NAME_LABEL: name, POD_INDEX_LABEL: ordinal.to_string()}}});
                match pods
                    .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                {
                    Ok(updated) => {
                        cache.expect_written(&uid, &updated);
                        let msg = format!("update Pod {name} in StatefulSet {set_name} successful");
                        record(ctx, set, false, "SuccessfulUpdate", msg).await;
                    }
                    Err(e) => {
                        let msg = format!(
                            "update Pod {name} in StatefulSet {set_name} failed error: {e}"
                        );
                        record(ctx, set, true, "FailedUpdate", msg).await;
                        return Err(e.into());
                    }
                }
            }
            Step::SetClaimOwners { claim, refs } => {
                let patch = json!({"metadata": {"ownerReferences": refs}});
                match pvcs
                    .patch(claim, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                {
                    Ok(_) => {}
                    Err(e) if api_code(&e) == Some(404) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(())
}

fn revision_view(rev: &ControllerRevision, fallback: &PodTemplateSpec) -> Revision {
    Revision {
        name: rev.name_any(),
        template: template_of_revision(rev).unwrap_or_else(|| fallback.clone()),
    }
}

pub async fn reconcile(set: Arc<StatefulSet>, ctx: Arc<Context>) -> Result<Action> {
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = set.namespace().unwrap_or_else(|| "default".into());
    let uid = set
        .uid()
        .ok_or_else(|| ControllerError::MissingField(set.name_any(), "metadata.uid"))?;
    let spec = set
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(set.name_any(), "spec"))?;
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let revs_api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let (pod_cache, rev_cache, claim_cache) = (
        ctx.informers.pods(),
        ctx.informers.get::<ControllerRevision>(),
        ctx.informers.get::<PersistentVolumeClaim>(),
    );
    // Expectations: decide only on caches that show our own writes.
    if !pod_cache.caught_up(&uid) || !rev_cache.caught_up(&uid) || !claim_cache.caught_up(&uid) {
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    // A set's pods are few (its replicas): the pure planner takes values.
    let pods: Vec<Pod> = claim_pods(&pods_api, &pod_cache, &set, &uid)
        .await?
        .into_iter()
        .map(Arc::unwrap_or_clone)
        .collect();
    let mut revisions = list_revisions(&revs_api, &rev_cache, &set, &uid).await?;
    let (update_rev, collision) =
        sync_update_revision(&revs_api, &rev_cache, &set, &mut revisions).await?;
    let current_name = set.status.as_ref().and_then(|s| s.current_revision.clone());
    let current_rev = revisions
        .iter()
        .find(|r| Some(r.name_any()) == current_name)
        .unwrap_or(&update_rev);
    let current = revision_view(current_rev, &spec.template);
    let update = revision_view(&update_rev, &spec.template);
    let claims: Vec<PersistentVolumeClaim> = if claim_templates(&set).is_empty() {
        Vec::new()
    } else {
        claim_cache
            .in_namespace(&ns)
            .into_iter()
            .map(|c| (*c).clone())
            .collect()
    };
    let observed = Observed {
        pods: &pods,
        claims: &claims,
        current: &current,
        update: &update,
        collision_count: collision,
        now: Timestamp::now(),
    };
    let plan = plan(&set, &observed)?;
    let outcome = execute(&ctx, &set, &ns, &plan.steps).await;

    // Status is written even when a step failed, as upstream does.
    if set.status.as_ref() != Some(&plan.status) {
        let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
        let mut updated = (*set).clone();
        updated.status = Some(plan.status.clone());
        match api
            .replace_status(&set.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(_) => {}
            // A newer set is on its way; its reconcile writes the status.
            Err(e) if api_code(&e) == Some(409) => {}
            Err(e) => return Err(e.into()),
        }
    }
    outcome?;

    let live = [current.name.as_str(), update.name.as_str()];
    for name in history_to_delete(&set, &revisions, &pods, &live) {
        match revs_api.delete(&name, &DeleteParams::default()).await {
            Ok(outcome) => {
                if let Some(rev) = revisions.iter().find(|r| r.name_any() == name) {
                    rev_cache.expect_deleted(&uid, rev, outcome.left().as_ref());
                }
            }
            Err(e) if api_code(&e) == Some(404) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Action::requeue(
        plan.requeue.map_or(ctx.resync, |d| d.min(ctx.resync)),
    ))
}

/// Run the StatefulSet controller until the watches end. Pod events wake
/// the controlling set, or for an orphan every set in its namespace whose
/// selector matches it and whose name it carries (adoption).
pub async fn run_statefulset_controller(_client: kube::Client, ctx: Arc<Context>) {
    let informers = ctx.informers.clone();
    let sets = informers.get::<StatefulSet>();
    let (pods, revisions, claims) = (
        informers.pods(),
        informers.get::<ControllerRevision>(),
        informers.get::<PersistentVolumeClaim>(),
    );
    let (pod_events, rev_events) = (pods.subscribe(), revisions.subscribe());
    pods.ready().await;
    revisions.ready().await;
    claims.ready().await;
    let set_cache = sets.clone();
    let pod_owners = move |pod: Arc<Pod>| -> Vec<ObjectRef<StatefulSet>> {
        let ns = pod.namespace();
        let within = |r: ObjectRef<StatefulSet>| match &ns {
            Some(ns) => r.within(ns),
            None => r,
        };
        if let Some(owner) = controller_of(&pod.metadata) {
            if owner.kind != "StatefulSet" {
                return Vec::new();
            }
            return vec![within(ObjectRef::new(&owner.name))];
        }
        set_cache
            .in_namespace(ns.as_deref().unwrap_or_default())
            .iter()
            .filter(|s| ordinal_of(&s.name_any(), &pod.name_any()).is_some())
            .filter(|s| {
                s.spec
                    .as_ref()
                    .is_some_and(|sp| selector::matches(&sp.selector, pod.metadata.labels.as_ref()))
            })
            .map(|s| ObjectRef::from_obj(s.as_ref()))
            .collect()
    };
    Controller::for_shared_stream(sets.subscribe(), sets.ready_store().await)
        .owns_shared_stream(rev_events)
        .watches_shared_stream(pod_events, pod_owners)
        .shutdown_on_signal()
        .run(
            |set, ctx| run_reconcile(set, ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "statefulset controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(extra: Value) -> StatefulSet {
        let mut spec = json!({
            "replicas": 3, "serviceName": "web-svc",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}},
        });
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "set-uid", "generation": 4},
            "spec": spec,
        }))
        .expect("statefulset")
    }

    fn rev(name: &str) -> Revision {
        Revision {
            name: name.into(),
            template: sts(json!({})).spec.map(|s| s.template).unwrap_or_default(),
        }
    }

    /// A pod of the set: `state` is "ready", "pending", "unready",
    /// "failed" or "terminating".
    fn pod(ordinal: i32, revision: &str, state: &str) -> Pod {
        let name = pod_name("web", ordinal);
        let (phase, ready) = match state {
            "ready" | "terminating" => ("Running", "True"),
            "unready" => ("Running", "False"),
            "failed" => ("Failed", "False"),
            _ => ("Pending", "False"),
        };
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                         "labels": {"app": "web", REVISION_LABEL: revision,
                                    POD_NAME_LABEL: name, POD_INDEX_LABEL: ordinal.to_string()}},
            "spec": {"containers": []},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready,
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
        }))
        .expect("pod");
        if state == "terminating" {
            p.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
        }
        p
    }

    fn now() -> Timestamp {
        "2026-01-01T01:00:00Z".parse().expect("ts")
    }

    fn run(set: &StatefulSet, pods: &[Pod], claims: &[PersistentVolumeClaim]) -> StsPlan {
        let (current, update) = (rev("web-old"), rev("web-new"));
        let obs = Observed {
            pods,
            claims,
            current: &current,
            update: &update,
            collision_count: 0,
            now: now(),
        };
        plan(set, &obs).expect("plan")
    }

    /// Steps as short strings: "create web-0", "delete web-2 (Update)", …
    fn describe(plan: &StsPlan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|s| match s {
                Step::CreatePod { pod, claims } => {
                    let mut d = format!(
                        "create {}@{}",
                        pod.name_any(),
                        pod.labels().get(REVISION_LABEL).map_or("", String::as_str)
                    );
                    for c in claims {
                        d.push_str(&format!(" +{}", c.name_any()));
                    }
                    d
                }
                Step::CreateClaims { pod, claims } => format!("claims {pod} {}", claims.len()),
                Step::DeletePod { name, reason } => format!("delete {name} ({reason:?})"),
                Step::FixIdentity { name, .. } => format!("fix {name}"),
                Step::SetClaimOwners { claim, refs } => format!(
                    "own {claim} by {}",
                    refs.iter()
                        .map(|r| r.kind.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            })
            .collect()
    }

    #[test]
    fn ordinal_parsing() {
        let cases = [
            ("web-0", Some(0)),
            ("web-12", Some(12)),
            ("web-", None),
            ("web-x1", None),
            ("web-1-2", None),
            ("webby-1", None),
            ("web", None),
            ("web--1", None),
        ];
        for (name, want) in cases {
            assert_eq!(ordinal_of("web", name), want, "{name}");
        }
        assert_eq!(ordinal_of("my-db", "my-db-3"), Some(3));
    }

    #[test]
    fn new_pod_has_identity_storage_and_revision() {
        let set = sts(json!({"volumeClaimTemplates": [
            {"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"],
              "resources": {"requests": {"storage": "1Gi"}}}}]}));
        let mut template = set.spec.clone().map(|s| s.template).unwrap_or_default();
        if let Some(spec) = template.spec.as_mut() {
            spec.volumes = Some(vec![
                Volume {
                    name: "www".into(),
                    empty_dir: Some(Default::default()),
                    ..Default::default()
                },
                Volume {
                    name: "cache".into(),
                    empty_dir: Some(Default::default()),
                    ..Default::default()
                },
            ]);
        }
        let p = new_pod(&set, &template, 2, "web-abc").expect("pod");
        assert_eq!(p.name_any(), "web-2");
        let labels = p.labels();
        assert_eq!(
            labels.get(POD_NAME_LABEL).map(String::as_str),
            Some("web-2")
        );
        assert_eq!(labels.get(POD_INDEX_LABEL).map(String::as_str), Some("2"));
        assert_eq!(
            labels.get(REVISION_LABEL).map(String::as_str),
            Some("web-abc")
        );
        assert_eq!(labels.get("app").map(String::as_str), Some("web"));
        let spec = p.spec.as_ref().expect("spec");
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("web-svc"));
        let volumes = spec.volumes.as_ref().expect("volumes");
        assert_eq!(
            volumes.len(),
            2,
            "template volume www replaced by the claim"
        );
        assert_eq!(
            volumes[0]
                .persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str()),
            Some("www-web-2")
        );
        assert_eq!(volumes[1].name, "cache");
        assert_eq!(p.owner_references()[0].kind, "StatefulSet");
        assert!(identity_matches(&set, &p));

        let claims = claims_for(&set, 2).expect("claims");
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].name_any(), "www-web-2");
        assert_eq!(claims[0].namespace().as_deref(), Some("ns"));
        assert_eq!(
            claims[0].labels().get("app").map(String::as_str),
            Some("web")
        );
        assert!(
            claims[0].metadata.owner_references.is_none(),
            "Retain by default"
        );
        let deleting = sts(
            json!({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"},
            "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {}}]}),
        );
        let claims = claims_for(&deleting, 0).expect("claims");
        assert_eq!(claims[0].owner_references()[0].kind, "StatefulSet");
    }

    #[test]
    fn plan_table() {
        let parallel = json!({"podManagementPolicy": "Parallel"});
        let claims = json!({"volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {}}]});
        let cases: Vec<(&str, Value, Vec<Pod>, Vec<&str>)> = vec![
            (
                "ordered: first pod only",
                json!({}),
                vec![],
                vec!["create web-0@web-new"],
            ),
            (
                "ordered: next pod after web-0 is ready",
                json!({}),
                vec![pod(0, "web-new", "ready")],
                vec!["create web-1@web-new"],
            ),
            (
                "ordered: wait while web-0 is pending",
                json!({}),
                vec![pod(0, "web-new", "pending")],
                vec![],
            ),
            (
                "ordered: wait while web-0 is running but not ready",
                json!({}),
                vec![pod(0, "web-new", "unready")],
                vec![],
            ),
            (
                "ordered: a gap is filled first",
                json!({}),
                vec![pod(0, "web-new", "ready"), pod(2, "web-new", "ready")],
                vec!["create web-1@web-new"],
            ),
            (
                "parallel: all at once",
                parallel.clone(),
                vec![],
                vec![
                    "create web-0@web-new",
                    "create web-1@web-new",
                    "create web-2@web-new",
                ],
            ),
            (
                "failed pod is deleted, recreated later",
                json!({}),
                vec![pod(0, "web-new", "ready"), pod(1, "web-new", "failed")],
                vec!["delete web-1 (Terminal)"],
            ),
            (
                "scale down: highest ordinal first, one at a time",
                json!({"replicas": 1}),
                vec![
                    pod(0, "web-new", "ready"),
                    pod(1, "web-new", "ready"),
                    pod(2, "web-new", "ready"),
                ],
                vec!["delete web-2 (ScaleDown)"],
            ),
            (
                "scale down waits for termination",
                json!({"replicas": 1}),
                vec![
                    pod(0, "web-new", "ready"),
                    pod(1, "web-new", "ready"),
                    pod(2, "web-new", "terminating"),
                ],
                vec![],
            ),
            (
                "scale down: an unhealthy condemned pod goes if it is the first unhealthy",
                json!({"replicas": 1}),
                vec![pod(0, "web-new", "ready"), pod(1, "web-new", "unready")],
                vec!["delete web-1 (ScaleDown)"],
            ),
            (
                "parallel scale down: all at once",
                json!({"replicas": 1, "podManagementPolicy": "Parallel"}),
                vec![
                    pod(0, "web-new", "ready"),
                    pod(1, "web-new", "ready"),
                    pod(2, "web-new", "unready"),
                ],
                vec!["delete web-2 (ScaleDown)", "delete web-1 (ScaleDown)"],
            ),
            (
                "rolling update starts at the highest ordinal",
                json!({}),
                vec![
                    pod(0, "web-old", "ready"),
                    pod(1, "web-old", "ready"),
                    pod(2, "web-old", "ready"),
                ],
                vec!["delete web-2 (Update)"],
            ),
            (
                "rolling update: recreated pod gets the update revision",
                json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}}),
                vec![pod(0, "web-old", "ready"), pod(1, "web-old", "ready")],
                vec!["create web-2@web-new"],
            ),
            (
                "rolling update waits for the updated pod to be ready",
                json!({}),
                vec![
                    pod(0, "web-old", "ready"),
                    pod(1, "web-old", "ready"),
                    pod(2, "web-new", "unready"),
                ],
                vec![],
            ),
            (
                "rolling update continues downwards",
                json!({}),
                vec![
                    pod(0, "web-old", "ready"),
                    pod(1, "web-old", "ready"),
                    pod(2, "web-new", "ready"),
                ],
                vec!["delete web-1 (Update)"],
            ),
            (
                "partition keeps lower ordinals",
                json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}),
                vec![
                    pod(0, "web-old", "ready"),
                    pod(1, "web-old", "ready"),
                    pod(2, "web-new", "ready"),
                ],
                vec![],
            ),
            (
                "below the partition a recreated pod keeps the current revision",
                json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}),
                vec![pod(0, "web-old", "ready"), pod(2, "web-new", "ready")],
                vec!["create web-1@web-old"],
            ),
            (
                "OnDelete leaves old pods",
                json!({"updateStrategy": {"type": "OnDelete"}}),
                vec![
                    pod(0, "web-old", "ready"),
                    pod(1, "web-old", "ready"),
                    pod(2, "web-old", "ready"),
                ],
                vec![],
            ),
            (
                "OnDelete: a deleted pod comes back at the update revision",
                json!({"updateStrategy": {"type": "OnDelete"}}),
                vec![pod(0, "web-old", "ready"), pod(1, "web-old", "ready")],
                vec!["create web-2@web-new"],
            ),
            (
                "maxUnavailable 2 updates two at once",
                json!({"updateStrategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"partition": 0, "maxUnavailable": 2}}}),
                vec![
                    pod(0, "web-old", "ready"),
                    pod(1, "web-old", "ready"),
                    pod(2, "web-old", "ready"),
                ],
                vec!["delete web-2 (Update)", "delete web-1 (Update)"],
            ),
            (
                "claims are created with their pod",
                claims.clone(),
                vec![pod(0, "web-new", "ready")],
                vec!["create web-1@web-new +www-web-1"],
            ),
            (
                "a pending pod gets its missing claims",
                json!({"volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {}}], "replicas": 1}),
                vec![pod(0, "web-new", "pending")],
                vec!["claims web-0 1"],
            ),
            (
                "start ordinal",
                json!({"ordinals": {"start": 5}, "replicas": 2}),
                vec![pod(5, "web-new", "ready")],
                vec!["create web-6@web-new"],
            ),
        ];
        for (name, extra, pods, want) in cases {
            let got = describe(&run(&sts(extra), &pods, &[]));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn existing_claims_are_reused_and_stale_ones_awaited() {
        let set = sts(json!({"volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {}}]}));
        let existing: PersistentVolumeClaim =
            serde_json::from_value(json!({"metadata": {"name": "www-web-0"}})).expect("pvc");
        assert_eq!(
            describe(&run(&set, &[], &[existing])),
            ["create web-0@web-new"]
        );
        // Still owned by the old web-0 (whenScaled=Delete): wait for GC.
        let stale: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {
            "name": "www-web-0", "ownerReferences": [{"apiVersion": "v1", "kind": "Pod",
            "name": "web-0", "uid": "old", "controller": true}]}}))
        .expect("pvc");
        let p = run(&set, &[], &[stale]);
        assert!(describe(&p).is_empty());
        assert_eq!(p.requeue, Some(Duration::from_secs(1)));
    }

    #[test]
    fn when_scaled_delete_hands_claims_to_the_condemned_pod() {
        let set = sts(json!({"replicas": 1,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"},
            "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {}}]}));
        let claim = |o: i32| -> PersistentVolumeClaim {
            serde_json::from_value(json!({"metadata": {"name": format!("www-web-{o}")}}))
                .expect("pvc")
        };
        let pods = [pod(0, "web-new", "ready"), pod(1, "web-new", "ready")];
        let got = describe(&run(&set, &pods, &[claim(0), claim(1)]));
        assert_eq!(got, ["own www-web-1 by Pod", "delete web-1 (ScaleDown)"]);

        let both = sts(json!({"replicas": 1,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"},
            "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {}}]}));
        let got = describe(&run(&both, &pods, &[claim(0), claim(1)]));
        assert_eq!(
            got,
            [
                "own www-web-0 by StatefulSet",
                "own www-web-1 by Pod",
                "delete web-1 (ScaleDown)"
            ]
        );
    }

    #[test]
    fn status_counts_and_completes_rolling_update() {
        let set = sts(json!({}));
        let pods = [
            pod(0, "web-old", "ready"),
            pod(1, "web-old", "pending"),
            pod(2, "web-new", "ready"),
        ];
        let p = run(&set, &pods, &[]);
        let s = &p.status;
        assert_eq!(
            (
                s.replicas,
                s.ready_replicas,
                s.available_replicas,
                s.current_replicas,
                s.updated_replicas
            ),
            (3, Some(2), Some(2), Some(2), Some(1))
        );
        assert_eq!(s.current_revision.as_deref(), Some("web-old"));
        assert_eq!(s.update_revision.as_deref(), Some("web-new"));
        assert_eq!(
            (s.observed_generation, s.collision_count),
            (Some(4), Some(0))
        );

        // Deleting a pod for the update leaves it out of currentReplicas.
        let pods = [
            pod(0, "web-old", "ready"),
            pod(1, "web-old", "ready"),
            pod(2, "web-old", "ready"),
        ];
        assert_eq!(run(&set, &pods, &[]).status.current_replicas, Some(2));

        let pods = [
            pod(0, "web-new", "ready"),
            pod(1, "web-new", "ready"),
            pod(2, "web-new", "ready"),
        ];
        let s = run(&set, &pods, &[]).status;
        assert_eq!(s.current_revision.as_deref(), Some("web-new"));
        assert_eq!(s.current_replicas, Some(3));
    }

    #[test]
    fn min_ready_seconds_holds_ordered_creation_and_requeues() {
        let set = sts(json!({"minReadySeconds": 10}));
        let mut fresh = pod(0, "web-new", "ready");
        if let Some(c) = fresh.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c[0].last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                now() - k8s_openapi::jiff::SignedDuration::from_secs(3),
            ));
        }
        let p = run(&set, &[fresh], &[]);
        assert!(p.steps.is_empty());
        assert_eq!(p.status.available_replicas, Some(0));
        assert!(p
            .requeue
            .is_some_and(|d| d > Duration::from_secs(6) && d <= Duration::from_secs(8)));
        let p = run(&set, &[pod(0, "web-new", "ready")], &[]);
        assert_eq!(describe(&p), ["create web-1@web-new"]);
    }

    fn stored(name: &str, number: i64, image: &str) -> ControllerRevision {
        let set = sts(json!({"template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": image}]}}}));
        let mut r = new_revision(&set, number, 0).expect("revision");
        r.metadata.name = Some(name.into());
        r
    }

    #[test]
    fn revisions_reuse_renumber_create_and_trim() {
        let set = sts(json!({}));
        let r = new_revision(&set, 1, 0).expect("rev");
        assert!(r.name_any().starts_with("web-"));
        let hash = r.labels().get(REVISION_LABEL).cloned().unwrap_or_default();
        assert_eq!(r.name_any(), format!("web-{hash}"));
        assert_ne!(
            new_revision(&set, 1, 1).expect("rev").name_any(),
            r.name_any(),
            "collisionCount changes the name"
        );
        assert_eq!(
            template_of_revision(&r),
            set.spec.as_ref().map(|s| s.template.clone())
        );
        assert_eq!(
            r.data
                .as_ref()
                .map(|d| d.0["spec"]["template"]["$patch"].clone()),
            Some(json!("replace"))
        );

        let a = stored("web-a", 1, "nginx:1");
        let b = stored("web-b", 2, "nginx:2");
        // Newest matches: reuse.
        let set2 = sts(json!({"template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}));
        assert!(matches!(
            plan_revision(&set2, &[a.clone(), b.clone()], 0).expect("plan"),
            RevisionStep::Reuse(1)
        ));
        // Older matches (rollback): renumbered to 3.
        assert!(matches!(
            plan_revision(&set, &[a.clone(), b.clone()], 0).expect("plan"),
            RevisionStep::Renumber(0, 3)
        ));
        // New template: created as revision 3.
        let set3 = sts(json!({"template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:3"}]}}}));
        match plan_revision(&set3, &[a.clone(), b.clone()], 0).expect("plan") {
            RevisionStep::Create(r) => assert_eq!(r.revision, 3),
            other => panic!("expected create, got {other:?}"),
        }

        // History: limit 1 keeps the newest non-live revision.
        let limited = sts(json!({"revisionHistoryLimit": 1}));
        let revs = [
            stored("web-1", 1, "i1"),
            stored("web-2", 2, "i2"),
            stored("web-3", 3, "i3"),
            stored("web-4", 4, "i4"),
        ];
        let pods = [pod(0, "web-2", "ready")];
        assert_eq!(
            history_to_delete(&limited, &revs, &pods, &["web-4"]),
            ["web-1"]
        );
        assert!(history_to_delete(&sts(json!({})), &revs, &pods, &["web-4"]).is_empty());
    }
}
