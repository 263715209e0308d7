//! rbac.authorization.k8s.io/v1: RoleBinding and ClusterRoleBinding
//! (Role and ClusterRole use the default NAME / CREATED AT table upstream).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, created, name, str_at};

pub(crate) const ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Role", "string", desc::ROLE_REF),
    AGE,
    Column::new("Users", "string", desc::RB_USERS).wide(),
    Column::new("Groups", "string", desc::RB_GROUPS).wide(),
    Column::new("ServiceAccounts", "string", desc::RB_SAS).wide(),
];

pub(crate) const CLUSTER_ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Role", "string", desc::CLUSTER_ROLE_REF),
    AGE,
    Column::new("Users", "string", desc::CRB_USERS).wide(),
    Column::new("Groups", "string", desc::CRB_GROUPS).wide(),
    Column::new("ServiceAccounts", "string", desc::CRB_SAS).wide(),
];

pub(crate) fn binding_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for subject in arr_at(obj, &["subjects"]) {
        let subject_name = str_at(subject, &["name"]);
        match str_at(subject, &["kind"]) {
            "ServiceAccount" => service_accounts.push(format!(
                "{}/{}",
                str_at(subject, &["namespace"]),
                subject_name
            )),
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            _ => {}
        }
    }
    vec![
        json!(name(obj)),
        json!(format!(
            "{}/{}",
            str_at(obj, &["roleRef", "kind"]),
            str_at(obj, &["roleRef", "name"])
        )),
        json!(since(created(obj), now)),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(service_accounts.join(", ")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn binding_row_splits_subjects() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let rb = json!({"metadata": {"name": "admins", "creationTimestamp": "2025-01-01T04:00:00Z"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [
                {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
                {"kind": "User", "name": "bob"},
                {"kind": "Group", "name": "system:masters"},
                {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"}]});
        assert_eq!(
            binding_cells(&rb, now),
            vec![
                json!("admins"),
                json!("ClusterRole/admin"),
                json!("8h"),
                json!("alice, bob"),
                json!("system:masters"),
                json!("tools/ci"),
            ]
        );
        let empty = json!({"metadata": {"name": "e"}, "roleRef": {"kind": "Role", "name": "r"}});
        let c = binding_cells(&empty, now);
        assert_eq!(c[3..], [json!(""), json!(""), json!("")]);
    }
}
