//! NodeReady (berth's own): a node whose Ready condition is not True is
//! treated as if it carried the taint Kubernetes' node lifecycle controller
//! would put on it — `node.kubernetes.io/not-ready:NoSchedule` (False or no
//! condition yet) or `node.kubernetes.io/unreachable:NoSchedule` (Unknown) —
//! so it turns pods away with the same message unless they tolerate that
//! taint. When the node already carries the taint, TaintToleration has
//! judged it and this plugin stays quiet.

use super::taint_toleration::{tolerates_taint, untolerated_reason};
use super::{FilterPlugin, Rejection};
use crate::cycle_state::CycleState;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::{Node, Taint};

pub const NAME: &str = "NodeReady";
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

pub struct NodeReady;

/// The taint the node lifecycle controller would add for this node, if any
/// (kept on `NodeInfo::ready_taint`).
pub fn implied_taint(node: &NodeInfo) -> Option<Taint> {
    node.ready_taint.clone()
}

/// The taint a node object's Ready condition implies, if any.
pub fn ready_taint(node: &Node) -> Option<Taint> {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.as_str());
    let key = match ready {
        Some("True") => return None,
        Some("Unknown") => UNREACHABLE_TAINT,
        _ => NOT_READY_TAINT,
    };
    Some(Taint {
        key: key.into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    })
}

impl FilterPlugin for NodeReady {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        let Some(taint) = &node.ready_taint else {
            return Ok(());
        };
        let already_tainted = node
            .taints()
            .iter()
            .any(|t| t.key == taint.key && t.effect == taint.effect);
        if already_tainted || tolerates_taint(pod, taint) {
            return Ok(());
        }
        Err(Rejection::unresolvable(untolerated_reason(taint)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::Toleration;
    use std::sync::Arc;

    fn with_ready(status: Option<&str>) -> NodeInfo {
        let mut n = node("n", "4", "8Gi");
        if let Some(s) = n.status.as_mut() {
            match status {
                Some(v) => {
                    if let Some(c) = s.conditions.as_mut().and_then(|c| c.first_mut()) {
                        c.status = v.into();
                    }
                }
                None => s.conditions = None,
            }
        }
        NodeInfo::new(Arc::new(n))
    }

    #[test]
    fn not_ready_and_unknown_nodes_reject_with_the_taint_message() {
        let p = PodInfo::new(Arc::new(pod("p", &[])));
        assert!(NodeReady
            .filter(&CycleState::default(), &p, &with_ready(Some("True")))
            .is_ok());
        let err = NodeReady
            .filter(&CycleState::default(), &p, &with_ready(Some("False")))
            .unwrap_err();
        assert_eq!(
            err.reasons,
            vec!["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"]
        );
        let err = NodeReady
            .filter(&CycleState::default(), &p, &with_ready(None))
            .unwrap_err();
        assert_eq!(
            err.reasons,
            vec!["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"]
        );
        let err = NodeReady
            .filter(&CycleState::default(), &p, &with_ready(Some("Unknown")))
            .unwrap_err();
        assert_eq!(
            err.reasons,
            vec!["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"]
        );
    }

    #[test]
    fn tolerating_pods_may_land_on_unready_nodes() {
        let mut p = pod("p", &[]);
        if let Some(s) = p.spec.as_mut() {
            s.tolerations = Some(vec![Toleration {
                operator: Some("Exists".into()),
                ..Default::default()
            }])
        }
        let p = PodInfo::new(Arc::new(p));
        assert!(NodeReady
            .filter(&CycleState::default(), &p, &with_ready(Some("False")))
            .is_ok());
    }
}
