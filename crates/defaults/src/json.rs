//! Small helpers over `serde_json::Value` that mirror Go's notion of "unset".
//!
//! Go decides whether to default by comparing against the zero value of the
//! field's type. In JSON that zero value can arrive as a missing key, `null`,
//! or (for non-pointer fields) `""` / `0`. Each helper names which of those it
//! treats as unset, and none of them touches a value of an unexpected type, so
//! validation still sees and reports it.

use serde_json::{Map, Value};

/// The object stored under `key`, if it is an object.
pub fn obj<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// The object stored under `key`; created as `{}` when missing or null.
/// Returns `None` when the key holds something other than an object.
pub fn obj_or_insert<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    if is_unset(map.get(key)) {
        map.insert(key.to_owned(), Value::Object(Map::new()));
    }
    obj(map, key)
}

/// Every object element of the array under `key` (non-objects are skipped).
pub fn each_obj<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Missing or null: the nil of a Go pointer, map or slice.
pub fn is_unset(value: Option<&Value>) -> bool {
    matches!(value, None | Some(Value::Null))
}

/// Missing, null or `""`: the zero value of a Go string.
pub fn is_unset_str(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// Missing, null, `0`: the zero value of a Go integer.
pub fn is_unset_int(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// Missing, null or an empty array/object: Go's `len(x) == 0`.
pub fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        _ => false,
    }
}

/// Defaults a pointer field (`*T`): set when missing or null.
pub fn default_ptr(map: &mut Map<String, Value>, key: &str, value: Value) {
    if is_unset(map.get(key)) {
        map.insert(key.to_owned(), value);
    }
}

/// Defaults a plain string field: set when missing, null or `""`.
pub fn default_str(map: &mut Map<String, Value>, key: &str, value: &str) {
    if is_unset_str(map.get(key)) {
        map.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// Defaults a plain integer field: set when missing, null or `0`.
pub fn default_int(map: &mut Map<String, Value>, key: &str, value: i64) {
    if is_unset_int(map.get(key)) {
        map.insert(key.to_owned(), Value::from(value));
    }
}

/// The string under `key`, or `""` when missing or not a string.
pub fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Length of the array or object under `key` (0 for anything else).
pub fn len_of(map: &Map<String, Value>, key: &str) -> usize {
    match map.get(key) {
        Some(Value::Array(a)) => a.len(),
        Some(Value::Object(o)) => o.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn string_default_replaces_only_go_zero_values() {
        let mut m = map(json!({"a": "", "b": null, "c": "x", "d": 5}));
        for k in ["a", "b", "c", "d", "e"] {
            default_str(&mut m, k, "D");
        }
        assert_eq!(
            Value::Object(m),
            json!({"a": "D", "b": "D", "c": "x", "d": 5, "e": "D"})
        );
    }

    #[test]
    fn pointer_default_keeps_explicit_zero() {
        let mut m = map(json!({"a": 0, "b": false, "c": null}));
        for k in ["a", "b", "c"] {
            default_ptr(&mut m, k, json!(7));
        }
        assert_eq!(Value::Object(m), json!({"a": 0, "b": false, "c": 7}));
    }

    #[test]
    fn int_default_replaces_zero_but_not_strings() {
        let mut m = map(json!({"a": 0, "b": "0", "c": 3}));
        for k in ["a", "b", "c", "d"] {
            default_int(&mut m, k, 9);
        }
        assert_eq!(Value::Object(m), json!({"a": 9, "b": "0", "c": 3, "d": 9}));
    }

    #[test]
    fn obj_or_insert_refuses_wrong_types() {
        let mut m = map(json!({"s": "str", "n": null}));
        assert!(obj_or_insert(&mut m, "s").is_none());
        assert!(obj_or_insert(&mut m, "n").is_some());
        assert!(obj_or_insert(&mut m, "new").is_some());
        assert_eq!(Value::Object(m), json!({"s": "str", "n": {}, "new": {}}));
    }
}
