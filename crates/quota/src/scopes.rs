//! Which quotas apply to which objects: the resource names each kind can
//! charge, and quota scopes (upstream `podMatchesScopeFunc`; other kinds
//! match no scope, so a scoped quota never charges them).

use crate::quota_error::QuotaError;
use crate::usage::{legacy_count_alias, object_count_name, QuotaObject, STORAGE_CLASS_SUFFIX};
use k8s_openapi::api::core::v1::{
    Pod, PodAffinityTerm, ResourceQuota, ScopedResourceSelectorRequirement,
};

const POD_RESOURCES: &[&str] = &[
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];
const SERVICE_RESOURCES: &[&str] = &[
    "count/services",
    "services",
    "services.loadbalancers",
    "services.nodeports",
];
const PVC_RESOURCES: &[&str] = &["persistentvolumeclaims", "requests.storage"];

/// The hard limits a quota enforces: `status.hard` (what the controller has
/// acknowledged), else `spec.hard`.
pub fn hard_of(quota: &ResourceQuota) -> crate::ResourceList {
    quota
        .status
        .as_ref()
        .and_then(|s| s.hard.clone())
        .or_else(|| quota.spec.as_ref().and_then(|s| s.hard.clone()))
        .unwrap_or_default()
}

fn is_pod_resource(name: &str) -> bool {
    POD_RESOURCES.contains(&name)
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
        // requests.<extended resource>: a domain outside kubernetes.io
        || (name.starts_with("requests.") && name.contains('/') && !name.contains("kubernetes.io/"))
}

fn is_pvc_resource(name: &str) -> bool {
    name == "count/persistentvolumeclaims"
        || PVC_RESOURCES.contains(&name)
        || PVC_RESOURCES
            .iter()
            .any(|r| name.ends_with(&format!("{STORAGE_CLASS_SUFFIX}{r}")))
}

/// The names in `names` this object can charge.
pub fn matching_resources(object: &QuotaObject, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|name| match object {
            QuotaObject::Pod(_) => is_pod_resource(name),
            QuotaObject::Service(_) => SERVICE_RESOURCES.contains(&name.as_str()),
            QuotaObject::PersistentVolumeClaim(_) => is_pvc_resource(name),
            QuotaObject::Other { resource, group } => {
                **name == object_count_name(resource, group)
                    || legacy_count_alias(resource, group) == Some(name.as_str())
            }
        })
        .cloned()
        .collect()
}

/// `spec.scopes` (as Exists) followed by `spec.scopeSelector` expressions.
pub(crate) fn scope_selectors(quota: &ResourceQuota) -> Vec<ScopedResourceSelectorRequirement> {
    let Some(spec) = &quota.spec else {
        return Vec::new();
    };
    let mut out: Vec<_> = spec
        .scopes
        .iter()
        .flatten()
        .map(|scope| ScopedResourceSelectorRequirement {
            scope_name: scope.clone(),
            operator: "Exists".to_string(),
            values: None,
        })
        .collect();
    out.extend(
        spec.scope_selector
            .iter()
            .flat_map(|s| s.match_expressions.iter().flatten().cloned()),
    );
    out
}

/// Whether the object is in one scope.
pub fn matches_scope(
    object: &QuotaObject,
    selector: &ScopedResourceSelectorRequirement,
) -> Result<bool, String> {
    let QuotaObject::Pod(pod) = object else {
        return Ok(false);
    };
    Ok(match selector.scope_name.as_str() {
        "Terminating" => is_terminating(pod),
        "NotTerminating" => !is_terminating(pod),
        "BestEffort" => is_best_effort(pod),
        "NotBestEffort" => !is_best_effort(pod),
        "PriorityClass" => priority_class_matches(pod, selector)?,
        "CrossNamespacePodAffinity" => uses_cross_namespace_affinity(pod),
        _ => false,
    })
}

