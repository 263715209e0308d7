//! LabelSelector matching (matchLabels AND every matchExpression), as
//! metav1.LabelSelectorAsSelector evaluates it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// True when `labels` satisfy `selector`. An empty selector matches nothing,
/// as workload controllers treat it (they never adopt every pod).
pub fn matches(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let match_labels = selector.match_labels.as_ref();
    let exprs = selector.match_expressions.as_deref().unwrap_or(&[]);
    if match_labels.is_none_or(|m| m.is_empty()) && exprs.is_empty() {
        return false;
    }
    if let Some(want) = match_labels {
        if !want.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    exprs.iter().all(|e| {
        let values = e.values.as_deref().unwrap_or(&[]);
        let have = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => have.is_none_or(|v| !values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        }
    })
}

/// One requirement of a selector in string form (`labels.Parse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// Parse a label selector string (`a=b,c!=d,e in (f,g),h notin (i),j,!k`),
/// as `/scale`'s status.selector carries it. None for anything it cannot
/// read (the caller then asks the API server, which can).
pub fn parse(s: &str) -> Option<Vec<Requirement>> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        // Split at the next comma outside parentheses.
        let mut depth = 0;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        out.push(parse_one(rest[..end].trim())?);
        rest = rest.get(end + 1..).unwrap_or("").trim();
    }
    Some(out)
}

fn parse_one(term: &str) -> Option<Requirement> {
    let set = |list: &str| -> Option<Vec<String>> {
        let inner = list.trim().strip_prefix('(')?.strip_suffix(')')?;
        Some(
            inner
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect(),
        )
    };
    if let Some((k, v)) = term.split_once(" notin ") {
        return Some(Requirement::NotIn(k.trim().into(), set(v)?));
    }
    if let Some((k, v)) = term.split_once(" in ") {
        return Some(Requirement::In(k.trim().into(), set(v)?));
    }
    if let Some((k, v)) = term.split_once("!=") {
        return Some(Requirement::NotEquals(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Some(Requirement::Equals(k.trim().into(), v.trim().into()));
    }
    if let Some(k) = term.strip_prefix('!') {
        return Some(Requirement::DoesNotExist(k.trim().into()));
    }
    let valid = !term.is_empty() && !term.contains([' ', '(', ')']);
    valid.then(|| Requirement::Exists(term.into()))
}

/// True when `labels` satisfy every requirement (an empty list matches all).
pub fn matches_parsed(reqs: &[Requirement], labels: Option<&BTreeMap<String, String>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k));
    reqs.iter().all(|r| match r {
        Requirement::Equals(k, v) => get(k) == Some(v),
        Requirement::NotEquals(k, v) => get(k) != Some(v),
        Requirement::In(k, vs) => get(k).is_some_and(|v| vs.contains(v)),
        Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.contains(v)),
        Requirement::Exists(k) => get(k).is_some(),
        Requirement::DoesNotExist(k) => get(k).is_none(),
    })
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
    fn match_labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        };
        assert!(matches(&sel, Some(&labels(&[("app", "web")]))));
        assert!(!matches(
            &sel,
            Some(&labels(&[("app", "web"), ("tier", "db")]))
        ));
        assert!(!matches(&sel, Some(&labels(&[("app", "api")]))));
        assert!(!matches(
            &LabelSelector::default(),
            Some(&labels(&[("a", "b")]))
        ));
    }

    #[test]
    fn string_selectors() {
        let l = labels(&[("app", "web"), ("tier", "fe")]);
        let cases = [
            ("app=web", true),
            ("app==web,tier=fe", true),
            ("app=web,tier!=fe", false),
            ("tier in (fe, be),app", true),
            ("tier notin (fe),app", false),
            ("!missing,app", true),
            ("!app", false),
            ("", true),
        ];
        for (sel, want) in cases {
            let reqs = parse(sel).unwrap_or_else(|| panic!("parse {sel}"));
            assert_eq!(matches_parsed(&reqs, Some(&l)), want, "{sel}");
        }
        assert!(parse("tier in fe").is_none());
    }
}
