//! Pod (anti-)affinity terms compiled once per pod: which namespaces they
//! look in, which labels they select, over which topology key.
//!
//! Namespaces (upstream's GetNamespacesFromPodAffinityTerm): the listed
//! ones; with none listed and no `namespaceSelector`, the pod's own. A
//! `namespaceSelector` of `{}` selects every namespace. `matchLabelKeys` /
//! `mismatchLabelKeys` add `key In/NotIn [the pod's value]` to the selector
//! (upstream's API server merges them at creation; merging again is a no-op
//! for the result).

use crate::label_selector::{Operator, Requirement, Selector};
use k8s_openapi::api::core::v1::{PodAffinityTerm, WeightedPodAffinityTerm};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AffinityTerm {
    pub namespaces: Vec<String>,
    /// None when the term has no namespaceSelector.
    pub namespace_selector: Option<Selector>,
    pub selector: Selector,
    pub topology_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WeightedAffinityTerm {
    pub term: AffinityTerm,
    pub weight: i64,
}

impl AffinityTerm {
    pub fn new(
        owner_namespace: &str,
        owner_labels: Option<&BTreeMap<String, String>>,
        term: &PodAffinityTerm,
    ) -> Self {
        let mut namespaces = term.namespaces.clone().unwrap_or_default();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(owner_namespace.to_string());
        }
        let mut selector = Selector::from_label_selector(term.label_selector.as_ref());
        let keys = [
            (term.match_label_keys.as_deref(), Operator::In),
            (term.mismatch_label_keys.as_deref(), Operator::NotIn),
        ];
        for (keys, operator) in keys {
            for key in keys.unwrap_or_default() {
                if let Some(value) = owner_labels.and_then(|l| l.get(key)) {
                    selector = selector.with_requirement(Requirement {
                        key: key.clone(),
                        operator: operator.clone(),
                        values: vec![value.clone()],
                    });
                }
            }
        }
        AffinityTerm {
            namespaces,
            namespace_selector: term
                .namespace_selector
                .as_ref()
                .map(|s| Selector::from_label_selector(Some(s))),
            selector,
            topology_key: term.topology_key.clone(),
        }
    }

    /// Does a pod in `namespace` with `labels` fall under this term?
    /// `namespace_labels` are the labels of that namespace (for the
    /// namespaceSelector).
    pub fn matches(
        &self,
        namespace: &str,
        labels: Option<&BTreeMap<String, String>>,
        namespace_labels: Option<&BTreeMap<String, String>>,
    ) -> bool {
        let in_namespace = self.namespaces.iter().any(|n| n == namespace)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(namespace_labels));
        in_namespace && self.selector.matches(labels)
    }
}

pub fn compile_terms(
    namespace: &str,
    labels: Option<&BTreeMap<String, String>>,
    terms: Option<&Vec<PodAffinityTerm>>,
) -> Vec<AffinityTerm> {
    terms
        .into_iter()
        .flatten()
        .map(|t| AffinityTerm::new(namespace, labels, t))
        .collect()
}

pub fn compile_weighted(
    namespace: &str,
    labels: Option<&BTreeMap<String, String>>,
    terms: Option<&Vec<WeightedPodAffinityTerm>>,
) -> Vec<WeightedAffinityTerm> {
    terms
        .into_iter()
        .flatten()
        .map(|t| WeightedAffinityTerm {
            term: AffinityTerm::new(namespace, labels, &t.pod_affinity_term),
            weight: i64::from(t.weight),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn app(value: &str) -> Option<LabelSelector> {
        Some(LabelSelector {
            match_labels: Some(labels(&[("app", value)])),
            match_expressions: None,
        })
    }

    #[test]
    fn namespaces_default_to_the_owners() {
        let t = AffinityTerm::new(
            "team-a",
            None,
            &PodAffinityTerm {
                label_selector: app("web"),
                topology_key: "zone".into(),
                ..Default::default()
            },
        );
        let web = labels(&[("app", "web")]);
        assert!(t.matches("team-a", Some(&web), None));
        assert!(!t.matches("team-b", Some(&web), None));
    }

    #[test]
    fn namespace_selector_and_list_are_ored() {
        let t = AffinityTerm::new(
            "team-a",
            None,
            &PodAffinityTerm {
                label_selector: app("web"),
                namespaces: Some(vec!["listed".into()]),
                namespace_selector: Some(LabelSelector {
                    match_labels: Some(labels(&[("env", "prod")])),
                    match_expressions: None,
                }),
                topology_key: "zone".into(),
                ..Default::default()
            },
        );
        let web = labels(&[("app", "web")]);
        let prod = labels(&[("env", "prod")]);
        let cases = [
            ("listed", None, true),
            ("team-a", None, false),
            ("other", Some(&prod), true),
            ("other", None, false),
        ];
        for (ns, ns_labels, want) in cases {
            assert_eq!(t.matches(ns, Some(&web), ns_labels), want, "{ns}");
        }
        let all = AffinityTerm::new(
            "team-a",
            None,
            &PodAffinityTerm {
                label_selector: app("web"),
                namespace_selector: Some(LabelSelector::default()),
                topology_key: "zone".into(),
                ..Default::default()
            },
        );
        assert!(
            all.matches("anything", Some(&web), None),
            "{{}} selects all"
        );
    }

    #[test]
    fn match_label_keys_pin_the_owners_value() {
        let owner = labels(&[("app", "web"), ("rev", "2")]);
        let t = AffinityTerm::new(
            "ns",
            Some(&owner),
            &PodAffinityTerm {
                label_selector: app("web"),
                match_label_keys: Some(vec!["rev".into(), "absent".into()]),
                topology_key: "zone".into(),
                ..Default::default()
            },
        );
        assert!(t.matches("ns", Some(&owner), None));
        let old = labels(&[("app", "web"), ("rev", "1")]);
        assert!(!t.matches("ns", Some(&old), None));
    }
}
