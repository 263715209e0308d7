//! OpenAPI v3 documents from k8s-openapi schemas; strict unknown-field
//! checks; patch metadata.
//!
//! `/openapi/v3` lists one document per group version; kubectl fetches the
//! document of the kind it writes to decide whether the server validates
//! fields (`fieldValidation` on the kind's PATCH operation), to compute
//! strategic merge patches (`x-kubernetes-patch-*`) and for `explain`.
//! Documents are built on first use and cached as serialized bytes.

mod decode;
mod document;
mod extensions;
mod gnostic;
mod gnostic_encode;
mod go_base64;
mod go_quantity;
mod go_time;
mod kinds;
mod paths;
mod shape;
mod strict;
mod swagger;
mod v2;
mod yaml_text;

pub use v2::{V2Format, V2Response, V2_PROTOBUF_CONTENT_TYPE};

use std::sync::{Arc, OnceLock};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};

use crate::document::{document_path, group_versions, list_definition};
use crate::shape::Shapes;
use crate::v2::V2Document;

/// Upper-case hex SHA-512, as kube-apiserver's OpenAPI ETags (v2 and v3).
pub(crate) fn content_hash(bytes: &[u8]) -> String {
    hex::encode_upper(Sha512::digest(bytes))
}

/// A built group-version document with its content hash.
struct Built {
    bytes: Arc<Vec<u8>>,
    /// Upper-case hex SHA-512 of `bytes`, as kube-apiserver's ETag.
    hash: String,
}

struct GroupVersionEntry {
    group: &'static str,
    version: &'static str,
    path: String,
    built: OnceLock<Built>,
    schemas: OnceLock<Arc<Map<String, Value>>>,
}

impl GroupVersionEntry {
    fn built(&self) -> &Built {
        self.built.get_or_init(|| {
            // The registry only yields group versions with resources, so the
            // document always exists; an empty object keeps this total.
            let document = document::build(self.group, self.version).unwrap_or_else(|| json!({}));
            let bytes = serde_json::to_vec(&document).unwrap_or_default();
            let hash = content_hash(&bytes);
            Built {
                bytes: Arc::new(bytes),
                hash,
            }
        })
    }

    fn schemas(&self) -> Arc<Map<String, Value>> {
        self.schemas
            .get_or_init(|| {
                let parsed: Value =
                    serde_json::from_slice(&self.built().bytes).unwrap_or(Value::Null);
                let schemas = match parsed {
                    Value::Object(mut document) => match document.remove("components") {
                        Some(Value::Object(mut components)) => match components.remove("schemas") {
                            Some(Value::Object(schemas)) => schemas,
                            _ => Map::new(),
                        },
                        _ => Map::new(),
                    },
                    _ => Map::new(),
                };
                Arc::new(schemas)
            })
            .clone()
    }
}

struct Inner {
    entries: Vec<GroupVersionEntry>,
    shapes: OnceLock<Shapes>,
    v2: OnceLock<V2Document>,
}

/// The OpenAPI v3 service of every group version in `berth_api::REGISTRY`.
/// Cheap to clone; clones share the cached documents.
#[derive(Clone)]
pub struct OpenApi {
    inner: Arc<Inner>,
}

impl Default for OpenApi {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenApi {
    /// Builds nothing yet: documents are generated on first request.
    pub fn new() -> Self {
        let entries = group_versions()
            .into_iter()
            .map(|(group, version)| GroupVersionEntry {
                group,
                version,
                path: document_path(group, version),
                built: OnceLock::new(),
                schemas: OnceLock::new(),
            })
            .collect();
        OpenApi {
            inner: Arc::new(Inner {
                entries,
                shapes: OnceLock::new(),
                v2: OnceLock::new(),
            }),
        }
    }

