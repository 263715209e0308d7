//! Strategic merge patch (`application/strategic-merge-patch+json`), the
//! format `kubectl apply` (client-side), `edit` and `patch` send.
//!
//! Semantics follow k8s.io/apimachinery/pkg/util/strategicpatch as the API
//! server runs it (merge parallel lists, ignore unmatched nulls):
//! - objects merge key by key, `null` deletes a key;
//! - lists whose field has patch strategy `merge` merge items by the patch
//!   merge key (or by `x-kubernetes-list-map-keys` of a list-type map);
//!   merge lists of scalars merge as sets; every other list is replaced;
//! - directives: `$patch: replace|merge|delete` on objects and list items,
//!   `$retainKeys`, `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>`;
//! - positions without a schema behave like a JSON merge patch.
//!
//! No directive key survives into the result.

use serde_json::{Map, Value};

use crate::precondition::check_resource_version;
use crate::schema::{Schemas, Ty};
use crate::PatchError;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

type Result<T> = std::result::Result<T, PatchError>;

/// Applies a strategic merge patch to `original`, a document of the OpenAPI
/// definition `root_def` (e.g. `io.k8s.api.apps.v1.Deployment`).
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    schemas: &Schemas,
    root_def: &str,
) -> Result<Value> {
    let Some(patch_map) = patch.as_object() else {
        return Err(PatchError::Invalid(
            "strategic merge patch must be a JSON object".to_string(),
        ));
    };
    let original_map = match original {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        _ => {
            return Err(PatchError::Invalid(
                "strategic merge patch can only be applied to an object".to_string(),
            ))
        }
    };
    let merger = Merger { schemas };
    let merged =
        Value::Object(merger.merge_map(original_map, patch_map, schemas.root(root_def))?);
    check_resource_version(original, &merged)?;
    Ok(merged)
}

/// How a strategic merge patch combines a list with the live one.
enum ListMerge {
    /// The patch list replaces the live list.
    Replace,
    /// Scalars merged as a set (patch strategy merge without merge key).
    Scalars,
    /// Objects matched by these key fields and merged.
    ByKeys(Vec<String>),
}

struct Merger<'s, 'a> {
    schemas: &'s Schemas<'a>,
}

