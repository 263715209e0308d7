//! Go embedded structs (`json:",inline"`) are a message field in protobuf but their fields sit
//! directly in the parent's JSON (Volume.volumeSource, Probe.handler, ConfigMapKeySelector's
//! localObjectReference, ...). Found mechanically: a message field whose name k8s-openapi does
//! not know while it knows (most of) the embedded message's JSON names. Messages without a
//! k8s-openapi counterpart inherit the verdict for the same field name and type name.

use std::collections::{HashMap, HashSet};

use crate::emit::GenMessage;

pub const EMBEDDED: &str = "C::Embedded";

/// Marks embedded fields in `messages` (sorted by full name). `openapi_names` maps a message full
/// name to the JSON names k8s-openapi has for it. Returns the number of fields marked.
pub fn mark_embedded(
    messages: &mut [GenMessage],
    openapi_names: &HashMap<String, Vec<String>>,
) -> usize {
    let mut marked: HashSet<(String, u32)> = HashSet::new();
    // Nested embedding (NamedRuleWithOperations > RuleWithOperations > Rule) needs a fixpoint.
    loop {
        let mut changed = false;
        for m in messages.iter() {
            let Some(known) = openapi_names.get(&m.full_name) else {
                continue;
            };
            for f in &m.fields {
                if f.cardinality != "C::Optional" || known.contains(&f.json_name) {
                    continue;
                }
                let Some(target) = f.message_type() else {
                    continue;
                };
                let flat = flattened_names(messages, target, &marked, 0);
                let hits = flat.iter().filter(|n| known.contains(n)).count();
                if !flat.is_empty()
                    && hits * 2 > flat.len()
                    && marked.insert((m.full_name.clone(), f.tag))
                {
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    // (rust field name, embedded type's short name) pairs seen embedded somewhere.
    let mut patterns: HashSet<(String, String)> = HashSet::new();
    for m in messages.iter() {
        for f in &m.fields {
            if marked.contains(&(m.full_name.clone(), f.tag)) {
                if let Some(target) = f.message_type() {
                    patterns.insert((f.rust_name.clone(), short_name(target).to_string()));
                }
            }
        }
    }
    let mut count = 0;
    for m in messages.iter_mut() {
        let has_counterpart = openapi_names.contains_key(&m.full_name);
        for f in &mut m.fields {
            let by_pattern = !has_counterpart
                && f.cardinality == "C::Optional"
                && f.message_type().is_some_and(|t| {
                    patterns.contains(&(f.rust_name.clone(), short_name(t).to_string()))
                });
            if marked.contains(&(m.full_name.clone(), f.tag)) || by_pattern {
                f.cardinality = EMBEDDED.to_string();
                count += 1;
            }
        }
    }
    count
}

/// The JSON names a message contributes to its parent when embedded (its own embedded fields
/// expanded).
pub fn flattened_names(
    messages: &[GenMessage],
    full_name: &str,
    marked: &HashSet<(String, u32)>,
    depth: usize,
) -> Vec<String> {
    let Ok(i) = messages.binary_search_by(|m| m.full_name.as_str().cmp(full_name)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for f in &messages[i].fields {
        let embedded =
            f.cardinality == EMBEDDED || marked.contains(&(full_name.to_string(), f.tag));
        match f.message_type() {
            Some(target) if embedded && depth < 8 => {
                out.extend(flattened_names(messages, target, marked, depth + 1))
            }
            _ => out.push(f.json_name.clone()),
        }
    }
    out
}

fn short_name(full_name: &str) -> &str {
    full_name.rsplit('.').next().unwrap_or(full_name)
}
