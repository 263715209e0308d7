//! The Kubernetes protobuf envelope: the magic `k8s\0`, then a `runtime.Unknown` message
//! {1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType}.

use crate::error::DecodeError;
use crate::wire::{Reader, WireValue, Writer};

pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Whether `body` starts with the Kubernetes protobuf magic.
pub fn is_protobuf(body: &[u8]) -> bool {
    body.starts_with(MAGIC)
}

/// The fields of `runtime.Unknown` that matter for decoding.
#[derive(Debug, Default, PartialEq)]
pub struct Envelope<'a> {
    pub api_version: String,
    pub kind: String,
    pub raw: &'a [u8],
    pub content_encoding: String,
    pub content_type: String,
}

pub fn parse(body: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    let unknown = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(DecodeError::MissingMagic)?;
    let mut envelope = Envelope::default();
    let mut reader = Reader::new(unknown, "runtime.Unknown");
    while !reader.is_empty() {
        match reader.next_field()? {
            (1, WireValue::Len(type_meta)) => {
                let mut inner = Reader::new(type_meta, "runtime.TypeMeta");
                while !inner.is_empty() {
                    match inner.next_field()? {
                        (1, WireValue::Len(s)) => {
                            envelope.api_version = utf8(s, "typeMeta.apiVersion")?
                        }
                        (2, WireValue::Len(s)) => envelope.kind = utf8(s, "typeMeta.kind")?,
                        _ => {}
                    }
                }
            }
            (2, WireValue::Len(raw)) => envelope.raw = raw,
            (3, WireValue::Len(s)) => envelope.content_encoding = utf8(s, "contentEncoding")?,
            (4, WireValue::Len(s)) => envelope.content_type = utf8(s, "contentType")?,
            _ => {}
        }
    }
    Ok(envelope)
}

fn utf8(bytes: &[u8], field: &str) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidUtf8 {
        field: field.to_string(),
    })
}

/// Wraps an encoded object message in the envelope.
pub fn wrap(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Writer::default();
    type_meta.len_delimited(1, api_version.as_bytes());
    type_meta.len_delimited(2, kind.as_bytes());
    let mut unknown = Writer {
        buf: MAGIC.to_vec(),
    };
    unknown.len_delimited(1, &type_meta.buf);
    unknown.len_delimited(2, raw);
    // Go writes the empty contentEncoding and contentType too.
    unknown.len_delimited(3, b"");
    unknown.len_delimited(4, b"");
    unknown.buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_then_parse() {
        let body = wrap("apps/v1", "Deployment", b"\x0a\x00");
        assert!(is_protobuf(&body));
        let envelope = parse(&body).expect("valid envelope");
        assert_eq!(envelope.api_version, "apps/v1");
        assert_eq!(envelope.kind, "Deployment");
        assert_eq!(envelope.raw, b"\x0a\x00");
        assert_eq!(envelope.content_encoding, "");
    }

    #[test]
    fn json_is_not_protobuf() {
        assert!(!is_protobuf(b"{\"kind\":\"Pod\"}"));
        assert_eq!(parse(b"{}"), Err(DecodeError::MissingMagic));
    }
}
