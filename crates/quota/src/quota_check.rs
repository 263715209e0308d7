//! Admission against ResourceQuotas (upstream `CheckRequest` and the pod
//! evaluator's `Constraints`).
//!
//! ```text
//! object ─► for each quota: matches? (resources ∩ hard, scopes)
//!             ├─ pod: cpu/memory limited ⇒ every container sets it ("must specify")
//!             └─ status.used known for every limited name ("status unknown")
//!        ─► usage (minus old usage on update, never negative)
//!        ─► per matching quota: used + (usage ∩ hard) <= hard ? new used : "exceeded quota"
//! ```

use crate::quota_error::{QuotaError, QuotaExceeded};
use crate::resource_list::{
    add, exceeding, mask, negative_names, parse_list, remove_zeros, subtract_non_negative, to_list,
    Amounts, ResourceList,
};
use crate::scopes::{hard_of, matches, matching_resources};
use crate::usage::{compute_usage, now, QuotaObject};
use k8s_openapi::api::core::v1::{Container, Pod, ResourceQuota};
use std::collections::{BTreeMap, BTreeSet};

fn name_of(quota: &ResourceQuota) -> String {
    quota.metadata.name.clone().unwrap_or_default()
}

/// Charges `delta` to `quota`: the new `status.used`, or why it does not fit.
/// Only names the quota limits are charged; only names actually charged
/// are compared.
pub fn check(
    quota: &ResourceQuota,
    current_used: &ResourceList,
    delta: &ResourceList,
) -> Result<ResourceList, QuotaExceeded> {
    let hard = parse_list(&hard_of(quota));
    let used = parse_list(current_used);
    let requested = mask(&parse_list(delta), hard.keys());
    let new_used = add(&used, &requested);
    let charged = mask(&new_used, requested.keys());
    let exceeded = exceeding(&charged, &hard);
    if exceeded.is_empty() {
        return Ok(to_list(&new_used));
    }
    Err(QuotaExceeded {
        quota: name_of(quota),
        requested: mask(&requested, &exceeded),
        used: mask(&used, &exceeded),
        limited: mask(&hard, &exceeded),
    })
}

