//! NodeAffinity.
//! - Filter: the node must carry every `nodeSelector` label and match one of
//!   the required `nodeSelectorTerms` (terms are ORed; inside a term, all
//!   expressions and fields are ANDed; an empty term matches nothing).
//! - Score: the sum of the weights of the preferred terms the node matches,
//!   scaled so the best node gets 100.
//!
//! PreFilter/PreScore compile the selectors against the snapshot's label
//! index (`node_selector.rs`); without that state (a bare `filter` call)
//! the labels are matched as strings.

use super::{default_normalize, FilterPlugin, Rejection, ScorePlugin};
use crate::cycle_state::CycleState;
use crate::node_info::NodeInfo;
use crate::node_selector::{PreferredNodeAffinity, RequiredNodeAffinity};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use k8s_openapi::api::core::v1::{
    NodeAffinity as NodeAffinitySpec, NodeSelectorRequirement, NodeSelectorTerm,
    PreferredSchedulingTerm,
};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const NAME: &str = "NodeAffinity";
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

pub struct NodeAffinity;

pub fn affinity(pod: &PodInfo) -> Option<&NodeAffinitySpec> {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
}

fn preferred(pod: &PodInfo) -> &[PreferredSchedulingTerm] {
    affinity(pod)
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or_default()
}

/// One requirement against a value that may be absent (label or field).
pub fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        op @ ("Gt" | "Lt") => {
            let [bound] = values else {
                return false;
            };
            let (Some(v), Ok(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                bound.parse::<i64>(),
            ) else {
                return false;
            };
            if op == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// A term matches when it says something and all of it holds. The only
/// field a node can be selected by is `metadata.name`.
pub fn term_matches(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let empty = BTreeMap::new();
    let labels = node.labels().unwrap_or(&empty);
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(node.name.as_str())))
}

/// nodeSelector and required node affinity, as the filter checks them.
pub fn required_matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    let spec = pod.pod.spec.as_ref();
    if let Some(selector) = spec.and_then(|s| s.node_selector.as_ref()) {
        let labels = node.labels();
        let all = selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !all {
            return false;
        }
    }
    match affinity(pod).and_then(|a| {
        a.required_during_scheduling_ignored_during_execution
            .as_ref()
    }) {
        Some(required) => required
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, node)),
        None => true,
    }
}

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        state: &mut CycleState,
    ) -> Result<(), Rejection> {
        state.node_affinity = RequiredNodeAffinity::compile(pod, snapshot).map(Arc::new);
        Ok(())
    }

    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        let fits = match &state.node_affinity {
            Some(compiled) => compiled.matches(node),
            None => required_matches(pod, node),
        };
        if fits {
            Ok(())
        } else {
            Err(Rejection::unresolvable(REASON))
        }
    }
}

