//! VolumeBinding (the part berth needs): a pod's PersistentVolumeClaims
//! must exist, and the volumes behind them must be reachable from the node.
//!
//! ```text
//! PreFilter, per claim (spec.volumes[].persistentVolumeClaim, and the
//!   `<pod>-<volume>` claim of generic ephemeral volumes):
//!   missing ─────────────▶ persistentvolumeclaim "x" not found (every node, unresolvable)
//!   being deleted ───────▶ persistentvolumeclaim "x" is being deleted
//!   bound (volumeName) ──▶ the PV's spec.nodeAffinity (or "PV missing")
//!   unbound ─────────────▶ the available PVs that could take it: same
//!                          storageClassName and volumeMode, enough capacity,
//!                          every access mode, claim selector
//! Filter, per node:
//!   bound PV missing ───────────▶ "node(s) unavailable due to one or more pvc(s)
//!                                   bound to non-existent pv(s)"
//!   PV affinity excludes node ──▶ "node(s) had volume node affinity conflict"
//!   no candidate PV for node ───▶ "node(s) didn't find available persistent
//!                                   volumes to bind"
//! ```
//! Not done: dynamic provisioning (StorageClass, WaitForFirstConsumer's
//! selected-node), binding the chosen PV in PreBind, VolumeZone,
//! NodeVolumeLimits, VolumeRestrictions.

use super::node_affinity::term_matches;
use super::{FilterPlugin, Rejection};
use crate::cycle_state::CycleState;
use crate::label_selector::Selector;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::quantity::value;
use crate::snapshot::Snapshot;
use k8s_openapi::api::core::v1::{NodeSelector, PersistentVolume, PersistentVolumeClaim};

pub const NAME: &str = "VolumeBinding";
pub const REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const REASON_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const REASON_PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";

/// Where one claim's volume may be used from.
#[derive(Clone, Debug)]
pub enum ClaimPlacement {
    /// Bound to a PV with this required node selector (None: anywhere).
    Bound(Option<NodeSelector>),
    /// Bound to a PV the scheduler has not seen.
    BoundToMissing,
    /// Unbound: any of these candidate PVs' selectors will do.
    Unbound(Vec<Option<NodeSelector>>),
}

#[derive(Clone, Debug, Default)]
pub struct VolumeState {
    pub claims: Vec<ClaimPlacement>,
}

pub struct VolumeBinding;

/// Claim names the pod uses, with whether each is an ephemeral volume's.
fn claim_names(pod: &PodInfo) -> Vec<(String, bool)> {
    let pod_name = pod.pod.metadata.name.as_deref().unwrap_or_default();
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some((c.claim_name.clone(), false))
            } else {
                v.ephemeral
                    .as_ref()
                    .map(|_| (format!("{pod_name}-{}", v.name), true))
            }
        })
        .collect()
}

fn required_selector(pv: &PersistentVolume) -> Option<NodeSelector> {
    pv.spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.clone())
}

fn selector_allows(selector: &Option<NodeSelector>, node: &NodeInfo) -> bool {
    selector
        .as_ref()
        .is_none_or(|s| s.node_selector_terms.iter().any(|t| term_matches(t, node)))
}

/// Could `pv` be bound to `claim` (ignoring nodes)?
pub fn volume_fits_claim(pv: &PersistentVolume, claim: &PersistentVolumeClaim, key: &str) -> bool {
    let (Some(pv_spec), Some(spec)) = (pv.spec.as_ref(), claim.spec.as_ref()) else {
        return false;
    };
    let claimed_by_this = pv_spec.claim_ref.as_ref().is_some_and(|r| {
        format!(
            "{}/{}",
            r.namespace.as_deref().unwrap_or_default(),
            r.name.as_deref().unwrap_or_default()
        ) == key
    });
    let phase = pv.status.as_ref().and_then(|s| s.phase.as_deref());
    let available = pv_spec.claim_ref.is_none() && phase.is_none_or(|p| p == "Available");
    if !(claimed_by_this || available) || pv.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let class = |c: Option<&String>| c.cloned().unwrap_or_default();
    if class(spec.storage_class_name.as_ref()) != class(pv_spec.storage_class_name.as_ref()) {
        return false;
    }
    let mode = |m: Option<&String>| m.cloned().unwrap_or_else(|| "Filesystem".into());
    if mode(spec.volume_mode.as_ref()) != mode(pv_spec.volume_mode.as_ref()) {
        return false;
    }
    let wanted = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(value)
        .unwrap_or_default();
    let capacity = pv_spec
        .capacity
        .as_ref()
        .and_then(|c| c.get("storage"))
        .map(value)
        .unwrap_or_default();
    if capacity < wanted {
        return false;
    }
    let pv_modes = pv_spec.access_modes.as_deref().unwrap_or_default();
    if !spec
        .access_modes
        .iter()
        .flatten()
        .all(|m| pv_modes.contains(m))
    {
        return false;
    }
    spec.selector.is_none()
        || Selector::from_label_selector(spec.selector.as_ref())
            .matches(pv.metadata.labels.as_ref())
}

