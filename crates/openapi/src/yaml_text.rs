//! JSON values as block-style YAML text, the form gnostic stores free-form
//! values in (`Any.yaml`: vendor extensions, `default`, `enum` entries).
//! Readers (kube-openapi's `VendorExtensionToMap`, yaml.v2) only need valid
//! YAML that parses back to the same value: strings are plain where YAML
//! cannot mistake them for something else and double-quoted otherwise.

use serde_json::Value;

/// `value` as a YAML document, ending in a newline
/// (`[{"group":"","kind":"Pod","version":"v1"}]` →
/// `- group: ""\n  kind: Pod\n  version: v1\n`).
pub(crate) fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_block(&mut out, value, 0);
    out
}

fn write_block(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                push_indent(out, indent);
                out.push_str(&scalar_string(key));
                out.push(':');
                write_nested(out, v, indent + 2);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                // Render the item one level deeper, then put the dash in
                // place of its first line's indentation.
                let mut rendered = String::new();
                write_block(&mut rendered, item, indent + 2);
                push_indent(out, indent);
                out.push_str("- ");
                out.push_str(&rendered[indent + 2..]);
            }
        }
        _ => {
            push_indent(out, indent);
            out.push_str(&scalar(value));
            out.push('\n');
        }
    }
}

/// A map value after `key:`: inline when it is a scalar or empty, else a
/// block on the following lines.
fn write_nested(out: &mut String, value: &Value, indent: usize) {
    let is_block = match value {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    if is_block {
        out.push('\n');
        write_block(out, value, indent);
    } else {
        out.push(' ');
        out.push_str(&scalar(value));
        out.push('\n');
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar (or empty collection) in flow form.
fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// Words YAML 1.1 (yaml.v2) reads as booleans or null.
const RESERVED: &[&str] = &[
    "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
];

fn scalar_string(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_string()
    } else {
        // A JSON string literal is a valid YAML double-quoted scalar.
        Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gvk_list_is_a_sequence_of_mappings() {
        let gvk = json!([
            { "group": "", "kind": "ConfigMap", "version": "v1" },
            { "group": "apps", "kind": "Deployment", "version": "v1" }
        ]);
        assert_eq!(
            to_yaml(&gvk),
            "- group: \"\"\n  kind: ConfigMap\n  version: v1\n- group: apps\n  kind: Deployment\n  version: v1\n"
        );
    }

    #[test]
    fn scalars_and_nesting() {
        assert_eq!(to_yaml(&json!("merge")), "merge\n");
        assert_eq!(
            to_yaml(&json!("retainKeys,merge")),
            "\"retainKeys,merge\"\n"
        );
        assert_eq!(to_yaml(&json!("true")), "\"true\"\n");
        assert_eq!(to_yaml(&json!("8080")), "\"8080\"\n");
        assert_eq!(to_yaml(&json!(true)), "true\n");
        assert_eq!(to_yaml(&json!({})), "{}\n");
        assert_eq!(
            to_yaml(&json!(["containerPort", "protocol"])),
            "- containerPort\n- protocol\n"
        );
        assert_eq!(
            to_yaml(&json!({ "a": { "b": [1, [2, 3]] }, "c": [] })),
            "a:\n  b:\n    - 1\n    - - 2\n      - 3\nc: []\n"
        );
    }
}
