//! admissionregistration.k8s.io/v1: webhook configurations and validating admission policies.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, at, created, name, str_at};
use crate::labels::selector_string;

pub(crate) const WEBHOOK_CONFIGURATION_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Webhooks", "integer", desc::WEBHOOKS),
    AGE,
];

pub(crate) fn webhook_configuration_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(arr_at(obj, &["webhooks"]).len()),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const POLICY_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Validations", "integer", desc::VAP_VALIDATIONS),
    Column::new("ParamKind", "string", desc::VAP_PARAM_KIND),
    AGE,
];

pub(crate) fn policy_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let param_kind = match at(obj, &["spec", "paramKind"]) {
        Some(p) => format!("{}/{}", str_at(p, &["apiVersion"]), str_at(p, &["kind"])),
        None => "<unset>".to_string(),
    };
    vec![
        json!(name(obj)),
        json!(arr_at(obj, &["spec", "validations"]).len()),
        json!(param_kind),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const POLICY_BINDING_COLUMNS: &[Column] = &[
    NAME,
    Column::new("PolicyName", "string", desc::VAPB_POLICY_NAME),
    Column::new("ParamRef", "string", desc::VAPB_PARAM_REF),
    AGE,
];

pub(crate) fn policy_binding_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let param_ref = match at(obj, &["spec", "paramRef"]) {
        Some(pr) => {
            let ref_name = str_at(pr, &["name"]);
            let ns = str_at(pr, &["namespace"]);
            if !ref_name.is_empty() {
                // Without a namespace the param may be cluster-scoped or in any namespace.
                format!("{}/{ref_name}", if ns.is_empty() { "*" } else { ns })
            } else if let Some(sel) = at(pr, &["selector"]) {
                // Upstream prints the Go struct form here; the selector string is close enough.
                selector_string(Some(sel)).unwrap_or_else(|_| "<invalid>".to_string())
            } else {
                "<unset>".to_string()
            }
        }
        None => "<unset>".to_string(),
    };
    vec![
        json!(name(obj)),
        json!(str_at(obj, &["spec", "policyName"])),
        json!(param_ref),
        json!(since(created(obj), now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn webhook_and_policy_rows() {
        let wh = json!({"metadata": {"name": "cert-manager", "creationTimestamp": "2025-01-01T11:00:00Z"},
                        "webhooks": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(
            webhook_configuration_cells(&wh, now()),
            vec![json!("cert-manager"), json!(2), json!("60m")]
        );
        let vap = json!({"metadata": {"name": "replicas"},
            "spec": {"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                     "validations": [{"expression": "object.spec.replicas <= 5"}]}});
        assert_eq!(
            policy_cells(&vap, now()),
            vec![
                json!("replicas"),
                json!(1),
                json!("v1/ConfigMap"),
                json!("<unknown>")
            ]
        );
        let vapb = json!({"metadata": {"name": "b"},
            "spec": {"policyName": "replicas", "paramRef": {"name": "limits"}}});
        let c = policy_binding_cells(&vapb, now());
        assert_eq!(c[1..3], [json!("replicas"), json!("*/limits")]);
    }
}