/// The PreFilter work: where each claim's volume can be used from.
pub fn compute_state(pod: &PodInfo, snapshot: &Snapshot) -> Result<Option<VolumeState>, Rejection> {
    let names = claim_names(pod);
    if names.is_empty() {
        return Ok(None);
    }
    let mut claims = Vec::with_capacity(names.len());
    for (name, ephemeral) in names {
        let key = format!("{}/{name}", pod.namespace);
        let Some(claim) = snapshot.objects.claims.get(&key) else {
            return Err(Rejection::unresolvable(if ephemeral {
                format!(
                    "waiting for ephemeral volume controller to create the persistentvolumeclaim \"{name}\""
                )
            } else {
                format!("persistentvolumeclaim \"{name}\" not found")
            }));
        };
        if claim.metadata.deletion_timestamp.is_some() {
            return Err(Rejection::unresolvable(format!(
                "persistentvolumeclaim \"{name}\" is being deleted"
            )));
        }
        let bound_to = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .filter(|v| !v.is_empty());
        claims.push(match bound_to {
            Some(pv) => match snapshot.objects.volumes.get(pv) {
                Some(pv) => ClaimPlacement::Bound(required_selector(pv)),
                None => ClaimPlacement::BoundToMissing,
            },
            None => ClaimPlacement::Unbound(
                snapshot
                    .objects
                    .volumes
                    .values()
                    .filter(|pv| volume_fits_claim(pv, claim, &key))
                    .map(|pv| required_selector(pv))
                    .collect(),
            ),
        });
    }
    Ok(Some(VolumeState { claims }))
}

