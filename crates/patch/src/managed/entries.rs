//! `metadata.managedFields` entries: decoding, identity and encoding in the
//! order kube-apiserver writes them.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::fieldpath::FieldSet;

pub(crate) const APPLY: &str = "Apply";

/// One manager's ownership record.
#[derive(Clone, Debug)]
pub(crate) struct ManagedEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: String,
    pub set: FieldSet,
}

impl ManagedEntry {
    /// Whether this entry is the record of (manager, operation, apiVersion,
    /// subresource). Apply records ignore the apiVersion: an applier keeps
    /// one record across versions (kube's manager identifier).
    pub fn is(&self, manager: &str, operation: &str, api_version: &str, subresource: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == APPLY || self.api_version == api_version)
    }

    fn decode(value: &Value) -> Option<ManagedEntry> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        let set = match value.get("fieldsV1") {
            Some(fields) => FieldSet::from_fields_v1(fields).ok()?,
            None => FieldSet::new(),
        };
        Some(ManagedEntry {
            manager: text("manager").unwrap_or_default(),
            operation: text("operation")?,
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").unwrap_or_default(),
            set,
        })
    }

    fn encode(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("manager".into(), Value::String(self.manager.clone()));
        entry.insert("operation".into(), Value::String(self.operation.clone()));
        if !self.api_version.is_empty() {
            entry.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        }
        if let Some(time) = &self.time {
            entry.insert("time".into(), Value::String(time.clone()));
        }
        entry.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        entry.insert("fieldsV1".into(), self.set.to_fields_v1());
        if !self.subresource.is_empty() {
            entry.insert(
                "subresource".into(),
                Value::String(self.subresource.clone()),
            );
        }
        Value::Object(entry)
    }
}

/// `metadata.managedFields` of an object, if any.
pub(crate) fn raw_managed_fields(object: &Value) -> Option<&Value> {
    object
        .get("metadata")?
        .get("managedFields")
        .filter(|v| !v.is_null())
}

/// Decodes the entries of an object; undecodable entries are dropped (kube
/// resets managed fields it cannot decode rather than failing the write).
pub(crate) fn decode_entries(managed_fields: Option<&Value>) -> Vec<ManagedEntry> {
    managed_fields
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(ManagedEntry::decode).collect())
        .unwrap_or_default()
}

/// `[]` or `[{}]` sent by a client: the request to clear managed fields.
pub(crate) fn is_reset_request(managed_fields: Option<&Value>) -> bool {
    match managed_fields.and_then(Value::as_array).map(Vec::as_slice) {
        Some([]) => true,
        Some([only]) => only.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

/// Writes entries into `metadata.managedFields` of `object` in kube's order
/// (operation, time, manager, apiVersion, subresource), dropping empty ones;
/// no entries at all removes the field.
pub(crate) fn store_entries(object: &mut Value, mut entries: Vec<ManagedEntry>) {
    entries.retain(|entry| !entry.set.is_empty());
    entries.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| a.time.cmp(&b.time))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        metadata.remove("managedFields");
    } else {
        metadata.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(ManagedEntry::encode).collect()),
        );
    }
}

/// A copy of `object` without `metadata.managedFields`.
pub(crate) fn without_managed_fields(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    copy
}

/// kube keeps at most this many Update records; older ones are folded into
/// one `ancient-changes` record per apiVersion.
const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";

/// Folds the oldest Update records into `ancient-changes` buckets until at
/// most `MAX_UPDATE_MANAGERS` remain (kube's cap-managers step).
pub(crate) fn cap_update_managers(entries: Vec<ManagedEntry>) -> Vec<ManagedEntry> {
    let (mut kept, mut updates): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .filter(|e| !e.set.is_empty())
        .partition(|e| e.operation == APPLY);
    if updates.len() <= MAX_UPDATE_MANAGERS {
        kept.extend(updates);
        return kept;
    }
    updates.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.manager.cmp(&b.manager)));
    let is_bucket = |e: &ManagedEntry, version: &str| {
        e.manager == ANCIENT_CHANGES && e.subresource.is_empty() && e.api_version == version
    };
    let mut slots: Vec<Option<ManagedEntry>> = updates.into_iter().map(Some).collect();
    let mut remaining = slots.len();
    let mut first_by_version: HashMap<String, usize> = HashMap::new();
    for index in 0..slots.len() {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(version) = slots[index]
            .as_ref()
            .filter(|e| !is_bucket(e, &e.api_version))
            .map(|e| e.api_version.clone())
        else {
            continue;
        };
        let Some(&first) = first_by_version.get(&version) else {
            first_by_version.insert(version, index);
            continue;
        };
        let existing = slots
            .iter()
            .position(|slot| slot.as_ref().is_some_and(|e| is_bucket(e, &version)));
        let bucket = match existing {
            Some(bucket) => bucket,
            None => {
                if let Some(entry) = slots[first].as_mut() {
                    entry.manager = ANCIENT_CHANGES.to_string();
                    entry.subresource.clear();
                }
                first
            }
        };
        if let Some(folded) = slots[index].take() {
            if let Some(target) = slots[bucket].as_mut() {
                target.set = target.set.union(&folded.set);
                target.time = folded.time;
            }
            remaining -= 1;
        }
    }
    kept.extend(slots.into_iter().flatten());
    kept
}
