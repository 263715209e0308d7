//! The table kube-apiserver's default convertor builds for kinds without a printer
//! (Role, ClusterRole, LimitRange, ...): NAME and CREATED AT.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::column::Column;
use crate::descriptions as desc;
use crate::json::{created, name};

pub(crate) const COLUMNS: &[Column] = &[
    Column::new("Name", "string", desc::NAME).formatted("name"),
    Column::new("Created At", "date", desc::CREATION_TIMESTAMP),
];

/// Go's zero time formatted as RFC 3339, which is what an unset timestamp prints as.
const ZERO_TIME_RFC3339: &str = "0001-01-01T00:00:00Z";

pub(crate) fn cells(obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
    let created_at = created(obj)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| ZERO_TIME_RFC3339.to_string());
    vec![json!(name(obj)), json!(created_at)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_created_at_in_utc_seconds() {
        let role = json!({"metadata": {"name": "pod-reader",
                                       "creationTimestamp": "2025-01-01T13:04:05.250+01:00"}});
        assert_eq!(
            cells(&role, Utc::now()),
            vec![json!("pod-reader"), json!("2025-01-01T12:04:05Z")]
        );
        assert_eq!(
            cells(&json!({}), Utc::now()),
            vec![json!(""), json!(ZERO_TIME_RFC3339)]
        );
    }
}
