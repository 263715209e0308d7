//! ObjectMeta rules (apimachinery's objectmeta.go plus core's finalizer
//! rule), shared by every kind.

use berth_api::status::FieldError;
use serde_json::Value;

use crate::json::{empty_map, semantic_eq, Errors, Obj};
use crate::names::{is_dns1123_label, is_qualified_name, is_valid_label_value, NameRule};
use crate::path::Path;

pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
pub const FIELD_IMMUTABLE: &str = "field is immutable";

/// Whether a kind lives in a namespace; `Unknown` checks only the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
    Unknown,
}

/// `metadata` of an object (an empty one when missing, so "name required" fires).
pub fn metadata<'a>(root: &Obj<'a>, errs: &mut Errors) -> Obj<'a> {
    root.obj("metadata", errs).unwrap_or_else(|| Obj {
        map: empty_map(),
        path: Path::root("metadata"),
    })
}

pub fn validate_object_meta(meta: &Obj, scope: Scope, rule: NameRule, errs: &mut Errors) {
    let generate_name = meta.str_or_empty("generateName", errs);
    if !generate_name.is_empty() {
        for msg in rule.check(generate_name, true) {
            errs.push(FieldError::invalid(
                meta.at("generateName"),
                generate_name,
                msg,
            ));
        }
    }
    let name = meta.str_or_empty("name", errs);
    if name.is_empty() {
        // The server fills the name from generateName before validating;
        // a prefix alone is accepted here in case it validates first.
        if generate_name.is_empty() {
            errs.push(FieldError::required(
                meta.at("name"),
                "name or generateName is required",
            ));
        }
    } else {
        for msg in rule.check(name, false) {
            errs.push(FieldError::invalid(meta.at("name"), name, msg));
        }
    }
    let namespace = meta.str_or_empty("namespace", errs);
    match scope {
        Scope::Namespaced if namespace.is_empty() => {
            errs.push(FieldError::required(meta.at("namespace"), ""))
        }
        Scope::Cluster if !namespace.is_empty() => errs.push(FieldError::forbidden(
            meta.at("namespace"),
            "not allowed on this type",
        )),
        _ if !namespace.is_empty() => {
            for msg in is_dns1123_label(namespace) {
                errs.push(FieldError::invalid(meta.at("namespace"), namespace, msg));
            }
        }
        _ => {}
    }
    if let Some(g) = meta.int("generation", errs) {
        non_negative(g, &meta.at("generation"), errs);
    }
    validate_common(meta, errs);
    for (p, f) in meta.strs("finalizers", &mut Vec::new()) {
        validate_kube_finalizer_name(f, &p, errs);
    }
}

/// Labels, annotations, owner references and finalizers: checked on create and update.
fn validate_common(meta: &Obj, errs: &mut Errors) {
    let labels = meta.str_map("labels", errs);
    validate_labels(&labels, &meta.at("labels"), errs);
    let annotations = meta.str_map("annotations", errs);
    validate_annotations(&annotations, &meta.at("annotations"), errs);
    validate_owner_references(meta, errs);
    validate_finalizers(meta, errs);
}

/// `ValidateLabels`: the path is the map itself, not `[key]`.
pub fn validate_labels(labels: &[(&str, &str)], path: &Path, errs: &mut Errors) {
    for (k, v) in labels {
        for msg in is_qualified_name(k) {
            errs.push(FieldError::invalid(path, *k, msg));
        }
        for msg in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path, *v, msg));
        }
    }
}

pub fn validate_annotations(annotations: &[(&str, &str)], path: &Path, errs: &mut Errors) {
    let mut total = 0usize;
    for (k, v) in annotations {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, *k, msg));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT));
    }
}

fn validate_owner_references(meta: &Obj, errs: &mut Errors) {
    let path = meta.at("ownerReferences");
    let refs = meta.objs("ownerReferences", errs);
    let mut first_controller: Option<String> = None;
    for r in &refs {
        let api_version = r.str_or_empty("apiVersion", errs);
        let kind = r.str_or_empty("kind", errs);
        let name = r.str_or_empty("name", errs);
        let uid = r.str_or_empty("uid", errs);
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(FieldError::invalid(
                path.child("apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errs.push(FieldError::invalid(
                path.child("kind"),
                kind,
                "must not be empty",
            ));
        }
        if name.is_empty() {
            errs.push(FieldError::invalid(
                path.child("name"),
                name,
                "must not be empty",
            ));
        }
        if uid.is_empty() {
            errs.push(FieldError::invalid(
                path.child("uid"),
                uid,
                "must not be empty",
            ));
        }
        if r.bool("controller", errs) == Some(true) {
            let current = format!("{kind}/{name}");
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    &path,
                    meta.raw("ownerReferences").cloned().unwrap_or(Value::Null),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"),
                )),
                None => first_controller = Some(current),
            }
        }
    }
}

