//! node.k8s.io/v1: RuntimeClass.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{created, name, str_at};

pub(crate) const RUNTIME_CLASS_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Handler", "string", desc::RUNTIME_CLASS_HANDLER),
    AGE,
];

pub(crate) fn runtime_class_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(str_at(obj, &["handler"])),
        json!(since(created(obj), now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_class_row() {
        let rc = json!({"metadata": {"name": "gvisor"}, "handler": "runsc"});
        assert_eq!(
            runtime_class_cells(&rc, Utc::now()),
            vec![json!("gvisor"), json!("runsc"), json!("<unknown>")]
        );
    }
}
