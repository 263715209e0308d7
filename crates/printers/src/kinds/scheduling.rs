//! scheduling.k8s.io/v1: PriorityClass.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{bool_at, created, int_at, name, str_at};

pub(crate) const PRIORITY_CLASS_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Value", "integer", desc::PC_VALUE),
    Column::new("Global-Default", "boolean", desc::PC_GLOBAL_DEFAULT),
    AGE,
    Column::new("PreemptionPolicy", "string", desc::PC_PREEMPTION).wide(),
];

pub(crate) fn priority_class_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(int_at(obj, &["value"])),
        json!(bool_at(obj, &["globalDefault"])),
        json!(since(created(obj), now)),
        json!(str_at(obj, &["preemptionPolicy"])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn priority_class_row() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let pc = json!({"metadata": {"name": "system-node-critical", "creationTimestamp": "2024-12-01T12:00:00Z"},
            "value": 2000001000, "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            priority_class_cells(&pc, now),
            vec![
                json!("system-node-critical"),
                json!(2000001000),
                json!(false),
                json!("31d"),
                json!("PreemptLowerPriority"),
            ]
        );
    }
}
