//! apps/v1: Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{layout_containers, template_containers};
use crate::column::{Column, AGE, CONTAINERS, IMAGES, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, at, bool_at, created, int_at, name, opt_int, str_at};
use crate::labels::{format_label_selector, format_labels, selector_string};

/// Desired replicas; defaulting sets an unset count to 1 before the object is stored.
fn desired_replicas(obj: &Value) -> i64 {
    opt_int(obj, &["spec", "replicas"]).unwrap_or(1)
}

pub(crate) const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Ready", "string", desc::READY_PODS),
    Column::new("Up-to-date", "string", desc::DEPLOY_UPDATED),
    Column::new("Available", "string", desc::DEPLOY_AVAILABLE),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::new("Selector", "string", desc::DEPLOY_SELECTOR).wide(),
];

pub(crate) fn deployment_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = layout_containers(template_containers(obj));
    // Unlike most printers, Deployment prints an empty selector as "" and a broken one as "<invalid>".
    let selector =
        selector_string(at(obj, &["spec", "selector"])).unwrap_or_else(|_| "<invalid>".to_string());
    vec![
        json!(name(obj)),
        json!(format!(
            "{}/{}",
            int_at(obj, &["status", "readyReplicas"]),
            desired_replicas(obj)
        )),
        json!(int_at(obj, &["status", "updatedReplicas"])),
        json!(int_at(obj, &["status", "availableReplicas"])),
        json!(since(created(obj), now)),
        json!(names),
        json!(images),
        json!(selector),
    ]
}

pub(crate) const REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Desired", "integer", desc::SPEC_REPLICAS),
    Column::new("Current", "integer", desc::STATUS_REPLICAS),
    Column::new("Ready", "integer", desc::RS_READY_REPLICAS),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::new("Selector", "string", desc::RS_SELECTOR).wide(),
];

pub(crate) fn replica_set_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = layout_containers(template_containers(obj));
    vec![
        json!(name(obj)),
        json!(desired_replicas(obj)),
        json!(int_at(obj, &["status", "replicas"])),
        json!(int_at(obj, &["status", "readyReplicas"])),
        json!(since(created(obj), now)),
        json!(names),
        json!(images),
        json!(format_label_selector(at(obj, &["spec", "selector"]))),
    ]
}

pub(crate) const DAEMON_SET_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Desired", "integer", desc::DS_DESIRED),
    Column::new("Current", "integer", desc::DS_CURRENT),
    Column::new("Ready", "integer", desc::DS_READY),
    Column::new("Up-to-date", "integer", desc::DS_UPDATED),
    Column::new("Available", "integer", desc::DS_AVAILABLE),
    Column::new("Node Selector", "string", desc::DS_NODE_SELECTOR),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::new("Selector", "string", desc::DS_SELECTOR).wide(),
];

pub(crate) fn daemon_set_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = layout_containers(template_containers(obj));
    let status = |field: &str| int_at(obj, &["status", field]);
    vec![
        json!(name(obj)),
        json!(status("desiredNumberScheduled")),
        json!(status("currentNumberScheduled")),
        json!(status("numberReady")),
        json!(status("updatedNumberScheduled")),
        json!(status("numberAvailable")),
        json!(format_labels(at(
            obj,
            &["spec", "template", "spec", "nodeSelector"]
        ))),
        json!(since(created(obj), now)),
        json!(names),
        json!(images),
        json!(format_label_selector(at(obj, &["spec", "selector"]))),
    ]
}

pub(crate) const STATEFUL_SET_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Ready", "string", desc::READY_PODS),
    AGE,
    CONTAINERS,
    IMAGES,
];

pub(crate) fn stateful_set_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = layout_containers(template_containers(obj));
    vec![
        json!(name(obj)),
        json!(format!(
            "{}/{}",
            int_at(obj, &["status", "readyReplicas"]),
            desired_replicas(obj)
        )),
        json!(since(created(obj), now)),
        json!(names),
        json!(images),
    ]
}

pub(crate) const CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Controller", "string", desc::CR_CONTROLLER),
    Column::new("Revision", "string", desc::CR_REVISION),
    AGE,
];