/// The quota charges this object: it can charge one of the hard names and
/// the object is in every scope.
pub fn matches(quota: &ResourceQuota, object: &QuotaObject) -> Result<bool, QuotaError> {
    let names: Vec<String> = hard_of(quota).into_keys().collect();
    if matching_resources(object, &names).is_empty() {
        return Ok(false);
    }
    for selector in scope_selectors(quota) {
        let inside =
            matches_scope(object, &selector).map_err(|message| QuotaError::ScopeSelector {
                quota: quota.metadata.name.clone().unwrap_or_default(),
                message,
            })?;
        if !inside {
            return Ok(false);
        }
    }
    Ok(true)
}

fn is_terminating(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.active_deadline_seconds)
        .is_some_and(|d| d >= 0)
}

/// QoS BestEffort: no container sets a positive cpu or memory request or limit.
pub(crate) fn is_best_effort(pod: &Pod) -> bool {
    let Some(spec) = &pod.spec else {
        return true;
    };
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    !containers.flat_map(|c| c.resources.iter()).any(|r| {
        r.requests
            .iter()
            .chain(r.limits.iter())
            .flatten()
            .any(|(name, q)| {
                (name == "cpu" || name == "memory") && crate::Amount::lossy(q).signum() > 0
            })
    })
}

/// The selector is a label selector over `{"PriorityClass": <pod's class>}`
/// (an empty set of labels when the pod has none).
fn priority_class_matches(
    pod: &Pod,
    selector: &ScopedResourceSelectorRequirement,
) -> Result<bool, String> {
    let class = pod
        .spec
        .as_ref()
        .and_then(|s| s.priority_class_name.as_deref())
        .filter(|c| !c.is_empty());
    let values = selector.values.as_deref().unwrap_or_default();
    match selector.operator.as_str() {
        "Exists" => Ok(class.is_some()),
        "DoesNotExist" => Ok(class.is_none()),
        "In" => Ok(class.is_some_and(|c| values.iter().any(|v| v == c))),
        "NotIn" => Ok(!class.is_some_and(|c| values.iter().any(|v| v == c))),
        other => Err(format!(
            "failed to parse and convert selector: {other:?} is not a valid scope selector operator"
        )),
    }
}

fn cross_namespace(term: &PodAffinityTerm) -> bool {
    term.namespaces.as_ref().is_some_and(|n| !n.is_empty()) || term.namespace_selector.is_some()
}

