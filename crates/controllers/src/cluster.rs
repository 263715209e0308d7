//! kube-controller-manager's cluster controllers for berth (staging crate;
//! the modules move into berth-controllers): Endpoints, EndpointSlice, node
//! lifecycle, taint eviction, disruption (PDB status), pod GC, node IPAM,
//! resource quota (status.hard/used).
//! Each is an API client; see README.md for the flow of each.

use crate::runner::Context;
use std::sync::Arc;

pub use crate::disruption::run_disruption_controller;
pub use crate::endpoints::run_endpoints_controller;
pub use crate::endpointslice::{run_endpointslice_controller, EndpointSliceConfig};
pub use crate::node_ipam::{run_node_ipam_controller, NodeIpamConfig};
pub use crate::node_lifecycle::{run_node_lifecycle_controller, NodeLifecycleConfig};
pub use crate::pod_gc::{run_pod_gc_controller, PodGcConfig};
pub use crate::resourcequota::run_resource_quota_controller;
pub use crate::taint_eviction::run_taint_eviction_controller;

/// Settings of every controller in this crate (upstream defaults).
#[derive(Clone, Debug)]
pub struct ClusterControllersConfig {
    pub endpointslice: EndpointSliceConfig,
    pub node_lifecycle: NodeLifecycleConfig,
    pub pod_gc: PodGcConfig,
    /// `None` turns node IPAM off (CIDRs assigned by someone else).
    pub node_ipam: Option<NodeIpamConfig>,
}

impl Default for ClusterControllersConfig {
    fn default() -> Self {
        Self {
            endpointslice: EndpointSliceConfig::default(),
            node_lifecycle: NodeLifecycleConfig::default(),
            pod_gc: PodGcConfig::default(),
            node_ipam: Some(NodeIpamConfig::default()),
        }
    }
}

/// Run every controller of this crate until their watches end.
pub async fn run_all(client: kube::Client, ctx: Arc<Context>, config: ClusterControllersConfig) {
    let ipam = {
        let (client, ctx) = (client.clone(), ctx.clone());
        async move {
            if let Some(c) = config.node_ipam {
                run_node_ipam_controller(client, ctx, c).await;
            }
        }
    };
    tokio::join!(
        run_endpoints_controller(client.clone(), ctx.clone()),
        run_endpointslice_controller(client.clone(), ctx.clone(), config.endpointslice),
        run_node_lifecycle_controller(client.clone(), ctx.clone(), config.node_lifecycle),
        run_taint_eviction_controller(client.clone(), ctx.clone()),
        run_disruption_controller(client.clone(), ctx.clone()),
        run_resource_quota_controller(client.clone(), ctx.clone()),
        crate::root_ca_publisher::run_root_ca_publisher(client.clone(), ctx.clone()),
        run_pod_gc_controller(client, ctx, config.pod_gc),
        ipam,
    );
}
