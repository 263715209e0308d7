//! NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods
//! that tolerate `node.kubernetes.io/unschedulable:NoSchedule`.

use super::taint_toleration::tolerates_taint;
use super::{FilterPlugin, Rejection};
use crate::cycle_state::CycleState;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::Taint;

pub const NAME: &str = "NodeUnschedulable";
pub const REASON: &str = "node(s) were unschedulable";
pub const TAINT_KEY: &str = "node.kubernetes.io/unschedulable";

pub struct NodeUnschedulable;

impl FilterPlugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        if !node.cordoned {
            return Ok(());
        }
        let taint = Taint {
            key: TAINT_KEY.into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if tolerates_taint(pod, &taint) {
            return Ok(());
        }
        Err(Rejection::unresolvable(REASON))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::Toleration;
    use std::sync::Arc;

    fn cordoned() -> NodeInfo {
        let mut n = node("n1", "4", "8Gi");
        n.spec.get_or_insert_with(Default::default).unschedulable = Some(true);
        NodeInfo::new(Arc::new(n))
    }

    #[test]
    fn cordoned_nodes_reject_pods() {
        let p = PodInfo::new(Arc::new(pod("p", &[])));
        let err = NodeUnschedulable
            .filter(&CycleState::default(), &p, &cordoned())
            .unwrap_err();
        assert_eq!(err, Rejection::unresolvable("node(s) were unschedulable"));
        let open = NodeInfo::new(Arc::new(node("n2", "4", "8Gi")));
        assert!(NodeUnschedulable
            .filter(&CycleState::default(), &p, &open)
            .is_ok());
    }

    #[test]
    fn tolerating_pods_pass() {
        let mut p = pod("p", &[]);
        if let Some(s) = p.spec.as_mut() {
            s.tolerations = Some(vec![Toleration {
                key: Some(TAINT_KEY.into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            }])
        }
        let p = PodInfo::new(Arc::new(p));
        assert!(NodeUnschedulable
            .filter(&CycleState::default(), &p, &cordoned())
            .is_ok());
    }
}
