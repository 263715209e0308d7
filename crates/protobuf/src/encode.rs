//! Kubernetes JSON -> protobuf message bytes, the inverse of `to_json` (for tests and for
//! clients that only take protobuf).

use base64::Engine as _;
use serde_json::Value;

use crate::descriptor_types::{
    find_message, Cardinality, FieldDescriptor, MessageDescriptor, Scalar, ValueKind,
};
use crate::error::EncodeError;
use crate::special_types::{
    DURATION, FIELDS_V1, INT_OR_STRING, MICRO_TIME, QUANTITY, QUANTITY_VALUE, RAW_EXTENSION, TIME,
};
use crate::time_format::{parse_go_duration, parse_rfc3339};
use crate::to_json::MAX_DEPTH;
use crate::wire::{Writer, FIXED32, FIXED64, VARINT};

const APIEXTENSIONS: &str = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.";

/// Encodes `object` (a JSON object) as the message `descriptor`.
pub fn message_bytes(
    descriptor: &'static MessageDescriptor,
    object: &Value,
    depth: usize,
) -> Result<Vec<u8>, EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::TooDeep(MAX_DEPTH));
    }
    let map = object
        .as_object()
        .ok_or_else(|| invalid(descriptor.full_name, "expected a JSON object"))?;
    if depth == 0 {
        for key in map.keys() {
            if key != "apiVersion" && key != "kind" && !knows_key(descriptor, key, 0) {
                return Err(EncodeError::UnknownField {
                    field: key.clone(),
                    message: descriptor.full_name.to_string(),
                });
            }
        }
    } else if let Some(key) = map.keys().find(|k| !knows_key(descriptor, k, 0)) {
        return Err(EncodeError::UnknownField {
            field: key.clone(),
            message: descriptor.full_name.to_string(),
        });
    }
    let mut w = Writer::default();
    for field in descriptor.fields {
        if field.cardinality == Cardinality::Embedded {
            let ValueKind::Message(type_name) = field.value else {
                continue;
            };
            let inner =
                find_message(type_name).ok_or_else(|| invalid(type_name, "unknown message"))?;
            // The embedded struct takes the keys it knows from the parent object.
            let mut subset = serde_json::Map::new();
            for (k, v) in map {
                if knows_key(inner, k, 0) {
                    subset.insert(k.clone(), v.clone());
                }
            }
            let bytes = message_bytes(inner, &Value::Object(subset), depth + 1)?;
            w.len_delimited(field.tag, &bytes);
            continue;
        }
        let Some(value) = map.get(field.json_name) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let name = || format!("{}.{}", descriptor.full_name, field.json_name);
        match field.cardinality {
            Cardinality::Optional | Cardinality::Embedded => {
                write_value(&mut w, field, field.value, value, depth, &name)?
            }
            Cardinality::Repeated => {
                let items = value
                    .as_array()
                    .ok_or_else(|| invalid(&name(), "expected an array"))?;
                for item in items {
                    write_value(&mut w, field, field.value, item, depth, &name)?;
                }
            }
            Cardinality::Map(key_type) => {
                let entries = value
                    .as_object()
                    .ok_or_else(|| invalid(&name(), "expected an object"))?;
                for (key, item) in entries {
                    let mut entry = Writer::default();
                    let key_field = FieldDescriptor { tag: 1, ..*field };
                    write_value(
                        &mut entry,
                        &key_field,
                        ValueKind::Scalar(key_type),
                        &map_key_value(key_type, key),
                        depth,
                        &name,
                    )?;
                    let value_field = FieldDescriptor { tag: 2, ..*field };
                    if !item.is_null() {
                        write_value(&mut entry, &value_field, field.value, item, depth, &name)?;
                    }
                    w.len_delimited(field.tag, &entry.buf);
                }
            }
        }
    }
    Ok(w.buf)
}

/// Whether `key` is a JSON key of this message (embedded structs' keys included).
fn knows_key(descriptor: &MessageDescriptor, key: &str, depth: usize) -> bool {
    descriptor
        .fields
        .iter()
        .any(|f| match (f.cardinality, f.value) {
            (Cardinality::Embedded, ValueKind::Message(t)) if depth < 8 => {
                find_message(t).is_some_and(|inner| knows_key(inner, key, depth + 1))
            }
            _ => f.json_name == key,
        })
}

