use std::collections::HashSet;
use std::sync::OnceLock;

use prost::Message;
use serde_json::{json, Value};

use super::*;
use crate::gnostic::{AdditionalProperties, Document, NamedAny, Schema};
use crate::swagger::V2_REF_PREFIX;
use crate::yaml_text::to_yaml;

/// Built once for all tests (a second or two in a debug build).
fn built() -> &'static V2Document {
    static DOC: OnceLock<V2Document> = OnceLock::new();
    DOC.get_or_init(V2Document::build)
}

fn decoded() -> Document {
    let bytes = built().response(V2Format::Protobuf).body;
    Document::decode(bytes).expect("the protobuf decodes as openapi.v2.Document")
}

fn json_doc() -> Value {
    serde_json::from_slice(&built().response(V2Format::Json).body).expect("JSON document")
}

fn definition<'a>(doc: &'a Document, name: &str) -> &'a Schema {
    doc.definitions
        .as_ref()
        .and_then(|d| d.additional_properties.iter().find(|n| n.name == name))
        .and_then(|n| n.value.as_ref())
        .unwrap_or_else(|| panic!("definition {name}"))
}

fn property<'a>(schema: &'a Schema, name: &str) -> &'a Schema {
    schema
        .properties
        .as_ref()
        .and_then(|p| p.additional_properties.iter().find(|n| n.name == name))
        .and_then(|n| n.value.as_ref())
        .unwrap_or_else(|| panic!("property {name}"))
}

fn extension<'a>(schema: &'a Schema, name: &str) -> Option<&'a str> {
    schema
        .vendor_extension
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_ref())
        .map(|a| a.yaml.as_str())
}

fn types(schema: &Schema) -> Vec<String> {
    schema.r#type.clone().map(|t| t.value).unwrap_or_default()
}

