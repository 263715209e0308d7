//! The shared in-process API server harness (berth_apiserver::testing).
pub use berth_apiserver::testing::*;