fn uses_cross_namespace_affinity(pod: &Pod) -> bool {
    let Some(affinity) = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()) else {
        return false;
    };
    let affinity_terms = affinity.pod_affinity.iter().flat_map(|a| {
        let required = a
            .required_during_scheduling_ignored_during_execution
            .iter()
            .flatten();
        let preferred = a
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .map(|w| &w.pod_affinity_term);
        required.chain(preferred)
    });
    let anti_terms = affinity.pod_anti_affinity.iter().flat_map(|a| {
        let required = a
            .required_during_scheduling_ignored_during_execution
            .iter()
            .flatten();
        let preferred = a
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .map(|w| &w.pod_affinity_term);
        required.chain(preferred)
    });
    affinity_terms.chain(anti_terms).any(cross_namespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{container, pod_with, quota, with_priority_selector};

    fn pod_object_matches(q: &ResourceQuota, pod: &Pod) -> bool {
        matches(q, &QuotaObject::Pod(pod)).unwrap_or(false)
    }

    #[test]
    fn quota_applies_only_when_it_limits_something_the_object_charges() {
        let pod = pod_with(vec![container("c", &[("cpu", "1")], &[])], vec![]);
        assert!(pod_object_matches(
            &quota("q", &[("requests.cpu", "2")], None, &[]),
            &pod
        ));
        assert!(!pod_object_matches(
            &quota("q", &[("services", "2")], None, &[]),
            &pod
        ));
        assert!(pod_object_matches(
            &quota("q", &[("requests.nvidia.com/gpu", "2")], None, &[]),
            &pod
        ));
        let deploy = QuotaObject::Other {
            resource: "deployments",
            group: "apps",
        };
        let counts = quota("q", &[("count/deployments.apps", "2")], None, &[]);
        assert_eq!(matches(&counts, &deploy), Ok(true));
        let pvc_names = ["gold.storageclass.storage.k8s.io/requests.storage".to_string()];
        let pvc = k8s_openapi::api::core::v1::PersistentVolumeClaim::default();
        assert_eq!(
            matching_resources(&QuotaObject::PersistentVolumeClaim(&pvc), &pvc_names).len(),
            1
        );
    }

    #[test]
    fn best_effort_and_terminating_scopes() {
        let best_effort = pod_with(vec![container("c", &[], &[])], vec![]);
        let mut burstable = pod_with(vec![container("c", &[("memory", "1Gi")], &[])], vec![]);
        let hard = [("pods", "10")];
        let be = quota("be", &hard, None, &["BestEffort"]);
        let not_be = quota("nbe", &hard, None, &["NotBestEffort"]);
        assert!(pod_object_matches(&be, &best_effort));
        assert!(!pod_object_matches(&not_be, &best_effort));
        assert!(pod_object_matches(&not_be, &burstable));
        assert!(!pod_object_matches(&be, &burstable));

        let terminating = quota("t", &hard, None, &["Terminating"]);
        let not_terminating = quota("nt", &hard, None, &["NotTerminating"]);
        assert!(pod_object_matches(&not_terminating, &burstable));
        if let Some(spec) = burstable.spec.as_mut() {
            spec.active_deadline_seconds = Some(60);
        }
        assert!(pod_object_matches(&terminating, &burstable));
        assert!(!pod_object_matches(&not_terminating, &burstable));
        // All scopes must match.
        let both = quota("both", &hard, None, &["Terminating", "BestEffort"]);
        assert!(!pod_object_matches(&both, &burstable));
    }

    #[test]
    fn priority_class_selector_operators() {
        let mut high = pod_with(vec![container("c", &[], &[])], vec![]);
        if let Some(spec) = high.spec.as_mut() {
            spec.priority_class_name = Some("high".into());
        }
        let none = pod_with(vec![container("c", &[], &[])], vec![]);
        let base = || quota("pc", &[("pods", "1")], None, &[]);
        let q_in = with_priority_selector(base(), "In", &["high", "medium"]);
        assert!(pod_object_matches(&q_in, &high));
        assert!(!pod_object_matches(&q_in, &none));
        let q_not_in = with_priority_selector(base(), "NotIn", &["high"]);
        assert!(!pod_object_matches(&q_not_in, &high));
        assert!(pod_object_matches(&q_not_in, &none));
        let q_exists = with_priority_selector(base(), "Exists", &[]);
        assert!(pod_object_matches(&q_exists, &high));
        assert!(!pod_object_matches(&q_exists, &none));
        let q_absent = with_priority_selector(base(), "DoesNotExist", &[]);
        assert!(pod_object_matches(&q_absent, &none));
        let bad = with_priority_selector(base(), "Gt", &["1"]);
        assert!(matches!(
            matches(&bad, &QuotaObject::Pod(&high)),
            Err(QuotaError::ScopeSelector { .. })
        ));
    }

    #[test]
    fn scoped_quotas_never_charge_other_kinds() {
        let svc = k8s_openapi::api::core::v1::Service::default();
        let q = quota("q", &[("services", "1")], None, &["BestEffort"]);
        assert_eq!(matches(&q, &QuotaObject::Service(&svc)), Ok(false));
        let unscoped = quota("q", &[("services", "1")], None, &[]);
        assert_eq!(matches(&unscoped, &QuotaObject::Service(&svc)), Ok(true));
    }

    #[test]
    fn cross_namespace_affinity_scope() {
        use k8s_openapi::api::core::v1::{Affinity, PodAffinity};
        let mut pod = pod_with(vec![container("c", &[], &[])], vec![]);
        let q = quota("x", &[("pods", "1")], None, &["CrossNamespacePodAffinity"]);
        assert!(!pod_object_matches(&q, &pod));
        if let Some(spec) = pod.spec.as_mut() {
            spec.affinity = Some(Affinity {
                pod_affinity: Some(PodAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![
                        PodAffinityTerm {
                            namespaces: Some(vec!["other".into()]),
                            topology_key: "kubernetes.io/hostname".into(),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        assert!(pod_object_matches(&q, &pod));
    }
}
