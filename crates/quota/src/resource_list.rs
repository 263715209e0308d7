//! ResourceList arithmetic with the semantics of apiserver's
//! `pkg/quota/v1` helpers (Add, Mask, LessThanOrEqual, …).
//!
//! Work happens on [`Amounts`] (parsed, format kept across sums as Go keeps
//! it in memory); [`ResourceList`] (name → Quantity text) is what objects
//! store and what the public API takes and returns.

use crate::quantity::Amount;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::{BTreeMap, BTreeSet};

/// `corev1.ResourceList`, as k8s-openapi types it.
pub type ResourceList = BTreeMap<String, Quantity>;

/// A resource list with parsed values.
pub type Amounts = BTreeMap<String, Amount>;

pub fn parse_list(list: &ResourceList) -> Amounts {
    list.iter()
        .map(|(k, v)| (k.clone(), Amount::lossy(v)))
        .collect()
}

pub fn to_list(amounts: &Amounts) -> ResourceList {
    amounts
        .iter()
        .map(|(k, v)| (k.clone(), v.to_quantity()))
        .collect()
}

/// Sum of both lists; a name in only one keeps its value.
pub fn add(a: &Amounts, b: &Amounts) -> Amounts {
    let mut out = a.clone();
    add_into(&mut out, b);
    out
}

pub(crate) fn add_into(acc: &mut Amounts, b: &Amounts) {
    for (name, value) in b {
        acc.entry(name.clone())
            .and_modify(|have| *have = have.plus(*value))
            .or_insert(*value);
    }
}

/// Per name, the larger value (component-helpers' `maxResourceList`).
pub(crate) fn max_into(acc: &mut Amounts, b: &Amounts) {
    for (name, value) in b {
        match acc.get(name) {
            Some(have) if value <= have => {}
            _ => {
                acc.insert(name.clone(), *value);
            }
        }
    }
}

/// `a - b` clamped at zero; names only in `b` become zero.
pub fn subtract_non_negative(a: &Amounts, b: &Amounts) -> Amounts {
    let mut out = Amounts::new();
    for (name, value) in a {
        let diff = b.get(name).map_or(*value, |other| value.minus(*other));
        let kept = if diff.signum() > 0 {
            diff
        } else {
            Amount::zero()
        };
        out.insert(name.clone(), kept);
    }
    for name in b.keys() {
        out.entry(name.clone()).or_insert_with(Amount::zero);
    }
    out
}

/// Only the names in `names`.
pub fn mask<'a>(list: &Amounts, names: impl IntoIterator<Item = &'a String>) -> Amounts {
    let names: BTreeSet<&String> = names.into_iter().collect();
    list.iter()
        .filter(|(k, _)| names.contains(k))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Names whose value in `a` exceeds the one in `b` (names absent from either
/// side are not compared). Empty means `a <= b`.
pub fn exceeding(a: &Amounts, b: &Amounts) -> Vec<String> {
    b.iter()
        .filter(|(name, limit)| a.get(*name).is_some_and(|value| value > *limit))
        .map(|(name, _)| name.clone())
        .collect()
}

pub fn remove_zeros(list: &Amounts) -> Amounts {
    list.iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

pub fn negative_names(list: &Amounts) -> Vec<String> {
    list.iter()
        .filter(|(_, v)| v.signum() < 0)
        .map(|(k, _)| k.clone())
        .collect()
}

/// Same names with equal values.
pub fn equals(a: &Amounts, b: &Amounts) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v))
}

/// `requests.cpu=2,requests.memory=1Gi`: names sorted, canonical values.
pub fn pretty_print(list: &Amounts) -> String {
    list.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amounts(pairs: &[(&str, &str)]) -> Amounts {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Amount::parse(v).unwrap_or_default()))
            .collect()
    }

    #[test]
    fn add_sums_shared_names_and_keeps_the_rest() {
        let sum = add(
            &amounts(&[("cpu", "500m"), ("memory", "1Gi")]),
            &amounts(&[("cpu", "1"), ("pods", "1")]),
        );
        assert_eq!(pretty_print(&sum), "cpu=1500m,memory=1Gi,pods=1");
    }

    #[test]
    fn subtract_never_goes_below_zero() {
        let diff = subtract_non_negative(
            &amounts(&[("cpu", "1"), ("memory", "1Gi")]),
            &amounts(&[("cpu", "2"), ("pods", "1")]),
        );
        assert_eq!(pretty_print(&diff), "cpu=0,memory=1Gi,pods=0");
    }

    #[test]
    fn exceeding_lists_only_names_over_the_limit() {
        let used = amounts(&[("cpu", "2"), ("memory", "1Gi"), ("pods", "3")]);
        let hard = amounts(&[("cpu", "1500m"), ("memory", "1Gi"), ("secrets", "1")]);
        assert_eq!(exceeding(&used, &hard), vec!["cpu".to_string()]);
    }

    #[test]
    fn mask_zeros_negatives_and_equality() {
        let list = amounts(&[("cpu", "0"), ("memory", "-1"), ("pods", "1")]);
        let names = ["pods".to_string(), "memory".to_string()];
        assert_eq!(pretty_print(&mask(&list, &names)), "memory=-1,pods=1");
        assert_eq!(pretty_print(&remove_zeros(&list)), "memory=-1,pods=1");
        assert_eq!(negative_names(&list), vec!["memory".to_string()]);
        assert!(equals(
            &amounts(&[("cpu", "1000m")]),
            &amounts(&[("cpu", "1")])
        ));
        assert!(!equals(
            &amounts(&[("cpu", "1")]),
            &amounts(&[("cpu", "1"), ("pods", "0")])
        ));
    }

    #[test]
    fn lists_round_trip_through_quantities() {
        let list: ResourceList = [("memory".to_string(), Quantity("1024Mi".into()))].into();
        assert_eq!(to_list(&parse_list(&list))["memory"].0, "1Gi");
    }
}
