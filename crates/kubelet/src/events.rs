//! Events the agent records about pods (Pulling, Pulled, Created, Started,
//! Killing, BackOff, Unhealthy, Failed …), aggregated like client-go's
//! recorder: a repeat of the same event bumps `count` and `lastTimestamp`.

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct Recorder {
    client: kube::Client,
    node: String,
    /// Known events by aggregation key → (namespace, name, count).
    seen: Mutex<HashMap<String, (String, String, i32)>>,
}

#[derive(Clone, Copy)]
pub enum Kind {
    Normal,
    Warning,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Recorder {
    pub fn new(client: kube::Client, node: String) -> Self {
        Self {
            client,
            node,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Record an event about a pod (or one of its containers, via `field_path`).
    pub async fn pod(
        &self,
        pod: &Pod,
        field_path: Option<&str>,
        kind: Kind,
        reason: &str,
        message: &str,
    ) {
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let type_ = match kind {
            Kind::Normal => "Normal",
            Kind::Warning => "Warning",
        };
        let key = format!("{uid}/{}/{reason}/{message}", field_path.unwrap_or(""));
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let existing = self.seen.lock().ok().and_then(|m| m.get(&key).cloned());
        if let Some((_, ev_name, count)) = existing {
            let patch = json!({"count": count + 1, "lastTimestamp": now()});
            if api
                .patch(&ev_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                if let Ok(mut m) = self.seen.lock() {
                    m.insert(key, (ns, ev_name, count + 1));
                }
                return;
            }
        }
        let ev_name = format!(
            "{name}.{:x}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let mut involved = json!({
            "apiVersion": "v1", "kind": "Pod", "name": name, "namespace": ns, "uid": uid,
            "resourceVersion": pod.metadata.resource_version,
        });
        if let Some(fp) = field_path {
            involved["fieldPath"] = json!(fp);
        }
        let event: Result<Event, _> = serde_json::from_value(json!({
            "metadata": {"name": ev_name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason, "message": message, "type": type_,
            "source": {"component": "kubelet", "host": self.node},
            "firstTimestamp": now(), "lastTimestamp": now(), "count": 1,
            "reportingComponent": "kubelet", "reportingInstance": self.node,
        }));
        let Ok(event) = event else { return };
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                if let Ok(mut m) = self.seen.lock() {
                    if m.len() > 10_000 {
                        m.clear();
                    }
                    m.insert(key, (ns, ev_name, 1));
                }
            }
            Err(e) => tracing::debug!("recording event {reason} for {name}: {e}"),
        }
    }
}
