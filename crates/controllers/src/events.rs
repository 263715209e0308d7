//! core/v1 Events from component `replicaset-controller` /
//! `deployment-controller`, one per occurrence (no aggregation yet).

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Resource;
use std::sync::atomic::{AtomicU64, Ordering};

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Record a Normal/Warning event about `obj`. Failures are logged, never
/// fatal: an event is informational and must not block a reconcile.
pub async fn record<K>(
    client: &kube::Client,
    component: &str,
    obj: &K,
    type_: &str,
    reason: &str,
    message: String,
) where
    K: Resource<DynamicType = ()>,
{
    let meta = obj.meta();
    let namespace = meta.namespace.clone().unwrap_or_else(|| "default".into());
    let name = meta.name.clone().unwrap_or_default();
    let now = Time(Timestamp::now());
    let event = Event {
        metadata: ObjectMeta {
            // client-go's naming: `<object>.<unix nanos in hex>`.
            // A per-process sequence keeps same-nanosecond events apart.
            name: Some(format!(
                "{name}.{:x}{:x}",
                now.0.as_nanosecond(),
                SEQUENCE.fetch_add(1, Ordering::Relaxed)
            )),
            namespace: Some(namespace.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some(K::api_version(&()).into_owned()),
            kind: Some(K::kind(&()).into_owned()),
            name: Some(name),
            namespace: Some(namespace.clone()),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            ..Default::default()
        },
        reason: Some(reason.into()),
        message: Some(message),
        type_: Some(type_.into()),
        count: Some(1),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        source: Some(EventSource {
            component: Some(component.into()),
            host: None,
        }),
        reporting_component: Some(component.into()),
        ..Default::default()
    };
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    if let Err(err) = api.create(&PostParams::default(), &event).await {
        tracing::warn!(%err, reason, "recording event failed");
    }
}
