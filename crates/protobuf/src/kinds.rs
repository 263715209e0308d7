//! apiVersion + kind -> protobuf message. First the kinds k8s-pb declares as resources, then a
//! mechanical mapping of the API group to the proto package (so SelfSubjectAccessReview,
//! TokenRequest, Scale, Eviction, DeleteOptions... resolve too).

use crate::descriptor_types::{find_message, messages, resource_kinds, MessageDescriptor};

pub fn message_for(api_version: &str, kind: &str) -> Option<&'static MessageDescriptor> {
    if let Some(r) = resource_kinds()
        .iter()
        .find(|r| r.api_version == api_version && r.kind == kind)
    {
        return find_message(r.message);
    }
    let package = package_for(api_version)?;
    if let Some(m) = find_message(&format!("{package}.{kind}")) {
        return Some(m);
    }
    // prost spells some message names differently (HostIp for HostIP); match up to case.
    let prefix = format!("{package}.");
    messages().iter().find(|m| {
        m.full_name
            .strip_prefix(&prefix)
            .is_some_and(|name| name.eq_ignore_ascii_case(kind))
    })
}

/// The proto package of an API group version, e.g. `apps/v1` -> `k8s.io.api.apps.v1`.
pub fn package_for(api_version: &str) -> Option<String> {
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    if version.is_empty() || group.contains('/') || version.contains('/') {
        return None;
    }
    let base = match group {
        "" => "k8s.io.api.core".to_string(),
        "meta.k8s.io" => "k8s.io.apimachinery.pkg.apis.meta".to_string(),
        "apiextensions.k8s.io" => {
            "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions".to_string()
        }
        "apiregistration.k8s.io" => "k8s.io.kube_aggregator.pkg.apis.apiregistration".to_string(),
        "metrics.k8s.io" => "k8s.io.metrics.pkg.apis.metrics".to_string(),
        "internal.apiserver.k8s.io" => "k8s.io.api.apiserverinternal".to_string(),
        // rbac.authorization.k8s.io -> rbac, networking.k8s.io -> networking, apps -> apps
        other => format!("k8s.io.api.{}", other.split('.').next()?),
    };
    Some(format!("{base}.{version}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_follow_the_group() {
        assert_eq!(package_for("v1").as_deref(), Some("k8s.io.api.core.v1"));
        assert_eq!(
            package_for("apps/v1").as_deref(),
            Some("k8s.io.api.apps.v1")
        );
        assert_eq!(
            package_for("rbac.authorization.k8s.io/v1").as_deref(),
            Some("k8s.io.api.rbac.v1")
        );
        assert_eq!(
            package_for("authorization.k8s.io/v1").as_deref(),
            Some("k8s.io.api.authorization.v1")
        );
        assert_eq!(
            package_for("meta.k8s.io/v1").as_deref(),
            Some("k8s.io.apimachinery.pkg.apis.meta.v1")
        );
        assert_eq!(package_for("a/b/c"), None);
    }

    #[test]
    fn finds_resources_and_non_resources() {
        let cases = [
            ("apps/v1", "Deployment", "k8s.io.api.apps.v1.Deployment"),
            ("v1", "ConfigMap", "k8s.io.api.core.v1.ConfigMap"),
            (
                "autoscaling/v1",
                "HorizontalPodAutoscaler",
                "k8s.io.api.autoscaling.v1.HorizontalPodAutoscaler",
            ),
            (
                "authorization.k8s.io/v1",
                "SelfSubjectAccessReview",
                "k8s.io.api.authorization.v1.SelfSubjectAccessReview",
            ),
            (
                "authentication.k8s.io/v1",
                "TokenRequest",
                "k8s.io.api.authentication.v1.TokenRequest",
            ),
            (
                "meta.k8s.io/v1",
                "DeleteOptions",
                "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            ),
            ("policy/v1", "Eviction", "k8s.io.api.policy.v1.Eviction"),
            (
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
            ),
            (
                "apiregistration.k8s.io/v1",
                "APIService",
                "k8s.io.kube_aggregator.pkg.apis.apiregistration.v1.APIService",
            ),
        ];
        for (api_version, kind, expected) in cases {
            assert_eq!(
                message_for(api_version, kind).map(|m| m.full_name),
                Some(expected),
                "{api_version} {kind}"
            );
        }
        assert!(message_for("apps/v1", "Nope").is_none());
        assert!(message_for("example.com/v1", "Widget").is_none());
    }
}