impl FilterPlugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        state: &mut CycleState,
    ) -> Result<(), Rejection> {
        state.volumes = compute_state(pod, snapshot)?;
        Ok(())
    }

    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        let Some(s) = &state.volumes else {
            return Ok(());
        };
        for claim in &s.claims {
            match claim {
                ClaimPlacement::BoundToMissing => {
                    return Err(Rejection::unresolvable(REASON_PV_NOT_EXIST))
                }
                ClaimPlacement::Bound(sel) if !selector_allows(sel, node) => {
                    return Err(Rejection::unresolvable(REASON_NODE_CONFLICT))
                }
                ClaimPlacement::Unbound(candidates)
                    if !candidates.iter().any(|sel| selector_allows(sel, node)) =>
                {
                    return Err(Rejection::unresolvable(REASON_BIND_CONFLICT))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Framework;
    use crate::testing::{labeled, node, pod};
    use k8s_openapi::api::core::v1::{
        NodeSelectorRequirement, NodeSelectorTerm, PersistentVolumeClaimSpec,
        PersistentVolumeClaimVolumeSource, PersistentVolumeSpec, Pod, Volume, VolumeNodeAffinity,
        VolumeResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::sync::Arc;

    fn with_claim(claim: &str) -> Pod {
        let mut p = pod("p", &[]);
        if let Some(s) = p.spec.as_mut() {
            s.volumes = Some(vec![Volume {
                name: "data".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.into(),
                    read_only: None,
                }),
                ..Default::default()
            }]);
        }
        p
    }

    fn claim(name: &str, bound_to: Option<&str>, size: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                volume_name: bound_to.map(String::from),
                storage_class_name: Some("local".into()),
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                resources: Some(VolumeResourceRequirements {
                    requests: Some([("storage".to_string(), Quantity(size.into()))].into()),
                    limits: None,
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    /// A local PV on `host`, of `size`, class "local".
    fn volume(name: &str, host: &str, size: &str) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeSpec {
                storage_class_name: Some("local".into()),
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                capacity: Some([("storage".to_string(), Quantity(size.into()))].into()),
                node_affinity: Some(VolumeNodeAffinity {
                    required: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: "kubernetes.io/hostname".into(),
                                operator: "In".into(),
                                values: Some(vec![host.into()]),
                            }]),
                            match_fields: None,
                        }],
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn cluster(claims: Vec<PersistentVolumeClaim>, volumes: Vec<PersistentVolume>) -> Snapshot {
        let mut s = Snapshot::from_objects(
            [
                node("a", "4", "8Gi"),
                labeled(node("b", "4", "8Gi"), "disk", "ssd"),
            ],
            &[],
        );
        for c in claims {
            let key = format!("default/{}", c.metadata.name.clone().unwrap_or_default());
            s.objects.claims.insert(key, Arc::new(c));
        }
        for v in volumes {
            let key = v.metadata.name.clone().unwrap_or_default();
            s.objects.volumes.insert(key, Arc::new(v));
        }
        s
    }

    fn outcome(snap: &Snapshot, p: Pod) -> String {
        match Framework::new().schedule_one(&p, snap) {
            Ok(r) => format!("on {}", r.node),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn claims_and_volumes() {
        type Case = (
            &'static str,
            Vec<PersistentVolumeClaim>,
            Vec<PersistentVolume>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "missing claim",
                vec![],
                vec![],
                "0/2 nodes are available: persistentvolumeclaim \"data\" not found. \
                 preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
            ),
            (
                "bound to a PV on b",
                vec![claim("data", Some("pv-b"), "1Gi")],
                vec![volume("pv-b", "b", "1Gi")],
                "on b",
            ),
            (
                "bound to a PV on a node that is gone",
                vec![claim("data", Some("pv-x"), "1Gi")],
                vec![volume("pv-x", "x", "1Gi")],
                "0/2 nodes are available: 2 node(s) had volume node affinity conflict. \
                 preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
            ),
            (
                "bound to a PV the scheduler has not seen",
                vec![claim("data", Some("pv-x"), "1Gi")],
                vec![],
                "0/2 nodes are available: 2 node(s) unavailable due to one or more pvc(s) bound \
                 to non-existent pv(s). preemption: 0/2 nodes are available: 2 Preemption is not \
                 helpful for scheduling.",
            ),
            (
                "unbound: the only big enough PV is on a",
                vec![claim("data", None, "5Gi")],
                vec![volume("small-b", "b", "1Gi"), volume("big-a", "a", "10Gi")],
                "on a",
            ),
            (
                "unbound: no PV fits",
                vec![claim("data", None, "50Gi")],
                vec![volume("big-a", "a", "10Gi")],
                "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to \
                 bind. preemption: 0/2 nodes are available: 2 Preemption is not helpful for \
                 scheduling.",
            ),
        ];
        for (name, claims, volumes, want) in cases {
            assert_eq!(
                outcome(&cluster(claims, volumes), with_claim("data")),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn candidate_volumes_must_match_class_modes_and_claim() {
        let c = claim("data", None, "1Gi");
        let mut other_class = volume("v", "a", "1Gi");
        if let Some(s) = other_class.spec.as_mut() {
            s.storage_class_name = Some("fast".into());
        }
        assert!(!volume_fits_claim(&other_class, &c, "default/data"));
        let mut many = volume("v", "a", "1Gi");
        if let Some(s) = many.spec.as_mut() {
            s.access_modes = Some(vec!["ReadOnlyMany".into()]);
        }
        assert!(!volume_fits_claim(&many, &c, "default/data"));
        let mut taken = volume("v", "a", "1Gi");
        if let Some(s) = taken.spec.as_mut() {
            s.claim_ref = Some(k8s_openapi::api::core::v1::ObjectReference {
                namespace: Some("default".into()),
                name: Some("someone-else".into()),
                ..Default::default()
            });
        }
        assert!(!volume_fits_claim(&taken, &c, "default/data"));
        assert!(volume_fits_claim(&taken, &c, "default/someone-else"));
        assert!(volume_fits_claim(
            &volume("v", "a", "2Gi"),
            &c,
            "default/data"
        ));
    }
}
