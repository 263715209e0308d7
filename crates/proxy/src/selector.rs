//! Label selector matching (metav1.LabelSelector) for NetworkPolicies.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// Whether `labels` match `selector`; the empty selector matches everything.
/// An unknown operator matches nothing (the API server rejects those anyway).
pub fn matches(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let by_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = selector.match_expressions.iter().flatten().all(|req| {
        let value = labels.get(&req.key);
        let values = req.values.as_deref().unwrap_or(&[]);
        match req.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    by_labels && by_expressions
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

    fn req(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn selector_table() {
        let web = labels(&[("app", "web"), ("tier", "front")]);
        let cases: Vec<(&str, LabelSelector, bool)> = vec![
            ("empty matches all", LabelSelector::default(), true),
            (
                "matchLabels hit",
                LabelSelector {
                    match_labels: Some(labels(&[("app", "web")])),
                    ..Default::default()
                },
                true,
            ),
            (
                "matchLabels miss",
                LabelSelector {
                    match_labels: Some(labels(&[("app", "db")])),
                    ..Default::default()
                },
                false,
            ),
            (
                "In",
                LabelSelector {
                    match_expressions: Some(vec![req("tier", "In", &["front", "back"])]),
                    ..Default::default()
                },
                true,
            ),
            (
                "NotIn on missing key",
                LabelSelector {
                    match_expressions: Some(vec![req("zone", "NotIn", &["a"])]),
                    ..Default::default()
                },
                true,
            ),
            (
                "DoesNotExist",
                LabelSelector {
                    match_expressions: Some(vec![req("app", "DoesNotExist", &[])]),
                    ..Default::default()
                },
                false,
            ),
        ];
        for (name, selector, want) in cases {
            assert_eq!(matches(&selector, Some(&web)), want, "{name}");
        }
    }
}
