//! admissionregistration.k8s.io/v1 defaults: webhook configurations and
//! ValidatingAdmissionPolicy (+Binding).

use serde_json::{json, Map, Value};

use crate::json::{default_ptr, each_obj, obj};

/// Port of a webhook's in-cluster service when none is given.
const WEBHOOK_SERVICE_PORT: i64 = 443;

/// ValidatingWebhookConfiguration (`mutating` false) and
/// MutatingWebhookConfiguration (`mutating` true).
pub fn default_webhook_configuration(config: &mut Map<String, Value>, mutating: bool) {
    for webhook in each_obj(config, "webhooks") {
        default_ptr(webhook, "failurePolicy", json!("Fail"));
        default_ptr(webhook, "matchPolicy", json!("Equivalent"));
        default_ptr(webhook, "namespaceSelector", json!({}));
        default_ptr(webhook, "objectSelector", json!({}));
        default_ptr(webhook, "timeoutSeconds", json!(10));
        if mutating {
            default_ptr(webhook, "reinvocationPolicy", json!("Never"));
        }
        for rule in each_obj(webhook, "rules") {
            default_rule(rule);
        }
        if let Some(service) = obj(webhook, "clientConfig").and_then(|c| obj(c, "service")) {
            default_service_reference(service);
        }
    }
}

pub fn default_service_reference(service: &mut Map<String, Value>) {
    default_ptr(service, "port", json!(WEBHOOK_SERVICE_PORT));
}

fn default_rule(rule: &mut Map<String, Value>) {
    default_ptr(rule, "scope", json!("*"));
}

pub fn default_validating_admission_policy(spec: &mut Map<String, Value>) {
    default_ptr(spec, "failurePolicy", json!("Fail"));
    if let Some(match_resources) = obj(spec, "matchConstraints") {
        default_match_resources(match_resources);
    }
}

pub fn default_validating_admission_policy_binding(spec: &mut Map<String, Value>) {
    if let Some(match_resources) = obj(spec, "matchResources") {
        default_match_resources(match_resources);
    }
}

fn default_match_resources(m: &mut Map<String, Value>) {
    default_ptr(m, "matchPolicy", json!("Equivalent"));
    default_ptr(m, "namespaceSelector", json!({}));
    default_ptr(m, "objectSelector", json!({}));
    for list in ["resourceRules", "excludeResourceRules"] {
        for rule in each_obj(m, list) {
            default_rule(rule);
        }
    }
}