impl<'a> Merger<'_, 'a> {
    fn list_merge(&self, ty: Ty<'a>) -> ListMerge {
        let strategy = self.schemas.patch_strategy(ty);
        if strategy.replace && !strategy.merge {
            return ListMerge::Replace;
        }
        let keys = self.schemas.merge_keys(ty);
        match (strategy.merge, keys.is_empty()) {
            (_, false) => ListMerge::ByKeys(keys),
            (true, true) => ListMerge::Scalars,
            (false, true) => ListMerge::Replace,
        }
    }

    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        patch: &Map<String, Value>,
        ty: Ty<'a>,
    ) -> Result<Map<String, Value>> {
        if let Some(directive) = patch.get(DIRECTIVE) {
            match directive.as_str() {
                Some("replace") => {
                    let mut rest = patch.clone();
                    rest.remove(DIRECTIVE);
                    return self.merge_map(Map::new(), &rest, ty);
                }
                Some("delete") => return Ok(Map::new()),
                Some("merge") => {}
                _ => {
                    return Err(PatchError::Invalid(format!(
                        "Unknown patch type: {directive} in map: {}",
                        Value::Object(patch.clone())
                    )))
                }
            }
        }
        if let Some(retain) = patch.get(RETAIN_KEYS) {
            apply_retain_keys(&mut original, patch, retain)?;
        }
        let ordered = self.apply_set_element_orders(&mut original, patch, ty)?;

        for (key, patch_value) in patch {
            if key == DIRECTIVE || key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) {
                continue;
            }
            if ordered.iter().any(|done| done == key) {
                continue;
            }
            if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
                delete_from_primitive_list(&mut original, field, patch_value)?;
                continue;
            }
            if patch_value.is_null() {
                original.remove(key);
                continue;
            }
            let field_ty = self.schemas.field(ty, key);
            let merged = match original.remove(key) {
                Some(live) => self.merge_value(live, patch_value, field_ty)?,
                None => self.fresh(patch_value, field_ty)?,
            };
            original.insert(key.clone(), merged);
        }
        Ok(original)
    }

    /// Merges a patch value into a live value of the same position.
    fn merge_value(&self, live: Value, patch: &Value, ty: Ty<'a>) -> Result<Value> {
        match (live, patch) {
            (Value::Object(live), Value::Object(patch)) => {
                if self.schemas.patch_strategy(ty).replace {
                    return self.fresh(&Value::Object(patch.clone()), ty);
                }
                Ok(Value::Object(self.merge_map(live, patch, ty)?))
            }
            (Value::Array(live), Value::Array(patch)) => {
                Ok(Value::Array(self.merge_list(live, patch, ty)?))
            }
            (_, patch) => self.fresh(patch, ty),
        }
    }

    /// A patch value placed where the live object has nothing: directives
    /// are still interpreted (and removed), nulls dropped.
    fn fresh(&self, patch: &Value, ty: Ty<'a>) -> Result<Value> {
        match patch {
            Value::Object(map) => Ok(Value::Object(self.merge_map(Map::new(), map, ty)?)),
            Value::Array(items) => Ok(Value::Array(self.merge_list(Vec::new(), items, ty)?)),
            scalar => Ok(scalar.clone()),
        }
    }

    fn merge_list(&self, live: Vec<Value>, patch: &[Value], ty: Ty<'a>) -> Result<Vec<Value>> {
        let items_ty = self.schemas.items(ty);
        match self.list_merge(ty) {
            ListMerge::ByKeys(keys) if patch.iter().chain(&live).all(Value::is_object) => {
                self.merge_keyed_list(live, patch, &keys, items_ty)
            }
            ListMerge::Scalars if !patch.iter().chain(&live).any(Value::is_object) => {
                Ok(merge_scalar_list(live, patch))
            }
            _ => patch
                .iter()
                .filter(|item| item.get(DIRECTIVE).is_none())
                .map(|item| self.fresh(item, items_ty))
                .collect(),
        }
    }

    fn merge_keyed_list(
        &self,
        mut live: Vec<Value>,
        patch: &[Value],
        keys: &[String],
        items_ty: Ty<'a>,
    ) -> Result<Vec<Value>> {
        let mut regular: Vec<&Value> = Vec::new();
        let mut replace = false;
        for item in patch {
            let Some(directive) = item.get(DIRECTIVE) else {
                regular.push(item);
                continue;
            };
            match directive.as_str() {
                Some("delete") => {
                    let key = self.required_key(item, keys, items_ty)?;
                    live.retain(|existing| {
                        self.item_key(existing, keys, items_ty).as_ref() != Some(&key)
                    });
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(PatchError::Invalid(
                        "merging lists cannot yet be specified in the patch".to_string(),
                    ))
                }
                _ => {
                    return Err(PatchError::Invalid(format!(
                        "Unknown patch type: {directive} in map: {item}"
                    )))
                }
            }
        }
        if replace {
            return regular
                .into_iter()
                .map(|item| self.fresh(item, items_ty))
                .collect();
        }

        let server_order: Vec<Option<Vec<Value>>> = live
            .iter()
            .map(|item| self.item_key(item, keys, items_ty))
            .collect();
        let mut patch_keys = Vec::with_capacity(regular.len());
        for item in &regular {
            let key = self.required_key(item, keys, items_ty)?;
            let position = live.iter().position(|existing| {
                self.item_key(existing, keys, items_ty).as_ref() == Some(&key)
            });
            match (position, item.as_object()) {
                (Some(index), Some(patch_map)) => {
                    let existing = std::mem::take(&mut live[index]);
                    let existing_map = match existing {
                        Value::Object(map) => map,
                        _ => Map::new(),
                    };
                    live[index] =
                        Value::Object(self.merge_map(existing_map, patch_map, items_ty)?);
                }
                _ => live.push(self.fresh(item, items_ty)?),
            }
            patch_keys.push(key);
        }

        let keyed: Vec<(Option<Vec<Value>>, Value)> = live
            .into_iter()
            .map(|item| (self.item_key(&item, keys, items_ty), item))
            .collect();
        Ok(order_merged(keyed, &patch_keys, &server_order))
    }

    /// The key of a list item: its values of the key fields, with schema
    /// defaults for absent ones; `None` when it has none of them.
    fn item_key(&self, item: &Value, keys: &[String], items_ty: Ty<'a>) -> Option<Vec<Value>> {
        let object = item.as_object()?;
        if !keys.iter().any(|key| object.contains_key(key)) {
            return None;
        }
        Some(
            keys.iter()
                .map(|key| {
                    object
                        .get(key)
                        .or_else(|| self.schemas.default_of(self.schemas.field(items_ty, key)))
                        .cloned()
                        .unwrap_or(Value::Null)
                })
                .collect(),
        )
    }

    fn required_key(&self, item: &Value, keys: &[String], items_ty: Ty<'a>) -> Result<Vec<Value>> {
        self.item_key(item, keys, items_ty).ok_or_else(|| {
            PatchError::Unprocessable(format!(
                "map: {item} does not contain declared merge key: {}",
                keys.join(",")
            ))
        })
    }

    /// Handles every `$setElementOrder/<field>` of a patch map: merges the
    /// field's patch list (if any) and orders the result. Returns the fields
    /// it handled so the main loop skips them.
    fn apply_set_element_orders(
        &self,
        original: &mut Map<String, Value>,
        patch: &Map<String, Value>,
        ty: Ty<'a>,
    ) -> Result<Vec<String>> {
        let mut handled = Vec::new();
        for (directive_key, order_value) in patch {
            let Some(field) = directive_key.strip_prefix(SET_ELEMENT_ORDER) else {
                continue;
            };
            let Some(order) = order_value.as_array() else {
                return Err(bad_set_element_order());
            };
            if field.is_empty() {
                return Err(bad_set_element_order());
            }
            let field_ty = self.schemas.field(ty, field);
            let items_ty = self.schemas.items(field_ty);
            let keys = match self.list_merge(field_ty) {
                ListMerge::ByKeys(keys) => keys,
                _ => Vec::new(),
            };
            let patch_list = match patch.get(field) {
                Some(Value::Array(items)) => Some(items.as_slice()),
                Some(Value::Null) | None => None,
                Some(_) => return Err(bad_set_element_order()),
            };
            let live_list = match original.get(field) {
                Some(Value::Array(items)) => Some(items.clone()),
                _ => None,
            };
            let key_of = |item: &Value| -> Option<Vec<Value>> {
                if keys.is_empty() {
                    Some(vec![item.clone()])
                } else {
                    self.item_key(item, &keys, items_ty)
                }
            };
            let order_keys: Vec<Vec<Value>> = order
                .iter()
                .map(|item| key_of(item).ok_or_else(bad_set_element_order))
                .collect::<Result<_>>()?;
            if let Some(items) = patch_list {
                validate_patch_order(items, &order_keys, &key_of, order_value)?;
            }

            let merged = match (live_list.clone(), patch_list) {
                (Some(live), None) => live,
                (None, Some(items)) => self.merge_list(Vec::new(), items, field_ty)?,
                (Some(live), Some(items)) => self.merge_list(live, items, field_ty)?,
                (None, None) => continue,
            };
            let server_order: Vec<Option<Vec<Value>>> =
                live_list.unwrap_or_default().iter().map(key_of).collect();
            let keyed: Vec<(Option<Vec<Value>>, Value)> = merged
                .into_iter()
                .map(|item| (key_of(&item), item))
                .collect();
            original.insert(
                field.to_string(),
                Value::Array(order_merged(keyed, &order_keys, &server_order)),
            );
            handled.push(field.to_string());
        }
        Ok(handled)
    }
}

