//! NodeName: a pod that names a node (`spec.nodeName`) fits only that node.
//! The queue only holds pods without one, so this matters when a caller asks
//! `schedule_one` about a pod that already names its node.

use super::{FilterPlugin, Rejection};
use crate::cycle_state::CycleState;
use crate::node_info::NodeInfo;
use crate::pod_info::{node_name, PodInfo};

pub const NAME: &str = "NodeName";
pub const REASON: &str = "node(s) didn't match the requested node name";

pub struct NodeName;

impl FilterPlugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        match node_name(&pod.pod) {
            Some(wanted) if wanted != node.name => Err(Rejection::unresolvable(REASON)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bound, node, pod};
    use std::sync::Arc;

    #[test]
    fn only_the_named_node_fits() {
        let n1 = NodeInfo::new(Arc::new(node("n1", "1", "1Gi")));
        let n2 = NodeInfo::new(Arc::new(node("n2", "1", "1Gi")));
        let p = PodInfo::new(Arc::new(bound(pod("p", &[]), "n1")));
        assert!(NodeName.filter(&CycleState::default(), &p, &n1).is_ok());
        assert_eq!(
            NodeName
                .filter(&CycleState::default(), &p, &n2)
                .unwrap_err()
                .reasons,
            vec![REASON.to_string()]
        );
        let free = PodInfo::new(Arc::new(pod("q", &[])));
        assert!(NodeName.filter(&CycleState::default(), &free, &n2).is_ok());
    }
}
