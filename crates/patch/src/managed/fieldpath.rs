//! Field paths and field sets as structured-merge-diff defines them, with the
//! FieldsV1 JSON encoding `metadata.managedFields` uses:
//! `f:<name>` a field, `k:{json}` a list item by key, `v:<json>` a set item,
//! `i:<n>` an item by index, `.` the node itself.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// One step of a path into an object.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// A field of an object (struct field or map key).
    Field(String),
    /// An item of an associative list, by its key fields (sorted by name).
    Key(Vec<(String, Value)>),
    /// An item of a set, by value.
    Value(Value),
    /// An item of a list by position (lists without keys; rarely used).
    Index(usize),
}

/// A path from the object root.
pub type Path = Vec<PathElement>;

impl PathElement {
    /// Builds a key element, sorting key fields by name as SMD does.
    pub fn key(mut fields: Vec<(String, Value)>) -> Self {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The FieldsV1 spelling (`f:name`, `k:{"name":"web"}`, `v:"x"`, `i:0`).
    pub fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let mut object = Map::new();
                for (name, value) in fields {
                    object.insert(name.clone(), value.clone());
                }
                format!("k:{}", Value::Object(object))
            }
            PathElement::Value(value) => format!("v:{value}"),
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Parses the FieldsV1 spelling.
    pub fn decode(text: &str) -> Result<Self, String> {
        let bad = || format!("invalid managedFields path element {text:?}");
        if let Some(name) = text.strip_prefix("f:") {
            return Ok(PathElement::Field(name.to_string()));
        }
        if let Some(json) = text.strip_prefix("k:") {
            let Ok(Value::Object(object)) = serde_json::from_str::<Value>(json) else {
                return Err(bad());
            };
            return Ok(PathElement::key(object.into_iter().collect()));
        }
        if let Some(json) = text.strip_prefix("v:") {
            return serde_json::from_str(json)
                .map(PathElement::Value)
                .map_err(|_| bad());
        }
        if let Some(index) = text.strip_prefix("i:") {
            return index.parse().map(PathElement::Index).map_err(|_| bad());
        }
        Err(bad())
    }

