//! Events the agent records about pods (Pulling, Pulled, Created, Started,
//! Killing, BackOff, Unhealthy, Failed …), aggregated like client-go's
//! recorder: a repeat of the same event bumps `count` and `lastTimestamp`.
//! Events are written by a background task from a bounded queue.

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Events wait here for the writer; beyond this many the newest are
/// dropped (client-go's broadcaster queues 1,000 and drops when full).
const QUEUE: usize = 1000;

/// Hands events to a background writer, so a pod worker never waits on the
/// API server to record one (as client-go's recorder: record, then move on).
pub struct Recorder {
    queue: mpsc::Sender<Pending>,
}

/// One event to write, with what it needs of its pod.
struct Pending {
    ns: String,
    name: String,
    uid: String,
    resource_version: Option<String>,
    field_path: Option<String>,
    kind: Kind,
    reason: String,
    message: String,
    /// When it happened (the write may come later).
    at: String,
}

/// Writes the queued events one after another, aggregating repeats.
struct Writer {
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
    /// Starts the writer task on the current runtime.
    pub fn new(client: kube::Client, node: String) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE);
        let writer = Writer {
            client,
            node,
            seen: Mutex::new(HashMap::new()),
        };
        tokio::spawn(writer.run(pending));
        Self { queue }
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
        let pending = Pending {
            ns: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            resource_version: pod.metadata.resource_version.clone(),
            field_path: field_path.map(str::to_string),
            kind,
            reason: reason.to_string(),
            message: message.to_string(),
            at: now(),
        };
        if let Err(e) = self.queue.try_send(pending) {
            tracing::debug!("dropping event {reason} for a pod: {e}");
        }
    }
}

impl Writer {
    async fn run(self, mut pending: mpsc::Receiver<Pending>) {
        while let Some(event) = pending.recv().await {
            self.write(event).await;
        }
    }

    async fn write(&self, event: Pending) {
        let Pending {
            ns,
            name,
            uid,
            resource_version,
            field_path,
            kind,
            reason,
            message,
            at,
        } = event;
        let type_ = match kind {
            Kind::Normal => "Normal",
            Kind::Warning => "Warning",
        };
        let key = format!(
            "{uid}/{}/{reason}/{message}",
            field_path.as_deref().unwrap_or("")
        );
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let existing = self.seen.lock().ok().and_then(|m| m.get(&key).cloned());
        if let Some((_, ev_name, count)) = existing {
            let patch = json!({"count": count + 1, "lastTimestamp": at});
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
            "resourceVersion": resource_version,
        });
        if let Some(fp) = field_path {
            involved["fieldPath"] = json!(fp);
        }
        let event: Result<Event, _> = serde_json::from_value(json!({
            "metadata": {"name": ev_name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason, "message": message, "type": type_,
            "source": {"component": "kubelet", "host": self.node},
            "firstTimestamp": at, "lastTimestamp": at, "count": 1,
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
