//! The bridge between client-side apply (`kubectl.kubernetes.io/last-applied-configuration`)
//! and server-side apply, as kube-apiserver runs it for the `kubectl` manager:
//! conflicts on fields the annotation shows the user applied (with values
//! still live) are forgiven, and the annotation is kept in sync with what
//! `kubectl apply --server-side` applied.

use serde_json::{Map, Value};

use super::entries::without_managed_fields;
use super::fieldpath::FieldSet;
use super::typed::Typed;
use crate::schema::Ty;

pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The only manager the bridge applies to (kube's choice, so others can opt out).
pub(crate) const KUBECTL: &str = "kubectl";

fn annotation(object: &Value) -> Option<&str> {
    object
        .get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED)?
        .as_str()
        .filter(|text| !text.is_empty())
}

/// Fields the live object's last-applied annotation claims and whose values
/// are still the live ones; `None` when there is no usable annotation or it
/// was written for another apiVersion.
pub(crate) fn forgiven_fields(
    typed: &Typed,
    live: &Value,
    api_version: &str,
    ty: Ty,
) -> Option<FieldSet> {
    let last_applied: Value = serde_json::from_str(annotation(live)?).ok()?;
    if last_applied.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let live = without_managed_fields(live);
    let claimed = typed.field_set(&last_applied, ty).ok()?;
    let comparison = typed.compare(Some(&last_applied), &live, ty).ok()?;
    Some(
        claimed
            .difference(&comparison.modified)
            .difference(&comparison.added)
            .difference(&comparison.removed),
    )
}

/// Rewrites the annotation of `result` to the applied configuration, if the
/// annotation is present (it is never created here).
pub(crate) fn sync_annotation(result: &mut Value, applied: &Value) {
    if annotation(result).is_none() {
        return;
    }
    let mut config = applied.clone();
    if let Some(annotations) = config
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        annotations.remove(LAST_APPLIED);
    }
    let text = go_json(&config);
    if let Some(annotations) = result
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        annotations.insert(LAST_APPLIED.to_string(), Value::String(text));
    }
}

/// JSON the way Go's encoder writes an unstructured object: keys sorted,
/// HTML-sensitive characters escaped, a trailing newline.
fn go_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(object) => {
                let mut keys: Vec<&String> = object.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for key in keys {
                    out.insert(key.clone(), sorted(&object[key]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut text = sorted(value)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_json_sorts_and_escapes() {
        assert_eq!(
            go_json(&json!({"b": "<&>", "a": {"d": 1, "c": [2]}})),
            "{\"a\":{\"c\":[2],\"d\":1},\"b\":\"\\u003c\\u0026\\u003e\"}\n"
        );
    }
}
