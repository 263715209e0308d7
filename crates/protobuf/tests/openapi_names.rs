//! Every message of the descriptor table that has a k8s-openapi counterpart must use the same
//! JSON field names: a field spelled differently (podIp vs podIP) fails here. Fields that exist
//! on only one side (k8s-pb follows a newer Kubernetes than k8s-openapi's v1_33) are allowed;
//! Go embedded structs are compared by their flattened fields.

#[path = "generated/openapi_counterparts.rs"]
mod openapi_counterparts;

use berth_protobuf::descriptor_types::{find_message, Cardinality, ValueKind};
use schemars::SchemaGenerator;

fn flattened_json_names(full_name: &str, out: &mut Vec<String>) {
    let Some(message) = find_message(full_name) else {
        return;
    };
    for field in message.fields {
        match (field.cardinality, field.value) {
            (Cardinality::Embedded, ValueKind::Message(inner)) => flattened_json_names(inner, out),
            _ => out.push(field.json_name.to_string()),
        }
    }
}

fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

#[test]
fn json_names_match_k8s_openapi() {
    let mut generator = SchemaGenerator::default();
    let mut problems = Vec::new();
    let mut compared = 0;
    let mut types = 0;
    for (proto_name, schema_fn) in openapi_counterparts::COUNTERPARTS {
        let schema = schema_fn(&mut generator);
        let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else {
            continue;
        };
        types += 1;
        let openapi: Vec<&String> = properties.keys().collect();
        let mut ours = Vec::new();
        flattened_json_names(proto_name, &mut ours);
        assert!(
            !ours.is_empty() || openapi.is_empty(),
            "{proto_name} missing from the table"
        );
        for name in &ours {
            if openapi.contains(&name) {
                compared += 1;
            } else if let Some(o) = openapi.iter().find(|o| normalize(o) == normalize(name)) {
                problems.push(format!("{proto_name}: {name} should be {o}"));
            }
        }
        for o in &openapi {
            let covered = ours.iter().any(|n| normalize(n) == normalize(o));
            // TypeMeta is in the envelope, not the message.
            if !covered && *o != "apiVersion" && *o != "kind" && ours.len() + 2 < openapi.len() / 2
            {
                problems.push(format!(
                    "{proto_name}: k8s-openapi field {o} has no proto field"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} JSON-name problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // A guard against the comparison silently comparing nothing (575 types, ~2200 fields).
    assert!(
        types > 500 && compared > 2000,
        "only {compared} fields of {types} types compared"
    );
}

#[test]
fn the_common_kinds_have_identical_field_sets() {
    // For these, k8s-pb and k8s-openapi describe the same Kubernetes fields exactly.
    let kinds = [
        "k8s.io.api.apps.v1.DeploymentSpec",
        "k8s.io.api.core.v1.ConfigMap",
        "k8s.io.api.core.v1.Secret",
        "k8s.io.api.core.v1.ServicePort",
        "k8s.io.api.core.v1.ContainerPort",
        "k8s.io.api.rbac.v1.PolicyRule",
        "k8s.io.api.batch.v1.CronJobSpec",
        "k8s.io.api.autoscaling.v1.HorizontalPodAutoscalerSpec",
        "k8s.io.api.authorization.v1.ResourceAttributes",
        "k8s.io.api.authentication.v1.TokenRequestSpec",
        "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "k8s.io.api.core.v1.Volume",
    ];
    let mut generator = SchemaGenerator::default();
    for kind in kinds {
        let (_, schema_fn) = openapi_counterparts::COUNTERPARTS
            .iter()
            .find(|(name, _)| *name == kind)
            .unwrap_or_else(|| panic!("{kind} has no counterpart"));
        let schema = schema_fn(&mut generator);
        let mut openapi: Vec<String> = schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|p| {
                p.keys()
                    .filter(|k| *k != "apiVersion" && *k != "kind")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut ours = Vec::new();
        flattened_json_names(kind, &mut ours);
        openapi.sort();
        ours.sort();
        assert_eq!(ours, openapi, "{kind}");
    }
}
