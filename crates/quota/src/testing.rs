//! Builders for unit tests.

use crate::resource_list::ResourceList;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub(crate) fn list(pairs: &[(&str, &str)]) -> ResourceList {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

pub(crate) fn container(
    name: &str,
    requests: &[(&str, &str)],
    limits: &[(&str, &str)],
) -> Container {
    let resources = ResourceRequirements {
        requests: (!requests.is_empty()).then(|| list(requests)),
        limits: (!limits.is_empty()).then(|| list(limits)),
        ..Default::default()
    };
    Container {
        name: name.to_string(),
        resources: Some(resources),
        ..Default::default()
    }
}

pub(crate) fn with_restart_always(mut c: Container) -> Container {
    c.restart_policy = Some("Always".to_string());
    c
}

pub(crate) fn pod_with(containers: Vec<Container>, init: Vec<Container>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("p".to_string()),
            namespace: Some("ns".to_string()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers,
            init_containers: (!init.is_empty()).then_some(init),
            ..Default::default()
        }),
        status: None,
    }
}

pub(crate) struct Item<'a> {
    pub type_: &'a str,
    pub min: &'a [(&'a str, &'a str)],
    pub max: &'a [(&'a str, &'a str)],
    pub default: &'a [(&'a str, &'a str)],
    pub default_request: &'a [(&'a str, &'a str)],
    pub ratio: &'a [(&'a str, &'a str)],
}

impl Default for Item<'_> {
    fn default() -> Self {
        Item {
            type_: "Container",
            min: &[],
            max: &[],
            default: &[],
            default_request: &[],
            ratio: &[],
        }
    }
}

pub(crate) fn limit_range(name: &str, items: &[Item]) -> k8s_openapi::api::core::v1::LimitRange {
    use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem, LimitRangeSpec};
    let opt = |pairs: &[(&str, &str)]| (!pairs.is_empty()).then(|| list(pairs));
    LimitRange {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some("ns".to_string()),
            ..Default::default()
        },
        spec: Some(LimitRangeSpec {
            limits: items
                .iter()
                .map(|i| LimitRangeItem {
                    type_: i.type_.to_string(),
                    min: opt(i.min),
                    max: opt(i.max),
                    default: opt(i.default),
                    default_request: opt(i.default_request),
                    max_limit_request_ratio: opt(i.ratio),
                })
                .collect(),
        }),
    }
}

pub(crate) fn quota(
    name: &str,
    hard: &[(&str, &str)],
    used: Option<&[(&str, &str)]>,
    scopes: &[&str],
) -> k8s_openapi::api::core::v1::ResourceQuota {
    use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaSpec, ResourceQuotaStatus};
    ResourceQuota {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some("ns".to_string()),
            ..Default::default()
        },
        spec: Some(ResourceQuotaSpec {
            hard: Some(list(hard)),
            scopes: (!scopes.is_empty()).then(|| scopes.iter().map(|s| s.to_string()).collect()),
            scope_selector: None,
        }),
        status: Some(ResourceQuotaStatus {
            hard: Some(list(hard)),
            used: used.map(list),
        }),
    }
}

pub(crate) fn with_priority_selector(
    mut q: k8s_openapi::api::core::v1::ResourceQuota,
    operator: &str,
    values: &[&str],
) -> k8s_openapi::api::core::v1::ResourceQuota {
    use k8s_openapi::api::core::v1::{ScopeSelector, ScopedResourceSelectorRequirement};
    if let Some(spec) = q.spec.as_mut() {
        spec.scope_selector = Some(ScopeSelector {
            match_expressions: Some(vec![ScopedResourceSelectorRequirement {
                scope_name: "PriorityClass".to_string(),
                operator: operator.to_string(),
                values: (!values.is_empty())
                    .then(|| values.iter().map(|v| v.to_string()).collect()),
            }]),
        });
    }
    q
}
