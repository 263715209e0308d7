//! Type knowledge read from OpenAPI v3 `components.schemas`, as kube-apiserver
//! publishes it: `$ref`s (bare or wrapped in `allOf`), `properties`, `items`,
//! `additionalProperties` and the `x-kubernetes-*` extensions.
//!
//! A [`Ty`] is a *position* in a document: the property schema as written
//! (extensions such as the patch strategy live there) plus, on demand, the
//! definition it refers to (where `x-kubernetes-map-type` usually lives).

use serde_json::{Map, Value};

const REF_PREFIX: &str = "#/components/schemas/";
/// Guards against reference cycles in hand-written or broken documents.
const MAX_REF_DEPTH: usize = 32;

/// The `components.schemas` map of an OpenAPI v3 document.
#[derive(Clone, Copy, Debug)]
pub struct Schemas<'a> {
    defs: &'a Map<String, Value>,
}

/// A position in a document: `None` when no schema is known for it (a CRD
/// without schema, an unknown field, `x-kubernetes-preserve-unknown-fields`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ty<'a> {
    node: Option<&'a Value>,
}

/// What a position holds, as far as merging is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An object with declared `properties`.
    Struct,
    /// An object with `additionalProperties`: free keys of one value type.
    Map,
    /// An array.
    List,
    /// A string, number, boolean, int-or-string, quantity, time ...
    Scalar,
    /// No usable schema: treat by the shape of the value.
    Unknown,
}

/// `x-kubernetes-patch-strategy` of a field, split into its parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PatchStrategy {
    pub merge: bool,
    pub replace: bool,
    pub retain_keys: bool,
}

/// How server-side apply treats a list (structured-merge-diff's view).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced as a whole; owned as one field.
    Atomic,
    /// Scalars merged as a set; items are `v:<json>` fields.
    Set,
    /// Objects merged by these key fields; items are `k:{...}` fields.
    Map(Vec<String>),
}

impl<'a> Schemas<'a> {
    /// Wraps a `components.schemas` map.
    pub fn new(defs: &'a Map<String, Value>) -> Self {
        Schemas { defs }
    }

