//! Schema-aware walks over objects for server-side apply, mirroring
//! structured-merge-diff's typed values: the field set of an object, the
//! merge of an applied configuration into a live object, removal of a set of
//! fields, and the comparison of two objects.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::fieldpath::{FieldSet, Path, PathElement};
use crate::schema::{Kind, ListKind, Schemas, Ty};

/// How a value at a position is treated.
enum Shape {
    /// An object merged key by key; `declared` when its keys are struct fields.
    Granular { declared: bool },
    /// A list whose items are tracked individually.
    Associative(ListKind),
    /// A scalar, an atomic object or list, or a value that does not fit its
    /// schema: owned and replaced as a whole.
    Leaf,
}

pub(crate) struct Typed<'s, 'a> {
    pub schemas: &'s Schemas<'a>,
}

/// What changed between two objects.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub removed: FieldSet,
    pub modified: FieldSet,
}

impl<'a> Typed<'_, 'a> {
    fn shape(&self, value: &Value, ty: Ty<'a>) -> Shape {
        match (self.schemas.kind(ty), value) {
            (Kind::Struct, Value::Object(_)) | (Kind::Map, Value::Object(_)) => {
                if self.schemas.is_atomic_map(ty) {
                    Shape::Leaf
                } else {
                    Shape::Granular {
                        declared: self.schemas.kind(ty) == Kind::Struct,
                    }
                }
            }
            (Kind::Unknown, Value::Object(_)) => Shape::Granular { declared: false },
            (Kind::List, Value::Array(_)) => match self.schemas.list_kind(ty) {
                ListKind::Atomic => Shape::Leaf,
                other => Shape::Associative(other),
            },
            _ => Shape::Leaf,
        }
    }

    /// The path element naming `item` in a list of `kind`.
    fn item_element(
        &self,
        item: &Value,
        kind: &ListKind,
        items_ty: Ty<'a>,
    ) -> Result<PathElement, String> {
        match kind {
            ListKind::Map(keys) => {
                let object = item
                    .as_object()
                    .ok_or_else(|| "associative list item is not an object".to_string())?;
                let mut fields = Vec::with_capacity(keys.len());
                for key in keys {
                    let value = object
                        .get(key)
                        .filter(|v| !v.is_null())
                        .or_else(|| self.schemas.default_of(self.schemas.field(items_ty, key)));
                    match value {
                        Some(value) => fields.push((key.clone(), value.clone())),
                        None => {
                            return Err(format!(
                                "associative list with keys has an element that omits key field {key:?}"
                            ))
                        }
                    }
                }
                Ok(PathElement::key(fields))
            }
            _ => Ok(PathElement::Value(item.clone())),
        }
    }

    /// Every field `value` sets (structured-merge-diff's ToFieldSet):
    /// scalars and atomic values, map keys, list items (`.`), set items;
    /// struct fields only when null or an empty object.
    pub fn field_set(&self, value: &Value, ty: Ty<'a>) -> Result<FieldSet, String> {
        let mut set = FieldSet::new();
        self.collect(value, ty, &mut Vec::new(), &mut set)?;
        Ok(set)
    }

    fn collect(
        &self,
        value: &Value,
        ty: Ty<'a>,
        path: &mut Path,
        set: &mut FieldSet,
    ) -> Result<(), String> {
        match (self.shape(value, ty), value) {
            (Shape::Granular { declared }, Value::Object(object)) => {
                for (key, child) in object {
                    let child_ty = self.schemas.field(ty, key);
                    path.push(PathElement::Field(key.clone()));
                    self.collect(child, child_ty, path, set)?;
                    let empty_object = child.as_object().is_some_and(Map::is_empty);
                    let is_struct_field = declared && self.schemas.is_declared_field(ty, key);
                    if child.is_null() || empty_object || !is_struct_field {
                        set.insert(path);
                    }
                    path.pop();
                }
            }
            (Shape::Associative(kind), Value::Array(items)) => {
                let items_ty = self.schemas.items(ty);
                for item in items {
                    let element = self.item_element(item, &kind, items_ty).map_err(|err| {
                        format!("{}: {err}", super::fieldpath::display_path(path))
                    })?;
                    path.push(element);
                    set.insert(path);
                    if matches!(kind, ListKind::Map(_)) {
                        self.collect(item, items_ty, path, set)?;
                    }
                    path.pop();
                }
            }
            _ => set.insert(path),
        }
        Ok(())
    }

    /// structured-merge-diff's `EnsureNamedFieldsAreMembers`: every declared
    /// struct field with paths below it becomes a member itself (`.spec`,
    /// `.spec.ports` for `.spec.ports[...].port`), but not map keys or list
    /// items. Pruning compares sets in this form, so that a `.` node one
    /// manager recorded (an Update, or one merged in by kubectl's
    /// csaupgrade) is still owned when another set only owns leaves below it.
    pub fn with_named_fields_as_members(&self, set: &FieldSet, ty: Ty<'a>) -> FieldSet {
        let descend = |ty: Ty<'a>, element: &PathElement| match element {
            PathElement::Field(name) => self.schemas.field(ty, name),
            _ => self.schemas.items(ty),
        };
        let promote = |ty: Ty<'a>, element: &PathElement| match element {
            PathElement::Field(name) => {
                self.schemas.kind(ty) == Kind::Struct && self.schemas.is_declared_field(ty, name)
            }
            _ => false,
        };
        set.with_promoted_members(ty, &descend, &promote)
    }

    /// Merges an applied configuration into a live value: applied fields win,
    /// granular objects merge by key, associative lists by item.
    pub fn merge(
        &self,
        live: Option<&Value>,
        applied: &Value,
        ty: Ty<'a>,
    ) -> Result<Value, String> {
        let Some(live) = live else {
            return Ok(without_nulls(applied));
        };
        match (self.shape(applied, ty), live, applied) {
            (Shape::Granular { .. }, Value::Object(live_map), Value::Object(applied_map)) => {
                let mut out = live_map.clone();
                for (key, value) in applied_map {
                    if value.is_null() {
                        out.remove(key);
                        continue;
                    }
                    let merged =
                        self.merge(live_map.get(key), value, self.schemas.field(ty, key))?;
                    out.insert(key.clone(), merged);
                }
                Ok(Value::Object(out))
            }
            (Shape::Associative(kind), Value::Array(live_items), Value::Array(applied_items)) => {
                let items_ty = self.schemas.items(ty);
                let element = |item: &Value| self.item_element(item, &kind, items_ty);
                let live_elements: Vec<Option<PathElement>> =
                    live_items.iter().map(|item| element(item).ok()).collect();
                let applied_elements: Vec<PathElement> = applied_items
                    .iter()
                    .map(element)
                    .collect::<Result<_, _>>()?;
                let merged = interleave(&live_elements, &applied_elements);
                let mut out = Vec::with_capacity(merged.len());
                for step in merged {
                    match step {
                        Step::Live(index) => out.push(live_items[index].clone()),
                        Step::Applied(index, live_index) => {
                            let live_item = live_index.map(|i| &live_items[i]);
                            out.push(match kind {
                                ListKind::Map(_) => {
                                    self.merge(live_item, &applied_items[index], items_ty)?
                                }
                                _ => applied_items[index].clone(),
                            });
                        }
                    }
                }
                Ok(Value::Array(out))
            }
            _ => Ok(without_nulls(applied)),
        }
    }

    /// Removes every member of `set` from `value` (with everything below it);
    /// objects and lists emptied by the removal disappear too.
    pub fn remove(&self, value: &mut Value, ty: Ty<'a>, set: &FieldSet) {
        let shape = self.shape(value, ty);
        match (shape, value) {
            (Shape::Granular { .. }, Value::Object(object)) => {
                let keys: Vec<String> = object.keys().cloned().collect();
                for key in keys {
                    let element = PathElement::Field(key.clone());
                    if set.has_member(&element) {
                        object.remove(&key);
                    } else if let (Some(child_set), Some(child)) =
                        (set.child(&element), object.get_mut(&key))
                    {
                        let was_empty = is_empty_container(child);
                        self.remove(child, self.schemas.field(ty, &key), child_set);
                        if !was_empty && is_empty_container(child) {
                            object.remove(&key);
                        }
                    }
                }
            }
            (Shape::Associative(kind), Value::Array(items)) => {
                let items_ty = self.schemas.items(ty);
                let mut kept = Vec::with_capacity(items.len());
                for mut item in std::mem::take(items) {
                    let Ok(element) = self.item_element(&item, &kind, items_ty) else {
                        kept.push(item);
                        continue;
                    };
                    if set.has_member(&element) {
                        continue;
                    }
                    if let Some(child_set) = set.child(&element) {
                        self.remove(&mut item, items_ty, child_set);
                    }
                    kept.push(item);
                }
                *items = kept;
            }
            _ => {}
        }
    }

    /// Fields added, removed and modified from `old` (`None`: a create) to
    /// `new`. Like structured-merge-diff, objects and lists that appear or
    /// disappear as a whole count as added or removed nodes themselves (the
    /// `.` entries of Update records). On a create, struct-typed objects do
    /// not: kube compares against the zero value of the Go type, where
    /// (non-pointer) structs already exist.
    pub fn compare(
        &self,
        old: Option<&Value>,
        new: &Value,
        ty: Ty<'a>,
    ) -> Result<Comparison, String> {
        let empty = Value::Object(Map::new());
        let is_create = old.is_none();
        let old = old.unwrap_or(&empty);
        let old_set = self.field_set(old, ty)?;
        let new_set = self.field_set(new, ty)?;
        let mut modified = FieldSet::new();
        self.collect_modified(old, new, ty, &mut Vec::new(), &mut modified);
        let mut added = new_set.difference(&old_set);
        self.collect_new_nodes(Some(old), new, ty, is_create, &mut Vec::new(), &mut added);
        let mut removed = old_set.difference(&new_set);
        self.collect_new_nodes(Some(new), old, ty, false, &mut Vec::new(), &mut removed);
        Ok(Comparison {
            added,
            removed,
            modified,
        })
    }

    /// Objects and associative lists inside `value` that `base` lacks.
    fn collect_new_nodes(
        &self,
        base: Option<&Value>,
        value: &Value,
        ty: Ty<'a>,
        skip_structs: bool,
        path: &mut Path,
        out: &mut FieldSet,
    ) {
        let is_node = matches!(
            self.shape(value, ty),
            Shape::Granular { .. } | Shape::Associative(_)
        );
        if !is_node {
            return;
        }
        if base.is_none() && !(skip_structs && self.schemas.kind(ty) == Kind::Struct) {
            out.insert(path);
        }
        match (self.shape(value, ty), value) {
            (Shape::Granular { .. }, Value::Object(object)) => {
                for (key, child) in object {
                    let child_base = base.and_then(|b| b.get(key));
                    path.push(PathElement::Field(key.clone()));
                    self.collect_new_nodes(
                        child_base,
                        child,
                        self.schemas.field(ty, key),
                        skip_structs,
                        path,
                        out,
                    );
                    path.pop();
                }
            }
            (Shape::Associative(kind @ ListKind::Map(_)), Value::Array(items)) => {
                let items_ty = self.schemas.items(ty);
                let base_items = base.and_then(Value::as_array);
                for item in items {
                    let Ok(element) = self.item_element(item, &kind, items_ty) else {
                        continue;
                    };
                    let item_base = base_items.and_then(|list| {
                        list.iter().find(|candidate| {
                            self.item_element(candidate, &kind, items_ty).ok().as_ref()
                                == Some(&element)
                        })
                    });
                    path.push(element);
                    // The item itself is already a member of the field set.
                    self.collect_new_item_nodes(item_base, item, items_ty, skip_structs, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// Like `collect_new_nodes` for the inside of a list item (whose own
    /// path is a field-set member already).
    fn collect_new_item_nodes(
        &self,
        base: Option<&Value>,
        item: &Value,
        ty: Ty<'a>,
        skip_structs: bool,
        path: &mut Path,
        out: &mut FieldSet,
    ) {
        if let (Shape::Granular { .. }, Value::Object(object)) = (self.shape(item, ty), item) {
            for (key, child) in object {
                let child_base = base.and_then(|b| b.get(key));
                path.push(PathElement::Field(key.clone()));
                self.collect_new_nodes(
                    child_base,
                    child,
                    self.schemas.field(ty, key),
                    skip_structs,
                    path,
                    out,
                );
                path.pop();
            }
        }
    }

    fn collect_modified(
        &self,
        old: &Value,
        new: &Value,
        ty: Ty<'a>,
        path: &mut Path,
        out: &mut FieldSet,
    ) {
        match (self.shape(old, ty), self.shape(new, ty), old, new) {
            (
                Shape::Granular { .. },
                Shape::Granular { .. },
                Value::Object(old_map),
                Value::Object(new_map),
            ) => {
                for (key, new_value) in new_map {
                    if let Some(old_value) = old_map.get(key) {
                        path.push(PathElement::Field(key.clone()));
                        self.collect_modified(
                            old_value,
                            new_value,
                            self.schemas.field(ty, key),
                            path,
                            out,
                        );
                        path.pop();
                    }
                }
            }
            (
                Shape::Associative(kind),
                Shape::Associative(_),
                Value::Array(old_items),
                Value::Array(new_items),
            ) => {
                if !matches!(kind, ListKind::Map(_)) {
                    return;
                }
                let items_ty = self.schemas.items(ty);
                let old_by_element: Vec<(PathElement, &Value)> = old_items
                    .iter()
                    .filter_map(|item| Some((self.item_element(item, &kind, items_ty).ok()?, item)))
                    .collect();
                for new_item in new_items {
                    let Ok(element) = self.item_element(new_item, &kind, items_ty) else {
                        continue;
                    };
                    if let Some((_, old_item)) = old_by_element.iter().find(|(e, _)| *e == element)
                    {
                        path.push(element);
                        self.collect_modified(old_item, new_item, items_ty, path, out);
                        path.pop();
                    }
                }
            }
            _ => {
                if old != new {
                    out.insert(path);
                }
            }
        }
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(object) => object.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// A copy without null-valued object keys (the API server drops them on decode).
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// One item of a merged associative list.
enum Step {
    /// A live item the applied list does not mention.
    Live(usize),
    /// An applied item, with its live counterpart if any.
    Applied(usize, Option<usize>),
}

/// The order structured-merge-diff gives a merged associative list: applied
/// items in applied order, live-only items kept where they were relative to
/// the shared ones.
fn interleave(live: &[Option<PathElement>], applied: &[PathElement]) -> Vec<Step> {
    let live_index: HashMap<String, usize> = live
        .iter()
        .enumerate()
        .rev()
        .filter_map(|(i, e)| Some((e.as_ref()?.encode(), i)))
        .collect();
    let applied_index: HashMap<String, usize> = applied
        .iter()
        .enumerate()
        .rev()
        .map(|(i, e)| (e.encode(), i))
        .collect();
    let in_applied = |i: usize| -> bool {
        live[i]
            .as_ref()
            .is_some_and(|e| applied_index.contains_key(&e.encode()))
    };
    let mut shared = applied
        .iter()
        .filter(|e| live_index.contains_key(&e.encode()))
        .map(PathElement::encode)
        .collect::<Vec<_>>()
        .into_iter();
    let mut next_shared = shared.next();
    let mut emitted_applied = vec![false; applied.len()];
    let mut out = Vec::with_capacity(live.len() + applied.len());
    let (mut l, mut r) = (0, 0);
    while l < live.len() || r < applied.len() {
        if r < applied.len() && emitted_applied[r] {
            r += 1;
            continue;
        }
        if l < live.len() && r < applied.len() {
            let live_key = live[l].as_ref().map(PathElement::encode);
            let applied_key = applied[r].encode();
            if live_key.as_deref() == Some(applied_key.as_str()) {
                out.push(Step::Applied(r, Some(l)));
                emitted_applied[r] = true;
                if next_shared.as_deref() == Some(applied_key.as_str()) {
                    next_shared = shared.next();
                }
                l += 1;
                r += 1;
                continue;
            }
            if in_applied(l) && next_shared.is_some() && next_shared != live_key {
                l += 1;
                continue;
            }
        }
        if l < live.len() {
            if !in_applied(l) {
                out.push(Step::Live(l));
                l += 1;
                continue;
            }
            let key = live[l]
                .as_ref()
                .map(PathElement::encode)
                .unwrap_or_default();
            if applied_index.get(&key).is_some_and(|&i| emitted_applied[i]) {
                l += 1;
                continue;
            }
        }
        if r < applied.len() {
            let key = applied[r].encode();
            out.push(Step::Applied(r, live_index.get(&key).copied()));
            emitted_applied[r] = true;
            if next_shared.as_deref() == Some(key.as_str()) {
                next_shared = shared.next();
            }
            r += 1;
        } else {
            // Only shared live items whose applied twin was already emitted remain.
            l += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(items: &[&str]) -> Vec<PathElement> {
        items
            .iter()
            .map(|n| PathElement::key(vec![("name".into(), json!(n))]))
            .collect()
    }

    fn order(live: &[&str], applied: &[&str]) -> Vec<String> {
        let live_elements: Vec<Option<PathElement>> = names(live).into_iter().map(Some).collect();
        interleave(&live_elements, &names(applied))
            .into_iter()
            .map(|step| match step {
                Step::Live(i) => live[i].to_string(),
                Step::Applied(i, _) => applied[i].to_string(),
            })
            .collect()
    }

    #[test]
    fn interleave_keeps_live_only_items_in_place() {
        assert_eq!(
            order(&["web", "sidecar"], &["web", "new"]),
            ["web", "sidecar", "new"]
        );
        assert_eq!(order(&["a", "b", "c"], &["c", "a"]), ["b", "c", "a"]);
        assert_eq!(order(&[], &["x", "y"]), ["x", "y"]);
        assert_eq!(order(&["x", "y"], &[]), ["x", "y"]);
        assert_eq!(order(&["a", "b"], &["b", "a"]), ["b", "a"]);
    }
}
