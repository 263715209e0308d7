//! Per topology key, the value every node has for it, interned to small
//! ids and cached in the snapshot until a node is added, removed or
//! relabelled. Spreading counts per domain in plain vectors instead of
//! looking labels up on thousands of nodes for every pod.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct TopologyValues {
    /// Distinct values, by id.
    pub values: Vec<String>,
    /// Value → id.
    pub ids: HashMap<String, u32>,
    /// Per node position in the snapshot: its value's id, if it has the key.
    pub per_node: Vec<Option<u32>>,
}

impl TopologyValues {
    pub fn id_of(&self, value: &str) -> Option<u32> {
        self.ids.get(value).copied()
    }
}

/// The cache; cloning a snapshot starts an empty one.
#[derive(Debug, Default)]
pub struct TopologyCache(Mutex<HashMap<String, Arc<TopologyValues>>>);

impl Clone for TopologyCache {
    fn clone(&self) -> Self {
        TopologyCache::default()
    }
}

impl TopologyCache {
    pub fn get_or_build(
        &self,
        key: &str,
        build: impl FnOnce() -> TopologyValues,
    ) -> Arc<TopologyValues> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = map.get(key) {
            return v.clone();
        }
        let v = Arc::new(build());
        map.insert(key.to_string(), v.clone());
        v
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