pub(crate) fn controller_revision_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(controller_name(obj)),
        json!(int_at(obj, &["revision"])),
        json!(since(created(obj), now)),
    ]
}

/// "kind.group/name" (lower-cased) of the controlling owner, "<none>" without one.
fn controller_name(obj: &Value) -> String {
    let Some(owner) = arr_at(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|o| bool_at(o, &["controller"]))
    else {
        return "<none>".to_string();
    };
    let api_version = str_at(owner, &["apiVersion"]);
    // "apps/v1" has group "apps"; a bare version like "v1" is the core group.
    let group = api_version
        .split_once('/')
        .map(|(g, _)| g)
        .unwrap_or_default();
    let kind = str_at(owner, &["kind"]);
    let owner_name = str_at(owner, &["name"]);
    let group_kind = match (group, kind) {
        ("", "") => return owner_name.to_string(),
        ("", k) => k.to_string(),
        (g, k) => format!("{k}.{g}"),
    };
    format!("{}/{}", group_kind.to_lowercase(), owner_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "namespace": "default", "creationTimestamp": "2024-12-30T09:00:00Z"})
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"},
                                       {"name": "sidecar", "image": "envoy:1.30"}]}})
    }

    #[test]
    fn deployment_row() {
        let d = json!({"metadata": meta("web"),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
            "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2}});
        assert_eq!(
            deployment_cells(&d, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("2d3h"),
                json!("nginx,sidecar"),
                json!("nginx:1.27,envoy:1.30"),
                json!("app=web"),
            ]
        );
        let fresh = json!({"metadata": meta("new"), "spec": {}});
        let c = deployment_cells(&fresh, now());
        assert_eq!(c[1], json!("0/1"));
        assert_eq!(c[7], json!(""));
    }

    #[test]
    fn replica_set_row() {
        let rs = json!({"metadata": meta("web-5d8f"),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d8f"}},
                     "template": template()},
            "status": {"replicas": 2, "readyReplicas": 1}});
        assert_eq!(
            replica_set_cells(&rs, now()),
            vec![
                json!("web-5d8f"),
                json!(2),
                json!(2),
                json!(1),
                json!("2d3h"),
                json!("nginx,sidecar"),
                json!("nginx:1.27,envoy:1.30"),
                json!("app=web,pod-template-hash=5d8f"),
            ]
        );
    }

    #[test]
    fn daemon_set_row() {
        let mut t = template();
        t["spec"]["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
        let ds = json!({"metadata": meta("kube-proxy"),
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": t},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                       "updatedNumberScheduled": 3, "numberAvailable": 2}});
        assert_eq!(
            daemon_set_cells(&ds, now()),
            vec![
                json!("kube-proxy"),
                json!(3),
                json!(3),
                json!(2),
                json!(3),
                json!(2),
                json!("kubernetes.io/os=linux"),
                json!("2d3h"),
                json!("nginx,sidecar"),
                json!("nginx:1.27,envoy:1.30"),
                json!("k8s-app=kube-proxy"),
            ]
        );
    }

    #[test]
    fn stateful_set_row() {
        let sts = json!({"metadata": meta("db"),
            "spec": {"replicas": 3, "serviceName": "db", "template": template()},
            "status": {"replicas": 3, "readyReplicas": 3}});
        assert_eq!(
            stateful_set_cells(&sts, now()),
            vec![
                json!("db"),
                json!("3/3"),
                json!("2d3h"),
                json!("nginx,sidecar"),
                json!("nginx:1.27,envoy:1.30"),
            ]
        );
    }

    #[test]
    fn controller_revision_row() {
        let mut cr = json!({"metadata": meta("db-7c9"), "revision": 2, "data": {}});
        assert_eq!(
            controller_revision_cells(&cr, now()),
            vec![json!("db-7c9"), json!("<none>"), json!(2), json!("2d3h")]
        );
        cr["metadata"]["ownerReferences"] = json!([
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u", "controller": true}]);
        assert_eq!(
            controller_revision_cells(&cr, now())[1],
            json!("statefulset.apps/db")
        );
    }
}
