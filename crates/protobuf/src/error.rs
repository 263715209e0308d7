//! Errors with messages meant for a 400 `Status` (`the body of the request was in an unknown
//! format` style: they say what was wrong and where).

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum DecodeError {
    #[error("protobuf body does not start with the magic prefix \"k8s\\x00\"")]
    MissingMagic,
    #[error("truncated protobuf data in {context}")]
    Truncated { context: String },
    #[error("malformed varint in {context}")]
    InvalidVarint { context: String },
    #[error("unsupported protobuf wire type {wire_type} in {context}")]
    InvalidWireType { wire_type: u8, context: String },
    #[error("field {field}: wire type {wire_type} does not match its declared type {expected}")]
    WireTypeMismatch {
        field: String,
        wire_type: u8,
        expected: &'static str,
    },
    #[error("field {field}: string is not valid UTF-8")]
    InvalidUtf8 { field: String },
    #[error("field {field}: {reason}")]
    InvalidValue { field: String, reason: String },
    #[error("protobuf envelope has no typeMeta apiVersion/kind")]
    MissingTypeMeta,
    #[error("protobuf envelope uses contentEncoding {0:?}, which is not supported")]
    UnsupportedContentEncoding(String),
    #[error("no protobuf message is known for apiVersion {api_version:?}, kind {kind:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error("protobuf message nested deeper than {0} levels")]
    TooDeep(usize),
}

#[derive(Debug, Error, PartialEq)]
pub enum EncodeError {
    #[error("object has no apiVersion/kind")]
    MissingTypeMeta,
    #[error("no protobuf message is known for apiVersion {api_version:?}, kind {kind:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error("field {field}: {reason}")]
    InvalidValue { field: String, reason: String },
    #[error("field {field} is not known in protobuf message {message}")]
    UnknownField { field: String, message: String },
    #[error("JSON nested deeper than {0} levels")]
    TooDeep(usize),
}
