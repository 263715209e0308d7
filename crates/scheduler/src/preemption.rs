//! What DefaultPreemption would report after the filters found no node.
//! berth does not evict anything yet; this only works out the message, per
//! node, the way upstream's dry run decides it:
//!
//! ```text
//! preemptionPolicy: Never ─────────────▶ "not eligible due to preemptionPolicy=Never."
//! node rejected as unresolvable ────────▶ "Preemption is not helpful for scheduling"
//! no lower-priority pods on the node ───▶ "No preemption victims found for incoming pod"
//! still no fit without them ────────────▶ the filter's own reasons
//! would fit without them ───────────────▶ "Preemption is not supported yet" (berth)
//! ```

use crate::fit_error::nodes_available_message;
use crate::framework::Framework;
use crate::plugins::{Code, Rejection};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use std::collections::BTreeMap;

pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const NOT_SUPPORTED: &str = "Preemption is not supported yet";

/// The "preemption: …" part of a FailedScheduling message.
pub fn post_filter_message(
    framework: &Framework,
    pod: &PodInfo,
    snapshot: &Snapshot,
    rejections: &BTreeMap<String, Rejection>,
) -> String {
    let never = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref())
        == Some("Never");
    if never {
        return "preemption: not eligible due to preemptionPolicy=Never.".to_string();
    }
    let outcomes: Vec<Rejection> = snapshot
        .nodes()
        .map(|node| {
            let rejection = rejections.get(&node.name);
            if rejection.is_none_or(|r| r.code == Code::UnschedulableAndUnresolvable) {
                return Rejection::unresolvable(NOT_HELPFUL);
            }
            let lower: Vec<&String> = node
                .pods
                .iter()
                .filter(|(_, p)| p.priority < pod.priority)
                .map(|(uid, _)| uid)
                .collect();
            if lower.is_empty() {
                return Rejection::unresolvable(NO_VICTIMS);
            }
            let mut without = node.clone();
            for uid in lower {
                without.remove_pod(uid);
            }
            match framework.run_filters(pod, &without) {
                Err(still) => still,
                Ok(()) => Rejection::unschedulable(vec![NOT_SUPPORTED.to_string()]),
            }
        })
        .collect();
    format!(
        "preemption: {}",
        nodes_available_message(snapshot.num_nodes(), &outcomes)
    )
}
