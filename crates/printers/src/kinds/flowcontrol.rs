//! flowcontrol.apiserver.k8s.io/v1: FlowSchema and PriorityLevelConfiguration.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, at, created, int_at, name, opt_str, str_at};

pub(crate) const FLOW_SCHEMA_COLUMNS: &[Column] = &[
    NAME,
    Column::new("PriorityLevel", "string", desc::FS_PRIORITY_LEVEL),
    Column::new("MatchingPrecedence", "string", desc::FS_PRECEDENCE),
    Column::new("DistinguisherMethod", "string", desc::FS_DISTINGUISHER),
    AGE,
    Column::new("MissingPL", "string", desc::FS_MISSING_PL),
];

pub(crate) fn flow_schema_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let distinguisher = at(obj, &["spec", "distinguisherMethod"])
        .map(|d| str_at(d, &["type"]).to_string())
        .unwrap_or_else(|| "<none>".to_string());
    // "?" until the controller has reported whether the priority level exists.
    let missing_pl = arr_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Dangling")
        .map(|c| str_at(c, &["status"]).to_string())
        .unwrap_or_else(|| "?".to_string());
    vec![
        json!(name(obj)),
        json!(str_at(obj, &["spec", "priorityLevelConfiguration", "name"])),
        json!(int_at(obj, &["spec", "matchingPrecedence"])),
        json!(distinguisher),
        json!(since(created(obj), now)),
        json!(missing_pl),
    ]
}

pub(crate) const PRIORITY_LEVEL_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Type", "string", desc::PL_TYPE),
    Column::new("NominalConcurrencyShares", "string", desc::PL_SHARES),
    Column::new("Queues", "string", desc::PL_QUEUES),
    Column::new("HandSize", "string", desc::PL_HAND_SIZE),
    Column::new("QueueLengthLimit", "string", desc::PL_QUEUE_LENGTH),
    AGE,
];

pub(crate) fn priority_level_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let none = || json!("<none>");
    let (mut shares, mut queues, mut hand_size, mut queue_length) =
        (none(), none(), none(), none());
    if let Some(limited) = at(obj, &["spec", "limited"]) {
        shares = json!(int_at(limited, &["nominalConcurrencyShares"]));
        if let Some(q) = at(limited, &["limitResponse", "queuing"]) {
            queues = json!(int_at(q, &["queues"]));
            hand_size = json!(int_at(q, &["handSize"]));
            queue_length = json!(int_at(q, &["queueLengthLimit"]));
        }
    }
    vec![
        json!(name(obj)),
        json!(opt_str(obj, &["spec", "type"]).unwrap_or("")),
        shares,
        queues,
        hand_size,
        queue_length,
        json!(since(created(obj), now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_schema_and_priority_level_rows() {
        let now = Utc::now();
        let fs = json!({"metadata": {"name": "system-nodes"},
            "spec": {"priorityLevelConfiguration": {"name": "system"}, "matchingPrecedence": 500,
                     "distinguisherMethod": {"type": "ByUser"}},
            "status": {"conditions": [{"type": "Dangling", "status": "False"}]}});
        assert_eq!(
            flow_schema_cells(&fs, now),
            vec![
                json!("system-nodes"),
                json!("system"),
                json!(500),
                json!("ByUser"),
                json!("<unknown>"),
                json!("False")
            ]
        );
        let pl = json!({"metadata": {"name": "workload-low"},
            "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 100,
                "limitResponse": {"type": "Queue", "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50}}}}});
        assert_eq!(
            priority_level_cells(&pl, now)[1..6],
            [
                json!("Limited"),
                json!(100),
                json!(128),
                json!(6),
                json!(50)
            ]
        );
        let exempt =
            json!({"metadata": {"name": "exempt"}, "spec": {"type": "Exempt", "exempt": {}}});
        assert_eq!(
            priority_level_cells(&exempt, now)[2..6],
            [
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }
}
