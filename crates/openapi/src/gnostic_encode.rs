//! The v2 JSON document as gnostic protobuf messages, field by field as
//! gnostic's `ParseDocument` reads the JSON kube-apiserver serves: map
//! entries keep their order, `x-` keys become `vendor_extension` entries
//! holding YAML text, `items` is a one-element list.

use serde_json::{Map, Value};

use crate::gnostic::{
    AdditionalProperties, AdditionalPropertiesItem, Any, ApiKeySecurity, Definitions, Document,
    Info, ItemsItem, NamedAny, NamedSchema, NamedSecurityDefinitionsItem, NamedStringArray, Paths,
    Properties, Schema, SecurityDefinitions, SecurityDefinitionsItem, SecurityRequirement,
    StringArray, TypeItem,
};
use crate::yaml_text::to_yaml;

/// The document built by `swagger::build` as a gnostic `Document`.
pub(crate) fn document(doc: &Value) -> Document {
    let info = doc.get("info").map(|info| Info {
        title: string(info, "title"),
        version: string(info, "version"),
    });
    let definitions = doc
        .get("definitions")
        .and_then(Value::as_object)
        .map(|defs| Definitions {
            additional_properties: named_schemas(defs),
        });
    let security_definitions = doc
        .get("securityDefinitions")
        .and_then(Value::as_object)
        .map(|defs| SecurityDefinitions {
            additional_properties: defs
                .iter()
                .map(|(name, def)| NamedSecurityDefinitionsItem {
                    name: name.clone(),
                    value: Some(SecurityDefinitionsItem {
                        api_key_security: Some(ApiKeySecurity {
                            r#type: string(def, "type"),
                            name: string(def, "name"),
                            r#in: string(def, "in"),
                            description: string(def, "description"),
                        }),
                    }),
                })
                .collect(),
        });
    let security = doc
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|requirement| SecurityRequirement {
            additional_properties: requirement
                .iter()
                .map(|(name, scopes)| NamedStringArray {
                    name: name.clone(),
                    value: Some(StringArray {
                        value: strings(scopes),
                    }),
                })
                .collect(),
        })
        .collect();
    Document {
        swagger: string(doc, "swagger"),
        info,
        paths: doc.get("paths").map(|paths| Paths {
            vendor_extension: extensions(paths.as_object()),
        }),
        definitions,
        security,
        security_definitions,
    }
}

fn named_schemas(map: &Map<String, Value>) -> Vec<NamedSchema> {
    map.iter()
        .map(|(name, s)| NamedSchema {
            name: name.clone(),
            value: Some(schema(s)),
        })
        .collect()
}

/// One schema; keys outside what `swagger::schema_to_v2` keeps are not
/// expected here and are ignored.
pub(crate) fn schema(value: &Value) -> Schema {
    let obj = value.as_object();
    let get = |key: &str| obj.and_then(|o| o.get(key));
    Schema {
        xref: string(value, "$ref"),
        format: string(value, "format"),
        title: string(value, "title"),
        description: string(value, "description"),
        default: get("default").map(any),
        required: get("required").map(strings).unwrap_or_default(),
        r#enum: get("enum")
            .and_then(Value::as_array)
            .map(|values| values.iter().map(any).collect())
            .unwrap_or_default(),
        additional_properties: get("additionalProperties").map(|ap| AdditionalPropertiesItem {
            oneof: Some(match ap {
                Value::Bool(b) => AdditionalProperties::Boolean(*b),
                other => AdditionalProperties::Schema(Box::new(schema(other))),
            }),
        }),
        r#type: get("type").map(|t| TypeItem {
            value: match t {
                Value::String(s) => vec![s.clone()],
                other => strings(other),
            },
        }),
        items: get("items").map(|items| ItemsItem {
            schema: match items {
                Value::Array(list) => list.iter().map(schema).collect(),
                one => vec![schema(one)],
            },
        }),
        all_of: get("allOf")
            .and_then(Value::as_array)
            .map(|list| list.iter().map(schema).collect())
            .unwrap_or_default(),
        properties: get("properties")
            .and_then(Value::as_object)
            .map(|props| Properties {
                additional_properties: named_schemas(props),
            }),
        read_only: get("readOnly").and_then(Value::as_bool).unwrap_or(false),
        vendor_extension: extensions(obj),
    }
}

/// The `x-` entries of an object, in order, values as YAML.
fn extensions(obj: Option<&Map<String, Value>>) -> Vec<NamedAny> {
    obj.into_iter()
        .flatten()
        .filter(|(key, _)| key.starts_with("x-"))
        .map(|(key, value)| NamedAny {
            name: key.clone(),
            value: Some(any(value)),
        })
        .collect()
}

fn any(value: &Value) -> Any {
    Any {
        yaml: to_yaml(value),
    }
}

fn string(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}
