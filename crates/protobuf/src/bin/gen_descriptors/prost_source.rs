//! Reads the prost-generated sources of the `k8s-pb` crate: every `pub struct` with its
//! `#[prost(...)]` fields, and every `impl crate::Resource` (apiVersion + kind).

use std::fs;
use std::path::{Path, PathBuf};

/// One protobuf message as prost generated it.
#[derive(Debug, Clone)]
pub struct ProstMessage {
    /// Proto package, e.g. `k8s.io.api.core.v1`.
    pub package: String,
    /// Rust struct name (prost's UpperCamelCase of the proto message name).
    pub name: String,
    pub fields: Vec<ProstField>,
}

impl ProstMessage {
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.package, self.name)
    }
}

/// One field: the attribute and the Rust declaration below it.
#[derive(Debug, Clone)]
pub struct ProstField {
    /// Rust field name without `r#`, e.g. `pod_ips`.
    pub rust_name: String,
    pub tag: u32,
    pub shape: FieldShape,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValueType {
    /// A scalar protobuf type name as prost writes it: string, bytes, bool, int32, int64, ...
    Scalar(String),
    /// A message, by full proto name.
    Message(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldShape {
    Optional(ValueType),
    Repeated(ValueType),
    Map { key: String, value: ValueType },
}

/// `impl crate::Resource for X { const API_VERSION = ..; const KIND = ..; }`
#[derive(Debug, Clone)]
pub struct ProstResource {
    pub api_version: String,
    pub kind: String,
    /// Full proto name of the message.
    pub message: String,
}

pub struct ProstCrate {
    pub messages: Vec<ProstMessage>,
    pub resources: Vec<ProstResource>,
}

/// Parses every `mod.rs` below `src_dir` (the `src` folder of k8s-pb).
pub fn read_crate(src_dir: &Path) -> Result<ProstCrate, String> {
    let mut files = Vec::new();
    collect_mod_files(src_dir, &mut files)?;
    files.sort();
    let mut out = ProstCrate {
        messages: Vec::new(),
        resources: Vec::new(),
    };
    for file in files {
        let rel = file
            .parent()
            .and_then(|p| p.strip_prefix(src_dir).ok())
            .ok_or_else(|| format!("{} is not below {}", file.display(), src_dir.display()))?;
        let module: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if module.is_empty() {
            continue;
        }
        let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        parse_module(&module, &text, &mut out).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(out)
}

fn collect_mod_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect_mod_files(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "mod.rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn package_of(module: &[String]) -> String {
    format!("k8s.io.{}", module.join("."))
}

fn parse_module(module: &[String], text: &str, out: &mut ProstCrate) -> Result<(), String> {
    let package = package_of(module);
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("pub struct ") {
            let name = rest.trim_end_matches(['{', '}', ' ']).trim().to_string();
            let mut message = ProstMessage {
                package: package.clone(),
                name,
                fields: Vec::new(),
            };
            if !rest.trim_end().ends_with("{}") {
                parse_struct_body(module, &mut lines, &mut message)?;
            }
            out.messages.push(message);
        } else if let Some(rest) = line.strip_prefix("impl crate::Resource for ") {
            let name = rest.trim_end_matches(['{', ' ']).to_string();
            let mut api_version = None;
            let mut kind = None;
            for body in lines.by_ref() {
                if body == "}" {
                    break;
                }
                if let Some(v) = const_str(body, "API_VERSION") {
                    api_version = Some(v);
                }
                if let Some(v) = const_str(body, "KIND") {
                    kind = Some(v);
                }
            }
            if let (Some(api_version), Some(kind)) = (api_version, kind) {
                out.resources.push(ProstResource {
                    api_version,
                    kind,
                    message: format!("{package}.{name}"),
                });
            }
        }
    }
    Ok(())
}

fn const_str(line: &str, name: &str) -> Option<String> {
    let line = line.trim();
    let rest = line.strip_prefix(&format!("const {name}: &'static str = \""))?;
    Some(rest.strip_suffix("\";")?.to_string())
}

fn parse_struct_body<'a>(
    module: &[String],
    lines: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
    message: &mut ProstMessage,
) -> Result<(), String> {
    let mut attr: Option<String> = None;
    while let Some(line) = lines.next() {
        if line == "}" {
            return Ok(());
        }
        let trimmed = line.trim();
        if let Some(a) = trimmed.strip_prefix("#[prost(") {
            attr = Some(a.trim_end_matches(")]").to_string());
            continue;
        }
        if !trimmed.starts_with("pub ") {
            continue;
        }
        let Some(attr_text) = attr.take() else {
            return Err(format!(
                "field without #[prost] in {}: {trimmed}",
                message.name
            ));
        };
        // The declaration may wrap over several lines; it ends with a ',' at depth 0.
        let mut decl = trimmed.to_string();
        while !decl.ends_with(',') || decl.matches('<').count() != decl.matches('>').count() {
            let next = lines.next().ok_or("unterminated field declaration")?;
            decl.push_str(next.trim());
        }
        let (name_part, type_part) = decl
            .strip_prefix("pub ")
            .and_then(|d| d.split_once(':'))
            .ok_or_else(|| format!("cannot split field declaration: {decl}"))?;
        let rust_name = name_part.trim().trim_start_matches("r#").to_string();
        let type_text = type_part.trim().trim_end_matches(',').to_string();
        let field = parse_field(module, &attr_text, &rust_name, &type_text)
            .map_err(|e| format!("{}.{rust_name}: {e}", message.name))?;
        message.fields.push(field);
    }
    Err(format!("unterminated struct {}", message.name))
}

/// Attribute forms seen in k8s-pb: `string, optional, tag = "1"`, `message, repeated, tag = "2"`,
/// `int32, repeated, packed = "false", tag = "3"`, `btree_map = "string, message", tag = "4"`,
/// `message, optional, boxed, tag = "5"`.
fn parse_field(
    module: &[String],
    attr: &str,
    rust_name: &str,
    type_text: &str,
) -> Result<ProstField, String> {
    let tag = attr
        .split("tag = \"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| format!("no tag in #[prost({attr})]"))?;
    let first = attr.split(',').next().unwrap_or_default().trim();
    // `bytes = "vec"` only chooses the Rust type.
    let first = if first.starts_with("bytes") {
        "bytes"
    } else {
        first
    };
    let shape = if let Some(map) = first
        .strip_prefix("btree_map = \"")
        .or(first.strip_prefix("map = \""))
    {
        // `btree_map = "string, message"`: the comma split cut it; re-read from the attribute.
        let inside = attr.split('"').nth(1).ok_or("bad map attribute")?;
        let (key, value) = inside.split_once(',').ok_or("bad map attribute")?;
        let _ = map;
        let value = value.trim();
        let value = if value == "message" {
            let inner = generic_args(type_text, "BTreeMap")
                .and_then(|args| args.split_once(',').map(|(_, v)| v.trim().to_string()))
                .ok_or_else(|| format!("cannot find map value type in {type_text}"))?;
            ValueType::Message(resolve_path(module, &inner)?)
        } else {
            ValueType::Scalar(value.to_string())
        };
        FieldShape::Map {
            key: key.trim().to_string(),
            value,
        }
    } else {
        let repeated = attr.contains("repeated");
        let value = if first == "message" {
            let inner = if repeated {
                generic_args(type_text, "Vec")
            } else {
                generic_args(type_text, "Option")
                    .map(|inner| generic_args(&inner, "Box").unwrap_or(inner))
            }
            .ok_or_else(|| format!("cannot find message type in {type_text}"))?;
            ValueType::Message(resolve_path(module, &inner)?)
        } else {
            ValueType::Scalar(first.to_string())
        };
        if repeated {
            FieldShape::Repeated(value)
        } else {
            FieldShape::Optional(value)
        }
    };
    Ok(ProstField {
        rust_name: rust_name.to_string(),
        tag,
        shape,
    })
}

/// The text between the outer `<...>` of the first `wrapper<` in `type_text`.
fn generic_args(type_text: &str, wrapper: &str) -> Option<String> {
    let start = type_text.find(&format!("{wrapper}<"))? + wrapper.len() + 1;
    let mut depth = 1usize;
    for (i, c) in type_text[start..].char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(
                        type_text[start..start + i]
                            .trim()
                            .trim_end_matches(',')
                            .to_string(),
                    );
                }
            }
            _ => {}
        }
    }
    None
}

