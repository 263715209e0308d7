//! NodePorts: the host ports a pod asks for must be free on the node
//! (same protocol and port on the same IP, or on 0.0.0.0, collide).

use super::{FilterPlugin, Rejection};
use crate::cycle_state::CycleState;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

pub const NAME: &str = "NodePorts";
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub struct NodePorts;

impl FilterPlugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        let taken = pod
            .host_ports
            .iter()
            .any(|want| node.used_ports.iter().any(|used| want.conflicts_with(used)));
        if taken {
            // Evicting the pod holding the port would help: resolvable.
            Err(Rejection::unschedulable_one(REASON))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::Code;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::{ContainerPort, Pod};
    use std::sync::Arc;

    fn with_port(name: &str, host_ip: Option<&str>, port: i32) -> Arc<PodInfo> {
        let mut p: Pod = pod(name, &[]);
        if let Some(s) = p.spec.as_mut() {
            s.containers[0].ports = Some(vec![ContainerPort {
                container_port: 80,
                host_port: Some(port),
                host_ip: host_ip.map(str::to_string),
                ..Default::default()
            }])
        }
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    #[test]
    fn taken_ports_reject_resolvably() {
        let mut n = NodeInfo::new(Arc::new(node("n1", "4", "8Gi")));
        n.add_pod(with_port("web", None, 8080));
        let err = NodePorts
            .filter(&CycleState::default(), &with_port("p", None, 8080), &n)
            .unwrap_err();
        assert_eq!(err.code, Code::Unschedulable);
        assert_eq!(err.reasons, vec![REASON.to_string()]);
        assert!(NodePorts
            .filter(
                &CycleState::default(),
                &with_port("p", Some("10.0.0.1"), 8080),
                &n
            )
            .is_err());
        assert!(NodePorts
            .filter(&CycleState::default(), &with_port("p", None, 8081), &n)
            .is_ok());
        assert!(NodePorts
            .filter(
                &CycleState::default(),
                &PodInfo::new(Arc::new(pod("none", &[]))),
                &n
            )
            .is_ok());
        // The port frees up when its pod leaves.
        n.remove_pod("uid-web");
        assert!(NodePorts
            .filter(&CycleState::default(), &with_port("p", None, 8080), &n)
            .is_ok());
    }

    #[test]
    fn distinct_host_ips_share_a_port() {
        let mut n = NodeInfo::new(Arc::new(node("n1", "4", "8Gi")));
        n.add_pod(with_port("a", Some("10.0.0.1"), 53));
        assert!(NodePorts
            .filter(
                &CycleState::default(),
                &with_port("b", Some("10.0.0.2"), 53),
                &n
            )
            .is_ok());
    }
}
