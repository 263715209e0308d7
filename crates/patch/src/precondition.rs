//! The resourceVersion precondition every patch type carries: a patched
//! object whose `metadata.resourceVersion` differs from the stored one means
//! the client patched against a stale copy (kube-apiserver answers 409).

use serde_json::Value;

use crate::PatchError;

fn resource_version(object: &Value) -> Option<&str> {
    object
        .get("metadata")?
        .get("resourceVersion")?
        .as_str()
        .filter(|rv| !rv.is_empty())
}

/// Fails when `patched` names a resourceVersion other than `original`'s.
/// An absent or empty resourceVersion in the result means "unconditional".
pub fn check_resource_version(original: &Value, patched: &Value) -> Result<(), PatchError> {
    let Some(requested) = resource_version(patched) else {
        return Ok(());
    };
    let current = resource_version(original).unwrap_or_default();
    if requested == current {
        return Ok(());
    }
    Err(PatchError::Precondition {
        requested: requested.to_string(),
        current: current.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_or_absent_version_passes_and_other_version_fails() {
        let original = json!({"metadata": {"resourceVersion": "5"}});
        assert!(
            check_resource_version(&original, &json!({"metadata": {"resourceVersion": "5"}}))
                .is_ok()
        );
        assert!(check_resource_version(&original, &json!({"metadata": {}})).is_ok());
        let err = check_resource_version(&original, &json!({"metadata": {"resourceVersion": "4"}}));
        assert_eq!(err.map_err(|e| e.status_code()), Err(409));
    }
}