impl ScorePlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn applies_to(&self, pod: &PodInfo) -> bool {
        !preferred(pod).is_empty()
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        _feasible: &[&NodeInfo],
        snapshot: &Snapshot,
        state: &mut CycleState,
    ) -> bool {
        state.node_affinity_preferred =
            Some(Arc::new(PreferredNodeAffinity::compile(pod, snapshot)));
        true
    }

    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo, _: &Snapshot) -> i64 {
        if let Some(compiled) = &state.node_affinity_preferred {
            return compiled.score(node);
        }
        preferred(pod)
            .iter()
            .filter(|t| term_matches(&t.preference, node))
            .map(|t| i64::from(t.weight))
            .sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(scores, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{labeled, node, pod};
    use k8s_openapi::api::core::v1::{Affinity, NodeSelector};

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn term(exprs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: Some(exprs),
            match_fields: None,
        }
    }

    fn pod_with(
        selector: &[(&str, &str)],
        required: Option<Vec<NodeSelectorTerm>>,
        preferred: Vec<PreferredSchedulingTerm>,
    ) -> PodInfo {
        let mut p = pod("p", &[]);
        if let Some(s) = p.spec.as_mut() {
            if !selector.is_empty() {
                s.node_selector = Some(
                    selector
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                );
            }
            s.affinity = Some(Affinity {
                node_affinity: Some(NodeAffinitySpec {
                    required_during_scheduling_ignored_during_execution: required.map(
                        |node_selector_terms| NodeSelector {
                            node_selector_terms,
                        },
                    ),
                    preferred_during_scheduling_ignored_during_execution: Some(preferred),
                }),
                ..Default::default()
            });
        }
        PodInfo::new(Arc::new(p))
    }

    fn info(labels: &[(&str, &str)]) -> NodeInfo {
        let n = labels
            .iter()
            .fold(node("n1", "4", "8Gi"), |n, (k, v)| labeled(n, k, v));
        NodeInfo::new(Arc::new(n))
    }

    #[test]
    fn node_selector_needs_every_label() {
        let p = pod_with(&[("disk", "ssd"), ("zone", "a")], None, vec![]);
        assert!(NodeAffinity
            .filter(
                &CycleState::default(),
                &p,
                &info(&[("disk", "ssd"), ("zone", "a")])
            )
            .is_ok());
        let err = NodeAffinity
            .filter(&CycleState::default(), &p, &info(&[("disk", "ssd")]))
            .unwrap_err();
        assert_eq!(
            err.reasons,
            vec!["node(s) didn't match Pod's node affinity/selector"]
        );
    }

    #[test]
    fn required_terms_are_ored_and_expressions_anded() {
        let p = pod_with(
            &[],
            Some(vec![
                term(vec![
                    req("zone", "In", &["a", "b"]),
                    req("gpu", "DoesNotExist", &[]),
                ]),
                term(vec![req("cores", "Gt", &["16"])]),
            ]),
            vec![],
        );
        assert!(NodeAffinity
            .filter(&CycleState::default(), &p, &info(&[("zone", "b")]))
            .is_ok());
        assert!(NodeAffinity
            .filter(
                &CycleState::default(),
                &p,
                &info(&[("zone", "b"), ("gpu", "1")])
            )
            .is_err());
        assert!(NodeAffinity
            .filter(&CycleState::default(), &p, &info(&[("cores", "32")]))
            .is_ok());
        assert!(NodeAffinity
            .filter(&CycleState::default(), &p, &info(&[("cores", "8")]))
            .is_err());
        assert!(NodeAffinity
            .filter(&CycleState::default(), &p, &info(&[("cores", "many")]))
            .is_err());
    }

    #[test]
    fn operators_on_missing_labels_and_fields() {
        let n = info(&[("zone", "a")]);
        assert!(requirement_matches(&req("x", "NotIn", &["a"]), None));
        assert!(!requirement_matches(&req("x", "In", &["a"]), None));
        assert!(!requirement_matches(&req("x", "Exists", &[]), None));
        assert!(!requirement_matches(&req("x", "Bogus", &[]), Some("a")));
        let by_name = NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![req("metadata.name", "In", &["n1"])]),
        };
        assert!(term_matches(&by_name, &n));
        assert!(
            !term_matches(&NodeSelectorTerm::default(), &n),
            "empty term matches nothing"
        );
    }

    #[test]
    fn preferred_terms_add_their_weights() {
        let p = pod_with(
            &[],
            None,
            vec![
                PreferredSchedulingTerm {
                    weight: 80,
                    preference: term(vec![req("zone", "In", &["a"])]),
                },
                PreferredSchedulingTerm {
                    weight: 20,
                    preference: term(vec![req("disk", "In", &["ssd"])]),
                },
            ],
        );
        assert!(NodeAffinity.applies_to(&p));
        let snap = Snapshot::new();
        let mut scores = [
            NodeAffinity.score(
                &CycleState::default(),
                &p,
                &info(&[("zone", "a"), ("disk", "ssd")]),
                &snap,
            ),
            NodeAffinity.score(&CycleState::default(), &p, &info(&[("zone", "a")]), &snap),
            NodeAffinity.score(&CycleState::default(), &p, &info(&[("disk", "ssd")]), &snap),
            NodeAffinity.score(&CycleState::default(), &p, &info(&[]), &snap),
        ];
        assert_eq!(scores, [100, 80, 20, 0]);
        scores[0] = 50;
        NodeAffinity.normalize(&mut scores);
        assert_eq!(scores, [62, 100, 25, 0]);
        assert!(!NodeAffinity.applies_to(&pod_with(&[], None, vec![])));
    }
}
