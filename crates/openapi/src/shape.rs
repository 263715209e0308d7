//! The compact shape table both body checks walk: field names, structure and
//! the Go type of every leaf, derived once from the component schemas. No
//! descriptions, so validation does not keep megabytes of documentation
//! alive. References are resolved to indices at build time.

use std::collections::HashMap;

use serde_json::{Map, Value};

const REF_PREFIX: &str = "#/components/schemas/";

/// Definitions whose Go type has its own `UnmarshalJSON`, which the schema
/// alone does not tell apart (Quantity carries `x-kubernetes-int-or-string`
/// like IntOrString; MicroTime is a `date-time` string like Time).
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";

/// A value with nothing to descend into, by the Go type it decodes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaf {
    String,
    Bool,
    Int32,
    Int64,
    Float64,
    /// `[]byte`: a base64 string (Secret data).
    Bytes,
    IntOrString,
    Quantity,
    Time,
    MicroTime,
}

impl Leaf {
    /// The type as Go's `reflect.Type.String()` prints it.
    pub(crate) fn go_type(self) -> &'static str {
        match self {
            Leaf::String => "string",
            Leaf::Bool => "bool",
            Leaf::Int32 => "int32",
            Leaf::Int64 => "int64",
            Leaf::Float64 => "float64",
            Leaf::Bytes => "[]uint8",
            Leaf::IntOrString => "intstr.IntOrString",
            Leaf::Quantity => "resource.Quantity",
            Leaf::Time => "v1.Time",
            Leaf::MicroTime => "v1.MicroTime",
        }
    }
}

#[derive(Debug)]
pub(crate) enum Shape {
    /// Anything goes: free-form objects (RawExtension), preserved unknowns.
    Any,
    Leaf(Leaf),
    /// A named definition, by index into the table.
    Ref(usize),
    Array(Box<Shape>),
    /// An object with `additionalProperties`: any key, values of one shape.
    Map(Box<Shape>),
    /// An object with known properties (a Go struct).
    Object(HashMap<String, Shape>),
}

pub(crate) struct Definition {
    pub(crate) shape: Shape,
    /// "DeploymentSpec": the struct name Go's decode errors print.
    pub(crate) go_name: Box<str>,
    /// "v1.DeploymentSpec": the type as `reflect.Type.String()` prints it.
    pub(crate) go_type: Box<str>,
}

/// Field structure of every definition.
pub(crate) struct Shapes {
    definitions: Vec<Definition>,
    by_name: HashMap<String, usize>,
}

impl Shapes {
    pub(crate) fn new(schemas: &Map<String, Value>) -> Self {
        let by_name: HashMap<String, usize> = schemas
            .keys()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        let definitions = schemas
            .iter()
            .map(|(name, schema)| {
                let shape = match name.as_str() {
                    QUANTITY => Shape::Leaf(Leaf::Quantity),
                    TIME => Shape::Leaf(Leaf::Time),
                    MICRO_TIME => Shape::Leaf(Leaf::MicroTime),
                    _ => shape_of(schema, &by_name),
                };
                let mut segments = name.rsplit('.');
                let go_name = segments.next().unwrap_or(name);
                let go_type = match segments.next() {
                    Some(package) => format!("{package}.{go_name}"),
                    None => go_name.to_string(),
                };
                Definition {
                    shape,
                    go_name: go_name.into(),
                    go_type: go_type.into(),
                }
            })
            .collect();
        Shapes {
            definitions,
            by_name,
        }
    }

    pub(crate) fn index_of(&self, definition: &str) -> Option<usize> {
        self.by_name.get(definition).copied()
    }

    pub(crate) fn definition(&self, index: usize) -> Option<&Definition> {
        self.definitions.get(index)
    }

    /// `shape` with references followed, and the definition the last
    /// reference named (whose struct owns the fields of an `Object`).
    pub(crate) fn resolve<'s>(&'s self, mut shape: &'s Shape) -> (&'s Shape, Option<usize>) {
        let mut named = None;
        // Bounded: a reference cycle without structure in between would
        // otherwise spin (the real schemas have none).
        for _ in 0..8 {
            match shape {
                Shape::Ref(index) => match self.definitions.get(*index) {
                    Some(definition) => {
                        named = Some(*index);
                        shape = &definition.shape;
                    }
                    None => return (&Shape::Any, None),
                },
                _ => return (shape, named),
            }
        }
        (&Shape::Any, None)
    }

    /// The Go type a value of `shape` decodes into, as Go prints it
    /// ("[]v1.Container", "map[string]string", "v1.ResourceList").
    pub(crate) fn go_type(&self, shape: &Shape) -> String {
        match shape {
            Shape::Any => "interface {}".to_string(),
            Shape::Leaf(leaf) => leaf.go_type().to_string(),
            Shape::Ref(index) => self
                .definitions
                .get(*index)
                .map(|d| match d.shape {
                    Shape::Leaf(leaf) => leaf.go_type().to_string(),
                    _ => d.go_type.to_string(),
                })
                .unwrap_or_default(),
            Shape::Array(item) => format!("[]{}", self.go_type(item)),
            Shape::Map(value) => {
                let value_type = self.go_type(value);
                // Every map of quantities in the built-in API is core/v1's
                // named `ResourceList`, which the schema does not name.
                if value_type == Leaf::Quantity.go_type() {
                    "v1.ResourceList".to_string()
                } else {
                    format!("map[string]{value_type}")
                }
            }
            Shape::Object(_) => "struct {...}".to_string(),
        }
    }
}

