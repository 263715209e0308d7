//! Node rows: Ready/NotReady/Unknown plus SchedulingDisabled, roles from labels.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, bool_at, created, name, obj_at, str_at};

pub(crate) const COLUMNS: &[Column] = &[
    NAME,
    Column::new("Status", "string", desc::NODE_STATUS),
    Column::new("Roles", "string", desc::NODE_ROLES),
    AGE,
    Column::new("Version", "string", desc::NODE_KUBELET_VERSION),
    Column::new("Internal-IP", "string", desc::NODE_ADDRESSES).wide(),
    Column::new("External-IP", "string", desc::NODE_ADDRESSES).wide(),
    Column::new("OS-Image", "string", desc::NODE_OS_IMAGE).wide(),
    Column::new("Kernel-Version", "string", desc::NODE_KERNEL_VERSION).wide(),
    Column::new("Container-Runtime", "string", desc::NODE_CONTAINER_RUNTIME).wide(),
];

const ROLE_LABEL_PREFIX: &str = "node-role.kubernetes.io/";
const LEGACY_ROLE_LABEL: &str = "kubernetes.io/role";

pub(crate) fn cells(node: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let info = |field: &str| {
        let v = str_at(node, &["status", "nodeInfo", field]);
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        json!(name(node)),
        json!(status(node)),
        json!(roles(node)),
        json!(since(created(node), now)),
        json!(str_at(node, &["status", "nodeInfo", "kubeletVersion"])),
        json!(address(node, "InternalIP")),
        json!(address(node, "ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

fn status(node: &Value) -> String {
    // Upstream keeps the last Ready condition when there are duplicates.
    let ready = arr_at(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready");
    let mut parts = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(node, &["spec", "unschedulable"]) {
        parts.push("SchedulingDisabled");
    }
    parts.join(",")
}

fn roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    if let Some(labels) = obj_at(node, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix(ROLE_LABEL_PREFIX) {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == LEGACY_ROLE_LABEL {
                if let Some(v) = v.as_str().filter(|v| !v.is_empty()) {
                    roles.insert(v.to_string());
                }
            }
        }
    }
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

fn address(node: &Value, type_: &str) -> String {
    arr_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == type_)
        .map(|a| str_at(a, &["address"]).to_string())
        .unwrap_or_else(|| "<none>".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 3, 15, 0, 0).unwrap()
    }

    #[test]
    fn ready_control_plane_node() {
        let node = json!({
            "metadata": {"name": "cp-1", "creationTimestamp": "2025-01-01T12:00:00Z",
                         "labels": {"node-role.kubernetes.io/control-plane": "",
                                    "node-role.kubernetes.io/etcd": "true",
                                    "kubernetes.io/role": "master",
                                    "kubernetes.io/hostname": "cp-1"}},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"},
                               {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "cp-1"},
                              {"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12 (bookworm)",
                             "kernelVersion": "6.1.0-18-amd64",
                             "containerRuntimeVersion": "containerd://1.7.13"}
            }
        });
        assert_eq!(
            cells(&node, now()),
            vec![
                json!("cp-1"),
                json!("Ready"),
                json!("control-plane,etcd,master"),
                json!("2d3h"),
                json!("v1.33.1"),
                json!("192.168.1.10"),
                json!("<none>"),
                json!("Debian GNU/Linux 12 (bookworm)"),
                json!("6.1.0-18-amd64"),
                json!("containerd://1.7.13"),
            ]
        );
    }

    #[test]
    fn cordoned_not_ready_and_unknown_nodes() {
        let node = json!({"metadata": {"name": "w"}, "spec": {"unschedulable": true},
                          "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        let c = cells(&node, now());
        assert_eq!(c[1], json!("NotReady,SchedulingDisabled"));
        assert_eq!(c[2], json!("<none>"));
        assert_eq!(c[4], json!(""));
        assert_eq!(c[7], json!("<unknown>"));
        let bare = json!({"metadata": {"name": "w"}});
        assert_eq!(cells(&bare, now())[1], json!("Unknown"));
    }
}
