//! A pod's node selection (`nodeSelector`, required and preferred node
//! affinity terms) compiled once per cycle against the snapshot's label
//! index (`Snapshot::topology_values`: per label key, every node's value as
//! a small id by node position). Matching a node is then a few vector reads
//! by `NodeInfo::position` instead of string look-ups in its label map.
//!
//! ```text
//!  requirement key In [a, b]  ─compile─▶ index(key), ids {a, b} (values no node has drop out)
//!  node at position p         ─match──▶ index(key).per_node[p] ∈ ids
//! ```
//! Gt/Lt are worked out once per distinct value of the key; `matchFields`
//! (only `metadata.name`) still compare the node's name.
//!
//! The compiled form is only valid for nodes of the snapshot it was built
//! from (positions and ids are that snapshot's).

use crate::node_info::NodeInfo;
use crate::plugins::node_affinity::{affinity, requirement_matches};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use crate::topology_values::TopologyValues;
use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};
use std::sync::Arc;

#[derive(Clone, Debug)]
enum ValueTest {
    In(Vec<u32>),
    NotIn(Vec<u32>),
    Exists,
    DoesNotExist,
    /// Per value id: does it pass (Gt, Lt). Missing labels never pass.
    Table(Vec<bool>),
    /// Unknown operator: nothing passes.
    Never,
}

/// One label requirement, by value id.
#[derive(Clone, Debug)]
pub struct LabelTest {
    values: Arc<TopologyValues>,
    test: ValueTest,
}

impl LabelTest {
    pub fn compile(req: &NodeSelectorRequirement, snapshot: &Snapshot) -> Self {
        let values = snapshot.topology_values(&req.key);
        let listed = req.values.as_deref().unwrap_or_default();
        let ids = || listed.iter().filter_map(|v| values.id_of(v)).collect();
        let test = match req.operator.as_str() {
            "In" => ValueTest::In(ids()),
            "NotIn" => ValueTest::NotIn(ids()),
            "Exists" => ValueTest::Exists,
            "DoesNotExist" => ValueTest::DoesNotExist,
            "Gt" | "Lt" => ValueTest::Table(
                values
                    .values
                    .iter()
                    .map(|v| requirement_matches(req, Some(v)))
                    .collect(),
            ),
            _ => ValueTest::Never,
        };
        LabelTest { values, test }
    }

    /// `key = value` (nodeSelector).
    pub fn equals(key: &str, value: &str, snapshot: &Snapshot) -> Self {
        let values = snapshot.topology_values(key);
        let test = ValueTest::In(values.id_of(value).into_iter().collect());
        LabelTest { values, test }
    }

    pub fn matches_at(&self, position: usize) -> bool {
        let id = self.values.per_node.get(position).copied().flatten();
        match (&self.test, id) {
            (ValueTest::In(ids), Some(id)) => ids.contains(&id),
            (ValueTest::In(_), None) => false,
            (ValueTest::NotIn(ids), Some(id)) => !ids.contains(&id),
            (ValueTest::NotIn(_), None) => true,
            (ValueTest::Exists, id) => id.is_some(),
            (ValueTest::DoesNotExist, id) => id.is_none(),
            (ValueTest::Table(ok), Some(id)) => ok.get(id as usize).copied().unwrap_or(false),
            (ValueTest::Table(_), None) => false,
            (ValueTest::Never, _) => false,
        }
    }
}

/// One nodeSelectorTerm: every label test and field test must hold; an
/// empty term matches nothing.
#[derive(Clone, Debug)]
pub struct CompiledTerm {
    labels: Vec<LabelTest>,
    fields: Vec<NodeSelectorRequirement>,
    empty: bool,
}

impl CompiledTerm {
    pub fn compile(term: &NodeSelectorTerm, snapshot: &Snapshot) -> Self {
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        let fields = term.match_fields.clone().unwrap_or_default();
        CompiledTerm {
            labels: exprs
                .iter()
                .map(|r| LabelTest::compile(r, snapshot))
                .collect(),
            empty: exprs.is_empty() && fields.is_empty(),
            fields,
        }
    }

    pub fn matches(&self, node: &NodeInfo) -> bool {
        !self.empty
            && self.labels.iter().all(|t| t.matches_at(node.position))
            && self.fields.iter().all(|r| {
                r.key == "metadata.name" && requirement_matches(r, Some(node.name.as_str()))
            })
    }
}

/// nodeSelector AND (any of the required terms), as NodeAffinity filters.
#[derive(Clone, Debug)]
pub struct RequiredNodeAffinity {
    node_selector: Vec<LabelTest>,
    required_terms: Option<Vec<CompiledTerm>>,
}