fn validate_finalizers(meta: &Obj, errs: &mut Errors) {
    let path = meta.at("finalizers");
    let finalizers = meta.strs("finalizers", errs);
    for (_, f) in &finalizers {
        for msg in is_qualified_name(f) {
            errs.push(FieldError::invalid(&path, *f, msg));
        }
    }
    let has = |n: &str| finalizers.iter().any(|(_, f)| *f == n);
    if has("orphan") && has("foregroundDeletion") {
        errs.push(FieldError::invalid(
            &path,
            meta.raw("finalizers").cloned().unwrap_or(Value::Null),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

/// Core's extra rule: a finalizer without a domain must be a standard one.
pub fn validate_kube_finalizer_name(name: &str, path: &Path, errs: &mut Errors) {
    if !name.contains('/') && !matches!(name, "kubernetes" | "orphan" | "foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
}

pub fn non_negative(n: i64, path: &Path, errs: &mut Errors) {
    if n < 0 {
        errs.push(FieldError::invalid(
            path,
            n,
            "must be greater than or equal to 0",
        ));
    }
}

/// `field is immutable` when a field changed (unset and empty count as equal).
pub fn immutable(new: Option<&Value>, old: Option<&Value>, path: &Path, errs: &mut Errors) {
    if !semantic_eq(new, old) {
        errs.push(FieldError::invalid(
            path,
            new.cloned().unwrap_or(Value::Null),
            FIELD_IMMUTABLE,
        ));
    }
}

/// `ValidateObjectMetaUpdate`, minus resourceVersion (the server checks it)
/// and deletion fields (the server sets them).
pub fn validate_object_meta_update(new: &Obj, old: &Obj, errs: &mut Errors) {
    let old_deleting = old.has("deletionTimestamp");
    if old_deleting {
        let old_f: Vec<&str> = old
            .strs("finalizers", &mut Vec::new())
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        let added: Vec<&str> = new
            .strs("finalizers", errs)
            .into_iter()
            .map(|(_, f)| f)
            .filter(|f| !old_f.contains(f))
            .collect();
        if !added.is_empty() {
            errs.push(FieldError::forbidden(
                new.at("finalizers"),
                format!("no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"),
            ));
        }
    }
    let new_gen = new.int("generation", errs).unwrap_or(0);
    let old_gen = old.int("generation", &mut Vec::new()).unwrap_or(0);
    if new_gen < old_gen {
        errs.push(FieldError::invalid(
            new.at("generation"),
            new_gen,
            "must not be decremented",
        ));
    }
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        immutable(new.raw(field), old.raw(field), &new.at(field), errs);
    }
    validate_common(new, errs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::as_obj;
    use serde_json::json;

    fn check(meta: Value, scope: Scope) -> Errors {
        let mut errs = Vec::new();
        let root = json!({ "metadata": meta });
        let o = as_obj(&root, Path::default(), &mut errs).unwrap();
        let m = metadata(&o, &mut errs);
        validate_object_meta(&m, scope, NameRule::Subdomain, &mut errs);
        errs
    }

    #[test]
    fn name_required_and_namespace_scope() {
        let e = check(json!({}), Scope::Namespaced);
        assert_eq!(
            e[0].message(),
            "metadata.name: Required value: name or generateName is required"
        );
        assert_eq!(e[1].message(), "metadata.namespace: Required value");
        let e = check(json!({"name": "n", "namespace": "x"}), Scope::Cluster);
        assert_eq!(
            e[0].message(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
    }

    #[test]
    fn labels_annotations_finalizers() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let e = check(
            json!({"name": "n", "namespace": "d", "labels": {"bad key": "v", "k": "-v"},
                   "annotations": {"a": big}, "finalizers": ["custom"]}),
            Scope::Namespaced,
        );
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.labels",
                "metadata.labels",
                "metadata.annotations",
                "metadata.finalizers[0]"
            ]
        );
        assert_eq!(
            e[2].message(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
    }

    #[test]
    fn generate_name_prefix_may_end_with_dash() {
        assert!(check(
            json!({"generateName": "web-", "name": "web-x1", "namespace": "d"}),
            Scope::Namespaced
        )
        .is_empty());
    }

    #[test]
    fn update_keeps_identity() {
        let mut errs = Vec::new();
        let a = json!({"name": "a", "uid": "1"});
        let b = json!({"name": "b", "uid": "2"});
        let n = as_obj(&a, Path::root("metadata"), &mut errs).unwrap();
        let o = as_obj(&b, Path::root("metadata"), &mut errs).unwrap();
        validate_object_meta_update(&n, &o, &mut errs);
        let msgs: Vec<String> = errs.iter().map(|e| e.message()).collect();
        assert_eq!(
            msgs,
            vec![
                "metadata.name: Invalid value: \"a\": field is immutable",
                "metadata.uid: Invalid value: \"1\": field is immutable"
            ]
        );
    }
}