fn shape_of(schema: &Value, by_name: &HashMap<String, usize>) -> Shape {
    let Some(object) = schema.as_object() else {
        return Shape::Any;
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        return by_name
            .get(reference.trim_start_matches(REF_PREFIX))
            .map_or(Shape::Any, |index| Shape::Ref(*index));
    }
    if let Some(first) = object
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|all| all.first())
    {
        return shape_of(first, by_name);
    }
    if object.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return Shape::Any;
    }
    if object.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return Shape::Leaf(Leaf::IntOrString);
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        return Shape::Object(
            properties
                .iter()
                .map(|(k, v)| (k.clone(), shape_of(v, by_name)))
                .collect(),
        );
    }
    let format = object.get("format").and_then(Value::as_str);
    match object.get("type").and_then(Value::as_str) {
        Some("array") => Shape::Array(Box::new(
            object
                .get("items")
                .map_or(Shape::Any, |items| shape_of(items, by_name)),
        )),
        Some("object") | None => match object.get("additionalProperties") {
            Some(additional @ Value::Object(_)) => {
                Shape::Map(Box::new(shape_of(additional, by_name)))
            }
            _ => Shape::Any,
        },
        Some("string") => Shape::Leaf(match format {
            Some("byte") => Leaf::Bytes,
            Some("date-time") => Leaf::Time,
            _ => Leaf::String,
        }),
        Some("integer") => Shape::Leaf(match format {
            Some("int32") => Leaf::Int32,
            _ => Leaf::Int64,
        }),
        Some("number") => Shape::Leaf(Leaf::Float64),
        Some("boolean") => Shape::Leaf(Leaf::Bool),
        _ => Shape::Any,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A small table shaped like the real one.
    pub(crate) fn sample() -> Shapes {
        let schemas = json!({
            "io.k8s.test.v1.Root": {"type": "object", "properties": {
                "kind": {"type": "string"},
                "count": {"type": "integer", "format": "int32"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/io.k8s.test.v1.Item"}},
                "raw": {"allOf": [{"$ref": "#/components/schemas/io.k8s.test.runtime.Raw"}]},
                "surge": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]},
                "limits": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}},
                "dangling": {"$ref": "#/components/schemas/Nowhere"}
            }},
            "io.k8s.test.v1.Item": {"type": "object", "properties": {"name": {"type": "string"}}},
            "io.k8s.test.runtime.Raw": {"type": "object"},
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"x-kubernetes-int-or-string": true},
            "io.k8s.apimachinery.pkg.api.resource.Quantity": {"x-kubernetes-int-or-string": true}
        });
        let Value::Object(map) = schemas else {
            unreachable!("literal is an object")
        };
        Shapes::new(&map)
    }

    fn field<'s>(shapes: &'s Shapes, name: &str) -> &'s Shape {
        let root = shapes.index_of("io.k8s.test.v1.Root").unwrap_or(usize::MAX);
        match shapes.definition(root).map(|d| &d.shape) {
            Some(Shape::Object(fields)) => &fields[name],
            other => panic!("root is {other:?}"),
        }
    }

    #[test]
    fn leaves_carry_the_go_type_and_special_definitions_are_told_apart() {
        let shapes = sample();
        let (surge, _) = shapes.resolve(field(&shapes, "surge"));
        assert!(matches!(surge, Shape::Leaf(Leaf::IntOrString)));
        assert_eq!(shapes.go_type(field(&shapes, "items")), "[]v1.Item");
        assert_eq!(
            shapes.go_type(field(&shapes, "labels")),
            "map[string]string"
        );
        assert_eq!(shapes.go_type(field(&shapes, "limits")), "v1.ResourceList");
        assert_eq!(shapes.go_type(field(&shapes, "count")), "int32");
        assert!(matches!(field(&shapes, "dangling"), Shape::Any));
        let root = shapes.index_of("io.k8s.test.v1.Root").unwrap_or(usize::MAX);
        let definition = shapes.definition(root).map(|d| (&*d.go_name, &*d.go_type));
        assert_eq!(definition, Some(("Root", "v1.Root")));
    }
}
