//! Tolerant readers over `serde_json::Value`: a missing, null or oddly typed field reads
//! as the Go zero value, the way the upstream printers see an unset field.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The value at `path`, treating JSON null like an absent field.
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    if cur.is_null() {
        None
    } else {
        Some(cur)
    }
}

/// Whether a (non-null) field exists: Go's `ptr != nil`.
pub(crate) fn has(v: &Value, path: &[&str]) -> bool {
    at(v, path).is_some()
}

pub(crate) fn opt_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

/// A string field, "" when unset.
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    opt_str(v, path).unwrap_or("")
}

pub(crate) fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
        .or_else(|| v.as_f64().map(|f| f as i64))
}

pub(crate) fn opt_int(v: &Value, path: &[&str]) -> Option<i64> {
    at(v, path).and_then(as_int)
}

/// An integer field, 0 when unset.
pub(crate) fn int_at(v: &Value, path: &[&str]) -> i64 {
    opt_int(v, path).unwrap_or(0)
}

pub(crate) fn opt_bool(v: &Value, path: &[&str]) -> Option<bool> {
    at(v, path).and_then(Value::as_bool)
}

/// A boolean field, false when unset.
pub(crate) fn bool_at(v: &Value, path: &[&str]) -> bool {
    opt_bool(v, path).unwrap_or(false)
}

/// An array field, empty when unset.
pub(crate) fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(crate) fn obj_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(v, path).and_then(Value::as_object)
}

/// Number of entries of a map field (e.g. `data`), 0 when unset.
pub(crate) fn map_len(v: &Value, path: &[&str]) -> usize {
    obj_at(v, path).map_or(0, Map::len)
}

/// An RFC 3339 timestamp (Time or MicroTime); unset or unparsable reads as Go's zero time.
pub(crate) fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    let s = opt_str(v, path)?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `metadata.name`.
pub(crate) fn name(obj: &Value) -> &str {
    str_at(obj, &["metadata", "name"])
}

/// `metadata.creationTimestamp`.
pub(crate) fn created(obj: &Value) -> Option<DateTime<Utc>> {
    time_at(obj, &["metadata", "creationTimestamp"])
}

/// An IntOrString as Go's `IntOrString.String()` prints it.
pub(crate) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => as_int(other).map(|i| i.to_string()).unwrap_or_default(),
    }
}

/// A Quantity as served. Quantities are stored in canonical form by the API server,
/// so the stored string is what `Quantity.String()` gives; an unset one prints "0".
pub(crate) fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => as_int(other)
            .map(|i| i.to_string())
            .unwrap_or_else(|| "0".into()),
        None => "0".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_null_and_wrong_types_read_as_zero_values() {
        let v = json!({"a": {"b": null, "s": 3, "n": "x", "arr": {}}});
        assert_eq!(str_at(&v, &["a", "b"]), "");
        assert_eq!(str_at(&v, &["a", "s"]), "");
        assert_eq!(int_at(&v, &["a", "n"]), 0);
        assert!(arr_at(&v, &["a", "arr"]).is_empty());
        assert!(!has(&v, &["a", "b"]));
        assert!(has(&v, &["a", "s"]));
        assert_eq!(time_at(&v, &["a", "n"]), None);
    }

    #[test]
    fn reads_micro_time_and_time() {
        let v = json!({"t": "2024-01-02T03:04:05Z", "m": "2024-01-02T03:04:05.123456Z"});
        assert!(time_at(&v, &["t"]).is_some());
        assert!(time_at(&v, &["m"]).is_some());
    }

    #[test]
    fn int_or_string_prints_either() {
        assert_eq!(int_or_string(&json!(2)), "2");
        assert_eq!(int_or_string(&json!("50%")), "50%");
    }
}
