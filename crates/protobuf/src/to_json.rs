//! Generic protobuf -> Kubernetes JSON, walking the descriptor table.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::descriptor_types::{
    find_message, Cardinality, FieldDescriptor, MessageDescriptor, Scalar, ValueKind,
};
use crate::error::DecodeError;
use crate::go_pointers;
use crate::special_types;
use crate::wire::{Reader, WireValue, FIXED32, FIXED64, VARINT};

/// Deeper nesting than any Kubernetes type needs (JSONSchemaProps recursion included).
pub const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Drop "" / 0 / false of singular scalar fields unless they are Go pointers (see
    /// `go_pointers`), and zero times (null), so the JSON matches what a JSON client sends
    /// (minus `creationTimestamp: null`, which means the same). When false, every field
    /// present on the wire appears (proto2 presence).
    pub omit_go_zero_values: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            omit_go_zero_values: true,
        }
    }
}

pub struct Decoder {
    pub options: DecodeOptions,
}

impl Decoder {
    /// Decodes one message of type `full_name` into its Kubernetes JSON.
    pub fn message_value(
        &self,
        full_name: &str,
        bytes: &[u8],
        depth: usize,
    ) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep(MAX_DEPTH));
        }
        if let Some(value) = special_types::decode(self, full_name, bytes, depth)? {
            return Ok(value);
        }
        let descriptor = find_message(full_name).ok_or_else(|| DecodeError::InvalidValue {
            field: full_name.to_string(),
            reason: "message type missing from the descriptor table".to_string(),
        })?;
        let object = self.message_object(descriptor, bytes, depth)?;
        if let Some(items) = list_wrapper_items(descriptor, &object) {
            return Ok(items);
        }
        Ok(Value::Object(object))
    }

    /// Decodes a message into a JSON object: fields in tag order, embedded structs flattened.
    pub fn message_object(
        &self,
        descriptor: &'static MessageDescriptor,
        bytes: &[u8],
        depth: usize,
    ) -> Result<Map<String, Value>, DecodeError> {
        let mut slots: Vec<Option<Value>> = vec![None; descriptor.fields.len()];
        let mut reader = Reader::new(bytes, descriptor.full_name);
        while !reader.is_empty() {
            let (tag, wire) = reader.next_field()?;
            let Ok(index) = descriptor.fields.binary_search_by_key(&tag, |f| f.tag) else {
                continue; // unknown fields are skipped, as protobuf requires
            };
            let field = &descriptor.fields[index];
            let slot = &mut slots[index];
            match field.cardinality {
                Cardinality::Optional | Cardinality::Embedded => {
                    let value = self.single_value(descriptor, field, wire, depth)?;
                    // A repeated occurrence of a message field merges into the first one.
                    match (slot.as_mut(), value) {
                        (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
                        (_, value) => *slot = Some(value),
                    }
                }
                Cardinality::Repeated => {
                    let list = slot.get_or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(list) = list {
                        self.push_repeated(descriptor, field, wire, depth, list)?;
                    }
                }
                Cardinality::Map(key_type) => {
                    let map = slot.get_or_insert_with(|| Value::Object(Map::new()));
                    let WireValue::Len(entry) = wire else {
                        return Err(mismatch(descriptor, field, wire.wire_type(), "map entry"));
                    };
                    let (key, value) = self.map_entry(descriptor, field, key_type, entry, depth)?;
                    if let Value::Object(map) = map {
                        map.insert(key, value);
                    }
                }
            }
        }
        let mut out = Map::new();
        for (field, slot) in descriptor.fields.iter().zip(slots) {
            let Some(value) = slot else { continue };
            match (field.cardinality, value) {
                (Cardinality::Embedded, Value::Object(inner)) => out.extend(inner),
                // Go's zero Time (and empty RawExtension) renders as null; absent means the same
                // and k8s-openapi rejects null for required times (TokenRequestStatus).
                (Cardinality::Optional, Value::Null) if self.options.omit_go_zero_values => {}
                (Cardinality::Optional, value)
                    if self.options.omit_go_zero_values
                        && matches!(field.value, ValueKind::Scalar(_))
                        && is_zero(&value)
                        && !go_pointers::keeps_zero(descriptor.full_name, field.json_name) => {}
                (_, value) => {
                    out.insert(field.json_name.to_string(), value);
                }
            }
        }
        Ok(out)
    }

    fn single_value(
        &self,
        descriptor: &MessageDescriptor,
        field: &FieldDescriptor,
        wire: WireValue<'_>,
        depth: usize,
    ) -> Result<Value, DecodeError> {
        match field.value {
            ValueKind::Scalar(scalar) => scalar_value(descriptor, field, scalar, wire),
            ValueKind::Message(type_name) => match wire {
                WireValue::Len(bytes) => self.message_value(type_name, bytes, depth + 1),
                other => Err(mismatch(descriptor, field, other.wire_type(), "message")),
            },
        }
    }

    fn push_repeated(
        &self,
        descriptor: &MessageDescriptor,
        field: &FieldDescriptor,
        wire: WireValue<'_>,
        depth: usize,
        list: &mut Vec<Value>,
    ) -> Result<(), DecodeError> {
        // Packed numeric lists arrive as one length-delimited run of values.
        if let (ValueKind::Scalar(scalar), WireValue::Len(bytes)) = (field.value, wire) {
            if let Some(element_wire_type) = packable_wire_type(scalar) {
                let context = format!("{}.{}", descriptor.full_name, field.json_name);
                let mut reader = Reader::new(bytes, &context);
                while !reader.is_empty() {
                    let element = match element_wire_type {
                        VARINT => WireValue::Varint(reader.read_varint()?),
                        FIXED32 => WireValue::Fixed32(reader.read_fixed32()?),
                        _ => WireValue::Fixed64(reader.read_fixed64()?),
                    };
                    list.push(scalar_value(descriptor, field, scalar, element)?);
                }
                return Ok(());
            }
        }
        list.push(self.single_value(descriptor, field, wire, depth)?);
        Ok(())
    }

    fn map_entry(
        &self,
        descriptor: &MessageDescriptor,
        field: &FieldDescriptor,
        key_type: Scalar,
        entry: &[u8],
        depth: usize,
    ) -> Result<(String, Value), DecodeError> {
        let mut key = None;
        let mut value = None;
        let mut reader = Reader::new(entry, descriptor.full_name);
        while !reader.is_empty() {
            match reader.next_field()? {
                (1, wire) => key = Some(scalar_value(descriptor, field, key_type, wire)?),
                (2, wire) => value = Some(self.single_value(descriptor, field, wire, depth)?),
                _ => {}
            }
        }
        let key = match key {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        // An absent value is the type's default.
        let value = match value {
            Some(v) => v,
            None => match field.value {
                ValueKind::Scalar(scalar) => scalar_default(scalar),
                ValueKind::Message(type_name) => self.message_value(type_name, &[], depth + 1)?,
            },
        };
        Ok((key, value))
    }
}

/// A message with only `repeated items = 1` (Verbs, ExtraValue...) is a Go slice type: JSON array.
fn list_wrapper_items(
    descriptor: &MessageDescriptor,
    object: &Map<String, Value>,
) -> Option<Value> {
    let [only] = descriptor.fields else {
        return None;
    };
    if only.tag != 1 || only.json_name != "items" || only.cardinality != Cardinality::Repeated {
        return None;
    }
    if descriptor.full_name.ends_with("List") {
        return None;
    }
    Some(
        object
            .get("items")
            .cloned()
            .unwrap_or(Value::Array(Vec::new())),
    )
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn packable_wire_type(scalar: Scalar) -> Option<u8> {
    match scalar {
        Scalar::String | Scalar::Bytes => None,
        Scalar::Bool
        | Scalar::Int32
        | Scalar::Int64
        | Scalar::Uint32
        | Scalar::Uint64
        | Scalar::Sint32
        | Scalar::Sint64 => Some(VARINT),
        Scalar::Fixed32 | Scalar::Sfixed32 | Scalar::Float => Some(FIXED32),
        Scalar::Fixed64 | Scalar::Sfixed64 | Scalar::Double => Some(FIXED64),
    }
}

fn scalar_default(scalar: Scalar) -> Value {
    match scalar {
        Scalar::String | Scalar::Bytes => Value::String(String::new()),
        Scalar::Bool => Value::Bool(false),
        _ => Value::Number(Number::from(0)),
    }
}

fn mismatch(
    descriptor: &MessageDescriptor,
    field: &FieldDescriptor,
    wire_type: u8,
    expected: &'static str,
) -> DecodeError {
    DecodeError::WireTypeMismatch {
        field: format!("{}.{}", descriptor.full_name, field.json_name),
        wire_type,
        expected,
    }
}

/// One scalar value as JSON: strings, base64 for bytes, numbers for all integer kinds.
pub fn scalar_value(
    descriptor: &MessageDescriptor,
    field: &FieldDescriptor,
    scalar: Scalar,
    wire: WireValue<'_>,
) -> Result<Value, DecodeError> {
    let expected_name = match scalar {
        Scalar::String | Scalar::Bytes => "length-delimited",
        Scalar::Fixed32 | Scalar::Sfixed32 | Scalar::Float => "fixed32",
        Scalar::Fixed64 | Scalar::Sfixed64 | Scalar::Double => "fixed64",
        _ => "varint",
    };
    let field_name = || format!("{}.{}", descriptor.full_name, field.json_name);
    let value = match (scalar, wire) {
        (Scalar::String, WireValue::Len(bytes)) => {
            Value::String(String::from_utf8(bytes.to_vec()).map_err(|_| {
                DecodeError::InvalidUtf8 {
                    field: field_name(),
                }
            })?)
        }
        (Scalar::Bytes, WireValue::Len(bytes)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        (Scalar::Bool, WireValue::Varint(v)) => Value::Bool(v != 0),
        (Scalar::Int32, WireValue::Varint(v)) => Value::from(v as i64 as i32),
        (Scalar::Int64, WireValue::Varint(v)) => Value::from(v as i64),
        (Scalar::Uint32, WireValue::Varint(v)) => Value::from(v as u32),
        (Scalar::Uint64, WireValue::Varint(v)) => Value::from(v),
        (Scalar::Sint32, WireValue::Varint(v)) => Value::from(zigzag(v) as i32),
        (Scalar::Sint64, WireValue::Varint(v)) => Value::from(zigzag(v)),
        (Scalar::Fixed32, WireValue::Fixed32(v)) => Value::from(v),
        (Scalar::Sfixed32, WireValue::Fixed32(v)) => Value::from(v as i32),
        (Scalar::Float, WireValue::Fixed32(v)) => finite(f64::from(f32::from_bits(v)), field_name)?,
        (Scalar::Fixed64, WireValue::Fixed64(v)) => Value::from(v),
        (Scalar::Sfixed64, WireValue::Fixed64(v)) => Value::from(v as i64),
        (Scalar::Double, WireValue::Fixed64(v)) => finite(f64::from_bits(v), field_name)?,
        (_, other) => {
            return Err(DecodeError::WireTypeMismatch {
                field: field_name(),
                wire_type: other.wire_type(),
                expected: expected_name,
            })
        }
    };
    Ok(value)
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn finite(v: f64, field_name: impl Fn() -> String) -> Result<Value, DecodeError> {
    Number::from_f64(v)
        .map(Value::Number)
        .ok_or_else(|| DecodeError::InvalidValue {
            field: field_name(),
            reason: "NaN or infinite number".to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Writer;

    fn decode(full_name: &str, bytes: &[u8]) -> Result<Value, DecodeError> {
        Decoder {
            options: DecodeOptions::default(),
        }
        .message_value(full_name, bytes, 0)
    }

    #[test]
    fn packed_and_unpacked_repeated_ints_both_decode() {
        // PodSecurityContext.supplementalGroups (tag 4, repeated int64)
        let mut packed_payload = Writer::default();
        packed_payload.varint(1000);
        packed_payload.varint(2000);
        let mut packed = Writer::default();
        packed.len_delimited(4, &packed_payload.buf);
        let mut unpacked = Writer::default();
        for v in [1000u64, 2000] {
            unpacked.key(4, VARINT);
            unpacked.varint(v);
        }
        for bytes in [packed.buf, unpacked.buf] {
            let v = decode("k8s.io.api.core.v1.PodSecurityContext", &bytes).expect("decodes");
            assert_eq!(v["supplementalGroups"], serde_json::json!([1000, 2000]));
        }
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut w = Writer::default();
        w.len_delimited(999, b"future field");
        w.len_delimited(1, b"web"); // LocalObjectReference.name
        let v = decode("k8s.io.api.core.v1.LocalObjectReference", &w.buf).expect("decodes");
        assert_eq!(v, serde_json::json!({"name": "web"}));
    }

    #[test]
    fn map_entry_without_value_gets_the_default() {
        // ConfigMap.data (tag 2): entry with only a key.
        let mut entry = Writer::default();
        entry.len_delimited(1, b"empty");
        let mut w = Writer::default();
        w.len_delimited(2, &entry.buf);
        let v = decode("k8s.io.api.core.v1.ConfigMap", &w.buf).expect("decodes");
        assert_eq!(v["data"], serde_json::json!({"empty": ""}));
    }

    #[test]
    fn negative_int32_uses_ten_byte_varint() {
        // ContainerPort.containerPort = -1 as Go writes it (sign-extended to 64 bits).
        let mut w = Writer::default();
        w.key(3, VARINT);
        w.varint(-1i64 as u64);
        let v = decode("k8s.io.api.core.v1.ContainerPort", &w.buf).expect("decodes");
        assert_eq!(v["containerPort"], serde_json::json!(-1));
    }

    #[test]
    fn string_sent_as_varint_is_a_mismatch() {
        let mut w = Writer::default();
        w.key(1, VARINT);
        w.varint(1);
        let err = decode("k8s.io.api.core.v1.LocalObjectReference", &w.buf).expect_err("mismatch");
        assert!(
            err.to_string().contains("LocalObjectReference.name"),
            "{err}"
        );
    }

    #[test]
    fn quantity_int_or_string_and_time_special_forms() {
        let mut q = Writer::default();
        q.len_delimited(1, b"1Gi");
        assert_eq!(
            decode(crate::special_types::QUANTITY, &q.buf),
            Ok(Value::String("1Gi".into()))
        );
        assert_eq!(decode(crate::special_types::TIME, &[]), Ok(Value::Null));
        let mut ios = Writer::default();
        ios.key(1, VARINT);
        ios.varint(0);
        ios.key(2, VARINT);
        ios.varint(8080);
        assert_eq!(
            decode(crate::special_types::INT_OR_STRING, &ios.buf),
            Ok(Value::from(8080))
        );
    }
}