impl RequiredNodeAffinity {
    /// None when the pod selects nodes by neither (every node matches).
    pub fn compile(pod: &PodInfo, snapshot: &Snapshot) -> Option<Self> {
        let spec = pod.pod.spec.as_ref();
        let node_selector = spec.and_then(|s| s.node_selector.as_ref());
        let required = affinity(pod).and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
        if node_selector.is_none() && required.is_none() {
            return None;
        }
        Some(RequiredNodeAffinity {
            node_selector: node_selector
                .into_iter()
                .flatten()
                .map(|(k, v)| LabelTest::equals(k, v, snapshot))
                .collect(),
            required_terms: required.map(|r| {
                r.node_selector_terms
                    .iter()
                    .map(|t| CompiledTerm::compile(t, snapshot))
                    .collect()
            }),
        })
    }

    pub fn matches(&self, node: &NodeInfo) -> bool {
        self.node_selector
            .iter()
            .all(|t| t.matches_at(node.position))
            && self
                .required_terms
                .as_ref()
                .is_none_or(|terms| terms.iter().any(|t| t.matches(node)))
    }
}

/// Preferred node affinity terms with their weights (NodeAffinity score).
#[derive(Clone, Debug, Default)]
pub struct PreferredNodeAffinity {
    pub terms: Vec<(CompiledTerm, i64)>,
}

impl PreferredNodeAffinity {
    pub fn compile(pod: &PodInfo, snapshot: &Snapshot) -> Self {
        let preferred = affinity(pod)
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_deref()
            })
            .unwrap_or_default();
        PreferredNodeAffinity {
            terms: preferred
                .iter()
                .map(|t| {
                    (
                        CompiledTerm::compile(&t.preference, snapshot),
                        i64::from(t.weight),
                    )
                })
                .collect(),
        }
    }

    pub fn score(&self, node: &NodeInfo) -> i64 {
        self.terms
            .iter()
            .filter(|(t, _)| t.matches(node))
            .map(|(_, w)| *w)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::node_affinity::{required_matches, term_matches};
    use crate::testing::{labeled, node, pod};
    use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, NodeSelector};

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    /// Compiled and string matching agree on every node for every operator.
    #[test]
    fn compiled_terms_agree_with_string_matching() {
        let nodes: Vec<_> = (0..12)
            .map(|i| {
                let mut n = node(&format!("n{i:02}"), "4", "8Gi");
                if i % 3 != 0 {
                    n = labeled(n, "zone", &format!("z{}", i % 4));
                }
                if i % 2 == 0 {
                    n = labeled(n, "cores", &format!("{}", i * 4));
                }
                n
            })
            .collect();
        let snap = Snapshot::from_objects(nodes, &[]);
        let terms = [
            vec![req("zone", "In", &["z1", "z2", "nowhere"])],
            vec![req("zone", "NotIn", &["z1"])],
            vec![req("zone", "Exists", &[])],
            vec![req("zone", "DoesNotExist", &[])],
            vec![req("cores", "Gt", &["16"])],
            vec![req("cores", "Lt", &["16"])],
            vec![req("cores", "Gt", &["x"])],
            vec![req("zone", "Bogus", &[])],
            vec![req("zone", "In", &["z2"]), req("cores", "Exists", &[])],
            vec![],
        ];
        for exprs in terms {
            for fields in [
                None,
                Some(vec![req("metadata.name", "In", &["n02", "n05"])]),
            ] {
                let term = NodeSelectorTerm {
                    match_expressions: Some(exprs.clone()),
                    match_fields: fields,
                };
                let compiled = CompiledTerm::compile(&term, &snap);
                for n in snap.nodes() {
                    assert_eq!(
                        compiled.matches(n),
                        term_matches(&term, n),
                        "{term:?} on {}",
                        n.name
                    );
                }
            }
        }
    }

    #[test]
    fn required_affinity_agrees_with_string_matching() {
        let snap = Snapshot::from_objects(
            [
                labeled(labeled(node("a", "4", "8Gi"), "zone", "z1"), "disk", "ssd"),
                labeled(node("b", "4", "8Gi"), "zone", "z2"),
                node("c", "4", "8Gi"),
            ],
            &[],
        );
        let mut p = pod("p", &[]);
        if let Some(s) = p.spec.as_mut() {
            s.node_selector = Some([("disk".to_string(), "ssd".to_string())].into());
            s.affinity = Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![req("zone", "In", &["z1", "z2"])]),
                            match_fields: None,
                        }],
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        let info = PodInfo::new(Arc::new(p));
        let compiled = RequiredNodeAffinity::compile(&info, &snap).expect("selects");
        let got: Vec<bool> = snap.nodes().map(|n| compiled.matches(n)).collect();
        let want: Vec<bool> = snap.nodes().map(|n| required_matches(&info, n)).collect();
        assert_eq!(got, want);
        assert_eq!(got, [true, false, false]);
        assert!(
            RequiredNodeAffinity::compile(&PodInfo::new(Arc::new(pod("q", &[]))), &snap).is_none()
        );
    }
}
