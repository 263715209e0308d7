//! Label selectors compiled once (per pod, per cycle) into requirements, so
//! matching thousands of pods does not re-read the API shape each time.
//!
//! A `nil` selector in a pod affinity term or a spread constraint selects
//! nothing; an empty one (`{}`) selects everything. Operators follow
//! apimachinery: `In`, `NotIn` (also true without the label), `Exists`,
//! `DoesNotExist`; an unknown operator makes the selector select nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

impl Requirement {
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let value = labels.and_then(|l| l.get(&self.key));
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Selector {
    /// Selects no object (`nil` selector, or one that failed to parse).
    Nothing,
    /// All requirements must hold; none selects everything.
    All(Vec<Requirement>),
}

impl Selector {
    pub fn everything() -> Self {
        Selector::All(Vec::new())
    }

    /// `nil` → Nothing; otherwise matchLabels and matchExpressions ANDed.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Self {
        let Some(s) = selector else {
            return Selector::Nothing;
        };
        let mut reqs: Vec<Requirement> = s
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                operator: Operator::In,
                values: vec![v.clone()],
            })
            .collect();
        for e in s.match_expressions.iter().flatten() {
            let operator = match e.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                _ => return Selector::Nothing,
            };
            reqs.push(Requirement {
                key: e.key.clone(),
                operator,
                values: e.values.clone().unwrap_or_default(),
            });
        }
        Selector::All(reqs)
    }

    /// A selector from plain `key=value` pairs (Service and RC selectors).
    pub fn from_map(labels: &BTreeMap<String, String>) -> Self {
        Selector::All(
            labels
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    operator: Operator::In,
                    values: vec![v.clone()],
                })
                .collect(),
        )
    }

    /// Add `key In [value]` (matchLabelKeys); no effect on Nothing.
    pub fn with_requirement(mut self, req: Requirement) -> Self {
        if let Selector::All(reqs) = &mut self {
            reqs.push(req);
        }
        self
    }

    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::All(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }

    /// Selects everything (no requirement).
    pub fn is_empty(&self) -> bool {
        matches!(self, Selector::All(r) if r.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nil_selects_nothing_and_empty_everything() {
        let l = labels(&[("app", "web")]);
        assert!(!Selector::from_label_selector(None).matches(Some(&l)));
        let empty = LabelSelector::default();
        assert!(Selector::from_label_selector(Some(&empty)).matches(Some(&l)));
        assert!(Selector::from_label_selector(Some(&empty)).matches(None));
    }

    #[test]
    fn operators() {
        let expr = |key: &str, op: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        };
        type Case<'a> = (LabelSelectorRequirement, &'a [(&'a str, &'a str)], bool);
        let cases: Vec<Case> = vec![
            (expr("app", "In", &["web", "db"]), &[("app", "db")], true),
            (expr("app", "In", &["web"]), &[], false),
            (expr("app", "NotIn", &["web"]), &[], true),
            (expr("app", "NotIn", &["web"]), &[("app", "web")], false),
            (expr("app", "Exists", &[]), &[("app", "")], true),
            (expr("app", "DoesNotExist", &[]), &[("app", "x")], false),
            (expr("app", "Bogus", &[]), &[("app", "x")], false),
        ];
        for (req, l, want) in cases {
            let s = LabelSelector {
                match_expressions: Some(vec![req.clone()]),
                match_labels: None,
            };
            assert_eq!(
                Selector::from_label_selector(Some(&s)).matches(Some(&labels(l))),
                want,
                "{req:?} on {l:?}"
            );
        }
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let s = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Exists".into(),
                values: None,
            }]),
        };
        let sel = Selector::from_label_selector(Some(&s));
        assert!(sel.matches(Some(&labels(&[("app", "web"), ("tier", "fe")]))));
        assert!(!sel.matches(Some(&labels(&[("app", "web")]))));
    }
}
