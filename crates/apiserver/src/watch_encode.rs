//! Watch lines (`{"type":…,"object":…}` + newline) for one watcher's output
//! format. A JSON object in its storage version is written straight from the
//! cached bytes; metadata-only, Table and converted output parse them.
//! Lines that do not depend on the watcher are made once per live event and
//! shared (`SharedLines`).

use crate::body::Want;
use crate::cache::CachedObject;
use crate::request::Query;
use crate::{convert, table};
use berth_api::status::ApiError;
use berth_api::ResourceInfo;
use berth_store::Revision;
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::OnceLock;

const EVENT_TYPES: [&str; 3] = ["ADDED", "MODIFIED", "DELETED"];

/// The lines made so far for one live event, by (event type, shareable format).
/// A watcher may see a change as another type than its cause (a filtered
/// watcher sees a MODIFIED that leaves its selector as DELETED), hence per type.
#[derive(Default)]
pub struct SharedLines {
    slots: [OnceLock<Bytes>; 6],
}

impl SharedLines {
    fn slot(&self, kind: &str, want: Want) -> Option<&OnceLock<Bytes>> {
        let t = EVENT_TYPES.iter().position(|k| *k == kind)?;
        let f = match want {
            Want::Object => 0,
            Want::PartialMetadata => 1,
            Want::Table => return None,
        };
        self.slots.get(t * 2 + f)
    }
}

/// One watcher's encoder.
pub struct Encoder {
    info: &'static ResourceInfo,
    want: Want,
    /// Table output sends its column definitions with the first row only.
    sent_columns: bool,
    q: Query,
}

impl Encoder {
    pub fn new(info: &'static ResourceInfo, want: Want, q: Query) -> Self {
        Self {
            info,
            want,
            sent_columns: false,
            q,
        }
    }

    fn converts(&self) -> bool {
        self.info.version != self.info.storage_version
    }

    /// The line for `obj` as an event of type `kind`; taken from (or left in)
    /// `shared` when it does not depend on this watcher.
    pub fn event(
        &mut self,
        kind: &'static str,
        obj: &CachedObject,
        shared: Option<&SharedLines>,
    ) -> Bytes {
        let shareable = match self.want {
            Want::Object => !self.converts(),
            // Conversion leaves metadata alone.
            Want::PartialMetadata => true,
            Want::Table => false,
        };
        if shareable {
            if let Some(slot) = shared.and_then(|s| s.slot(kind, self.want)) {
                return slot.get_or_init(|| self.encode(kind, obj)).clone();
            }
        }
        self.encode(kind, obj)
    }

    fn encode(&mut self, kind: &str, obj: &CachedObject) -> Bytes {
        if self.want == Want::Object && !self.converts() {
            return object_line(kind, &obj.json);
        }
        let value = convert::to_served(self.info, obj.value());
        let object = match self.want {
            Want::Table => {
                let mut t = table::table_for(self.info, [value], None, &self.q);
                if self.sent_columns {
                    t["columnDefinitions"] = json!([]);
                }
                self.sent_columns = true;
                t
            }
            Want::PartialMetadata => table::partial_metadata(&value),
            Want::Object => value,
        };
        value_line(&json!({"type": kind, "object": object}))
    }

    pub fn bookmark(&self, rev: Revision, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rev.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.info.kind, "apiVersion": self.info.api_version(), "metadata": meta});
        value_line(&json!({"type": "BOOKMARK", "object": obj}))
    }
}

/// The `ERROR` 410 line for a watch that cannot resume from `rev`.
pub fn expired(rev: Revision, floor: Revision) -> Bytes {
    let status = ApiError::gone(format!("too old resource version: {rev} ({floor})")).to_status();
    value_line(&json!({"type": "ERROR", "object": status}))
}

/// `{"type":<kind>,"object":<json>}` + newline, byte for byte what serializing
/// the same event as a `Value` gives.
fn object_line(kind: &str, json: &[u8]) -> Bytes {
    let mut line = Vec::with_capacity(json.len() + kind.len() + 24);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(json);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

fn value_line(v: &Value) -> Bytes {
    let mut line = serde_json::to_vec(v).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::registry::lookup;

    fn pod() -> CachedObject {
        let v = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "d", "resourceVersion": "7", "labels": {"a": "b"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}, "status": {"phase": "Running"}});
        CachedObject::from_value("/registry/core/pods/d/p", &v, 7).expect("encodes")
    }

    fn pods() -> &'static ResourceInfo {
        lookup("", "v1", "pods").expect("pods registered")
    }

    #[test]
    fn object_lines_are_the_serialized_event() {
        let obj = pod();
        let mut enc = Encoder::new(pods(), Want::Object, Query::default());
        let line = enc.event("MODIFIED", &obj, None);
        let expected = value_line(&json!({"type": "MODIFIED", "object": obj.value()}));
        assert_eq!(line, expected);
    }

    #[test]
    fn shared_lines_are_encoded_once_per_type_and_format() {
        let obj = pod();
        let shared = SharedLines::default();
        let mut a = Encoder::new(pods(), Want::Object, Query::default());
        let mut b = Encoder::new(pods(), Want::Object, Query::default());
        let first = a.event("ADDED", &obj, Some(&shared));
        let second = b.event("ADDED", &obj, Some(&shared));
        // The same allocation: the second watcher did not encode again.
        assert_eq!(first.as_ptr(), second.as_ptr());
        let deleted = b.event("DELETED", &obj, Some(&shared));
        assert!(deleted.starts_with(b"{\"type\":\"DELETED\""));
        let mut m = Encoder::new(pods(), Want::PartialMetadata, Query::default());
        let meta = m.event("ADDED", &obj, Some(&shared));
        let v: Value = serde_json::from_slice(&meta).expect("json line");
        assert_eq!(v["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(v["object"]["metadata"]["name"], "p");
    }

    #[test]
    fn table_lines_stay_per_watcher() {
        let obj = pod();
        let shared = SharedLines::default();
        let mut t = Encoder::new(pods(), Want::Table, Query::default());
        let first: Value =
            serde_json::from_slice(&t.event("ADDED", &obj, Some(&shared))).expect("json");
        let second: Value =
            serde_json::from_slice(&t.event("ADDED", &obj, Some(&shared))).expect("json");
        assert!(first["object"]["columnDefinitions"]
            .as_array()
            .is_some_and(|c| !c.is_empty()));
        assert_eq!(second["object"]["columnDefinitions"], json!([]));
    }
}
