//! policy/v1: PodDisruptionBudget.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{at, created, int_at, int_or_string, name};

pub(crate) const PDB_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Min Available", "string", desc::PDB_MIN),
    Column::new("Max Unavailable", "string", desc::PDB_MAX),
    Column::new("Allowed Disruptions", "integer", desc::PDB_ALLOWED),
    AGE,
];

pub(crate) fn pdb_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let bound = |field: &str| {
        at(obj, &["spec", field])
            .map(int_or_string)
            .unwrap_or_else(|| "N/A".to_string())
    };
    vec![
        json!(name(obj)),
        json!(bound("minAvailable")),
        json!(bound("maxUnavailable")),
        json!(int_at(obj, &["status", "disruptionsAllowed"])),
        json!(since(created(obj), now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn pdb_rows() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let pdb = json!({"metadata": {"name": "web", "creationTimestamp": "2025-01-01T11:59:00Z"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2}});
        assert_eq!(
            pdb_cells(&pdb, now),
            vec![
                json!("web"),
                json!("2"),
                json!("N/A"),
                json!(1),
                json!("60s")
            ]
        );
        let pct = json!({"metadata": {"name": "db"}, "spec": {"maxUnavailable": "25%"}});
        assert_eq!(
            pdb_cells(&pct, now),
            vec![
                json!("db"),
                json!("N/A"),
                json!("25%"),
                json!(0),
                json!("<unknown>")
            ]
        );
    }
}
