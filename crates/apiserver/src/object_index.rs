//! The few facts about a cached object that lists, watches and the server's
//! own loops decide on, parsed once when the object enters the cache so
//! that filtering never re-parses its JSON: name, namespace, labels, the
//! values of the kind's selectable fields, and what garbage collection
//! follows (uid, owners, deletion, finalizers).

use crate::strategy;
use berth_api::registry::REGISTRY;
use berth_api::selector::{LabelSelector, Requirement};
use serde_json::Value;

/// Kept for every cached object and every event in the ring, so it is
/// compact: all strings back to back in one allocation, located by spans.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ObjectIndex {
    /// Every string of the index, back to back.
    text: Box<str>,
    /// Where each string lies in `text`: name, namespace, uid, then label
    /// keys and values (pairs, sorted by key), the values of `field_names`,
    /// owner uids, finalizers.
    spans: Box<[Span]>,
    /// The kind's selectable fields (`strategy::selectable_fields`).
    field_names: &'static [&'static str],
    labels: u32,
    owners: u32,
    has_uid: bool,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

const NAME: usize = 0;
const NAMESPACE: usize = 1;
const UID: usize = 2;
const LABELS: usize = 3;

#[derive(Default)]
struct Builder {
    text: String,
    spans: Vec<Span>,
}

impl Builder {
    fn push(&mut self, s: &str) {
        // An index string beyond 4 GiB cannot come from a 3 MiB request body.
        let start = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str(s);
        let len = u32::try_from(s.len()).unwrap_or(0);
        self.spans.push(Span { start, len });
    }
}

fn array_strings<'a>(
    obj: &'a Value,
    pointer: &str,
    item: impl Fn(&'a Value) -> Option<&'a str> + 'a,
) -> impl Iterator<Item = &'a str> + 'a {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(item)
}

impl ObjectIndex {
    /// Index `obj`, stored under `key` (the key says which kind it is).
    pub fn of(key: &str, obj: &Value) -> Self {
        let field_names = selectable_fields_of_key(key);
        let field_value = |f: &str| strategy::field_value(obj, f).unwrap_or_default();
        let meta = obj.get("metadata");
        let uid = meta.and_then(|m| m.get("uid")).and_then(Value::as_str);
        let mut labels: Vec<(&str, &str)> = obj
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        labels.sort_unstable_by(|a, b| a.0.cmp(b.0));

        let mut b = Builder::default();
        b.push(&field_value("metadata.name"));
        b.push(&field_value("metadata.namespace"));
        b.push(uid.unwrap_or_default());
        for (k, v) in &labels {
            b.push(k);
            b.push(v);
        }
        for f in field_names {
            b.push(&field_value(f));
        }
        let mut owners = 0;
        for u in array_strings(obj, "/metadata/ownerReferences", |r| {
            r.get("uid").and_then(Value::as_str)
        }) {
            b.push(u);
            owners += 1;
        }
        for f in array_strings(obj, "/metadata/finalizers", Value::as_str) {
            b.push(f);
        }
        Self {
            text: b.text.into_boxed_str(),
            spans: b.spans.into_boxed_slice(),
            field_names,
            labels: u32::try_from(labels.len()).unwrap_or(0),
            owners,
            has_uid: uid.is_some(),
            deleting: meta.is_some_and(|m| m.get("deletionTimestamp").is_some()),
        }
    }

    fn at(&self, i: usize) -> &str {
        self.spans
            .get(i)
            .and_then(|s| {
                self.text
                    .get(s.start as usize..(s.start as usize + s.len as usize))
            })
            .unwrap_or("")
    }

    fn range(&self, from: usize, count: usize) -> impl Iterator<Item = &str> {
        (from..from + count).map(|i| self.at(i))
    }

    fn fields_start(&self) -> usize {
        LABELS + 2 * self.labels as usize
    }

    fn owners_start(&self) -> usize {
        self.fields_start() + self.field_names.len()
    }

    /// `metadata.name` as a field selector sees it ("" when absent).
    pub fn name(&self) -> &str {
        self.at(NAME)
    }

    /// `metadata.namespace` as a field selector sees it ("" when absent).
    pub fn namespace(&self) -> &str {
        self.at(NAMESPACE)
    }

    pub fn uid(&self) -> Option<&str> {
        self.has_uid.then(|| self.at(UID))
    }

    /// `metadata.ownerReferences[*].uid`.
    pub fn owner_uids(&self) -> impl Iterator<Item = &str> {
        self.range(self.owners_start(), self.owners as usize)
    }

    pub fn has_finalizer(&self, f: &str) -> bool {
        let start = self.owners_start() + self.owners as usize;
        self.range(start, self.spans.len().saturating_sub(start))
            .any(|x| x == f)
    }

