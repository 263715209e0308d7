//! The hollow-node simulator (`berth-sim`): a real control plane and
//! thousands of hollow nodes on one machine, with the scale scenarios of
//! issue 6. See README.md for the flow and the one departure (a shared pod
//! watch).

pub mod churn;
pub mod cluster;
pub mod dispatch;
pub mod hollow;
pub mod metrics;
pub mod node_loss;
pub mod report;
pub mod workload;
