//! discovery.k8s.io/v1: EndpointSlice.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, created, name, opt_int, opt_str, str_at};

pub(crate) const ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    Column::new("AddressType", "string", desc::SLICE_ADDRESS_TYPE),
    Column::new("Ports", "string", desc::SLICE_PORTS),
    Column::new("Endpoints", "string", desc::SLICE_ENDPOINTS),
    AGE,
];

const MAX_LISTED: usize = 3;

pub(crate) fn endpoint_slice_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let ports: Vec<String> = arr_at(obj, &["ports"])
        .iter()
        .map(|p| match (opt_int(p, &["port"]), opt_str(p, &["name"])) {
            (Some(port), _) => port.to_string(),
            (None, Some(port_name)) => port_name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    let addresses: Vec<String> = arr_at(obj, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or("").to_string())
        .collect();
    vec![
        json!(name(obj)),
        json!(str_at(obj, &["addressType"])),
        json!(list_with_more(&ports)),
        json!(list_with_more(&addresses)),
        json!(since(created(obj), now)),
    ]
}

/// Upstream `listWithMoreString`: three entries then "+ N more...", "<unset>" when empty.
fn list_with_more(items: &[String]) -> String {
    if items.is_empty() {
        return "<unset>".to_string();
    }
    let shown = items
        .iter()
        .take(MAX_LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    if items.len() > MAX_LISTED {
        format!("{shown} + {} more...", items.len() - MAX_LISTED)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn endpoint_slice_rows() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let slice = json!({"metadata": {"name": "web-abcde", "creationTimestamp": "2025-01-01T11:59:30Z"},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "grpc"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]},
                          {"addresses": ["10.0.0.4"]}]});
        assert_eq!(
            endpoint_slice_cells(&slice, now),
            vec![
                json!("web-abcde"),
                json!("IPv4"),
                json!("80,grpc"),
                json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."),
                json!("30s"),
            ]
        );
        let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv6", "ports": [{}]});
        let c = endpoint_slice_cells(&empty, now);
        assert_eq!(c[2], json!("*"));
        assert_eq!(c[3], json!("<unset>"));
    }
}
