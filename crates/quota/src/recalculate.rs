//! What the resource-quota controller writes to `status.used`.

use crate::quantity::Amount;
use crate::resource_list::{add_into, mask, parse_list, to_list, Amounts, ResourceList};
use crate::scopes::{hard_of, matches_scope, matching_resources, scope_selectors};
use crate::usage::{legacy_count_alias, now, QuotaObject};
use k8s_openapi::api::core::v1::ResourceQuota;
use std::collections::BTreeSet;

/// A kind the controller must list for a quota: (group, resource).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

fn gr(group: &str, resource: &str) -> GroupResource {
    GroupResource {
        group: group.to_string(),
        resource: resource.to_string(),
    }
}

/// The kind whose objects charge `name`. Which names a kind charges does not
/// depend on the object, so empty objects serve as probes.
fn kind_for(name: &str) -> Option<GroupResource> {
    if let Some(counted) = name.strip_prefix("count/") {
        return Some(match counted.split_once('.') {
            Some((resource, group)) => gr(group, resource),
            None => gr("", counted),
        });
    }
    if legacy_count_alias(name, "").is_some() {
        return Some(gr("", name));
    }
    let names = [name.to_string()];
    let pod = k8s_openapi::api::core::v1::Pod::default();
    let svc = k8s_openapi::api::core::v1::Service::default();
    let pvc = k8s_openapi::api::core::v1::PersistentVolumeClaim::default();
    if !matching_resources(&QuotaObject::Pod(&pod), &names).is_empty() {
        return Some(gr("", "pods"));
    }
    if !matching_resources(&QuotaObject::Service(&svc), &names).is_empty() {
        return Some(gr("", "services"));
    }
    if !matching_resources(&QuotaObject::PersistentVolumeClaim(&pvc), &names).is_empty() {
        return Some(gr("", "persistentvolumeclaims"));
    }
    None
}

/// The kinds whose objects [`recalculate`] needs, all of them in the
/// quota's namespace, for every hard name it can compute.
pub fn kinds_to_list(quota: &ResourceQuota) -> BTreeSet<GroupResource> {
    hard_of(quota).keys().filter_map(|n| kind_for(n)).collect()
}

/// The new `status.used`: for every hard name this crate can compute, the
/// sum over `objects` in the quota's scopes (zero when none); other hard
/// names keep their previous value; names no longer hard are dropped.
/// `objects` must hold every object of [`kinds_to_list`] in the namespace.
pub fn recalculate(quota: &ResourceQuota, objects: &[QuotaObject]) -> ResourceList {
    let hard = hard_of(quota);
    let computable: Vec<String> = hard
        .keys()
        .filter(|n| kind_for(n).is_some())
        .cloned()
        .collect();
    let selectors = scope_selectors(quota);
    let at = now();

    let mut used: Amounts = quota
        .status
        .as_ref()
        .and_then(|s| s.used.as_ref())
        .map(parse_list)
        .unwrap_or_default();
    let mut fresh: Amounts = computable
        .iter()
        .map(|n| (n.clone(), Amount::zero()))
        .collect();
    for object in objects {
        let charged = matching_resources(object, &computable);
        if charged.is_empty() {
            continue;
        }
        // A selector that cannot be evaluated matches nothing.
        let in_scope = selectors
            .iter()
            .all(|s| matches_scope(object, s).unwrap_or(false));
        if in_scope {
            add_into(&mut fresh, &mask(&object.amounts_at(at), &charged));
        }
    }
    used.extend(fresh);
    to_list(&mask(&used, hard.keys()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{container, list, pod_with, quota};
    use k8s_openapi::api::core::v1::{Pod, PodStatus, Service};

    fn done(mut pod: Pod) -> Pod {
        pod.status = Some(PodStatus {
            phase: Some("Succeeded".into()),
            ..Default::default()
        });
        pod
    }

    #[test]
    fn sums_matching_objects_and_zeroes_unused_names() {
        let q = quota(
            "q",
            &[
                ("pods", "10"),
                ("requests.cpu", "4"),
                ("limits.memory", "8Gi"),
                ("count/pods", "20"),
                ("services", "3"),
                ("count/deployments.apps", "2"),
                ("example.com/unknown", "1"),
            ],
            Some(&[("example.com/unknown", "1"), ("stale", "9")]),
            &[],
        );
        let a = pod_with(
            vec![container("a", &[("cpu", "1")], &[("memory", "1Gi")])],
            vec![],
        );
        let b = pod_with(
            vec![container("b", &[("cpu", "500m")], &[("memory", "512Mi")])],
            vec![],
        );
        let finished = done(pod_with(vec![container("c", &[("cpu", "2")], &[])], vec![]));
        let svc = Service::default();
        let objects = [
            QuotaObject::Pod(&a),
            QuotaObject::Pod(&b),
            QuotaObject::Pod(&finished),
            QuotaObject::Service(&svc),
        ];
        assert_eq!(
            recalculate(&q, &objects),
            list(&[
                ("count/deployments.apps", "0"),
                ("count/pods", "3"),
                ("example.com/unknown", "1"),
                ("limits.memory", "1536Mi"),
                ("pods", "2"),
                ("requests.cpu", "1500m"),
                ("services", "1"),
            ])
        );
    }

    #[test]
    fn scopes_filter_what_is_summed() {
        let q = quota("be", &[("pods", "10")], None, &["BestEffort"]);
        let best_effort = pod_with(vec![container("a", &[], &[])], vec![]);
        let burstable = pod_with(vec![container("b", &[("cpu", "1")], &[])], vec![]);
        let objects = [QuotaObject::Pod(&best_effort), QuotaObject::Pod(&burstable)];
        assert_eq!(recalculate(&q, &objects), list(&[("pods", "1")]));
    }

    #[test]
    fn kinds_to_list_covers_every_computable_name() {
        let q = quota(
            "q",
            &[
                ("requests.cpu", "1"),
                ("count/deployments.apps", "1"),
                ("count/pods", "1"),
                ("secrets", "1"),
                ("services.nodeports", "1"),
                ("gold.storageclass.storage.k8s.io/requests.storage", "1"),
                ("example.com/unknown", "1"),
            ],
            None,
            &[],
        );
        let kinds: Vec<(String, String)> = kinds_to_list(&q)
            .into_iter()
            .map(|k| (k.group, k.resource))
            .collect();
        let want = [
            ("", "persistentvolumeclaims"),
            ("", "pods"),
            ("", "secrets"),
            ("", "services"),
            ("apps", "deployments"),
        ];
        assert_eq!(
            kinds,
            want.iter()
                .map(|(g, r)| (g.to_string(), r.to_string()))
                .collect::<Vec<_>>()
        );
    }
}
