//! What the scheduler keeps of each watched object: only what a decision
//! reads (as upstream's informers drop `managedFields` before caching).
//! A typed Pod is ~9 KB of heap and the scheduler keeps every bound pod, so
//! at 150,000 pods the parts no plugin reads were over a gigabyte.
//!
//! ```text
//! watch ─▶ Pod ─▶ kept_pod ─┬─ still to schedule: all but managedFields (the
//!                           │  queue compares spec/labels, status.rs reads
//!                           │  the PodScheduled condition)
//!                           └─ bound / not ours: status cut to phase,
//!                              startTime, nominatedNodeName (no condition,
//!                              container status or IP is read of such pods)
//! watch ─▶ Node ─▶ kept_node: all but managedFields
//! ```

use crate::pod_info::needs_scheduling;
use k8s_openapi::api::core::v1::{Node, Pod, PodStatus};

/// `pod` as the scheduler keeps it (see the module doc).
pub fn kept_pod(mut pod: Pod) -> Pod {
    pod.metadata.managed_fields = None;
    if !needs_scheduling(&pod) {
        pod.status = pod.status.map(|s| PodStatus {
            phase: s.phase,
            start_time: s.start_time,
            nominated_node_name: s.nominated_node_name,
            ..Default::default()
        });
    }
    pod
}

/// `node` as the scheduler keeps it: every field but `managedFields`.
pub fn kept_node(mut node: Node) -> Node {
    node.metadata.managed_fields = None;
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_info::{is_terminal, PodInfo};
    use crate::testing::pod;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodCondition};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, Time};
    use k8s_openapi::jiff::Timestamp;
    use std::sync::Arc;

    fn full_status(phase: &str) -> PodStatus {
        PodStatus {
            phase: Some(phase.into()),
            start_time: Some(Time(Timestamp::UNIX_EPOCH)),
            nominated_node_name: Some("n2".into()),
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                ..Default::default()
            }]),
            container_statuses: Some(vec![ContainerStatus {
                name: "c".into(),
                ..Default::default()
            }]),
            pod_ip: Some("10.0.0.1".into()),
            ..Default::default()
        }
    }

    fn with_managed_fields(mut p: Pod) -> Pod {
        p.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
            manager: Some("kubectl".into()),
            ..Default::default()
        }]);
        p
    }

    #[test]
    fn a_pending_pod_loses_only_its_managed_fields() {
        let mut p = with_managed_fields(pod("web", &[("cpu", "1")]));
        p.status = Some(full_status("Pending"));
        let kept = kept_pod(p.clone());
        assert_eq!(kept.metadata.managed_fields, None);
        assert_eq!(kept.status, p.status);
        assert_eq!(kept.spec, p.spec);
        assert_eq!(kept.metadata.labels, p.metadata.labels);
    }

    #[test]
    fn a_bound_pod_keeps_what_the_cache_reads() {
        let mut p = with_managed_fields(pod("web", &[("cpu", "1")]));
        if let Some(s) = p.spec.as_mut() {
            s.node_name = Some("n1".into());
        }
        p.status = Some(full_status("Running"));
        let before = PodInfo::new(Arc::new(p.clone()));
        let kept = kept_pod(p.clone());
        let status = kept.status.clone().unwrap_or_default();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.start_time, Some(Time(Timestamp::UNIX_EPOCH)));
        assert_eq!(status.nominated_node_name.as_deref(), Some("n2"));
        assert_eq!(status.conditions, None);
        assert_eq!(status.container_statuses, None);
        assert_eq!(status.pod_ip, None);
        assert_eq!(kept.spec, p.spec);
        assert_eq!(kept.metadata.managed_fields, None);
        // Every figure the cache derives from the pod is unchanged.
        let after = PodInfo::new(Arc::new(kept.clone()));
        assert_eq!(after.requests, before.requests);
        assert_eq!(after.ranking_requests, before.ranking_requests);
        assert_eq!(after.start_time, before.start_time);
        assert_eq!(after.nominated_node(), before.nominated_node());
        assert_eq!(after.uid, before.uid);
        assert_eq!(after.labels(), before.labels());

        let mut done = p;
        done.status = Some(full_status("Succeeded"));
        assert!(is_terminal(&kept_pod(done)));
    }
}
