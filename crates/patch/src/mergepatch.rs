//! RFC 7386 JSON merge patch (`application/merge-patch+json`).

use serde_json::Value;

use crate::precondition::check_resource_version;
use crate::PatchError;

/// Applies an RFC 7386 merge patch: objects merge recursively, `null`
/// deletes, anything else (lists included) replaces.
///
/// kube-apiserver only accepts an object as the patch of an object
/// (anything else is a 400).
pub fn merge_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::Invalid(
            "merge patch must be a JSON object".to_string(),
        ));
    }
    let mut patched = original.clone();
    json_patch::merge(&mut patched, patch);
    check_resource_version(original, &patched)?;
    Ok(patched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The example table of RFC 7386, appendix A (object-patch rows).
    #[test]
    fn rfc7386_examples() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (original, patch, expected) in cases {
            assert_eq!(
                merge_patch(&original, &patch),
                Ok(expected),
                "patch {patch}"
            );
        }
    }

    #[test]
    fn non_object_patch_is_bad_request() {
        let err = merge_patch(&json!({"a": 1}), &json!(["x"])).unwrap_err();
        assert_eq!(err.status_code(), 400);
    }

    #[test]
    fn label_removal_and_stale_resource_version() {
        let pod = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "resourceVersion": "3"}});
        let out = merge_patch(&pod, &json!({"metadata": {"labels": {"a": null}}}));
        assert_eq!(
            out,
            Ok(json!({"metadata": {"labels": {"b": "2"}, "resourceVersion": "3"}}))
        );
        let stale = merge_patch(&pod, &json!({"metadata": {"resourceVersion": "2"}}));
        assert!(matches!(stale, Err(PatchError::Precondition { .. })));
    }
}
