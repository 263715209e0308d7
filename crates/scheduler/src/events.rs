//! core/v1 Events about pods, from component `default-scheduler`, as
//! client-go's recorder writes them: a repeat of the same (pod, reason,
//! message) bumps `count` and `lastTimestamp` on the existing Event instead
//! of adding another, so `kubectl describe` shows "(x5 over 2m)".

use crate::error::SchedulerError;
use crate::pod_info::pod_key;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use std::collections::HashMap;
use std::sync::Mutex;

pub const COMPONENT: &str = "default-scheduler";
/// Repeats remembered at most; older ones start a new Event.
const MAX_REMEMBERED: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// (pod UID, reason, message) → (event name, count so far).
type Seen = HashMap<(String, String, String), (String, i32)>;

pub struct EventRecorder {
    client: kube::Client,
    seen: Mutex<Seen>,
}

/// The Event as first written.
pub fn new_event(pod: &Pod, event_type: EventType, reason: &str, message: &str) -> Event {
    let now = Timestamp::now();
    let name = pod.metadata.name.clone().unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: pod.metadata.namespace.clone(),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(name),
            namespace: pod.metadata.namespace.clone(),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            ..Default::default()
        },
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        type_: Some(event_type.as_str().to_string()),
        source: Some(EventSource {
            component: Some(COMPONENT.to_string()),
            host: None,
        }),
        reporting_component: Some(COMPONENT.to_string()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Default::default()
    }
}

impl EventRecorder {
    pub fn new(client: kube::Client) -> Self {
        EventRecorder {
            client,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn remembered(&self, key: &(String, String, String)) -> Option<(String, i32)> {
        self.seen.lock().ok()?.get(key).cloned()
    }

    fn remember(&self, key: (String, String, String), name: String, count: i32) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= MAX_REMEMBERED && !seen.contains_key(&key) {
                seen.clear();
            }
            seen.insert(key, (name, count));
        }
    }

    /// Forget a deleted pod's repeats.
    pub fn forget_pod(&self, uid: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.retain(|(u, _, _), _| u != uid);
        }
    }

    pub async fn record(
        &self,
        pod: &Pod,
        event_type: EventType,
        reason: &str,
        message: &str,
    ) -> Result<(), SchedulerError> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let api: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        let key = (
            pod.metadata.uid.clone().unwrap_or_default(),
            reason.to_string(),
            message.to_string(),
        );
        if let Some((name, count)) = self.remembered(&key) {
            let patch = serde_json::json!({
                "count": count + 1,
                "lastTimestamp": Time(Timestamp::now()),
            });
            // A repeat of an Event that has since expired starts a new one.
            if api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                self.remember(key, name, count + 1);
                return Ok(());
            }
        }
        let event = new_event(pod, event_type, reason, message);
        let name = event.metadata.name.clone().unwrap_or_default();
        api.create(&PostParams::default(), &event)
            .await
            .map_err(|source| SchedulerError::Event {
                pod: pod_key(pod),
                reason: reason.to_string(),
                source,
            })?;
        self.remember(key, name, 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    #[test]
    fn event_names_the_pod_and_the_component() {
        let e = new_event(&pod("web", &[]), EventType::Normal, "Scheduled", "msg");
        assert_eq!(e.involved_object.kind.as_deref(), Some("Pod"));
        assert_eq!(e.involved_object.uid.as_deref(), Some("uid-web"));
        assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
        assert!(e
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("web.")));
        assert_eq!(
            e.source.and_then(|s| s.component).as_deref(),
            Some(COMPONENT)
        );
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(e.count, Some(1));
    }
}
