//! One group-version OpenAPI v3 document: the schemas of its kinds (and
//! everything they reference, meta types included) under
//! `components.schemas`, and `paths` for every resource of the group version.

use std::collections::{BTreeMap, HashMap};

use berth_api::{ResourceInfo, REGISTRY};
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::{extensions, kinds, paths};

/// The Kubernetes version the schemas come from (k8s-openapi feature v1_33).
pub(crate) const KUBERNETES_VERSION: &str = "v1.33.0";

/// Every (group, version) of the registry, in registry order.
pub(crate) fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in REGISTRY {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// "api/v1" or "apis/apps/v1".
pub(crate) fn document_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The definition name of a `<Kind>List`, derived from its kind's.
pub(crate) fn list_definition(kind_definition: &str) -> String {
    format!("{kind_definition}List")
}

struct Resolved {
    kinds: HashMap<(String, String, String), String>,
    meta: kinds::MetaDefinitions,
}

impl paths::Definitions for Resolved {
    fn kind(&self, group: &str, version: &str, kind: &str) -> Option<String> {
        self.kinds
            .get(&(group.to_string(), version.to_string(), kind.to_string()))
            .cloned()
    }
    fn list(&self, group: &str, version: &str, kind: &str) -> Option<String> {
        self.kind(group, version, kind).map(|d| list_definition(&d))
    }
    fn delete_options(&self) -> &str {
        &self.meta.delete_options
    }
    fn status(&self) -> &str {
        &self.meta.status
    }
    fn patch(&self) -> &str {
        &self.meta.patch
    }
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

fn list_schema(kind: &str, plural: &str, kind_definition: &str, list_meta: &str) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string"
            },
            "items": {
                "description": format!("List of {plural}."),
                "type": "array",
                "items": { "$ref": format!("#/components/schemas/{kind_definition}") }
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string"
            },
            "metadata": {
                "allOf": [{ "$ref": format!("#/components/schemas/{list_meta}") }],
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
            }
        },
        "required": ["items"]
    })
}

/// Adds `x-kubernetes-group-version-kind` entries to a definition.
fn add_gvks(schemas: &mut Map<String, Value>, definition: &str, gvks: Vec<Value>) {
    if let Some(Value::Object(schema)) = schemas.get_mut(definition) {
        let entry = schema
            .entry("x-kubernetes-group-version-kind")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            for g in gvks {
                if !list.contains(&g) {
                    list.push(g);
                }
            }
        }
    }
}

/// The schemas and paths of one group version; `None` if the registry has
/// no resource in it.
pub(crate) fn build(group: &str, version: &str) -> Option<Value> {
    let resources: Vec<&ResourceInfo> = REGISTRY
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if resources.is_empty() {
        return None;
    }
    let (schemas, resolved) = schemas_for(&resources);
    let paths = paths::build(group, version, &resources, &resolved);
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header"
                }
            }
        }
    }))
}

/// The component schemas for a set of resources: their kinds, lists,
/// subresource kinds and meta types, with GVK and patch extensions.
fn schemas_for(resources: &[&ResourceInfo]) -> (Map<String, Value>, Resolved) {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let meta = kinds::add_meta(&mut generator);
    let mut resolved_kinds = HashMap::new();
    // (definition, gvk) pairs to mark once the definitions exist.
    let mut marks: Vec<(String, Value)> = Vec::new();
    let mut lists: Vec<(&ResourceInfo, String)> = Vec::new();
    for r in resources {
        if let Some(definition) = kinds::add_kind(&mut generator, r.group, r.version, r.kind) {
            resolved_kinds.insert(
                (r.group.into(), r.version.into(), r.kind.into()),
                definition.clone(),
            );
            marks.push((definition.clone(), gvk(r.group, r.version, r.kind)));
            marks.push((
                list_definition(&definition),
                gvk(r.group, r.version, &r.list_kind()),
            ));
            lists.push((r, definition));
        }
        for sub in r.subresources {
            if let Some(definition) =
                kinds::add_kind(&mut generator, sub.group, sub.version, sub.kind)
            {
                resolved_kinds.insert(
                    (sub.group.into(), sub.version.into(), sub.kind.into()),
                    definition.clone(),
                );
                marks.push((definition, gvk(sub.group, sub.version, sub.kind)));
            }
        }
    }
    let mut schemas = generator.take_definitions(true);
    for (r, definition) in lists {
        schemas.insert(
            list_definition(&definition),
            list_schema(r.kind, r.plural, &definition, &meta.list_meta),
        );
    }
    for (definition, g) in marks {
        add_gvks(&mut schemas, &definition, vec![g]);
    }
    // Meta types are shared by every group version, as upstream lists them.
    let all_gvs = group_versions();
    let per_gv = |kind: &str| -> Vec<Value> {
        let mut out = vec![gvk("", "v1", kind)];
        out.extend(
            all_gvs
                .iter()
                .filter(|(g, _)| !g.is_empty())
                .map(|(g, v)| gvk(g, v, kind)),
        );
        out
    };
    add_gvks(&mut schemas, &meta.delete_options, per_gv("DeleteOptions"));
    add_gvks(&mut schemas, &meta.watch_event, per_gv("WatchEvent"));
    add_gvks(&mut schemas, &meta.status, vec![gvk("", "v1", "Status")]);
    extensions::apply(&mut schemas);
    // Sorted like upstream's documents, so equal inputs give equal bytes.
    let sorted: BTreeMap<String, Value> = schemas.into_iter().collect();
    (
        sorted.into_iter().collect(),
        Resolved {
            kinds: resolved_kinds,
            meta,
        },
    )
}

/// The component schemas of every kind in the registry: the input of the
/// strict field checker (definition names are global, so one table serves
/// every group version).
pub(crate) fn all_schemas() -> Map<String, Value> {
    let resources: Vec<&ResourceInfo> = REGISTRY.iter().collect();
    schemas_for(&resources).0
}
