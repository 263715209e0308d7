//! What `/openapi/v2` serves: the Swagger 2.0 document as JSON and as
//! gnostic protobuf, chosen by `Accept` as kube-openapi's handler chooses,
//! with kube-apiserver's ETag (quoted upper-case hex SHA-512 of the JSON,
//! the same for both forms). Built once, on first request: ~1 MB each.

use bytes::Bytes;
use prost::Message;

use crate::{gnostic_encode, swagger};

/// The protobuf media type kube-apiserver answers with (also for requests
/// naming the deprecated `...spec.v2@v1.0+protobuf`).
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
const PROTOBUF_SUBTYPE: &str = "com.github.proto-openapi.spec.v2.v1.0+protobuf";
const PROTOBUF_SUBTYPE_DEPRECATED: &str = "com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The two encodings of the v2 document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V2Format {
    Json,
    Protobuf,
}

impl V2Format {
    /// The form an `Accept` header asks for, as kube-openapi picks it:
    /// clauses by descending `q` (specific before wildcard), the first that
    /// matches JSON or protobuf (in that order) wins; an empty header means
    /// `*/*` (JSON). None: nothing acceptable (406).
    pub fn negotiate(accept: &str) -> Option<V2Format> {
        let accept = if accept.trim().is_empty() {
            "*/*"
        } else {
            accept
        };
        let mut clauses: Vec<Clause> = accept.split(',').filter_map(Clause::parse).collect();
        clauses.sort_by(|a, b| {
            b.q.total_cmp(&a.q)
                .then((a.type_ == "*").cmp(&(b.type_ == "*")))
                .then((a.subtype == "*").cmp(&(b.subtype == "*")))
        });
        let offered = [
            ("json", V2Format::Json),
            (PROTOBUF_SUBTYPE_DEPRECATED, V2Format::Protobuf),
            (PROTOBUF_SUBTYPE, V2Format::Protobuf),
        ];
        clauses.iter().find_map(|clause| {
            if clause.type_ != "application" && clause.type_ != "*" {
                return None;
            }
            offered
                .iter()
                .find(|(subtype, _)| clause.subtype == *subtype || clause.subtype == "*")
                .map(|(_, format)| *format)
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            V2Format::Json => "application/json",
            V2Format::Protobuf => V2_PROTOBUF_CONTENT_TYPE,
        }
    }
}

/// One media range of an `Accept` header.
struct Clause {
    type_: String,
    subtype: String,
    q: f64,
}

impl Clause {
    fn parse(part: &str) -> Option<Clause> {
        let mut pieces = part.split(';');
        let range = pieces.next()?.trim();
        let mut q = 1.0;
        for param in pieces {
            if let Some((name, value)) = param.split_once('=') {
                if name.trim() == "q" {
                    q = value.trim().parse().unwrap_or(0.0);
                }
            }
        }
        let (type_, subtype) = match range.split_once('/') {
            Some((t, s)) => (t.trim(), s.trim()),
            None if range == "*" => ("*", "*"),
            None => return None,
        };
        Some(Clause {
            type_: type_.to_string(),
            subtype: subtype.to_string(),
            q,
        })
    }
}

/// The built document in both encodings.
pub(crate) struct V2Document {
    json: Bytes,
    protobuf: Bytes,
    etag: String,
}

impl V2Document {
    pub(crate) fn build() -> V2Document {
        let document = swagger::build();
        let json = serde_json::to_vec(&document).unwrap_or_default();
        let protobuf = gnostic_encode::document(&document).encode_to_vec();
        let etag = format!("\"{}\"", crate::content_hash(&json));
        V2Document {
            json: Bytes::from(json),
            protobuf: Bytes::from(protobuf),
            etag,
        }
    }

    pub(crate) fn response(&self, format: V2Format) -> V2Response {
        V2Response {
            body: match format {
                V2Format::Json => self.json.clone(),
                V2Format::Protobuf => self.protobuf.clone(),
            },
            content_type: format.content_type(),
            etag: self.etag.clone(),
        }
    }
}

/// One answer of `/openapi/v2`. `body` is shared with the cache (cheap to
/// clone).
#[derive(Clone, Debug)]
pub struct V2Response {
    pub body: Bytes,
    pub content_type: &'static str,
    /// Already quoted, for the `ETag` header.
    pub etag: String,
}

impl V2Response {
    /// Whether an `If-None-Match` header names this document (answer 304),
    /// compared weakly as Go's `http.ServeContent` does.
    pub fn not_modified(&self, if_none_match: &str) -> bool {
        if_none_match
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.etag)
    }
}

#[cfg(test)]
#[path = "v2_tests.rs"]
mod tests;