    /// The value of label `key`, if the object has it (non-string values read as "").
    pub fn label(&self, key: &str) -> Option<&str> {
        let (mut lo, mut hi) = (0, self.labels as usize);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.at(LABELS + 2 * mid).cmp(key) {
                std::cmp::Ordering::Equal => return Some(self.at(LABELS + 2 * mid + 1)),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// The value of a field a field selector may name ("" when the object has none).
    pub fn field(&self, field: &str) -> &str {
        match field {
            "metadata.name" => self.name(),
            "metadata.namespace" => self.namespace(),
            _ => self
                .field_names
                .iter()
                .position(|f| *f == field)
                .map_or("", |i| self.at(self.fields_start() + i)),
        }
    }

    /// Does `sel` select this object's labels?
    pub fn matches_labels(&self, sel: &LabelSelector) -> bool {
        sel.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => self.label(k) == Some(v),
            Requirement::NotEquals(k, v) => self.label(k) != Some(v),
            Requirement::In(k, vs) => self.label(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Requirement::NotIn(k, vs) => self.label(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            Requirement::Exists(k) => self.label(k).is_some(),
            Requirement::DoesNotExist(k) => self.label(k).is_none(),
        })
    }
}

/// The selectable fields of the kind stored under `key`
/// (`/registry/<group or "core">/<plural>/...`).
fn selectable_fields_of_key(key: &str) -> &'static [&'static str] {
    let mut parts = key.trim_start_matches("/registry/").splitn(3, '/');
    let (Some(group), Some(plural)) = (parts.next(), parts.next()) else {
        return &[];
    };
    let group = if group == "core" { "" } else { group };
    REGISTRY
        .iter()
        .find(|r| r.version == r.storage_version && r.group == group && r.plural == plural)
        .map(strategy::selectable_fields)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::selector::FieldSelector;
    use serde_json::json;

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "prod", "uid": "u1",
                "labels": {"app": "web", "tier": "front", "odd": 3},
                "ownerReferences": [{"uid": "rs-1"}, {"uid": "rs-2"}],
                "finalizers": ["foregroundDeletion"], "deletionTimestamp": "2025-01-01T00:00:00Z"},
            "spec": {"nodeName": "n1", "hostNetwork": true},
            "status": {"phase": "Running"}})
    }

    #[test]
    fn field_values_equal_what_strategy_reads_from_the_object() {
        let obj = pod();
        let idx = ObjectIndex::of("/registry/core/pods/prod/web-1", &obj);
        for f in ["metadata.name", "metadata.namespace"].into_iter().chain(
            strategy::selectable_fields(
                berth_api::registry::lookup("", "v1", "pods").expect("pods registered"),
            )
            .iter()
            .copied(),
        ) {
            assert_eq!(
                idx.field(f),
                strategy::field_value(&obj, f).unwrap_or_default(),
                "{f}"
            );
        }
        assert_eq!(idx.field("spec.nodeName"), "n1");
        assert_eq!(idx.field("spec.hostNetwork"), "true");
        assert_eq!(idx.field("spec.restartPolicy"), "");
        assert_eq!(idx.field("no.such.field"), "");
    }

    #[test]
    fn label_selectors_match_as_on_the_object() {
        let obj = pod();
        let idx = ObjectIndex::of("/registry/core/pods/prod/web-1", &obj);
        for s in [
            "",
            "app=web",
            "app!=web",
            "app in (web,api)",
            "app notin (web)",
            "tier",
            "!tier",
            "missing",
            "!missing",
            "odd=",
            "odd",
            "app=web,tier=back",
            "missing notin (x)",
            "missing!=x",
        ] {
            let sel = LabelSelector::parse(s).expect("selector");
            assert_eq!(idx.matches_labels(&sel), sel.matches_object(&obj), "{s:?}");
        }
    }

    #[test]
    fn garbage_collection_facts_are_indexed() {
        let idx = ObjectIndex::of("/registry/core/pods/prod/web-1", &pod());
        assert_eq!(idx.uid(), Some("u1"));
        assert_eq!(idx.owner_uids().collect::<Vec<_>>(), ["rs-1", "rs-2"]);
        assert!(idx.deleting);
        assert!(idx.has_finalizer("foregroundDeletion"));
        assert!(!idx.has_finalizer("orphan"));
    }

    #[test]
    fn event_fields_follow_the_kind_of_the_key() {
        let ev = json!({"metadata": {"name": "e1", "namespace": "prod"},
            "involvedObject": {"kind": "Pod", "name": "web-1"}, "source": {"component": "kubelet"}, "type": "Normal"});
        let idx = ObjectIndex::of("/registry/core/events/prod/e1", &ev);
        let sel = FieldSelector::parse("involvedObject.name=web-1,source=kubelet,type=Normal")
            .expect("selector");
        assert!(sel.matches(&|f| Some(idx.field(f).to_string())));
        // A pod field means nothing for an Event.
        assert_eq!(idx.field("spec.nodeName"), "");
    }
}
