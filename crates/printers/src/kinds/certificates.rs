//! certificates.k8s.io/v1: CertificateSigningRequest.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::{human_duration, since};
use crate::json::{arr_at, created, name, opt_int, str_at};

pub(crate) const CSR_COLUMNS: &[Column] = &[
    NAME,
    AGE,
    Column::new("SignerName", "string", desc::CSR_SIGNER),
    Column::new("Requestor", "string", desc::CSR_REQUESTOR),
    Column::new("RequestedDuration", "string", desc::CSR_DURATION),
    Column::new("Condition", "string", desc::CSR_CONDITION),
];

pub(crate) fn csr_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let signer = match str_at(obj, &["spec", "signerName"]) {
        "" => "<none>",
        s => s,
    };
    let duration = opt_int(obj, &["spec", "expirationSeconds"])
        .map(|s| human_duration(TimeDelta::seconds(s)))
        .unwrap_or_else(|| "<none>".to_string());
    vec![
        json!(name(obj)),
        json!(since(created(obj), now)),
        json!(signer),
        json!(str_at(obj, &["spec", "username"])),
        json!(duration),
        json!(csr_condition(obj)),
    ]
}

/// "Denied" beats "Approved" beats "Pending"; then ",Failed" and ",Issued" suffixes.
fn csr_condition(obj: &Value) -> String {
    let conditions = arr_at(obj, &["status", "conditions"]);
    let has_type = |t: &str| conditions.iter().any(|c| str_at(c, &["type"]) == t);
    let mut status = if has_type("Denied") {
        "Denied".to_string()
    } else if has_type("Approved") {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if has_type("Failed") {
        status.push_str(",Failed");
    }
    if !str_at(obj, &["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn csr_rows() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let csr = json!({"metadata": {"name": "node-csr-abc", "creationTimestamp": "2025-01-01T11:59:00Z"},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                     "username": "system:bootstrap:abcdef", "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}});
        assert_eq!(
            csr_cells(&csr, now),
            vec![
                json!("node-csr-abc"),
                json!("60s"),
                json!("kubernetes.io/kube-apiserver-client-kubelet"),
                json!("system:bootstrap:abcdef"),
                json!("24h"),
                json!("Approved,Issued"),
            ]
        );
        let pending = json!({"metadata": {"name": "p"}, "spec": {}});
        let c = csr_cells(&pending, now);
        assert_eq!(c[2], json!("<none>"));
        assert_eq!(c[4], json!("<none>"));
        assert_eq!(c[5], json!("Pending"));
    }
}
