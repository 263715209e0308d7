//! Strict field validation (`fieldValidation=Strict`): report every field
//! of an object that its kind's schema does not know, with paths formatted
//! as Kubernetes formats them ("spec.template.spec.containers[0].imagee").
//!
//! Walks the compact shape table of `shape.rs`.

use serde_json::Value;

use crate::shape::{Shape, Shapes};

/// Paths of all fields in `value` that definition `root` does not declare.
pub(crate) fn unknown_fields(shapes: &Shapes, root: usize, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(
        shapes,
        &Shape::Ref(root),
        value,
        &mut String::new(),
        &mut out,
        0,
    );
    out
}

fn walk(
    shapes: &Shapes,
    shape: &Shape,
    value: &Value,
    path: &mut String,
    out: &mut Vec<String>,
    depth: usize,
) {
    // Schemas are recursive (JSONSchemaProps); objects are finite, but a
    // bound keeps a hostile deeply nested body from exhausting the stack.
    if depth > 256 {
        return;
    }
    let (shape, _) = shapes.resolve(shape);
    match shape {
        Shape::Any | Shape::Leaf(_) | Shape::Ref(_) => {}
        Shape::Array(item) => {
            if let Value::Array(items) = value {
                for (i, element) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(shapes, item, element, path, out, depth + 1);
                    path.truncate(len);
                }
            }
        }
        Shape::Map(values) => {
            if let Value::Object(entries) = value {
                for (key, element) in entries {
                    let len = push_field(path, key);
                    walk(shapes, values, element, path, out, depth + 1);
                    path.truncate(len);
                }
            }
        }
        Shape::Object(fields) => {
            if let Value::Object(entries) = value {
                for (key, element) in entries {
                    let len = push_field(path, key);
                    match fields.get(key) {
                        Some(field) => walk(shapes, field, element, path, out, depth + 1),
                        None => out.push(path.clone()),
                    }
                    path.truncate(len);
                }
            }
        }
    }
}

/// Appends ".key" (or "key" at the root); returns the length to restore.
fn push_field(path: &mut String, key: &str) -> usize {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::tests::sample;
    use serde_json::json;

    fn unknown(obj: &Value) -> Vec<String> {
        let shapes = sample();
        let root = shapes.index_of("io.k8s.test.v1.Root").unwrap_or(usize::MAX);
        unknown_fields(&shapes, root, obj)
    }

    #[test]
    fn reports_unknown_fields_with_kubernetes_paths() {
        let obj = json!({
            "kind": "X", "bogus": 1,
            "labels": {"any": "key"},
            "items": [{"name": "a"}, {"name": "b", "nmae": "typo"}],
            "raw": {"whatever": {"deep": true}},
            "surge": "50%"
        });
        assert_eq!(unknown(&obj), vec!["bogus", "items[1].nmae"]);
    }

    #[test]
    fn values_of_the_wrong_type_are_not_unknown_fields() {
        let obj = json!({"items": "not-a-list", "labels": 3});
        assert!(unknown(&obj).is_empty());
    }
}
