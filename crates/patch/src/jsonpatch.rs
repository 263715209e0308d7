//! RFC 6902 JSON patch (`application/json-patch+json`), via the json-patch crate.

use json_patch::{Patch, PatchErrorKind};
use serde_json::Value;

use crate::precondition::check_resource_version;
use crate::PatchError;

/// Applies an RFC 6902 operation list to `original`.
///
/// A body that is not a valid operation list is `Invalid` (400); an operation
/// that cannot be applied is `Unprocessable` (422), a failed `test` is
/// `TestFailed` (422, as kube-apiserver answers); a patched resourceVersion
/// that differs from the original's is `Precondition` (409).
pub fn json_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let operations: Patch = serde_json::from_value(patch.clone())
        .map_err(|err| PatchError::Invalid(format!("invalid JSON patch: {err}")))?;
    let mut patched = original.clone();
    json_patch::patch(&mut patched, &operations).map_err(|err| match err.kind {
        PatchErrorKind::TestFailed => PatchError::TestFailed(format!(
            "testing value {} failed: test operation {} did not match",
            err.path, err.operation
        )),
        _ => PatchError::Unprocessable(err.to_string()),
    })?;
    check_resource_version(original, &patched)?;
    Ok(patched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applies_each_operation_kind() {
        let doc = json!({"a": {"b": 1}, "list": [1, 2], "c": "x"});
        let patch = json!([
            {"op": "add", "path": "/a/new", "value": true},
            {"op": "replace", "path": "/a/b", "value": 2},
            {"op": "remove", "path": "/c"},
            {"op": "add", "path": "/list/-", "value": 3},
            {"op": "copy", "from": "/a/b", "path": "/copied"},
            {"op": "move", "from": "/copied", "path": "/moved"},
            {"op": "test", "path": "/moved", "value": 2}
        ]);
        let out = json_patch(&doc, &patch);
        assert_eq!(
            out,
            Ok(json!({"a": {"b": 2, "new": true}, "list": [1, 2, 3], "moved": 2}))
        );
    }

    #[test]
    fn failing_test_is_reported_and_leaves_no_change() {
        let doc = json!({"spec": {"replicas": 1}});
        let patch = json!([
            {"op": "test", "path": "/spec/replicas", "value": 2},
            {"op": "replace", "path": "/spec/replicas", "value": 3}
        ]);
        let err = json_patch(&doc, &patch).unwrap_err();
        assert!(matches!(err, PatchError::TestFailed(_)));
        assert_eq!(err.status_code(), 422);
    }

    #[test]
    fn malformed_and_inapplicable_patches_are_told_apart() {
        let doc = json!({"a": 1});
        let malformed = json_patch(&doc, &json!({"op": "add"})).unwrap_err();
        assert_eq!(malformed.status_code(), 400);
        let unknown_op =
            json_patch(&doc, &json!([{"op": "frobnicate", "path": "/a"}])).unwrap_err();
        assert_eq!(unknown_op.status_code(), 400);
        let missing = json_patch(&doc, &json!([{"op": "remove", "path": "/nope"}])).unwrap_err();
        assert_eq!(missing.status_code(), 422);
    }

    #[test]
    fn replacing_resource_version_is_a_precondition() {
        let doc = json!({"metadata": {"resourceVersion": "7"}});
        let patch = json!([{"op": "replace", "path": "/metadata/resourceVersion", "value": "6"}]);
        assert_eq!(json_patch(&doc, &patch).unwrap_err().status_code(), 409);
    }
}
