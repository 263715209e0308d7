//! Per-kind printers: each module has the kind's `COLUMNS` and a `cells` function
//! (with every wide cell, since kube-apiserver always generates wide rows).

pub(crate) mod admission;
pub(crate) mod apps;
pub(crate) mod autoscaling;
pub(crate) mod batch;
pub(crate) mod certificates;
pub(crate) mod coordination;
pub(crate) mod core;
pub(crate) mod default_table;
pub(crate) mod discovery;
pub(crate) mod event;
pub(crate) mod flowcontrol;
pub(crate) mod networking;
pub(crate) mod node;
pub(crate) mod node_api;
pub(crate) mod pod;
pub(crate) mod policy;
pub(crate) mod rbac;
pub(crate) mod scheduling;
pub(crate) mod storage;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::json::{arr_at, str_at};

/// How to print one kind.
pub(crate) struct Printer {
    pub(crate) columns: &'static [Column],
    pub(crate) cells: fn(&Value, DateTime<Utc>) -> Vec<Value>,
}

const fn printer(
    columns: &'static [Column],
    cells: fn(&Value, DateTime<Utc>) -> Vec<Value>,
) -> Printer {
    Printer { columns, cells }
}

/// The printer kube-apiserver registers for a group and kind, if any.
pub(crate) fn lookup(group: &str, kind: &str) -> Option<Printer> {
    let p = match (group, kind) {
        ("", "Pod") => printer(pod::COLUMNS, pod::cells),
        ("", "Node") => printer(node::COLUMNS, node::cells),
        ("", "Namespace") => printer(core::NAMESPACE_COLUMNS, core::namespace_cells),
        ("", "Service") => printer(core::SERVICE_COLUMNS, core::service_cells),
        ("", "Endpoints") => printer(core::ENDPOINTS_COLUMNS, core::endpoints_cells),
        ("", "ConfigMap") => printer(core::CONFIGMAP_COLUMNS, core::configmap_cells),
        ("", "Secret") => printer(core::SECRET_COLUMNS, core::secret_cells),
        ("", "ServiceAccount") => {
            printer(core::SERVICE_ACCOUNT_COLUMNS, core::service_account_cells)
        }
        ("", "ResourceQuota") => printer(core::RESOURCE_QUOTA_COLUMNS, core::resource_quota_cells),
        ("", "ReplicationController") => printer(
            core::REPLICATION_CONTROLLER_COLUMNS,
            core::replication_controller_cells,
        ),
        ("", "PodTemplate") => printer(core::POD_TEMPLATE_COLUMNS, core::pod_template_cells),
        ("", "PersistentVolume") => printer(storage::PV_COLUMNS, storage::pv_cells),
        ("", "PersistentVolumeClaim") => printer(storage::PVC_COLUMNS, storage::pvc_cells),
        ("", "Event") => printer(event::COLUMNS, event::core_cells),
        ("events.k8s.io", "Event") => printer(event::COLUMNS, event::events_v1_cells),
        ("apps", "Deployment") => printer(apps::DEPLOYMENT_COLUMNS, apps::deployment_cells),
        ("apps", "ReplicaSet") => printer(apps::REPLICA_SET_COLUMNS, apps::replica_set_cells),
        ("apps", "DaemonSet") => printer(apps::DAEMON_SET_COLUMNS, apps::daemon_set_cells),
        ("apps", "StatefulSet") => printer(apps::STATEFUL_SET_COLUMNS, apps::stateful_set_cells),
        ("apps", "ControllerRevision") => printer(
            apps::CONTROLLER_REVISION_COLUMNS,
            apps::controller_revision_cells,
        ),
        ("batch", "Job") => printer(batch::JOB_COLUMNS, batch::job_cells),
        ("batch", "CronJob") => printer(batch::CRON_JOB_COLUMNS, batch::cron_job_cells),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            printer(autoscaling::HPA_COLUMNS, autoscaling::hpa_cells)
        }
        ("networking.k8s.io", "Ingress") => {
            printer(networking::INGRESS_COLUMNS, networking::ingress_cells)
        }
        ("networking.k8s.io", "IngressClass") => printer(
            networking::INGRESS_CLASS_COLUMNS,
            networking::ingress_class_cells,
        ),
        ("networking.k8s.io", "NetworkPolicy") => printer(
            networking::NETWORK_POLICY_COLUMNS,
            networking::network_policy_cells,
        ),
        ("rbac.authorization.k8s.io", "RoleBinding") => {
            printer(rbac::ROLE_BINDING_COLUMNS, rbac::binding_cells)
        }
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            printer(rbac::CLUSTER_ROLE_BINDING_COLUMNS, rbac::binding_cells)
        }
        ("policy", "PodDisruptionBudget") => printer(policy::PDB_COLUMNS, policy::pdb_cells),
        ("scheduling.k8s.io", "PriorityClass") => printer(
            scheduling::PRIORITY_CLASS_COLUMNS,
            scheduling::priority_class_cells,
        ),
        ("coordination.k8s.io", "Lease") => {
            printer(coordination::LEASE_COLUMNS, coordination::lease_cells)
        }
        ("discovery.k8s.io", "EndpointSlice") => printer(
            discovery::ENDPOINT_SLICE_COLUMNS,
            discovery::endpoint_slice_cells,
        ),
        ("storage.k8s.io", "StorageClass") => {
            printer(storage::STORAGE_CLASS_COLUMNS, storage::storage_class_cells)
        }
        ("storage.k8s.io", "CSIDriver") => {
            printer(storage::CSI_DRIVER_COLUMNS, storage::csi_driver_cells)
        }
        ("storage.k8s.io", "CSINode") => {
            printer(storage::CSI_NODE_COLUMNS, storage::csi_node_cells)
        }
        ("storage.k8s.io", "VolumeAttachment") => printer(
            storage::VOLUME_ATTACHMENT_COLUMNS,
            storage::volume_attachment_cells,
        ),
        ("networking.k8s.io", "ServiceCIDR") => printer(
            networking::SERVICE_CIDR_COLUMNS,
            networking::service_cidr_cells,
        ),
        ("node.k8s.io", "RuntimeClass") => printer(
            node_api::RUNTIME_CLASS_COLUMNS,
            node_api::runtime_class_cells,
        ),
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            printer(certificates::CSR_COLUMNS, certificates::csr_cells)
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => printer(
            flowcontrol::FLOW_SCHEMA_COLUMNS,
            flowcontrol::flow_schema_cells,
        ),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => printer(
            flowcontrol::PRIORITY_LEVEL_COLUMNS,
            flowcontrol::priority_level_cells,
        ),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => printer(
            admission::WEBHOOK_CONFIGURATION_COLUMNS,
            admission::webhook_configuration_cells,
        ),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            printer(admission::POLICY_COLUMNS, admission::policy_cells)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => printer(
            admission::POLICY_BINDING_COLUMNS,
            admission::policy_binding_cells,
        ),
        _ => return None,
    };
    Some(p)
}

/// Upstream `layoutContainerCells`: comma-joined container names and images.
pub(crate) fn layout_containers(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// Containers of the pod template at `spec.template`.
pub(crate) fn template_containers(obj: &Value) -> &[Value] {
    arr_at(obj, &["spec", "template", "spec", "containers"])
}

/// "<none>" for an empty string, the string otherwise.
pub(crate) fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s.to_string()
    }
}