/// Quota names that, when limited, every container must set (a historical
/// rule upstream keeps for cpu and memory only).
const MUST_SPECIFY: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// `must specify limits.cpu for: c1; requests.memory for: c1,c2` when the
/// quota limits a cpu/memory name that some container leaves unset.
pub fn pod_constraints(quota: &ResourceQuota, pod: &Pod) -> Result<(), QuotaError> {
    let names: Vec<String> = hard_of(quota).into_keys().collect();
    let required: BTreeSet<String> = matching_resources(&QuotaObject::Pod(pod), &names)
        .into_iter()
        .filter(|n| MUST_SPECIFY.contains(&n.as_str()))
        .collect();
    if required.is_empty() {
        return Ok(());
    }
    let mut missing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let containers = pod.spec.iter().flat_map(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
    });
    for c in containers {
        let has = container_usage_names(c);
        for name in required.difference(&has) {
            missing
                .entry(name.clone())
                .or_default()
                .insert(c.name.clone());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let missing = missing
        .iter()
        .map(|(name, containers)| {
            let containers: Vec<&str> = containers.iter().map(String::as_str).collect();
            format!("{name} for: {}", containers.join(","))
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(QuotaError::MissingRequirements {
        quota: name_of(quota),
        missing,
    })
}

fn container_usage_names(c: &Container) -> BTreeSet<String> {
    let r = c.resources.as_ref();
    let requests = r
        .and_then(|r| r.requests.as_ref())
        .map(parse_list)
        .unwrap_or_default();
    let limits = r
        .and_then(|r| r.limits.as_ref())
        .map(parse_list)
        .unwrap_or_default();
    compute_usage(&requests, &limits).into_keys().collect()
}

/// A quota whose `status.used` changes because of the admitted object.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaUpdate {
    /// Index into the `quotas` slice given to [`admit`].
    pub index: usize,
    pub used: ResourceList,
}

/// Admission of one object against the namespace's quotas.
///
/// Call on create; on update only for kinds whose usage can change
/// (services, PVCs, pods via `resize`) and pass the stored object as `old`,
/// so that only the growth is charged. Returns the quotas to write back
/// (empty when nothing is charged); persist them before accepting the
/// object, retrying on conflict, as upstream's quota evaluator does.
pub fn admit(
    quotas: &[ResourceQuota],
    object: &QuotaObject,
    old: Option<&QuotaObject>,
) -> Result<Vec<QuotaUpdate>, QuotaError> {
    let mut interesting = Vec::new();
    for (index, quota) in quotas.iter().enumerate() {
        if !matches(quota, object)? {
            continue;
        }
        let hard_names: Vec<String> = hard_of(quota).into_keys().collect();
        let restricted = matching_resources(object, &hard_names);
        if let QuotaObject::Pod(pod) = object {
            pod_constraints(quota, pod)?;
        }
        let used = quota.status.as_ref().and_then(|s| s.used.as_ref());
        let unknown: Vec<String> = restricted
            .iter()
            .filter(|name| !used.is_some_and(|u| u.contains_key(*name)))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            let mut resources = restricted.clone();
            resources.sort();
            return Err(QuotaError::StatusUnknown {
                quota: name_of(quota),
                resources,
            });
        }
        interesting.push(index);
    }
    if interesting.is_empty() {
        return Ok(Vec::new());
    }

    let at = now();
    let usage = object.amounts_at(at);
    let negative = negative_names(&usage);
    if !negative.is_empty() {
        return Err(QuotaError::NegativeUsage {
            resources: negative,
        });
    }
    let old_usage = old.map(|o| o.amounts_at(at));

    let mut updates = Vec::new();
    for index in interesting {
        let quota = &quotas[index];
        let delta: Amounts = match (&old_usage, old) {
            (Some(old_usage), Some(old)) if matches(quota, old)? => {
                subtract_non_negative(&usage, old_usage)
            }
            _ => usage.clone(),
        };
        let delta = remove_zeros(&delta);
        if delta.is_empty() {
            continue;
        }
        let used = quota
            .status
            .as_ref()
            .and_then(|s| s.used.clone())
            .unwrap_or_default();
        let new_used = check(quota, &used, &to_list(&delta))?;
        if parse_list(&new_used) != parse_list(&used) {
            updates.push(QuotaUpdate {
                index,
                used: new_used,
            });
        }
    }
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{container, list, pod_with, quota};
    use k8s_openapi::api::core::v1::{Service, ServiceSpec};

    #[test]
    fn check_charges_and_reports_like_upstream() {
        let q = quota(
            "compute-resources",
            &[("requests.cpu", "2"), ("pods", "4")],
            None,
            &[],
        );
        let used = list(&[("requests.cpu", "1"), ("pods", "1")]);
        let fits = check(
            &q,
            &used,
            &list(&[("requests.cpu", "500m"), ("pods", "1"), ("memory", "1Gi")]),
        );
        assert_eq!(fits, Ok(list(&[("pods", "2"), ("requests.cpu", "1500m")])));

        let err =
            check(&q, &used, &list(&[("requests.cpu", "2"), ("pods", "1")])).expect_err("exceeds");
        assert_eq!(
            err.to_string(),
            "exceeded quota: compute-resources, requested: requests.cpu=2, used: requests.cpu=1, limited: requests.cpu=2"
        );
    }

    #[test]
    fn check_lists_every_exceeded_name_sorted() {
        let q = quota(
            "q",
            &[("requests.memory", "1Gi"), ("requests.cpu", "1")],
            None,
            &[],
        );
        let used = list(&[("requests.memory", "512Mi"), ("requests.cpu", "500m")]);
        let err = check(
            &q,
            &used,
            &list(&[("requests.memory", "1Gi"), ("requests.cpu", "1")]),
        )
        .expect_err("exceeds");
        assert_eq!(
            err.to_string(),
            "exceeded quota: q, requested: requests.cpu=1,requests.memory=1Gi, used: requests.cpu=500m,requests.memory=512Mi, limited: requests.cpu=1,requests.memory=1Gi"
        );
    }

    #[test]
    fn admit_pod_updates_quota_usage() {
        let quotas = [
            quota(
                "compute",
                &[("requests.cpu", "2"), ("pods", "2")],
                Some(&[("requests.cpu", "1"), ("pods", "1")]),
                &[],
            ),
            quota(
                "objects",
                &[("services", "1")],
                Some(&[("services", "0")]),
                &[],
            ),
        ];
        let pod = pod_with(
            vec![container("c1", &[("cpu", "500m")], &[("cpu", "1")])],
            vec![],
        );
        let updates = admit(&quotas, &QuotaObject::Pod(&pod), None);
        assert_eq!(
            updates,
            Ok(vec![QuotaUpdate {
                index: 0,
                used: list(&[("pods", "2"), ("requests.cpu", "1500m")]),
            }])
        );
    }

    #[test]
    fn admit_rejects_pod_over_quota_with_forbidden_text() {
        let quotas = [quota(
            "compute-resources",
            &[("requests.cpu", "2")],
            Some(&[("requests.cpu", "1")]),
            &[],
        )];
        let pod = pod_with(vec![container("c1", &[("cpu", "2")], &[])], vec![]);
        let err = admit(&quotas, &QuotaObject::Pod(&pod), None).expect_err("rejected");
        assert!(err.is_forbidden());
        assert_eq!(
            err.forbidden_message("pods", "x"),
            "pods \"x\" is forbidden: exceeded quota: compute-resources, requested: requests.cpu=2, used: requests.cpu=1, limited: requests.cpu=2"
        );
    }

    #[test]
    fn limited_cpu_and_memory_must_be_set_on_every_container() {
        let quotas = [quota(
            "compute-resources",
            &[
                ("limits.cpu", "4"),
                ("requests.memory", "4Gi"),
                ("pods", "10"),
            ],
            Some(&[("limits.cpu", "0"), ("requests.memory", "0"), ("pods", "0")]),
            &[],
        )];
        let pod = pod_with(
            vec![
                container("c1", &[("cpu", "1")], &[]),
                container("c2", &[("memory", "1Gi")], &[("cpu", "1")]),
            ],
            vec![container("init", &[("memory", "1Gi")], &[("cpu", "1")])],
        );
        let err = admit(&quotas, &QuotaObject::Pod(&pod), None).expect_err("rejected");
        assert_eq!(
            err.to_string(),
            "failed quota: compute-resources: must specify limits.cpu for: c1; requests.memory for: c1"
        );
        // A quota on pods only does not impose the rule.
        let pods_only = [quota("p", &[("pods", "10")], Some(&[("pods", "0")]), &[])];
        assert!(admit(&pods_only, &QuotaObject::Pod(&pod), None).is_ok());
    }

    #[test]
    fn unknown_usage_rejects_until_the_controller_has_run() {
        let quotas = [quota(
            "fresh",
            &[("requests.cpu", "2"), ("pods", "5")],
            None,
            &[],
        )];
        let pod = pod_with(vec![container("c", &[("cpu", "1")], &[])], vec![]);
        let err = admit(&quotas, &QuotaObject::Pod(&pod), None).expect_err("rejected");
        assert_eq!(
            err.to_string(),
            "status unknown for quota: fresh, resources: pods,requests.cpu"
        );
    }

    #[test]
    fn scoped_quota_ignores_pods_outside_its_scope() {
        let quotas = [quota(
            "be",
            &[("pods", "0")],
            Some(&[("pods", "0")]),
            &["BestEffort"],
        )];
        let burstable = pod_with(vec![container("c", &[("cpu", "1")], &[])], vec![]);
        assert_eq!(
            admit(&quotas, &QuotaObject::Pod(&burstable), None),
            Ok(vec![])
        );
        let best_effort = pod_with(vec![container("c", &[], &[])], vec![]);
        let err = admit(&quotas, &QuotaObject::Pod(&best_effort), None).expect_err("rejected");
        assert_eq!(
            err.to_string(),
            "exceeded quota: be, requested: pods=1, used: pods=0, limited: pods=0"
        );
    }

    fn service(type_: &str) -> Service {
        Service {
            spec: Some(ServiceSpec {
                type_: Some(type_.into()),
                ports: Some(vec![Default::default()]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn update_charges_only_the_growth() {
        let quotas = [quota(
            "svc",
            &[("services", "5"), ("services.loadbalancers", "1")],
            Some(&[("services", "1"), ("services.loadbalancers", "0")]),
            &[],
        )];
        let old = service("ClusterIP");
        let new = service("LoadBalancer");
        let updates = admit(
            &quotas,
            &QuotaObject::Service(&new),
            Some(&QuotaObject::Service(&old)),
        );
        assert_eq!(
            updates,
            Ok(vec![QuotaUpdate {
                index: 0,
                used: list(&[("services", "1"), ("services.loadbalancers", "1")]),
            }])
        );
        // An update that changes nothing charged is free.
        let same = admit(
            &quotas,
            &QuotaObject::Service(&old),
            Some(&QuotaObject::Service(&old)),
        );
        assert_eq!(same, Ok(vec![]));
    }

    #[test]
    fn object_counts_are_enforced_for_any_kind() {
        let quotas = [quota(
            "counts",
            &[("count/deployments.apps", "1"), ("configmaps", "3")],
            Some(&[("count/deployments.apps", "1"), ("configmaps", "1")]),
            &[],
        )];
        let deploy = QuotaObject::Other {
            resource: "deployments",
            group: "apps",
        };
        let err = admit(&quotas, &deploy, None).expect_err("rejected");
        assert_eq!(
            err.to_string(),
            "exceeded quota: counts, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1"
        );
        let cm = QuotaObject::Other {
            resource: "configmaps",
            group: "",
        };
        let updates = admit(&quotas, &cm, None);
        assert_eq!(
            updates,
            Ok(vec![QuotaUpdate {
                index: 0,
                used: list(&[("configmaps", "2"), ("count/deployments.apps", "1")]),
            }])
        );
    }
}
