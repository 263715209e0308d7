//! The scale target: which resource `scaleTargetRef` names, and reading /
//! writing its `/scale` subresource (autoscaling/v1 Scale).

use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::autoscaling::v2::CrossVersionObjectReference;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};

/// Kinds every cluster has, so they need no discovery round-trip.
const BUILTIN: &[(&str, &str, &str, &str)] = &[
    // group, version, kind, plural
    ("apps", "v1", "Deployment", "deployments"),
    ("apps", "v1", "ReplicaSet", "replicasets"),
    ("apps", "v1", "StatefulSet", "statefulsets"),
    ("", "v1", "ReplicationController", "replicationcontrollers"),
];

/// The resource behind a scale target reference. An empty apiVersion is
/// resolved by kind among the built-in scalables; anything else (custom
/// resources with a scale subresource) through discovery.
pub async fn resolve(
    client: &kube::Client,
    target: &CrossVersionObjectReference,
) -> Result<ApiResource, String> {
    let api_version = target.api_version.as_deref().unwrap_or_default();
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    if api_version.matches('/').count() > 1 {
        return Err(format!("unexpected GroupVersion string: {api_version}"));
    }
    let builtin = BUILTIN.iter().find(|(g, v, k, _)| {
        *k == target.kind && (api_version.is_empty() || (*g == group && *v == version))
    });
    if let Some((g, v, k, plural)) = builtin {
        return Ok(ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(g, v, k),
            plural,
        ));
    }
    let gvk = GroupVersionKind::gvk(group, version, &target.kind);
    kube::discovery::pinned_kind(client, &gvk)
        .await
        .map(|(resource, _)| resource)
        .map_err(|_| {
            format!(
                "no matches for kind \"{}\" in group \"{group}\"",
                target.kind
            )
        })
}

fn api(client: &kube::Client, namespace: &str, resource: &ApiResource) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, resource)
}

pub async fn get(
    client: &kube::Client,
    namespace: &str,
    resource: &ApiResource,
    name: &str,
) -> Result<Scale, kube::Error> {
    api(client, namespace, resource).get_scale(name).await
}

/// Write `replicas` into the scale read earlier (its resourceVersion guards
/// against a concurrent change).
pub async fn update(
    client: &kube::Client,
    namespace: &str,
    resource: &ApiResource,
    scale: &Scale,
    replicas: i32,
) -> Result<Scale, kube::Error> {
    let mut scale = scale.clone();
    scale.spec.get_or_insert_with(Default::default).replicas = Some(replicas);
    let name = scale.metadata.name.clone().unwrap_or_default();
    api(client, namespace, resource)
        .replace_scale(&name, &PostParams::default(), &scale)
        .await
}

/// client-go's short text for an API error (what lands in conditions).
pub fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}