#[test]
fn config_map_data_is_an_object_of_strings() {
    let doc = decoded();
    assert_eq!(doc.swagger, "2.0");
    let config_map = definition(&doc, "io.k8s.api.core.v1.ConfigMap");
    assert_eq!(types(config_map), ["object"]);
    let data = property(config_map, "data");
    assert_eq!(types(data), ["object"]);
    match data
        .additional_properties
        .as_ref()
        .and_then(|a| a.oneof.as_ref())
    {
        Some(AdditionalProperties::Schema(values)) => assert_eq!(types(values), ["string"]),
        other => panic!("data.additionalProperties: {other:?}"),
    }
    let metadata = property(config_map, "metadata");
    assert_eq!(
        metadata.xref,
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(metadata.r#type.is_none(), "a reference has no type");
    assert!(!metadata.description.is_empty());
    assert_eq!(
        extension(config_map, "x-kubernetes-group-version-kind"),
        Some("- group: \"\"\n  kind: ConfigMap\n  version: v1\n")
    );
}

#[test]
fn deployment_has_its_gvk_and_patch_extensions() {
    let doc = decoded();
    let deployment = definition(&doc, "io.k8s.api.apps.v1.Deployment");
    assert_eq!(
        extension(deployment, "x-kubernetes-group-version-kind"),
        Some("- group: apps\n  kind: Deployment\n  version: v1\n")
    );
    let list = definition(&doc, "io.k8s.api.apps.v1.DeploymentList");
    assert_eq!(
        extension(list, "x-kubernetes-group-version-kind"),
        Some("- group: apps\n  kind: DeploymentList\n  version: v1\n")
    );
    let containers = property(definition(&doc, "io.k8s.api.core.v1.PodSpec"), "containers");
    assert_eq!(
        extension(containers, "x-kubernetes-patch-merge-key"),
        Some("name\n")
    );
    assert_eq!(
        extension(containers, "x-kubernetes-patch-strategy"),
        Some("merge\n")
    );
    let items = containers.items.as_ref().expect("containers.items");
    assert_eq!(items.schema.len(), 1);
    assert_eq!(
        items.schema[0].xref,
        "#/definitions/io.k8s.api.core.v1.Container"
    );
    let required = &definition(&doc, "io.k8s.api.core.v1.PodSpec").required;
    assert_eq!(required, &["containers"]);
    let int_or_string = definition(&doc, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    assert_eq!(types(int_or_string), ["string"]);
    assert_eq!(int_or_string.format, "int-or-string");
}

/// Every registered kind and its list can be looked up by GVK, as kubectl's
/// `openapi.NewOpenAPIData` indexes the definitions.
#[test]
fn every_registered_kind_has_a_definition_with_its_gvk() {
    let doc = decoded();
    let mut indexed: Vec<String> = Vec::new();
    for named in &doc
        .definitions
        .as_ref()
        .expect("definitions")
        .additional_properties
    {
        let schema = named.value.as_ref().expect("schema");
        if let Some(yaml) = extension(schema, "x-kubernetes-group-version-kind") {
            indexed.push(yaml.to_string());
        }
    }
    let all = indexed.concat();
    for r in berth_api::REGISTRY {
        if crate::kinds::definition_name(r.group, r.version, r.kind).is_none() {
            continue; // connect options and the like have no schema upstream either
        }
        for kind in [r.kind.to_string(), r.list_kind()] {
            let entry = to_yaml(&json!([{ "group": r.group, "kind": kind, "version": r.version }]));
            // One GVK of a (possibly longer) list of them.
            let entry = entry.trim_start_matches("- ");
            assert!(all.contains(entry), "{} {} {kind}", r.group, r.version);
        }
    }
}

/// The checks kube-openapi's `NewOpenAPIData` makes while parsing (kubectl
/// fails the whole command when one fails): references point into
/// `#/definitions/` at a definition that exists and carry neither a type
/// nor properties; at most one type; arrays have exactly one item schema;
/// other single types are primitives.
#[test]
fn every_schema_parses_as_kube_openapi_parses_it() {
    let doc = decoded();
    let defs = &doc
        .definitions
        .as_ref()
        .expect("definitions")
        .additional_properties;
    let names: HashSet<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    fn check(schema: &Schema, path: &str, names: &HashSet<&str>, checked: &mut usize) {
        *checked += 1;
        let t = types(schema);
        if !schema.xref.is_empty() {
            let target = schema
                .xref
                .strip_prefix(V2_REF_PREFIX)
                .unwrap_or_else(|| panic!("{path}: reference outside definitions"));
            assert!(names.contains(target), "{path}: dangling {target}");
            assert!(t.is_empty(), "{path}: reference with a type");
            assert!(
                schema.properties.is_none(),
                "{path}: reference with properties"
            );
            return;
        }
        assert!(t.len() <= 1, "{path}: {t:?}");
        match t.first().map(String::as_str) {
            Some("array") => {
                let items = schema
                    .items
                    .as_ref()
                    .map(|i| i.schema.as_slice())
                    .unwrap_or_default();
                assert_eq!(items.len(), 1, "{path}: array items");
                check(&items[0], &format!("{path}[]"), names, checked);
            }
            Some("object") | None => {}
            Some(primitive) => assert!(
                ["string", "number", "integer", "boolean"].contains(&primitive),
                "{path}: {primitive}"
            ),
        }
        for p in schema
            .properties
            .iter()
            .flat_map(|p| &p.additional_properties)
        {
            let value = p.value.as_ref().expect("property schema");
            check(value, &format!("{path}.{}", p.name), names, checked);
        }
        if let Some(AdditionalProperties::Schema(values)) = schema
            .additional_properties
            .as_ref()
            .and_then(|a| a.oneof.as_ref())
        {
            check(values, &format!("{path}{{}}"), names, checked);
        }
        assert!(schema.all_of.is_empty(), "{path}: allOf left in v2");
    }
    let mut checked = 0;
    for d in defs {
        check(
            d.value.as_ref().expect("schema"),
            &d.name,
            &names,
            &mut checked,
        );
    }
    assert!(
        defs.len() > 300 && checked > 2000,
        "{} {checked}",
        defs.len()
    );
}

/// Rebuilds JSON from the decoded protobuf (extensions compared as their
/// YAML text) and compares it with the JSON form: the two encodings carry
/// the same document, in the same order.
#[test]
fn protobuf_says_what_the_json_says() {
    fn extensions_json(list: &[NamedAny], json: &Value) -> Vec<(String, String)> {
        let from_proto: Vec<(String, String)> = list
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.value.as_ref().map(|a| a.yaml.clone()).unwrap_or_default(),
                )
            })
            .collect();
        let from_json: Vec<(String, String)> = json
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.starts_with("x-"))
            .map(|(k, v)| (k.clone(), to_yaml(v)))
            .collect();
        assert_eq!(from_proto, from_json);
        from_proto
    }
    fn back(schema: &Schema, json: &Value) -> Value {
        let mut out = serde_json::Map::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                out.insert(k.into(), json!(v));
            }
        };
        put("$ref", &schema.xref);
        put("format", &schema.format);
        put("title", &schema.title);
        put("description", &schema.description);
        if let Some(d) = &schema.default {
            assert_eq!(Some(d.yaml.clone()), json.get("default").map(to_yaml));
            out.insert("default".into(), json["default"].clone());
        }
        if !schema.required.is_empty() {
            out.insert("required".into(), json!(schema.required));
        }
        if let Some(t) = &schema.r#type {
            out.insert("type".into(), json!(t.value[0]));
        }
        if let Some(items) = &schema.items {
            out.insert("items".into(), back(&items.schema[0], &json["items"]));
        }
        if let Some(AdditionalProperties::Schema(s)) = schema
            .additional_properties
            .as_ref()
            .and_then(|a| a.oneof.as_ref())
        {
            out.insert(
                "additionalProperties".into(),
                back(s, &json["additionalProperties"]),
            );
        }
        if let Some(props) = &schema.properties {
            let map = props
                .additional_properties
                .iter()
                .map(|p| {
                    let value = p.value.as_ref().expect("property schema");
                    (p.name.clone(), back(value, &json["properties"][&p.name]))
                })
                .collect();
            out.insert("properties".into(), Value::Object(map));
        }
        for (name, _) in extensions_json(&schema.vendor_extension, json) {
            out.insert(name.clone(), json[&name].clone());
        }
        Value::Object(out)
    }
    let doc = decoded();
    let json = json_doc();
    let info = doc.info.as_ref().expect("info");
    assert_eq!(
        json["info"],
        json!({ "title": info.title, "version": info.version })
    );
    let defs = &doc
        .definitions
        .as_ref()
        .expect("definitions")
        .additional_properties;
    let json_defs = json["definitions"].as_object().expect("definitions");
    let names: Vec<&String> = defs.iter().map(|d| &d.name).collect();
    assert_eq!(names, json_defs.keys().collect::<Vec<_>>());
    for d in defs {
        let rebuilt = back(d.value.as_ref().expect("schema"), &json_defs[&d.name]);
        assert_eq!(rebuilt, json_defs[&d.name], "{}", d.name);
    }
    let security = doc
        .security_definitions
        .as_ref()
        .expect("securityDefinitions");
    let bearer = security.additional_properties[0].value.as_ref();
    let key = bearer
        .and_then(|b| b.api_key_security.as_ref())
        .expect("api key");
    assert_eq!(
        (key.name.as_str(), key.r#in.as_str()),
        ("authorization", "header")
    );
}

