//! The OpenAPI v2 (Swagger 2.0) document of `/openapi/v2`: every
//! definition of the v3 component schemas, rewritten the way kube-apiserver
//! writes them in v2. `paths` is empty: kubectl reads only `definitions`
//! from v2 (client-side validation of `kind: List` items, by the
//! `x-kubernetes-group-version-kind` of each definition).
//!
//! v3 → v2 rewrites:
//! - `$ref: #/components/schemas/X` → `$ref: #/definitions/X`;
//! - `allOf: [{$ref}]` with sibling `description`/extensions (v3's way to
//!   describe a reference) → `$ref` with those siblings, as upstream v2 has;
//! - IntOrString and Quantity (v3: `x-kubernetes-int-or-string`, no type) →
//!   `type: string` (IntOrString with `format: int-or-string`), as upstream's
//!   `OpenAPISchemaType`/`OpenAPISchemaFormat` give them;
//! - keywords Swagger 2.0 has no room for (`nullable`, `oneOf`, `anyOf`,
//!   `not`, ...) are dropped, so the JSON and protobuf forms say the same.

use serde_json::{json, Map, Value};

use crate::document::{self, KUBERNETES_VERSION};

const V3_REF_PREFIX: &str = "#/components/schemas/";
pub(crate) const V2_REF_PREFIX: &str = "#/definitions/";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const INT_OR_STRING_EXTENSION: &str = "x-kubernetes-int-or-string";

/// Schema keywords the v2 document keeps (those gnostic's `Schema` message
/// has a field for and the v3 schemas use); `x-` extensions are kept too.
const KEPT_KEYWORDS: &[&str] = &[
    "$ref",
    "format",
    "title",
    "description",
    "default",
    "required",
    "enum",
    "additionalProperties",
    "type",
    "items",
    "allOf",
    "properties",
    "readOnly",
];

/// The whole v2 document, definitions sorted by name.
pub(crate) fn build() -> Value {
    let definitions: Map<String, Value> = document::all_schemas()
        .into_iter()
        .map(|(name, schema)| {
            let v2 = definition_to_v2(&name, &schema);
            (name, v2)
        })
        .collect();
    json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
        "paths": {},
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "type": "apiKey",
                "name": "authorization",
                "in": "header"
            }
        },
        "security": [{ "BearerToken": [] }]
    })
}

/// One top-level definition in v2 form.
fn definition_to_v2(name: &str, schema: &Value) -> Value {
    let mut v2 = schema_to_v2(schema);
    if let Value::Object(obj) = &mut v2 {
        // v3 marks IntOrString and Quantity with an extension and no type;
        // v2 calls both strings.
        let int_or_string = obj.remove(INT_OR_STRING_EXTENSION).is_some();
        if int_or_string && !obj.contains_key("type") {
            obj.insert("type".into(), json!("string"));
            if name == INT_OR_STRING {
                obj.insert("format".into(), json!("int-or-string"));
            }
        }
    }
    v2
}

/// A (nested) schema in v2 form.
fn schema_to_v2(schema: &Value) -> Value {
    let Value::Object(obj) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        match key.as_str() {
            "$ref" => {
                out.insert(key.clone(), rewrite_ref(value));
            }
            "allOf" => match single_ref(value) {
                Some(reference) => {
                    out.insert("$ref".into(), rewrite_ref(reference));
                }
                None => {
                    let items = value.as_array().into_iter().flatten().map(schema_to_v2);
                    out.insert(key.clone(), Value::Array(items.collect()));
                }
            },
            "properties" => {
                let properties = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), schema_to_v2(s)));
                out.insert(key.clone(), Value::Object(properties.collect()));
            }
            "items" | "additionalProperties" => {
                out.insert(key.clone(), schema_to_v2(value));
            }
            k if k.starts_with("x-") || KEPT_KEYWORDS.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

/// The `$ref` of an `allOf` holding exactly one plain reference.
fn single_ref(all_of: &Value) -> Option<&Value> {
    match all_of.as_array()?.as_slice() {
        [Value::Object(only)] if only.len() == 1 => only.get("$ref"),
        _ => None,
    }
}

fn rewrite_ref(reference: &Value) -> Value {
    match reference.as_str() {
        Some(r) => match r.strip_prefix(V3_REF_PREFIX) {
            Some(name) => Value::String(format!("{V2_REF_PREFIX}{name}")),
            None => reference.clone(),
        },
        None => reference.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_reference_becomes_ref_with_siblings() {
        let v3 = json!({
            "type": "object",
            "properties": {
                "metadata": {
                    "allOf": [{ "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" }],
                    "description": "Standard object's metadata.",
                    "x-kubernetes-patch-strategy": "merge"
                },
                "items": { "type": "array", "items": { "$ref": "#/components/schemas/a.B" } },
                "maybe": { "type": "string", "nullable": true }
            }
        });
        let v2 = schema_to_v2(&v3);
        assert_eq!(
            v2["properties"]["metadata"],
            json!({
                "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "description": "Standard object's metadata.",
                "x-kubernetes-patch-strategy": "merge"
            })
        );
        assert_eq!(
            v2["properties"]["items"]["items"],
            json!({ "$ref": "#/definitions/a.B" })
        );
        assert_eq!(v2["properties"]["maybe"], json!({ "type": "string" }));
    }

    #[test]
    fn int_or_string_and_quantity_are_strings() {
        let v3 = json!({ "description": "d", INT_OR_STRING_EXTENSION: true });
        assert_eq!(
            definition_to_v2(INT_OR_STRING, &v3),
            json!({ "description": "d", "type": "string", "format": "int-or-string" })
        );
        assert_eq!(
            definition_to_v2("io.k8s.apimachinery.pkg.api.resource.Quantity", &v3),
            json!({ "description": "d", "type": "string" })
        );
    }
}
