//! `meta.k8s.io/v1 Table` responses: columns and cells come from
//! berth-printers; rows carry PartialObjectMetadata (or the object).

use crate::request::Query;
use berth_api::ResourceInfo;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))})
}

pub fn table_for(
    info: &ResourceInfo,
    items: &[Arc<Value>],
    meta: Option<Value>,
    q: &Query,
) -> Value {
    let now = chrono::Utc::now();
    let columns: Vec<Value> = berth_printers::columns(info.group, info.kind)
        .iter()
        .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
        .collect();
    let include = q.get("includeObject").unwrap_or("Metadata");
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let cells = berth_printers::cells(info.group, info.kind, obj, now);
            let mut row = json!({"cells": cells});
            match include {
                "None" => {}
                "Object" => row["object"] = (**obj).clone(),
                _ => row["object"] = partial_metadata(obj),
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
    if let Some(rv) = items
        .first()
        .and_then(|o| o.pointer("/metadata/resourceVersion"))
        .filter(|_| t["metadata"].get("resourceVersion").is_none())
    {
        t["metadata"]["resourceVersion"] = rv.clone();
    }
    t
}
