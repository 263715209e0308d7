//! Turns the parsed prost messages into the generated Rust sources.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

use crate::json_names::json_name;
use crate::prost_source::{FieldShape, ProstMessage, ProstResource, ValueType};

pub struct GenMessage {
    pub full_name: String,
    pub fields: Vec<GenField>,
}

pub struct GenField {
    pub tag: u32,
    pub rust_name: String,
    pub json_name: String,
    /// Rust expression of the `ValueKind`.
    pub value: String,
    /// Rust expression of the `Cardinality`.
    pub cardinality: String,
}

/// Messages whose Kubernetes JSON is not an object of their fields (the decoder special-cases
/// them), so their field names are not compared with k8s-openapi.
pub fn is_special(full_name: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
        "k8s.io.apimachinery.pkg.api.resource.Quantity",
        "k8s.io.apimachinery.pkg.api.resource.QuantityValue",
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time",
        "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
        "k8s.io.apimachinery.pkg.apis.meta.v1.Duration",
        "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "k8s.io.apimachinery.pkg.runtime.RawExtension",
    ];
    SPECIAL.contains(&full_name)
        || full_name.starts_with("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON")
            && !full_name.ends_with("JSONSchemaProps")
}

fn scalar_variant(proto: &str) -> Result<&'static str, String> {
    Ok(match proto {
        "string" => "String",
        "bytes" => "Bytes",
        "bool" => "Bool",
        "int32" => "Int32",
        "int64" => "Int64",
        "uint32" => "Uint32",
        "uint64" => "Uint64",
        "sint32" => "Sint32",
        "sint64" => "Sint64",
        "fixed32" => "Fixed32",
        "fixed64" => "Fixed64",
        "sfixed32" => "Sfixed32",
        "sfixed64" => "Sfixed64",
        "double" => "Double",
        "float" => "Float",
        other => return Err(format!("unsupported scalar type {other}")),
    })
}

fn value_expr(value: &ValueType, renames: &HashMap<String, String>) -> Result<String, String> {
    Ok(match value {
        ValueType::Scalar(s) => format!("V::Scalar(S::{})", scalar_variant(s)?),
        ValueType::Message(m) => format!("V::Message({:?})", renames.get(m).unwrap_or(m)),
    })
}

impl GenField {
    /// The message type of a message-valued field.
    pub fn message_type(&self) -> Option<&str> {
        self.value
            .strip_prefix("V::Message(\"")
            .and_then(|r| r.strip_suffix("\")"))
    }
}

pub fn build_messages(
    messages: &[ProstMessage],
    renames: &HashMap<String, String>,
) -> Result<Vec<GenMessage>, String> {
    let mut out = Vec::new();
    for m in messages {
        let full_name = renames
            .get(&m.full_name())
            .cloned()
            .unwrap_or_else(|| m.full_name());
        let mut fields = Vec::new();
        for f in &m.fields {
            let (value, cardinality) = match &f.shape {
                FieldShape::Optional(v) => (value_expr(v, renames)?, "C::Optional".to_string()),
                FieldShape::Repeated(v) => (value_expr(v, renames)?, "C::Repeated".to_string()),
                FieldShape::Map { key, value } => (
                    value_expr(value, renames)?,
                    format!("C::Map(S::{})", scalar_variant(key)?),
                ),
            };
            fields.push(GenField {
                tag: f.tag,
                rust_name: f.rust_name.clone(),
                json_name: json_name(&full_name, &f.rust_name),
                value,
                cardinality,
            });
        }
        fields.sort_by_key(|f| f.tag);
        out.push(GenMessage { full_name, fields });
    }
    out.sort_by(|a, b| a.full_name.cmp(&b.full_name));
    for pair in out.windows(2) {
        if pair[0].full_name == pair[1].full_name {
            return Err(format!("duplicate message {}", pair[0].full_name));
        }
    }
    // Every referenced message must be in the table.
    for m in &out {
        for f in &m.fields {
            if let Some(target) = f.message_type() {
                if out
                    .binary_search_by(|x| x.full_name.as_str().cmp(target))
                    .is_err()
                {
                    return Err(format!(
                        "{}.{} refers to unknown message {target}",
                        m.full_name, f.rust_name
                    ));
                }
            }
        }
    }
    Ok(out)
}

pub struct GenResource {
    api_version: String,
    kind: String,
    message: String,
}

pub fn build_resources(
    resources: &[ProstResource],
    renames: &HashMap<String, String>,
) -> Vec<GenResource> {
    let mut out: Vec<GenResource> = resources
        .iter()
        .map(|r| GenResource {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            message: renames
                .get(&r.message)
                .cloned()
                .unwrap_or_else(|| r.message.clone()),
        })
        .collect();
    out.sort_by(|a, b| (&a.api_version, &a.kind).cmp(&(&b.api_version, &b.kind)));
    out
}

pub fn descriptors_file(
    messages: &[GenMessage],
    resources: &[GenResource],
    source: &Path,
) -> String {
    let source_name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// @generated by `cargo run -p berth-protobuf --bin gen_descriptors` from {source_name}."
    );
    s.push_str(
        "// Do not edit: change the generator (src/bin/gen_descriptors) and run it again.\n\n",
    );
    s.push_str("use crate::descriptor_types::{\n    field, message, Cardinality as C, MessageDescriptor, ResourceKind, Scalar as S, ValueKind as V,\n};\n\n");
    s.push_str("/// Every message of k8s-pb, sorted by full name; fields sorted by tag.\n");
    s.push_str("pub(crate) static MESSAGES: &[MessageDescriptor] = &[\n");
    for m in messages {
        if m.fields.is_empty() {
            let _ = writeln!(s, "    message({:?}, &[]),", m.full_name);
            continue;
        }
        let _ = writeln!(s, "    message(\n        {:?},\n        &[", m.full_name);
        for f in &m.fields {
            let _ = writeln!(
                s,
                "            field({}, {:?}, {}, {}),",
                f.tag, f.json_name, f.value, f.cardinality
            );
        }
        s.push_str("        ],\n    ),\n");
    }
    s.push_str("];\n\n");
    s.push_str("/// Every kind with `impl Resource` in k8s-pb, sorted by apiVersion and kind.\n");
    s.push_str("pub(crate) static RESOURCES: &[ResourceKind] = &[\n");
    for r in resources {
        let _ = writeln!(
            s,
            "    ResourceKind {{\n        api_version: {:?},\n        kind: {:?},\n        message: {:?},\n    }},",
            r.api_version, r.kind, r.message
        );
    }
    s.push_str("];\n");
    s
}

pub fn counterparts_file(counterparts: &[(String, String)]) -> String {
    let mut s = String::new();
    s.push_str(
        "// @generated by `cargo run -p berth-protobuf --bin gen_descriptors`. Do not edit.\n",
    );
    s.push_str("//! Every k8s-openapi type with a proto counterpart in the descriptor table.\n\n");
    s.push_str("use schemars::{JsonSchema, Schema, SchemaGenerator};\n\n");
    s.push_str("pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;\n\n");
    s.push_str("pub const COUNTERPARTS: &[(&str, SchemaFn)] = &[\n");
    for (proto, rust_path) in counterparts {
        let _ = writeln!(
            s,
            "    (\n        {proto:?},\n        <{rust_path} as JsonSchema>::json_schema,\n    ),"
        );
    }
    s.push_str("];\n");
    s
}
