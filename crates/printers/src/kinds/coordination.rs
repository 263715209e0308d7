//! coordination.k8s.io/v1: Lease.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{created, name, str_at};

pub(crate) const LEASE_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Holder", "string", desc::LEASE_HOLDER),
    AGE,
];

pub(crate) fn lease_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(str_at(obj, &["spec", "holderIdentity"])),
        json!(since(created(obj), now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn lease_row() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let lease = json!({"metadata": {"name": "kube-scheduler", "namespace": "kube-system",
                                        "creationTimestamp": "2025-01-01T09:30:00Z"},
            "spec": {"holderIdentity": "cp-1_0f1e", "leaseDurationSeconds": 15}});
        assert_eq!(
            lease_cells(&lease, now),
            vec![json!("kube-scheduler"), json!("cp-1_0f1e"), json!("150m")]
        );
        let free = json!({"metadata": {"name": "x"}, "spec": {}});
        assert_eq!(lease_cells(&free, now)[1], json!(""));
    }
}
