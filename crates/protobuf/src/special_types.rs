//! Messages whose Kubernetes JSON is not an object of their proto fields: IntOrString (number
//! or string), Quantity (string), Time/MicroTime (RFC 3339), Duration (Go duration string),
//! RawExtension/FieldsV1/JSON (embedded JSON), and the JSONSchemaPropsOr* unions.

use serde_json::Value;

use crate::error::DecodeError;
use crate::time_format::{go_duration, rfc3339, GO_ZERO_TIME_SECONDS};
use crate::to_json::Decoder;
use crate::wire::{Reader, WireValue};

pub const INT_OR_STRING: &str = "k8s.io.apimachinery.pkg.util.intstr.IntOrString";
pub const QUANTITY: &str = "k8s.io.apimachinery.pkg.api.resource.Quantity";
pub const QUANTITY_VALUE: &str = "k8s.io.apimachinery.pkg.api.resource.QuantityValue";
pub const TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Time";
pub const MICRO_TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime";
pub const DURATION: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Duration";
pub const FIELDS_V1: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1";
pub const RAW_EXTENSION: &str = "k8s.io.apimachinery.pkg.runtime.RawExtension";
const APIEXTENSIONS: &str = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.";

/// The JSON of a special message, or None when `full_name` is an ordinary message.
pub fn decode(
    decoder: &Decoder,
    full_name: &str,
    bytes: &[u8],
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    let apiextensions_type = full_name
        .strip_prefix(APIEXTENSIONS)
        .and_then(|rest| rest.split_once('.'))
        .map(|(_version, name)| name);
    let value = match (full_name, apiextensions_type) {
        (INT_OR_STRING, _) => int_or_string(bytes)?,
        (QUANTITY | QUANTITY_VALUE, _) => {
            let s = string_field(bytes, 1, full_name)?.unwrap_or_default();
            // Go's zero Quantity renders as "0".
            Value::String(if s.is_empty() { "0".to_string() } else { s })
        }
        (TIME, _) => time(bytes, full_name, false)?,
        (MICRO_TIME, _) => time(bytes, full_name, true)?,
        (DURATION, _) => Value::String(go_duration(
            varint_field(bytes, 1, full_name)?.unwrap_or(0) as i64,
        )),
        (RAW_EXTENSION, _) => embedded_json(
            decoder,
            bytes_field(bytes, 1, full_name)?,
            full_name,
            depth,
            true,
        )?,
        (FIELDS_V1, _) | (_, Some("JSON")) => embedded_json(
            decoder,
            bytes_field(bytes, 1, full_name)?,
            full_name,
            depth,
            false,
        )?,
        (_, Some("JSONSchemaPropsOrArray")) => {
            let schema_type = schema_props_type(full_name);
            let mut schemas = Vec::new();
            let mut schema = None;
            for (tag, wire) in fields(bytes, full_name)? {
                if let WireValue::Len(b) = wire {
                    match tag {
                        1 => schema = Some(decoder.message_value(&schema_type, b, depth + 1)?),
                        2 => schemas.push(decoder.message_value(&schema_type, b, depth + 1)?),
                        _ => {}
                    }
                }
            }
            if schemas.is_empty() {
                schema.unwrap_or(Value::Null)
            } else {
                Value::Array(schemas)
            }
        }
        (_, Some("JSONSchemaPropsOrBool")) => {
            let schema_type = schema_props_type(full_name);
            let mut allows = false;
            let mut schema = None;
            for (tag, wire) in fields(bytes, full_name)? {
                match (tag, wire) {
                    (1, WireValue::Varint(v)) => allows = v != 0,
                    (2, WireValue::Len(b)) => {
                        schema = Some(decoder.message_value(&schema_type, b, depth + 1)?)
                    }
                    _ => {}
                }
            }
            schema.unwrap_or(Value::Bool(allows))
        }
        (_, Some("JSONSchemaPropsOrStringArray")) => {
            let schema_type = schema_props_type(full_name);
            let mut property = Vec::new();
            let mut schema = None;
            for (tag, wire) in fields(bytes, full_name)? {
                match (tag, wire) {
                    (1, WireValue::Len(b)) => {
                        schema = Some(decoder.message_value(&schema_type, b, depth + 1)?)
                    }
                    (2, WireValue::Len(b)) => property.push(Value::String(utf8(b, full_name)?)),
                    _ => {}
                }
            }
            if property.is_empty() {
                schema.unwrap_or(Value::Null)
            } else {
                Value::Array(property)
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

fn schema_props_type(union_type: &str) -> String {
    match union_type.rsplit_once('.') {
        Some((package, _)) => format!("{package}.JSONSchemaProps"),
        None => "JSONSchemaProps".to_string(),
    }
}

fn fields<'a>(bytes: &'a [u8], context: &'a str) -> Result<Vec<(u32, WireValue<'a>)>, DecodeError> {
    let mut reader = Reader::new(bytes, context);
    let mut out = Vec::new();
    while !reader.is_empty() {
        out.push(reader.next_field()?);
    }
    Ok(out)
}

fn varint_field(bytes: &[u8], tag: u32, context: &str) -> Result<Option<u64>, DecodeError> {
    let mut found = None;
    for (t, wire) in fields(bytes, context)? {
        if t == tag {
            match wire {
                WireValue::Varint(v) => found = Some(v),
                other => return Err(wrong_wire(context, tag, other)),
            }
        }
    }
    Ok(found)
}

fn bytes_field<'a>(bytes: &'a [u8], tag: u32, context: &'a str) -> Result<&'a [u8], DecodeError> {
    let mut found: &[u8] = &[];
    for (t, wire) in fields(bytes, context)? {
        if t == tag {
            match wire {
                WireValue::Len(b) => found = b,
                other => return Err(wrong_wire(context, tag, other)),
            }
        }
    }
    Ok(found)
}

fn string_field(bytes: &[u8], tag: u32, context: &str) -> Result<Option<String>, DecodeError> {
    let mut found = None;
    for (t, wire) in fields(bytes, context)? {
        if t == tag {
            match wire {
                WireValue::Len(b) => found = Some(utf8(b, context)?),
                other => return Err(wrong_wire(context, tag, other)),
            }
        }
    }
    Ok(found)
}

fn utf8(bytes: &[u8], context: &str) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidUtf8 {
        field: context.to_string(),
    })
}

fn wrong_wire(context: &str, tag: u32, wire: WireValue<'_>) -> DecodeError {
    DecodeError::WireTypeMismatch {
        field: format!("{context} field {tag}"),
        wire_type: wire.wire_type(),
        expected: "its declared type",
    }
}

/// IntOrString {1 type, 2 intVal, 3 strVal}: type 1 is a string, anything else the int.
fn int_or_string(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut kind = 0u64;
    let mut int_val = 0i32;
    let mut str_val = String::new();
    for (tag, wire) in fields(bytes, INT_OR_STRING)? {
        match (tag, wire) {
            (1, WireValue::Varint(v)) => kind = v,
            (2, WireValue::Varint(v)) => int_val = v as i64 as i32,
            (3, WireValue::Len(b)) => str_val = utf8(b, INT_OR_STRING)?,
            (1..=3, other) => return Err(wrong_wire(INT_OR_STRING, tag, other)),
            _ => {}
        }
    }
    Ok(if kind == 1 {
        Value::String(str_val)
    } else {
        Value::from(int_val)
    })
}

/// Time {1 seconds, 2 nanos}. An empty message is Go's zero time, which is JSON null. Time
/// keeps whole seconds (Go drops the nanos when unmarshalling); MicroTime keeps microseconds.
fn time(bytes: &[u8], context: &str, micro: bool) -> Result<Value, DecodeError> {
    let mut seconds = 0i64;
    let mut nanos = 0i64;
    for (tag, wire) in fields(bytes, context)? {
        match (tag, wire) {
            (1, WireValue::Varint(v)) => seconds = v as i64,
            (2, WireValue::Varint(v)) => nanos = i64::from(v as i64 as i32),
            (1 | 2, other) => return Err(wrong_wire(context, tag, other)),
            _ => {}
        }
    }
    if bytes.is_empty() || (seconds == GO_ZERO_TIME_SECONDS && nanos == 0) {
        return Ok(Value::Null);
    }
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(DecodeError::InvalidValue {
            field: context.to_string(),
            reason: format!("nanos {nanos} out of range"),
        });
    }
    let micros = micro.then_some((nanos / 1000) as u32);
    rfc3339(seconds, micros)
        .map(Value::String)
        .ok_or_else(|| DecodeError::InvalidValue {
            field: context.to_string(),
            reason: format!("time {seconds}s is outside years 0000-9999"),
        })
}

/// `raw` bytes that hold JSON (or, for RawExtension, possibly a nested protobuf object).
fn embedded_json(
    decoder: &Decoder,
    raw: &[u8],
    context: &str,
    depth: usize,
    allow_protobuf: bool,
) -> Result<Value, DecodeError> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if allow_protobuf && crate::envelope::is_protobuf(raw) {
        return crate::decode_envelope(decoder, raw, depth + 1);
    }
    serde_json::from_slice(raw).map_err(|e| DecodeError::InvalidValue {
        field: context.to_string(),
        reason: format!("raw bytes are not JSON: {e}"),
    })
}