/// Turns a Rust path relative to `module` (`super::super::apimachinery::pkg::...::ObjectMeta`,
/// `crate::api::...::X` or a bare `Container`) into a full proto name.
fn resolve_path(module: &[String], path: &str) -> Result<String, String> {
    let mut base: Vec<String> = module.to_vec();
    let mut segments: Vec<&str> = path
        .split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if segments.first() == Some(&"crate") {
        base.clear();
        segments.remove(0);
    }
    while segments.first() == Some(&"super") {
        base.pop()
            .ok_or_else(|| format!("too many `super` in {path}"))?;
        segments.remove(0);
    }
    let name = segments.pop().ok_or_else(|| format!("empty path {path}"))?;
    base.extend(segments.iter().map(|s| s.to_string()));
    Ok(format!("{}.{}", package_of(&base), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_super_paths() {
        let module = vec!["api".to_string(), "apps".to_string(), "v1".to_string()];
        assert_eq!(
            resolve_path(
                &module,
                "super::super::super::apimachinery::pkg::apis::meta::v1::ObjectMeta"
            ),
            Ok("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta".to_string())
        );
        assert_eq!(
            resolve_path(&module, "DeploymentSpec"),
            Ok("k8s.io.api.apps.v1.DeploymentSpec".to_string())
        );
    }
}
