//! Decode Kubernetes protobuf request bodies (`k8s\0` + `runtime.Unknown`) into the JSON a
//! JSON client would have sent, and encode JSON objects the other way.
//!
//! The message shapes come from a generated table (`descriptors.rs`, produced from the k8s-pb
//! sources by `src/bin/gen_descriptors`); a generic wire-format walker turns bytes into JSON
//! with Kubernetes' JSON field names and special renderings (IntOrString, Quantity, Time...).

pub mod descriptor_types;
mod descriptors;
mod encode;
mod envelope;
mod error;
mod go_pointers;
mod kinds;
mod special_types;
mod time_format;
mod to_json;
mod wire;

use serde_json::{Map, Value};

pub use descriptor_types::{find_message, messages, resource_kinds, MessageDescriptor};
pub use envelope::{is_protobuf, MAGIC};
pub use error::{DecodeError, EncodeError};
pub use kinds::{message_for, package_for};
pub use to_json::DecodeOptions;

/// Decodes a whole request body into a JSON object with apiVersion and kind set.
pub fn decode(body: &[u8]) -> Result<Value, DecodeError> {
    decode_with(body, DecodeOptions::default())
}

/// [`decode`] with explicit options (e.g. keeping Go zero values as they came on the wire).
pub fn decode_with(body: &[u8], options: DecodeOptions) -> Result<Value, DecodeError> {
    decode_envelope(&to_json::Decoder { options }, body, 0)
}

/// Decodes one message (no envelope) of the given full proto name, e.g.
/// `k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions`.
pub fn decode_message(
    full_name: &str,
    bytes: &[u8],
    options: DecodeOptions,
) -> Result<Value, DecodeError> {
    to_json::Decoder { options }.message_value(full_name, bytes, 0)
}

/// Encodes a JSON object (with apiVersion and kind) as a protobuf body: magic + Unknown.
pub fn encode(obj: &Value) -> Result<Vec<u8>, EncodeError> {
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or(EncodeError::MissingTypeMeta)?;
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .ok_or(EncodeError::MissingTypeMeta)?;
    let descriptor = message_for(api_version, kind).ok_or_else(|| EncodeError::UnknownKind {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
    })?;
    let raw = encode::message_bytes(descriptor, obj, 0)?;
    Ok(envelope::wrap(api_version, kind, &raw))
}

pub(crate) fn decode_envelope(
    decoder: &to_json::Decoder,
    body: &[u8],
    depth: usize,
) -> Result<Value, DecodeError> {
    let envelope = envelope::parse(body)?;
    if !envelope.content_encoding.is_empty() {
        return Err(DecodeError::UnsupportedContentEncoding(
            envelope.content_encoding,
        ));
    }
    if envelope.api_version.is_empty() || envelope.kind.is_empty() {
        return Err(DecodeError::MissingTypeMeta);
    }
    let descriptor = message_for(&envelope.api_version, &envelope.kind).ok_or_else(|| {
        DecodeError::UnknownKind {
            api_version: envelope.api_version.clone(),
            kind: envelope.kind.clone(),
        }
    })?;
    let body = decoder.message_object(descriptor, envelope.raw, depth)?;
    // apiVersion and kind first, as Kubernetes writes them.
    let mut object = Map::new();
    object.insert(
        "apiVersion".to_string(),
        Value::String(envelope.api_version),
    );
    object.insert("kind".to_string(), Value::String(envelope.kind));
    for (key, value) in body {
        if key != "apiVersion" && key != "kind" {
            object.insert(key, value);
        }
    }
    Ok(Value::Object(object))
}