fn map_key_value(key_type: Scalar, key: &str) -> Value {
    match key_type {
        Scalar::String | Scalar::Bytes => Value::String(key.to_string()),
        _ => key
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(key.to_string())),
    }
}

fn invalid(field: &str, reason: &str) -> EncodeError {
    EncodeError::InvalidValue {
        field: field.to_string(),
        reason: reason.to_string(),
    }
}

fn write_value(
    w: &mut Writer,
    field: &FieldDescriptor,
    kind: ValueKind,
    value: &Value,
    depth: usize,
    name: &dyn Fn() -> String,
) -> Result<(), EncodeError> {
    match kind {
        ValueKind::Scalar(scalar) => write_scalar(w, field.tag, scalar, value, name),
        ValueKind::Message(type_name) => {
            let bytes = special_or_message_bytes(type_name, value, depth + 1, name)?;
            w.len_delimited(field.tag, &bytes);
            Ok(())
        }
    }
}

fn write_scalar(
    w: &mut Writer,
    tag: u32,
    scalar: Scalar,
    value: &Value,
    name: &dyn Fn() -> String,
) -> Result<(), EncodeError> {
    let int = || {
        value
            .as_i64()
            .ok_or_else(|| invalid(&name(), "expected an integer"))
    };
    let uint = || {
        value
            .as_u64()
            .ok_or_else(|| invalid(&name(), "expected a non-negative integer"))
    };
    let float = || {
        value
            .as_f64()
            .ok_or_else(|| invalid(&name(), "expected a number"))
    };
    match scalar {
        Scalar::String => {
            let s = value
                .as_str()
                .ok_or_else(|| invalid(&name(), "expected a string"))?;
            w.len_delimited(tag, s.as_bytes());
        }
        Scalar::Bytes => {
            let s = value
                .as_str()
                .ok_or_else(|| invalid(&name(), "expected a base64 string"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| invalid(&name(), &format!("invalid base64: {e}")))?;
            w.len_delimited(tag, &bytes);
        }
        Scalar::Bool => {
            let b = value
                .as_bool()
                .ok_or_else(|| invalid(&name(), "expected a boolean"))?;
            w.key(tag, VARINT);
            w.varint(u64::from(b));
        }
        Scalar::Int32 => {
            let v = i32::try_from(int()?).map_err(|_| invalid(&name(), "out of int32 range"))?;
            w.key(tag, VARINT);
            w.varint(i64::from(v) as u64);
        }
        Scalar::Int64 => {
            w.key(tag, VARINT);
            w.varint(int()? as u64);
        }
        Scalar::Uint32 | Scalar::Uint64 => {
            w.key(tag, VARINT);
            w.varint(uint()?);
        }
        Scalar::Sint32 | Scalar::Sint64 => {
            let v = int()?;
            w.key(tag, VARINT);
            w.varint(((v << 1) ^ (v >> 63)) as u64);
        }
        Scalar::Fixed32 | Scalar::Sfixed32 => {
            let v = int()?;
            w.key(tag, FIXED32);
            w.buf.extend_from_slice(&(v as u32).to_le_bytes());
        }
        Scalar::Float => {
            w.key(tag, FIXED32);
            w.buf.extend_from_slice(&(float()? as f32).to_le_bytes());
        }
        Scalar::Fixed64 | Scalar::Sfixed64 => {
            let v = int()?;
            w.key(tag, FIXED64);
            w.buf.extend_from_slice(&(v as u64).to_le_bytes());
        }
        Scalar::Double => {
            w.key(tag, FIXED64);
            w.buf.extend_from_slice(&float()?.to_le_bytes());
        }
    }
    Ok(())
}

fn special_or_message_bytes(
    type_name: &str,
    value: &Value,
    depth: usize,
    name: &dyn Fn() -> String,
) -> Result<Vec<u8>, EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::TooDeep(MAX_DEPTH));
    }
    let mut w = Writer::default();
    let apiextensions_type = type_name
        .strip_prefix(APIEXTENSIONS)
        .and_then(|r| r.split_once('.'))
        .map(|(_, n)| n);
    let schema_props = || -> Result<&'static MessageDescriptor, EncodeError> {
        let package = type_name
            .rsplit_once('.')
            .map(|(p, _)| p)
            .unwrap_or_default();
        find_message(&format!("{package}.JSONSchemaProps"))
            .ok_or_else(|| invalid(type_name, "unknown message"))
    };
    match (type_name, apiextensions_type) {
        (INT_OR_STRING, _) => match value {
            Value::String(s) => {
                w.key(1, VARINT);
                w.varint(1);
                w.len_delimited(3, s.as_bytes());
            }
            Value::Number(_) => {
                let v = value
                    .as_i64()
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| invalid(&name(), "expected an int32"))?;
                w.key(1, VARINT);
                w.varint(0);
                w.key(2, VARINT);
                w.varint(i64::from(v) as u64);
            }
            _ => return Err(invalid(&name(), "expected an integer or a string")),
        },
        (QUANTITY | QUANTITY_VALUE, _) => {
            let s = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(invalid(&name(), "expected a quantity string")),
            };
            w.len_delimited(1, s.as_bytes());
        }
        (TIME | MICRO_TIME, _) => {
            let text = value
                .as_str()
                .ok_or_else(|| invalid(&name(), "expected an RFC 3339 time"))?;
            let (seconds, nanos) =
                parse_rfc3339(text).ok_or_else(|| invalid(&name(), "expected an RFC 3339 time"))?;
            w.key(1, VARINT);
            w.varint(seconds as u64);
            if type_name == MICRO_TIME && nanos != 0 {
                w.key(2, VARINT);
                w.varint(u64::from(nanos));
            }
        }
        (DURATION, _) => {
            let text = value
                .as_str()
                .ok_or_else(|| invalid(&name(), "expected a duration string"))?;
            let nanos = parse_go_duration(text)
                .ok_or_else(|| invalid(&name(), "expected a duration like 1h2m3s"))?;
            w.key(1, VARINT);
            w.varint(nanos as u64);
        }
        (RAW_EXTENSION | FIELDS_V1, _) | (_, Some("JSON")) => {
            let bytes = serde_json::to_vec(value).map_err(|e| invalid(&name(), &e.to_string()))?;
            w.len_delimited(1, &bytes);
        }
        (_, Some("JSONSchemaPropsOrArray")) => match value {
            Value::Array(items) => {
                for item in items {
                    w.len_delimited(2, &message_bytes(schema_props()?, item, depth + 1)?);
                }
            }
            other => w.len_delimited(1, &message_bytes(schema_props()?, other, depth + 1)?),
        },
        (_, Some("JSONSchemaPropsOrBool")) => match value {
            Value::Bool(b) => {
                w.key(1, VARINT);
                w.varint(u64::from(*b));
            }
            other => {
                w.key(1, VARINT);
                w.varint(1);
                w.len_delimited(2, &message_bytes(schema_props()?, other, depth + 1)?);
            }
        },
        (_, Some("JSONSchemaPropsOrStringArray")) => match value {
            Value::Array(items) => {
                for item in items {
                    let s = item
                        .as_str()
                        .ok_or_else(|| invalid(&name(), "expected strings"))?;
                    w.len_delimited(2, s.as_bytes());
                }
            }
            other => w.len_delimited(1, &message_bytes(schema_props()?, other, depth + 1)?),
        },
        _ => {
            let descriptor =
                find_message(type_name).ok_or_else(|| invalid(type_name, "unknown message"))?;
            // Go slice types wrapped as messages (Verbs, ExtraValue): a JSON array.
            if let (Value::Array(_), [only]) = (value, descriptor.fields) {
                if only.json_name == "items" && only.cardinality == Cardinality::Repeated {
                    let wrapped = serde_json::json!({ "items": value });
                    return message_bytes(descriptor, &wrapped, depth);
                }
            }
            return message_bytes(descriptor, value, depth);
        }
    }
    Ok(w.buf)
}