fn bad_set_element_order() -> PatchError {
    PatchError::Invalid("invalid patch format of setElementOrder list".to_string())
}

/// The patch list must list its (non-directive) items in the same relative
/// order as the `$setElementOrder` list.
fn validate_patch_order(
    items: &[Value],
    order_keys: &[Vec<Value>],
    key_of: &dyn Fn(&Value) -> Option<Vec<Value>>,
    order_value: &Value,
) -> Result<()> {
    let mut position = 0;
    for item in items.iter().filter(|item| item.get(DIRECTIVE).is_none()) {
        let Some(key) = key_of(item) else {
            continue;
        };
        match order_keys[position..].iter().position(|candidate| *candidate == key) {
            Some(offset) => position += offset + 1,
            None => {
                return Err(PatchError::Invalid(format!(
                    "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{order_value}\n",
                    Value::Array(items.to_vec())
                )))
            }
        }
    }
    Ok(())
}

fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    retain: &Value,
) -> Result<()> {
    let bad = || PatchError::Invalid("invalid patch format of retainKeys".to_string());
    let list: Vec<&str> = retain
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|key| key.as_str().ok_or_else(bad))
        .collect::<Result<_>>()?;
    for (key, value) in patch {
        let is_directive = key == DIRECTIVE
            || key == RETAIN_KEYS
            || key.starts_with(SET_ELEMENT_ORDER)
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST);
        if !value.is_null() && !is_directive && !list.contains(&key.as_str()) {
            return Err(bad());
        }
    }
    original.retain(|key, _| list.contains(&key.as_str()));
    Ok(())
}

fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    field: &str,
    to_delete: &Value,
) -> Result<()> {
    let Some(to_delete) = to_delete.as_array() else {
        return Err(PatchError::Invalid(
            "invalid patch format of primitive list".to_string(),
        ));
    };
    if let Some(Value::Array(items)) = original.get_mut(field) {
        items.retain(|item| !to_delete.contains(item));
    }
    Ok(())
}

/// Set union of two scalar lists, then ordered like upstream: patch items
/// in patch order, interleaved with live-only items.
fn merge_scalar_list(mut live: Vec<Value>, patch: &[Value]) -> Vec<Value> {
    let server_order: Vec<Option<Vec<Value>>> =
        live.iter().map(|v| Some(vec![v.clone()])).collect();
    for item in patch {
        if !live.contains(item) {
            live.push(item.clone());
        }
    }
    let mut deduplicated: Vec<Value> = Vec::with_capacity(live.len());
    for item in live {
        if !deduplicated.contains(&item) {
            deduplicated.push(item);
        }
    }
    let patch_keys: Vec<Vec<Value>> = patch.iter().map(|v| vec![v.clone()]).collect();
    let keyed = deduplicated
        .into_iter()
        .map(|v| (Some(vec![v.clone()]), v))
        .collect();
    order_merged(keyed, &patch_keys, &server_order)
}

/// Orders a merged list the way strategicpatch does: items named by `order`
/// (the patch list or `$setElementOrder`) take that order; the remaining
/// (server-only) items keep their live order; the two runs are interleaved
/// using the positions both have in the live list.
fn order_merged(
    merged: Vec<(Option<Vec<Value>>, Value)>,
    order: &[Vec<Value>],
    server_order: &[Option<Vec<Value>>],
) -> Vec<Value> {
    let position_in = |list: &[Vec<Value>], key: &Option<Vec<Value>>| -> Option<usize> {
        key.as_ref()
            .and_then(|key| list.iter().position(|k| k == key))
    };
    let server_position = |key: &Option<Vec<Value>>| -> Option<usize> {
        key.as_ref()
            .and_then(|key| server_order.iter().position(|k| k.as_ref() == Some(key)))
    };
    let (mut ordered, server_only): (Vec<_>, Vec<_>) = merged
        .into_iter()
        .partition(|(key, _)| position_in(order, key).is_some());
    ordered.sort_by_key(|(key, _)| position_in(order, key));

    let mut result = Vec::with_capacity(ordered.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = ordered.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((left_key, _)), Some((right_key, _))) => {
                match (server_position(left_key), server_position(right_key)) {
                    (Some(l), Some(r)) => l < r,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some((_, item)) = next {
            result.push(item);
        }
    }
    result
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;
