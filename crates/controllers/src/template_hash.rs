//! pod-template-hash: a stable short name for a pod template, the suffix of
//! the Deployment's ReplicaSet `<deployment>-<hash>`.
//!
//! Like upstream: FNV-1a (32 bit) over the serialized template plus the
//! collision count, printed in decimal and mapped onto the "safe" alphabet
//! (no vowels, no confusable digits) so it never spells words.

use k8s_openapi::api::core::v1::PodTemplateSpec;

pub const LABEL: &str = "pod-template-hash";
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Hash of `template` (its own pod-template-hash label excluded).
pub fn compute(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(LABEL);
    }
    let mut bytes = serde_json::to_vec(&t).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    fnv1a32(&bytes)
        .to_string()
        .bytes()
        .map(|b| char::from(SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()]))
        .collect()
}

/// Templates equal once pod-template-hash labels are ignored.
pub fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        let meta = t.metadata.get_or_insert_with(Default::default);
        if let Some(labels) = meta.labels.as_mut() {
            labels.remove(LABEL);
        }
        if meta.labels.as_ref().is_some_and(|l| l.is_empty()) {
            meta.labels = None;
        }
        t
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": image}]},
        }))
        .expect("template")
    }

    #[test]
    fn stable_safe_and_sensitive_to_template() {
        let a = compute(&template("nginx:1"), None);
        assert_eq!(a, compute(&template("nginx:1"), None));
        assert_ne!(a, compute(&template("nginx:2"), None));
        assert_ne!(a, compute(&template("nginx:1"), Some(1)));
        assert!(a.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
        let mut labelled = template("nginx:1");
        if let Some(l) = labelled.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            l.insert(LABEL.into(), a.clone());
        }
        assert_eq!(a, compute(&labelled, None));
        assert!(equal_ignoring_hash(&labelled, &template("nginx:1")));
        assert!(!equal_ignoring_hash(&labelled, &template("nginx:2")));
    }
}
