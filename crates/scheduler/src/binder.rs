//! DefaultBinder: `POST pods/<name>/binding`. The API server sets
//! `spec.nodeName` and the PodScheduled=True condition in one write, and
//! refuses if the pod is already bound or being deleted.

use crate::error::SchedulerError;
use crate::pod_info::pod_key;
use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

/// The Binding object for `pod` → `node` (its UID guards against binding a
/// newer pod of the same name).
pub fn binding_for(pod: &Pod, node: &str) -> Binding {
    Binding {
        metadata: ObjectMeta {
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.to_string()),
            ..Default::default()
        },
    }
}

pub async fn bind(client: &kube::Client, pod: &Pod, node: &str) -> Result<(), SchedulerError> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    api.create_subresource::<_, serde_json::Value>(
        "binding",
        name,
        &PostParams::default(),
        &binding_for(pod, node),
    )
    .await
    .map(|_| ())
    .map_err(|source| SchedulerError::Bind {
        pod: pod_key(pod),
        node: node.to_string(),
        source,
    })
}
