//! What the plugins work out once per scheduling cycle (PreFilter,
//! PreScore) and read for every node (Filter, Score). Typed fields rather
//! than upstream's map of `any`: each stateful plugin owns one.
//!
//! `None` means the plugin had nothing to do for this pod (upstream's
//! "Skip"): its Filter passes and its Score is not run.

use crate::node_selector::{PreferredNodeAffinity, RequiredNodeAffinity};
use crate::plugins::inter_pod_affinity::{AffinityFilterState, AffinityScoreState};
use crate::plugins::pod_topology_spread::{SpreadFilterState, SpreadScoreState};
use crate::plugins::volume_binding::VolumeState;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct CycleState {
    /// The pod's nodeSelector + required node affinity, by label id
    /// (None: it selects no nodes by label, or PreFilter did not run).
    pub node_affinity: Option<Arc<RequiredNodeAffinity>>,
    pub node_affinity_preferred: Option<Arc<PreferredNodeAffinity>>,
    pub inter_pod_affinity: Option<AffinityFilterState>,
    pub inter_pod_affinity_score: Option<AffinityScoreState>,
    pub topology_spread: Option<SpreadFilterState>,
    pub topology_spread_score: Option<SpreadScoreState>,
    pub volumes: Option<VolumeState>,
}
