//! TaintToleration.
//! - Filter: a node's `NoSchedule`/`NoExecute` taints must all be tolerated;
//!   the first one that is not names the reason.
//! - Score: fewer untolerated `PreferNoSchedule` taints rank higher.

use super::{default_normalize, FilterPlugin, Rejection, ScorePlugin};
use crate::cycle_state::CycleState;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use k8s_openapi::api::core::v1::{Taint, Toleration};

pub const NAME: &str = "TaintToleration";

/// The reason text for a taint the pod does not tolerate.
pub fn untolerated_reason(taint: &Taint) -> String {
    format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key,
        taint.value.as_deref().unwrap_or_default()
    )
}

/// Upstream's ToleratesTaint: effect (empty = all), key (empty = all, with
/// Exists), then Exists or Equal on the value.
pub fn toleration_matches(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or_default() {
        "Exists" => true,
        "" | "Equal" => {
            t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

fn tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

pub fn tolerates_taint(pod: &PodInfo, taint: &Taint) -> bool {
    tolerations(pod)
        .iter()
        .any(|t| toleration_matches(t, taint))
}

pub struct TaintToleration;

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        if !node.has_hard_taints {
            return Ok(());
        }
        let untolerated = node.taints().iter().find(|taint| {
            matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
                && !tolerates_taint(pod, taint)
        });
        match untolerated {
            Some(taint) => Err(Rejection::unresolvable(untolerated_reason(taint))),
            None => Ok(()),
        }
    }
}

impl ScorePlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Raw score: how many PreferNoSchedule taints the pod does not tolerate
    /// (only tolerations for that effect, or for all effects, count).
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo, _: &Snapshot) -> i64 {
        if !node.has_soft_taints {
            return 0;
        }
        let prefer: Vec<&Toleration> = tolerations(pod)
            .iter()
            .filter(|t| {
                matches!(
                    t.effect.as_deref().unwrap_or_default(),
                    "" | "PreferNoSchedule"
                )
            })
            .collect();
        node.taints()
            .iter()
            .filter(|taint| taint.effect == "PreferNoSchedule")
            .filter(|taint| !prefer.iter().any(|t| toleration_matches(t, taint)))
            .count() as i64
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod, tainted};
    use std::sync::Arc;

    fn info(n: k8s_openapi::api::core::v1::Node) -> NodeInfo {
        NodeInfo::new(Arc::new(n))
    }

    fn pod_tolerating(tols: Vec<Toleration>) -> PodInfo {
        let mut p = pod("p", &[]);
        if let Some(s) = p.spec.as_mut() {
            s.tolerations = Some(tols);
        }
        PodInfo::new(Arc::new(p))
    }

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Toleration {
            key: opt(key),
            operator: opt(op),
            value: opt(value),
            effect: opt(effect),
            ..Default::default()
        }
    }

    #[test]
    fn untolerated_taint_message_matches_upstream() {
        let n = info(tainted(
            node("cp", "4", "8Gi"),
            "node-role.kubernetes.io/control-plane",
            "",
            "NoSchedule",
        ));
        let err = TaintToleration
            .filter(&CycleState::default(), &pod_tolerating(vec![]), &n)
            .unwrap_err();
        assert_eq!(
            err.reasons,
            vec!["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]
        );
        let n = info(tainted(
            node("g", "4", "8Gi"),
            "dedicated",
            "gpu",
            "NoExecute",
        ));
        let err = TaintToleration
            .filter(&CycleState::default(), &pod_tolerating(vec![]), &n)
            .unwrap_err();
        assert_eq!(
            err.reasons,
            vec!["node(s) had untolerated taint {dedicated: gpu}"]
        );
    }

    #[test]
    fn tolerations_by_equal_exists_and_wildcard() {
        let n = info(tainted(
            node("g", "4", "8Gi"),
            "dedicated",
            "gpu",
            "NoSchedule",
        ));
        for ok in [
            tol("dedicated", "Equal", "gpu", "NoSchedule"),
            tol("dedicated", "", "gpu", ""),
            tol("dedicated", "Exists", "", ""),
            tol("", "Exists", "", ""),
        ] {
            assert!(
                TaintToleration
                    .filter(
                        &CycleState::default(),
                        &pod_tolerating(vec![ok.clone()]),
                        &n
                    )
                    .is_ok(),
                "{ok:?}"
            );
        }
        for bad in [
            tol("dedicated", "Equal", "cpu", "NoSchedule"),
            tol("dedicated", "Exists", "", "NoExecute"),
            tol("other", "Exists", "", ""),
        ] {
            assert!(
                TaintToleration
                    .filter(
                        &CycleState::default(),
                        &pod_tolerating(vec![bad.clone()]),
                        &n
                    )
                    .is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn prefer_no_schedule_only_affects_the_score() {
        let soft = info(tainted(
            node("s", "4", "8Gi"),
            "spot",
            "true",
            "PreferNoSchedule",
        ));
        let plain = info(node("p", "4", "8Gi"));
        let p = pod_tolerating(vec![]);
        assert!(TaintToleration
            .filter(&CycleState::default(), &p, &soft)
            .is_ok());
        let snap = Snapshot::new();
        let mut scores = [
            TaintToleration.score(&CycleState::default(), &p, &soft, &snap),
            TaintToleration.score(&CycleState::default(), &p, &plain, &snap),
        ];
        assert_eq!(scores, [1, 0]);
        TaintToleration.normalize(&mut scores);
        assert_eq!(scores, [0, 100]);
        // Tolerating it (for PreferNoSchedule) removes the penalty.
        let tolerant = pod_tolerating(vec![tol("spot", "Exists", "", "PreferNoSchedule")]);
        assert_eq!(
            TaintToleration.score(&CycleState::default(), &tolerant, &soft, &snap),
            0
        );
        // A NoSchedule-only toleration does not count for the score.
        let other = pod_tolerating(vec![tol("spot", "Exists", "", "NoSchedule")]);
        assert_eq!(
            TaintToleration.score(&CycleState::default(), &other, &soft, &snap),
            1
        );
    }
}
