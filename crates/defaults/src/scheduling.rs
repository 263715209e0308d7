//! scheduling.k8s.io/v1 defaults: PriorityClass.

use serde_json::{json, Map, Value};

use crate::json::default_ptr;

pub fn default_priority_class(class: &mut Map<String, Value>) {
    default_ptr(class, "preemptionPolicy", json!("PreemptLowerPriority"));
}
