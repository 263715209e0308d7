//! `pods/eviction`: a delete that honours PodDisruptionBudgets, as
//! kube-apiserver's eviction REST does (what `kubectl drain` calls).
//!
//! ```text
//! Eviction ─▶ pod terminal / pending / already deleting? ─▶ delete, no budget needed
//!          ─▶ PDBs selecting the pod: none ─▶ delete
//!                                   >1  ─▶ 500 (not supported, as upstream)
//!                                   one ─▶ disruptionsAllowed > 0 (or the pod is unhealthy and
//!                                          the budget is met)? ─▶ status: allowed−1, disruptedPods[pod]
//!                                          (compare-and-swap) ─▶ delete
//!                                        else ─▶ 429 TooManyRequests, DisruptionBudget cause
//! ```

use crate::rest;
use crate::Server;
use berth_api::registry;
use berth_api::selector::{labels_of, LabelSelector};
use berth_api::status::ApiError;
use serde_json::{json, Value};
use std::sync::Arc;

fn too_many(message: String, cause: Option<String>) -> ApiError {
    let mut e = ApiError::new(429, "TooManyRequests", message);
    if let Some(cause) = cause {
        e.details = Some(json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]}));
    }
    e
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Check the pod's budget and take one disruption from it. Ok(()) means the
/// delete may go ahead.
pub async fn admit(
    srv: &Arc<Server>,
    ns: &str,
    pod: &Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if matches!(phase, "Succeeded" | "Failed" | "Pending" | "")
        || pod.pointer("/metadata/deletionTimestamp").is_some()
    {
        return Ok(());
    }
    let Some(info) = registry::lookup("policy", "v1", "poddisruptionbudgets") else {
        return Ok(());
    };
    let labels = labels_of(pod);
    let prefix = format!("{}{ns}/", info.storage_prefix());
    let (_, objects) = srv.cache.snapshot();
    let lower = std::ops::Bound::Included(prefix.clone());
    let budgets: Vec<String> = objects
        .range((lower, std::ops::Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(_, c)| {
            // An empty selector matches every pod in policy/v1.
            let sel = c
                .value()
                .pointer("/spec/selector")
                .cloned()
                .unwrap_or(json!({}));
            LabelSelector::from_object(&sel).is_ok_and(|s| s.matches(&labels))
        })
        .map(|(_, c)| c.index.name().to_string())
        .collect();
    let name = match budgets.as_slice() {
        [] => return Ok(()),
        [one] => one.clone(),
        _ => {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ))
        }
    };
    let pod_name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // Retry the compare-and-swap a few times against concurrent evictions.
    for _ in 0..5 {
        let (pdb, rev) = rest::read(srv, info, Some(ns), &name).await?;
        let status = pdb.get("status").cloned().unwrap_or(json!({}));
        let observed = status
            .get("observedGeneration")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let generation = pdb
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if observed < generation {
            return Err(too_many(
                "Cannot evict pod as it would violate the pod's disruption budget.".into(),
                Some("The disruption budget is still being processed by the server.".into()),
            ));
        }
        let allowed = status
            .get("disruptionsAllowed")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let current = status
            .get("currentHealthy")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let desired = status
            .get("desiredHealthy")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        // IfHealthyBudget (the default): an unready pod may go when the budget is met.
        let policy = pdb
            .pointer("/spec/unhealthyPodEvictionPolicy")
            .and_then(Value::as_str);
        if !is_ready(pod) && (policy == Some("AlwaysAllow") || current >= desired) {
            return Ok(());
        }
        if allowed <= 0 {
            return Err(too_many(
                "Cannot evict pod as it would violate the pod's disruption budget.".into(),
                Some(format!(
                    "The disruption budget {name} needs {desired} healthy pods and has {current} currently"
                )),
            ));
        }
        if dry_run {
            return Ok(());
        }
        let mut updated = pdb.clone();
        updated["status"]["disruptionsAllowed"] = json!(allowed - 1);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if !updated["status"]["disruptedPods"].is_object() {
            updated["status"]["disruptedPods"] = json!({});
        }
        updated["status"]["disruptedPods"][&pod_name] = json!(now);
        match rest::commit_update(
            srv,
            info,
            Some(ns),
            &name,
            (pdb, rev),
            updated,
            None,
            true,
            false,
        )
        .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.code == 409 => continue,
            Err(e) => return Err(e),
        }
    }
    Err(too_many(
        "Cannot evict pod as it would violate the pod's disruption budget.".into(),
        Some("too many concurrent evictions; try again".into()),
    ))
}
