//! Typed reads from untyped JSON. A field of the wrong JSON type becomes a
//! field error with its path (upstream would fail decoding); a missing or
//! `null` field reads as absent. Nothing here panics on user input.

use berth_api::status::{FieldError, FieldErrorType};
use serde_json::{Map, Value};

use crate::path::Path;

pub type Errors = Vec<FieldError>;

/// `Not found: "x"`; berth-api has no constructor for it.
pub fn not_found(path: &Path, value: impl Into<Value>) -> FieldError {
    FieldError {
        error_type: FieldErrorType::NotFound,
        field: path.into(),
        bad_value: Some(value.into()),
        detail: String::new(),
    }
}

/// `Too many: 3: must have at most 2 items`.
pub fn too_many(path: &Path, actual: usize, max: usize) -> FieldError {
    FieldError {
        error_type: FieldErrorType::TooMany,
        field: path.into(),
        bad_value: Some(Value::from(actual)),
        detail: format!("must have at most {max} items"),
    }
}

/// `Duplicate value: ...` with a detail text.
pub fn duplicate_with(path: &Path, value: impl Into<Value>, detail: &str) -> FieldError {
    let mut e = FieldError::duplicate(path, value);
    e.detail = detail.to_string();
    e
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(path: &Path, v: &Value, want: &str) -> FieldError {
    FieldError::invalid(
        path,
        v.clone(),
        format!("must be of type {want}, not {}", type_name(v)),
    )
}

/// A JSON object together with its path.
#[derive(Clone)]
pub struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub path: Path,
}

/// Reads `v` as an object at `path`; wrong type → error.
pub fn as_obj<'a>(v: &'a Value, path: Path, errs: &mut Errors) -> Option<Obj<'a>> {
    match v {
        Value::Object(map) => Some(Obj { map, path }),
        Value::Null => None,
        other => {
            errs.push(type_error(&path, other, "object"));
            None
        }
    }
}

static EMPTY_MAP: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

/// An empty object, for callers that want to validate a missing section as empty.
pub fn empty_map() -> &'static Map<String, Value> {
    EMPTY_MAP.get_or_init(Map::new)
}

impl<'a> Obj<'a> {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn at(&self, key: &str) -> Path {
        self.path.child(key)
    }

    /// The raw value, absent when missing or null.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    pub fn str(&self, key: &str, errs: &mut Errors) -> Option<&'a str> {
        match self.raw(key)? {
            Value::String(s) => Some(s),
            other => {
                errs.push(type_error(&self.at(key), other, "string"));
                None
            }
        }
    }

    /// A string field that is absent or empty reads as "".
    pub fn str_or_empty(&self, key: &str, errs: &mut Errors) -> &'a str {
        self.str(key, errs).unwrap_or("")
    }

    pub fn int(&self, key: &str, errs: &mut Errors) -> Option<i64> {
        let v = self.raw(key)?;
        match v.as_i64() {
            Some(n) => Some(n),
            None => match v.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
                _ => {
                    errs.push(type_error(&self.at(key), v, "integer"));
                    None
                }
            },
        }
    }

    pub fn bool(&self, key: &str, errs: &mut Errors) -> Option<bool> {
        match self.raw(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                errs.push(type_error(&self.at(key), other, "boolean"));
                None
            }
        }
    }

    pub fn obj(&self, key: &str, errs: &mut Errors) -> Option<Obj<'a>> {
        as_obj(self.raw(key)?, self.at(key), errs)
    }

    pub fn arr(&self, key: &str, errs: &mut Errors) -> Option<&'a Vec<Value>> {
        match self.raw(key)? {
            Value::Array(a) => Some(a),
            other => {
                errs.push(type_error(&self.at(key), other, "array"));
                None
            }
        }
    }

    /// Elements of an array of objects, each with its `[i]` path.
    pub fn objs(&self, key: &str, errs: &mut Errors) -> Vec<Obj<'a>> {
        let base = self.at(key);
        let mut out = Vec::new();
        for (i, v) in self.arr(key, errs).into_iter().flatten().enumerate() {
            let p = base.index(i);
            match v {
                Value::Object(map) => out.push(Obj { map, path: p }),
                other => errs.push(type_error(&p, other, "object")),
            }
        }
        out
    }

    /// Elements of an array of strings with their paths.
    pub fn strs(&self, key: &str, errs: &mut Errors) -> Vec<(Path, &'a str)> {
        let base = self.at(key);
        let mut out = Vec::new();
        for (i, v) in self.arr(key, errs).into_iter().flatten().enumerate() {
            let p = base.index(i);
            match v {
                Value::String(s) => out.push((p, s.as_str())),
                other => errs.push(type_error(&p, other, "string")),
            }
        }
        out
    }

    /// A `map[string]string` field; non-string values are errors.
    pub fn str_map(&self, key: &str, errs: &mut Errors) -> Vec<(&'a str, &'a str)> {
        let Some(o) = self.obj(key, errs) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in o.map {
            match v {
                Value::String(s) => out.push((k.as_str(), s.as_str())),
                Value::Null => out.push((k.as_str(), "")),
                other => errs.push(type_error(&o.path.key(k), other, "string")),
            }
        }
        out
    }
}

/// Semantic equality as Kubernetes' `apiequality.Semantic.DeepEqual` sees
/// JSON: null, missing, `[]` and `{}` are all "unset".
pub fn semantic_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.filter(|v| !is_unset(v));
    let b = b.filter(|v| !is_unset(v));
    match (a, b) {
        (None, None) => true,
        (Some(Value::Object(x)), Some(Value::Object(y))) => x
            .keys()
            .chain(y.keys())
            .all(|k| semantic_eq(x.get(k), y.get(k))),
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| semantic_eq(Some(p), Some(q)))
        }
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Paths (dotted, relative) where two JSON values differ semantically; used
/// to tell the user what changed in a forbidden update.
pub fn diff_paths(a: Option<&Value>, b: Option<&Value>, prefix: &str, out: &mut Vec<String>) {
    if semantic_eq(a, b) {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.dedup();
            let mut seen = std::collections::HashSet::new();
            for k in keys {
                if seen.insert(k) {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    diff_paths(x.get(k), y.get(k), &p, out);
                }
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff_paths(Some(p), Some(q), &format!("{prefix}[{i}]"), out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

/// Unset: null, `[]`, or an object whose members are all unset.
fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_unset),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_are_errors_not_panics() {
        let v = json!({"name": 5, "replicas": "x", "list": {}, "ok": 3.0});
        let mut errs = Vec::new();
        let o = as_obj(&v, Path::root("spec"), &mut errs).unwrap();
        assert_eq!(o.str("name", &mut errs), None);
        assert_eq!(o.int("replicas", &mut errs), None);
        assert!(o.objs("list", &mut errs).is_empty());
        assert_eq!(o.int("ok", &mut errs), Some(3));
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["spec.name", "spec.replicas", "spec.list"]);
    }

    #[test]
    fn semantic_eq_ignores_empty_collections() {
        assert!(semantic_eq(
            Some(&json!({"a": [], "b": null})),
            Some(&json!({}))
        ));
        assert!(!semantic_eq(Some(&json!({"a": [1]})), Some(&json!({}))));
        let mut out = Vec::new();
        diff_paths(
            Some(&json!({"a": {"b": 1}, "c": 2})),
            Some(&json!({"a": {"b": 2}, "c": 2})),
            "",
            &mut out,
        );
        assert_eq!(out, vec!["a.b"]);
    }
}