    /// The root position of a definition such as `io.k8s.api.core.v1.Pod`;
    /// an unknown name gives a schemaless position.
    pub fn root(&self, def_name: &str) -> Ty<'a> {
        Ty {
            node: self.defs.get(def_name),
        }
    }

    /// The definition a node stands for, following `$ref` and single-entry
    /// `allOf`/`anyOf`/`oneOf` wrappers.
    fn resolve(&self, mut node: &'a Value) -> &'a Value {
        for _ in 0..MAX_REF_DEPTH {
            let Some(next) = self.deref_once(node) else {
                return node;
            };
            node = next;
        }
        node
    }

    fn deref_once(&self, node: &'a Value) -> Option<&'a Value> {
        let obj = node.as_object()?;
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            let name = reference.strip_prefix(REF_PREFIX).unwrap_or(reference);
            return self.defs.get(name);
        }
        for wrapper in ["allOf", "anyOf", "oneOf"] {
            if let Some([single]) = obj
                .get(wrapper)
                .and_then(Value::as_array)
                .map(Vec::as_slice)
            {
                return Some(single);
            }
        }
        None
    }

    /// An extension looked up on the position first, then along its
    /// references (the property's own annotation wins).
    fn extension(&self, ty: Ty<'a>, key: &str) -> Option<&'a Value> {
        let mut node = ty.node?;
        for _ in 0..MAX_REF_DEPTH {
            if let Some(found) = node.get(key) {
                return Some(found);
            }
            node = self.deref_once(node)?;
        }
        None
    }

    /// What the position holds.
    pub fn kind(&self, ty: Ty<'a>) -> Kind {
        let Some(node) = ty.node else {
            return Kind::Unknown;
        };
        let def = self.resolve(node);
        let Some(obj) = def.as_object() else {
            return Kind::Unknown;
        };
        if obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            return Kind::Scalar;
        }
        if obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
            && !obj.contains_key("properties")
        {
            return Kind::Unknown;
        }
        if obj.get("properties").is_some_and(Value::is_object) {
            return Kind::Struct;
        }
        if obj
            .get("additionalProperties")
            .is_some_and(Value::is_object)
        {
            return Kind::Map;
        }
        match obj.get("type").and_then(Value::as_str) {
            Some("array") => Kind::List,
            Some("string" | "integer" | "number" | "boolean") => Kind::Scalar,
            Some(_) => Kind::Unknown,
            None if obj.contains_key("items") => Kind::List,
            None if obj.contains_key("anyOf") || obj.contains_key("oneOf") => Kind::Scalar,
            None => Kind::Unknown,
        }
    }

    /// The position of `name` inside an object position: a declared
    /// property, else the `additionalProperties` value type, else unknown.
    pub fn field(&self, ty: Ty<'a>, name: &str) -> Ty<'a> {
        let Some(node) = ty.node else {
            return Ty::default();
        };
        let def = self.resolve(node);
        if let Some(prop) = def.get("properties").and_then(|p| p.get(name)) {
            return Ty { node: Some(prop) };
        }
        match def.get("additionalProperties") {
            Some(additional) if additional.is_object() => Ty {
                node: Some(additional),
            },
            _ => Ty::default(),
        }
    }

    /// Whether `name` is a declared property of a struct position (as
    /// opposed to a free map key or an unknown field).
    pub fn is_declared_field(&self, ty: Ty<'a>, name: &str) -> bool {
        ty.node
            .map(|node| self.resolve(node))
            .and_then(|def| def.get("properties"))
            .is_some_and(|props| props.get(name).is_some())
    }

    /// The element position of a list position.
    pub fn items(&self, ty: Ty<'a>) -> Ty<'a> {
        let node = ty.node.map(|node| self.resolve(node));
        Ty {
            node: node.and_then(|def| def.get("items")),
        }
    }

    /// The schema default of a field, used for list-map keys an item omits.
    pub fn default_of(&self, ty: Ty<'a>) -> Option<&'a Value> {
        self.extension(ty, "default").filter(|v| !v.is_null())
    }

    /// `x-kubernetes-patch-strategy`.
    pub fn patch_strategy(&self, ty: Ty<'a>) -> PatchStrategy {
        let mut strategy = PatchStrategy::default();
        if let Some(text) = self
            .extension(ty, "x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
        {
            for part in text.split(',').map(str::trim) {
                match part {
                    "merge" => strategy.merge = true,
                    "replace" => strategy.replace = true,
                    "retainKeys" => strategy.retain_keys = true,
                    _ => {}
                }
            }
        }
        strategy
    }

    /// The keys a strategic merge patch matches list items by: the patch
    /// merge key, else the `x-kubernetes-list-map-keys` of a list-type map.
    pub fn merge_keys(&self, ty: Ty<'a>) -> Vec<String> {
        if let Some(key) = self
            .extension(ty, "x-kubernetes-patch-merge-key")
            .and_then(Value::as_str)
        {
            return vec![key.to_string()];
        }
        if self.list_type(ty) == Some("map") {
            return self.list_map_keys(ty);
        }
        Vec::new()
    }

    fn list_type(&self, ty: Ty<'a>) -> Option<&'a str> {
        self.extension(ty, "x-kubernetes-list-type")
            .and_then(Value::as_str)
    }

    fn list_map_keys(&self, ty: Ty<'a>) -> Vec<String> {
        self.extension(ty, "x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How server-side apply treats a list position: `x-kubernetes-list-type`
    /// first, then a merge patch strategy (with key: map, without: set),
    /// else atomic — the same derivation kube-openapi uses.
    pub fn list_kind(&self, ty: Ty<'a>) -> ListKind {
        match self.list_type(ty) {
            Some("atomic") => return ListKind::Atomic,
            Some("set") => return ListKind::Set,
            Some("map") => {
                let keys = self.list_map_keys(ty);
                return if keys.is_empty() {
                    ListKind::Atomic
                } else {
                    ListKind::Map(keys)
                };
            }
            _ => {}
        }
        if self.patch_strategy(ty).merge {
            if let Some(key) = self
                .extension(ty, "x-kubernetes-patch-merge-key")
                .and_then(Value::as_str)
            {
                return ListKind::Map(vec![key.to_string()]);
            }
            return ListKind::Set;
        }
        ListKind::Atomic
    }

    /// `x-kubernetes-map-type: atomic` on the field or its definition.
    pub fn is_atomic_map(&self, ty: Ty<'a>) -> bool {
        self.extension(ty, "x-kubernetes-map-type")
            .and_then(Value::as_str)
            == Some("atomic")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs() -> Map<String, Value> {
        let doc = json!({
            "A": {"type": "object", "properties": {
                "b": {"allOf": [{"$ref": "#/components/schemas/B"}], "description": "wrapped"},
                "list": {"type": "array", "items": {"$ref": "#/components/schemas/B"},
                         "x-kubernetes-patch-strategy": "merge,retainKeys",
                         "x-kubernetes-patch-merge-key": "name"},
                "lm": {"type": "array", "items": {"$ref": "#/components/schemas/B"},
                       "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "port"]},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "n": {"type": "integer"}
            }},
            "B": {"type": "object", "x-kubernetes-map-type": "atomic",
                  "properties": {"name": {"type": "string"}}}
        });
        match doc {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn resolves_wrapped_refs_and_extensions() {
        let defs = defs();
        let s = Schemas::new(&defs);
        let a = s.root("A");
        assert_eq!(s.kind(a), Kind::Struct);
        let b = s.field(a, "b");
        assert_eq!(s.kind(b), Kind::Struct);
        assert!(s.is_atomic_map(b));
        let list = s.field(a, "list");
        assert_eq!(s.kind(list), Kind::List);
        let strategy = s.patch_strategy(list);
        assert!(strategy.merge && strategy.retain_keys && !strategy.replace);
        assert_eq!(s.merge_keys(list), vec!["name".to_string()]);
        assert_eq!(s.list_kind(list), ListKind::Map(vec!["name".into()]));
        assert_eq!(s.kind(s.items(list)), Kind::Struct);
        let lm = s.field(a, "lm");
        assert_eq!(
            s.merge_keys(lm),
            vec!["name".to_string(), "port".to_string()]
        );
        let labels = s.field(a, "labels");
        assert_eq!(s.kind(labels), Kind::Map);
        assert_eq!(s.kind(s.field(labels, "anything")), Kind::Scalar);
        assert_eq!(s.kind(s.field(a, "n")), Kind::Scalar);
        assert_eq!(s.kind(s.field(a, "missing")), Kind::Unknown);
        assert!(s.is_declared_field(a, "n"));
        assert!(!s.is_declared_field(labels, "x"));
        assert_eq!(s.kind(s.root("Nope")), Kind::Unknown);
    }
}
