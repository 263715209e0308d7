//! `meta.k8s.io/v1 Table` responses: columns and cells come from
//! berth-printers; rows carry PartialObjectMetadata (or the object).

use crate::request::Query;
use berth_api::ResourceInfo;
use serde_json::{json, Value};

pub fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))})
}

/// A Table of `items`, taken one at a time so that a long list never holds
/// every parsed object at once (only the rows).
pub fn table_for(
    info: &ResourceInfo,
    items: impl IntoIterator<Item = Value>,
    meta: Option<Value>,
    q: &Query,
) -> Value {
    let now = chrono::Utc::now();
    let columns: Vec<Value> = berth_printers::columns(info.group, info.kind)
        .iter()
        .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
        .collect();
    let include = q.get("includeObject").unwrap_or("Metadata");
    let mut first_rv: Option<Value> = None;
    let rows: Vec<Value> = items
        .into_iter()
        .map(|obj| {
            if first_rv.is_none() {
                first_rv = Some(
                    obj.pointer("/metadata/resourceVersion")
                        .cloned()
                        .unwrap_or(Value::Null),
                );
            }
            let cells = berth_printers::cells(info.group, info.kind, &obj, now);
            let mut row = json!({"cells": cells});
            match include {
                "None" => {}
                "Object" => row["object"] = obj,
                _ => row["object"] = partial_metadata(&obj),
            }
            row
        })
        .collect();
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta.unwrap_or_else(|| json!({})),
        "columnDefinitions": columns,
        "rows": rows,
    });
    if let Some(rv) = first_rv
        .filter(|rv| !rv.is_null())
        .filter(|_| t["metadata"].get("resourceVersion").is_none())
    {
        t["metadata"]["resourceVersion"] = rv;
    }
    t
}