    /// The `/openapi/v3` discovery document:
    /// `{"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=..."}}}`.
    /// Builds every document (the hashes are of their bytes).
    pub fn index(&self) -> Value {
        let mut paths = Map::new();
        for entry in &self.inner.entries {
            let url = format!("/openapi/v3/{}?hash={}", entry.path, entry.built().hash);
            paths.insert(entry.path.clone(), json!({ "serverRelativeURL": url }));
        }
        json!({ "paths": paths })
    }

    /// The serialized document at `path` ("api/v1", "apis/apps/v1").
    pub fn document(&self, path: &str) -> Option<Arc<Vec<u8>>> {
        let path = path.trim_matches('/');
        self.entry_by_path(path).map(|e| e.built().bytes.clone())
    }

    /// The hash the index advertises for `path`, for ETag / cache headers.
    pub fn document_hash(&self, path: &str) -> Option<String> {
        let path = path.trim_matches('/');
        self.entry_by_path(path).map(|e| e.built().hash.clone())
    }

    /// `components.schemas` of a group version's document.
    pub fn schemas(&self, group: &str, version: &str) -> Option<Arc<Map<String, Value>>> {
        self.inner
            .entries
            .iter()
            .find(|e| e.group == group && e.version == version)
            .map(GroupVersionEntry::schemas)
    }

    /// The definition name of a kind ("io.k8s.api.apps.v1.Deployment");
    /// `<Kind>List` kinds of registered resources resolve too.
    pub fn root_definition(&self, group: &str, version: &str, kind: &str) -> Option<String> {
        if let Some(definition) = kinds::definition_name(group, version, kind) {
            return Some(definition);
        }
        let base = kind.strip_suffix("List")?;
        berth_api::registry::lookup_kind(group, version, base)?;
        kinds::definition_name(group, version, base).map(|d| list_definition(&d))
    }

    /// Every field path in `obj` that the kind's schema does not declare,
    /// formatted as Kubernetes does ("spec.foo",
    /// "spec.template.spec.containers[0].imagee"). Map-typed fields (labels,
    /// data) accept any key; free-form fields (RawExtension) accept anything.
    /// Empty when the kind is unknown.
    pub fn unknown_fields(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        obj: &Value,
    ) -> Vec<String> {
        match self.root_index(group, version, kind) {
            Some((shapes, root)) => strict::unknown_fields(shapes, root, obj),
            None => Vec::new(),
        }
    }

    /// The first value in `obj` that kube-apiserver's decode into the Go
    /// type would reject, as its error reads (the server prefixes
    /// `<Kind> in version "<v>" cannot be handled as a <Kind>: ` and answers
    /// 400), or None. For example "json: cannot unmarshal string into Go
    /// struct field DeploymentSpec.spec.replicas of type int32", a Quantity
    /// or Time parse error, "illegal base64 data at input byte 4". Unknown
    /// fields are not reported here (see `unknown_fields`); `null` and
    /// free-form fields accept anything. None when the kind is unknown.
    pub fn decode_error(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        obj: &Value,
    ) -> Option<String> {
        let (shapes, root) = self.root_index(group, version, kind)?;
        decode::decode_error(shapes, root, obj)
    }

    /// The `/openapi/v2` (Swagger 2.0) document in `format`: every
    /// definition of every group version, no paths. Built on the first call
    /// (both encodings at once), then served from the cache.
    pub fn v2(&self, format: V2Format) -> V2Response {
        self.inner
            .v2
            .get_or_init(V2Document::build)
            .response(format)
    }

    /// The shape table (built on first use) and the kind's definition in it.
    fn root_index(&self, group: &str, version: &str, kind: &str) -> Option<(&Shapes, usize)> {
        let definition = self.root_definition(group, version, kind)?;
        let shapes = self
            .inner
            .shapes
            .get_or_init(|| Shapes::new(&document::all_schemas()));
        Some((shapes, shapes.index_of(&definition)?))
    }

    fn entry_by_path(&self, path: &str) -> Option<&GroupVersionEntry> {
        self.inner.entries.iter().find(|e| e.path == path)
    }
}

#[cfg(test)]
mod tests;