    /// The human spelling used in conflict messages (`.spec`, `[name="web"]`).
    fn write_display(&self, out: &mut String) {
        match self {
            PathElement::Field(name) => {
                let _ = write!(out, ".{name}");
            }
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect();
                let _ = write!(out, "[{}]", parts.join(","));
            }
            PathElement::Value(value) => {
                let _ = write!(out, "[={value}]");
            }
            PathElement::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
}

/// `.spec.template.spec.containers[name="web"].image`
pub fn display_path(path: &[PathElement]) -> String {
    let mut out = String::new();
    for element in path {
        element.write_display(&mut out);
    }
    out
}

/// A total order over JSON values (type first, then value) for sorting keys.
fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            let (fx, fy) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            fx.partial_cmp(&fy)
                .unwrap_or(Ordering::Equal)
                .then_with(|| x.to_string().cmp(&y.to_string()))
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (left, right) in x.iter().zip(y) {
                let order = compare_values(left, right);
                if order != Ordering::Equal {
                    return order;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(_), Value::Object(_)) => a.to_string().cmp(&b.to_string()),
        _ => rank(a).cmp(&rank(b)),
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((name_a, value_a), (name_b, value_b)) in a.iter().zip(b) {
                    let order = name_a
                        .cmp(name_b)
                        .then_with(|| compare_values(value_a, value_b));
                    if order != Ordering::Equal {
                        return order;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

/// A set of paths, stored as a tree: `members` are paths ending here,
/// `children` hold longer paths by their next element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds a path (the empty path, the root itself, is never a member).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self
                .children
                .get(first)
                .is_some_and(|child| child.has(rest)),
        }
    }

    /// Whether `element` (one step below this node) is a member.
    pub fn has_member(&self, element: &PathElement) -> bool {
        self.members.contains(element)
    }

    /// Paths below `element`, relative to it.
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element)
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (element, child) in &other.children {
            let merged = match out.children.get(element) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(element.clone(), merged);
        }
        out
    }

    /// Paths of `self` that are not paths of `other` (member-wise: a member
    /// of `other` does not remove longer paths of `self`).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .map(|(element, child)| match other.children.get(element) {
                Some(theirs) => (element.clone(), child.difference(theirs)),
                None => (element.clone(), child.clone()),
            })
            .filter(|(_, child)| !child.is_empty())
            .collect();
        FieldSet { members, children }
    }

    /// Paths of `self` that have no prefix in `other`, where a member of
    /// `other` removes itself and everything below it.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter(|(element, _)| !other.members.contains(element))
            .map(|(element, child)| match other.children.get(element) {
                Some(theirs) => (element.clone(), child.recursive_difference(theirs)),
                None => (element.clone(), child.clone()),
            })
            .filter(|(_, child)| !child.is_empty())
            .collect();
        FieldSet { members, children }
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(element, child)| {
                let shared = child.intersection(other.children.get(element)?);
                (!shared.is_empty()).then(|| (element.clone(), shared))
            })
            .collect();
        FieldSet { members, children }
    }

    /// A copy where every child node `promote` accepts is also a member.
    /// `ctx` is the caller's notion of the position of this node (e.g. its
    /// schema type); `descend` gives a child's.
    pub(crate) fn with_promoted_members<C: Copy>(
        &self,
        ctx: C,
        descend: &impl Fn(C, &PathElement) -> C,
        promote: &impl Fn(C, &PathElement) -> bool,
    ) -> FieldSet {
        let mut members = self.members.clone();
        let mut children = BTreeMap::new();
        for (element, child) in &self.children {
            if child.is_empty() {
                continue;
            }
            if promote(ctx, element) {
                members.insert(element.clone());
            }
            let child_ctx = descend(ctx, element);
            children.insert(
                element.clone(),
                child.with_promoted_members(child_ctx, descend, promote),
            );
        }
        FieldSet { members, children }
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        let mut elements: BTreeSet<&PathElement> = self.members.iter().collect();
        elements.extend(self.children.keys());
        for element in elements {
            prefix.push(element.clone());
            if self.members.contains(element) {
                out.push(prefix.clone());
            }
            if let Some(child) = self.children.get(element) {
                child.collect_paths(prefix, out);
            }
            prefix.pop();
        }
    }

    /// The FieldsV1 JSON of this set.
    pub fn to_fields_v1(&self) -> Value {
        let mut elements: BTreeSet<&PathElement> = self.members.iter().collect();
        elements.extend(
            self.children
                .iter()
                .filter(|(_, c)| !c.is_empty())
                .map(|(e, _)| e),
        );
        let mut object = Map::new();
        for element in elements {
            let child = self.children.get(element).filter(|c| !c.is_empty());
            let encoded = match child {
                Some(child) => {
                    let mut node = Map::new();
                    if self.members.contains(element) {
                        node.insert(".".to_string(), Value::Object(Map::new()));
                    }
                    if let Value::Object(inner) = child.to_fields_v1() {
                        node.extend(inner);
                    }
                    Value::Object(node)
                }
                None => Value::Object(Map::new()),
            };
            object.insert(element.encode(), encoded);
        }
        Value::Object(object)
    }

    /// Parses FieldsV1 JSON.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let Some(object) = value.as_object() else {
            return Err("managedFields fieldsV1 must be an object".to_string());
        };
        let mut set = FieldSet::new();
        for (text, inner) in object {
            if text == "." {
                continue;
            }
            let element = PathElement::decode(text)?;
            let inner_object = inner.as_object();
            let is_leaf = inner_object.is_none_or(|o| o.is_empty());
            if is_leaf || inner_object.is_some_and(|o| o.contains_key(".")) {
                set.members.insert(element.clone());
            }
            if !is_leaf {
                let child = FieldSet::from_fields_v1(inner)?;
                if !child.is_empty() {
                    set.children.insert(element, child);
                }
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    #[test]
    fn fields_v1_round_trip_keeps_kubernetes_layout() {
        let encoded = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}
            }}}, "f:finalizers": {"v:\"a\"": {}}}
        });
        let set = FieldSet::from_fields_v1(&encoded).unwrap_or_default();
        let web = PathElement::key(vec![("name".into(), json!("web"))]);
        let containers = [
            field("spec"),
            field("template"),
            field("spec"),
            field("containers"),
        ];
        let mut item = containers.to_vec();
        item.push(web.clone());
        assert!(set.has(&item));
        let mut image = item.clone();
        image.push(field("image"));
        assert!(set.has(&image));
        assert!(set.has(&[field("metadata"), field("labels")]));
        assert!(!set.has(&[field("metadata")]));
        assert_eq!(set.to_fields_v1().to_string(), encoded.to_string().replace(
            // members and children come out in sorted order: finalizers < template
            "{\"f:template\":{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{}}}}},\"f:finalizers\":{\"v:\\\"a\\\"\":{}}}",
            "{\"f:finalizers\":{\"v:\\\"a\\\"\":{}},\"f:template\":{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{}}}}}}",
        ));
        assert_eq!(
            display_path(&image),
            ".spec.template.spec.containers[name=\"web\"].image"
        );
    }

    #[test]
    fn multi_field_keys_are_sorted_by_name() {
        let element = PathElement::key(vec![
            ("protocol".into(), json!("TCP")),
            ("containerPort".into(), json!(80)),
        ]);
        assert_eq!(
            element.encode(),
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"
        );
        assert_eq!(PathElement::decode(&element.encode()), Ok(element));
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::new();
        a.insert(&[field("spec"), field("replicas")]);
        a.insert(&[field("spec"), field("paused")]);
        let mut b = FieldSet::new();
        b.insert(&[field("spec"), field("replicas")]);
        b.insert(&[field("metadata")]);
        assert_eq!(
            a.intersection(&b).paths(),
            vec![vec![field("spec"), field("replicas")]]
        );
        assert_eq!(
            a.difference(&b).paths(),
            vec![vec![field("spec"), field("paused")]]
        );
        assert_eq!(a.union(&b).paths().len(), 3);
        let mut spec = FieldSet::new();
        spec.insert(&[field("spec")]);
        assert!(a.recursive_difference(&spec).is_empty());
        assert!(!a.difference(&spec).is_empty());
    }
}
