//! Events the control plane records about objects, as client-go's recorder
//! does: one core/v1 Event per (object, type, reason, message, component);
//! a repeat bumps `count` and `lastTimestamp` instead of adding another.

use crate::rest;
use crate::{Server, User};
use berth_api::registry;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// Record an event about `object` from `component` (e.g. "garbage-collector").
pub async fn record(
    srv: &Arc<Server>,
    object: &Value,
    event_type: EventType,
    reason: &str,
    message: &str,
    component: &str,
) {
    let Some(info) = registry::lookup("", "v1", "events") else {
        return;
    };
    let meta = &object["metadata"];
    let name = meta["name"].as_str().unwrap_or("");
    let ns = meta["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or("default");
    let uid = meta["uid"].as_str().unwrap_or("");
    // Same object, reason and message → same Event, like client-go's aggregation key.
    let digest = Sha256::digest(
        format!(
            "{uid}/{}/{reason}/{message}/{component}",
            event_type.as_str()
        )
        .as_bytes(),
    );
    let event_name = format!("{name}.{}", &hex::encode(digest)[..16]);
    let now = rest::now_rfc3339();
    for _ in 0..3 {
        match rest::read(srv, info, Some(ns), &event_name).await {
            Ok((existing, rev)) => {
                let mut updated = existing.clone();
                updated["count"] = json!(existing["count"].as_i64().unwrap_or(1) + 1);
                updated["lastTimestamp"] = json!(now);
                match rest::commit_update(
                    srv,
                    info,
                    Some(ns),
                    &event_name,
                    (existing, rev),
                    updated,
                    Some(component),
                    false,
                    false,
                )
                .await
                {
                    Err(e) if e.code == 409 => continue,
                    Err(e) => tracing::debug!("event {event_name}: {e}"),
                    Ok(_) => {}
                }
                return;
            }
            Err(_) => {
                let event = json!({
                    "apiVersion": "v1", "kind": "Event",
                    "metadata": {"name": event_name, "namespace": ns},
                    "involvedObject": {
                        "apiVersion": object["apiVersion"], "kind": object["kind"], "name": name,
                        "namespace": meta["namespace"], "uid": uid, "resourceVersion": meta["resourceVersion"],
                    },
                    "reason": reason, "message": message, "type": event_type.as_str(),
                    "source": {"component": component},
                    "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                    "reportingComponent": component, "reportingInstance": "berth",
                });
                let created =
                    match rest::prepare_create(srv, info, Some(ns), event, &User::system()) {
                        Ok(obj) => rest::commit_create(srv, info, Some(ns), obj, false)
                            .await
                            .map(|_| ()),
                        Err(e) => Err(e),
                    };
                match created {
                    Err(e) if e.code == 409 => continue,
                    Err(e) => tracing::debug!("event {event_name}: {e}"),
                    Ok(()) => {}
                }
                return;
            }
        }
    }
}