#[test]
fn etag_is_the_quoted_sha512_of_the_json_for_both_forms() {
    let json = built().response(V2Format::Json);
    let proto = built().response(V2Format::Protobuf);
    assert_eq!(json.etag, proto.etag);
    assert_eq!(
        json.etag,
        format!("\"{}\"", crate::content_hash(&json.body))
    );
    assert_eq!(json.content_type, "application/json");
    assert_eq!(proto.content_type, V2_PROTOBUF_CONTENT_TYPE);
    assert!(json.not_modified(&json.etag));
    assert!(json.not_modified(&format!("\"x\", W/{}", json.etag)));
    assert!(!json.not_modified("\"x\""));
}

#[test]
fn accept_negotiation_follows_kube_openapi() {
    use V2Format::*;
    // client-go's DiscoveryClient.OpenAPISchema.
    let client_go = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
    assert_eq!(V2Format::negotiate(client_go), Some(Protobuf));
    assert_eq!(
        V2Format::negotiate("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
        Some(Protobuf)
    );
    assert_eq!(V2Format::negotiate("application/json"), Some(Json));
    assert_eq!(V2Format::negotiate(""), Some(Json));
    assert_eq!(V2Format::negotiate("*/*"), Some(Json));
    assert_eq!(V2Format::negotiate("application/*"), Some(Json));
    assert_eq!(
        V2Format::negotiate(&format!("application/json;q=0.5, {client_go}")),
        Some(Protobuf)
    );
    assert_eq!(
        V2Format::negotiate(&format!("*/*;q=0.9, {client_go}")),
        Some(Protobuf)
    );
    assert_eq!(V2Format::negotiate("text/html"), None);
    assert_eq!(V2Format::negotiate("application/yaml"), None);
}
