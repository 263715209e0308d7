//! flowcontrol.apiserver.k8s.io/v1 defaults: FlowSchema precedence and
//! PriorityLevelConfiguration shares and queuing.

use serde_json::{json, Map, Value};

use crate::json::{default_int, default_ptr, obj};

pub fn default_flow_schema(spec: &mut Map<String, Value>) {
    default_int(spec, "matchingPrecedence", 1000);
}

pub fn default_priority_level(spec: &mut Map<String, Value>) {
    if let Some(limited) = obj(spec, "limited") {
        default_ptr(limited, "nominalConcurrencyShares", json!(30));
        default_ptr(limited, "lendablePercent", json!(0));
        if let Some(queuing) = obj(limited, "limitResponse").and_then(|r| obj(r, "queuing")) {
            default_int(queuing, "queues", 64);
            default_int(queuing, "handSize", 8);
            default_int(queuing, "queueLengthLimit", 50);
        }
    }
    if let Some(exempt) = obj(spec, "exempt") {
        default_ptr(exempt, "nominalConcurrencyShares", json!(0));
        default_ptr(exempt, "lendablePercent", json!(0));
    }
}
