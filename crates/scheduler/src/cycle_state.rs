//! What the plugins work out once per scheduling cycle (PreFilter,
//! PreScore) and read for every node (Filter, Score). Typed fields rather
//! than upstream's map of `any`: each stateful plugin owns one.
//!
//! `None` means the plugin had nothing to do for this pod (upstream's
//! "Skip"): its Filter passes and its Score is not run.

use crate::plugins::inter_pod_affinity::{AffinityFilterState, AffinityScoreState};
use crate::plugins::pod_topology_spread::{SpreadFilterState, SpreadScoreState};
use crate::plugins::volume_binding::VolumeState;

#[derive(Clone, Debug, Default)]
pub struct CycleState {
    pub inter_pod_affinity: Option<AffinityFilterState>,
    pub inter_pod_affinity_score: Option<AffinityScoreState>,
    pub topology_spread: Option<SpreadFilterState>,
    pub topology_spread_score: Option<SpreadScoreState>,
    pub volumes: Option<VolumeState>,
}
