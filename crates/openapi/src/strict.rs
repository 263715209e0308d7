//! Strict field validation (`fieldValidation=Strict`): report every field
//! of an object that its kind's schema does not know, with paths formatted
//! as Kubernetes formats them ("spec.template.spec.containers[0].imagee").
//!
//! Works on a compact shape table (field names and structure only, no
//! descriptions) derived once from the component schemas, so validation does
//! not keep megabytes of documentation alive.

use std::collections::HashMap;

use serde_json::{Map, Value};

const REF_PREFIX: &str = "#/components/schemas/";

#[derive(Debug)]
enum Shape {
    /// Anything goes: free-form objects (RawExtension), preserved unknowns.
    Any,
    /// Strings, numbers, booleans, int-or-string: nothing to descend into.
    Scalar,
    /// A named definition.
    Ref(String),
    Array(Box<Shape>),
    /// An object with `additionalProperties`: any key, values of one shape.
    Map(Box<Shape>),
    /// An object with known properties.
    Object(HashMap<String, Shape>),
}

fn shape_of(schema: &Value) -> Shape {
    let Some(object) = schema.as_object() else {
        return Shape::Any;
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        return Shape::Ref(reference.trim_start_matches(REF_PREFIX).to_string());
    }
    if let Some(first) = object
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|all| all.first())
    {
        return shape_of(first);
    }
    if object.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return Shape::Any;
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        return Shape::Object(
            properties
                .iter()
                .map(|(k, v)| (k.clone(), shape_of(v)))
                .collect(),
        );
    }
    match object.get("type").and_then(Value::as_str) {
        Some("array") => Shape::Array(Box::new(object.get("items").map_or(Shape::Any, shape_of))),
        Some("object") | None => match object.get("additionalProperties") {
            Some(additional @ Value::Object(_)) => Shape::Map(Box::new(shape_of(additional))),
            _ if object.get("type").is_none() => Shape::Scalar,
            _ => Shape::Any,
        },
        Some(_) => Shape::Scalar,
    }
}

/// Field structure of every definition, by definition name.
pub(crate) struct Shapes {
    definitions: HashMap<String, Shape>,
}

impl Shapes {
    pub(crate) fn new(schemas: &Map<String, Value>) -> Self {
        Shapes {
            definitions: schemas
                .iter()
                .map(|(name, schema)| (name.clone(), shape_of(schema)))
                .collect(),
        }
    }

    pub(crate) fn knows(&self, definition: &str) -> bool {
        self.definitions.contains_key(definition)
    }

    /// Paths of all fields in `value` that `definition` does not declare.
    pub(crate) fn unknown_fields(&self, definition: &str, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(
            &Shape::Ref(definition.to_string()),
            value,
            &mut String::new(),
            &mut out,
            0,
        );
        out
    }

    fn walk(
        &self,
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
        match shape {
            Shape::Any | Shape::Scalar => {}
            Shape::Ref(name) => {
                if let Some(resolved) = self.definitions.get(name) {
                    self.walk(resolved, value, path, out, depth + 1);
                }
            }
            Shape::Array(item) => {
                if let Value::Array(items) = value {
                    for (i, element) in items.iter().enumerate() {
                        let len = path.len();
                        path.push_str(&format!("[{i}]"));
                        self.walk(item, element, path, out, depth + 1);
                        path.truncate(len);
                    }
                }
            }
            Shape::Map(values) => {
                if let Value::Object(entries) = value {
                    for (key, element) in entries {
                        let len = push_field(path, key);
                        self.walk(values, element, path, out, depth + 1);
                        path.truncate(len);
                    }
                }
            }
            Shape::Object(fields) => {
                if let Value::Object(entries) = value {
                    for (key, element) in entries {
                        let len = push_field(path, key);
                        match fields.get(key) {
                            Some(field) => self.walk(field, element, path, out, depth + 1),
                            None => out.push(path.clone()),
                        }
                        path.truncate(len);
                    }
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
    use serde_json::json;

    fn shapes() -> Shapes {
        let schemas = json!({
            "Root": {"type": "object", "properties": {
                "kind": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                "raw": {"allOf": [{"$ref": "#/components/schemas/Raw"}]},
                "count": {"allOf": [{"$ref": "#/components/schemas/IntOrString"}]}
            }},
            "Item": {"type": "object", "properties": {"name": {"type": "string"}}},
            "Raw": {"type": "object"},
            "IntOrString": {"x-kubernetes-int-or-string": true}
        });
        let Value::Object(map) = schemas else {
            unreachable!("literal is an object")
        };
        Shapes::new(&map)
    }

    #[test]
    fn reports_unknown_fields_with_kubernetes_paths() {
        let obj = json!({
            "kind": "X", "bogus": 1,
            "labels": {"any": "key"},
            "items": [{"name": "a"}, {"name": "b", "nmae": "typo"}],
            "raw": {"whatever": {"deep": true}},
            "count": "50%"
        });
        assert_eq!(
            shapes().unknown_fields("Root", &obj),
            vec!["bogus", "items[1].nmae"]
        );
    }

    #[test]
    fn values_of_the_wrong_type_are_not_unknown_fields() {
        let obj = json!({"items": "not-a-list", "labels": 3});
        assert!(shapes().unknown_fields("Root", &obj).is_empty());
    }
}
