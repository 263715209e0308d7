//! Realistic objects (as they look after defaulting) must pass, on create
//! and when updated with themselves.

mod fixtures;

use berth_validation::{validate, validate_status};
use fixtures::*;
use serde_json::json;

#[test]
fn realistic_objects_pass() {
    let mut failures = Vec::new();
    for (group, kind, obj) in all_valid() {
        let errs = validate(group, kind, &obj, None);
        if !errs.is_empty() {
            failures.push(format!(
                "{kind} create: {:?}",
                errs.iter().map(|e| e.message()).collect::<Vec<_>>()
            ));
        }
        let errs = validate(group, kind, &obj, Some(&obj));
        if !errs.is_empty() {
            failures.push(format!(
                "{kind} no-op update: {:?}",
                errs.iter().map(|e| e.message()).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn allowed_updates_pass() {
    // Pods may change images, add tolerations, and lower activeDeadlineSeconds.
    let old = with(pod(), "/spec/activeDeadlineSeconds", json!(60));
    let new = with(old.clone(), "/spec/containers/0/image", json!("nginx:1.28"));
    let new = with(
        new,
        "/spec/tolerations/1",
        json!({"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}),
    );
    let new = with(new, "/spec/activeDeadlineSeconds", json!(30));
    let new = with(new, "/metadata/labels/version", json!("2"));
    assert_eq!(validate("", "Pod", &new, Some(&old)), vec![]);

    // Deployments may change replicas and template; Services their ports.
    let d = with(
        with(deployment(), "/spec/replicas", json!(5)),
        "/spec/template/spec/containers/0/image",
        json!("nginx:1.28"),
    );
    assert_eq!(
        validate("apps", "Deployment", &d, Some(&deployment())),
        vec![]
    );
    let s = with(service(), "/spec/ports/0/port", json!(8080));
    assert_eq!(validate("", "Service", &s, Some(&service())), vec![]);
    // An update that omits the allocated clusterIP keeps it (the server fills it in).
    let s = without(without(service(), "/spec/clusterIP"), "/spec/clusterIPs");
    assert_eq!(validate("", "Service", &s, Some(&service())), vec![]);
    // PVCs may grow; StatefulSets may scale.
    let p = with(pvc(), "/spec/resources/requests/storage", json!("16Gi"));
    assert_eq!(
        validate("", "PersistentVolumeClaim", &p, Some(&pvc())),
        vec![]
    );
    let st = with(stateful_set(), "/spec/replicas", json!(5));
    assert_eq!(
        validate("apps", "StatefulSet", &st, Some(&stateful_set())),
        vec![]
    );
    // A suspended job may change its scheduling directives.
    let j = with(job(), "/spec/suspend", json!(true));
    let j2 = with(
        j.clone(),
        "/spec/template/spec/nodeSelector",
        json!({"disk": "ssd"}),
    );
    assert_eq!(validate("batch", "Job", &j2, Some(&j)), vec![]);
}

#[test]
fn pvc_cannot_shrink() {
    let p = with(pvc(), "/spec/resources/requests/storage", json!("1Gi"));
    let errs = validate("", "PersistentVolumeClaim", &p, Some(&pvc()));
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].message(),
        "spec.resources.requests.storage: Forbidden: field can not be less than previous value"
    );
}

#[test]
fn status_updates_check_only_status() {
    let mut d = deployment();
    d["status"] = json!({"replicas": 3, "readyReplicas": 3, "availableReplicas": 3, "updatedReplicas": 3, "observedGeneration": 1});
    assert_eq!(
        validate_status("apps", "Deployment", &d, &deployment()),
        vec![]
    );
    // A broken spec does not matter for a status update.
    let broken = with(d.clone(), "/spec/replicas", json!(-1));
    assert_eq!(
        validate_status("apps", "Deployment", &broken, &deployment()),
        vec![]
    );
    d["status"]["availableReplicas"] = json!(4);
    let msgs: Vec<String> = validate_status("apps", "Deployment", &d, &deployment())
        .iter()
        .map(|e| e.message())
        .collect();
    assert_eq!(
        msgs,
        vec![
            "status.availableReplicas: Invalid value: 4: cannot be greater than status.replicas",
            "status.availableReplicas: Invalid value: 4: cannot be greater than readyReplicas",
        ]
    );
    let mut j = job();
    j["status"] = json!({"active": -1});
    assert_eq!(
        validate_status("batch", "Job", &j, &job())[0].field,
        "status.active"
    );
}

#[test]
fn generate_name_is_enough() {
    let p = with(
        without(pod(), "/metadata/name"),
        "/metadata/generateName",
        json!("web-"),
    );
    assert_eq!(validate("", "Pod", &p, None), vec![]);
    let p = with(p, "/metadata/generateName", json!("Web_"));
    assert_eq!(
        validate("", "Pod", &p, None)[0].field,
        "metadata.generateName"
    );
}

#[test]
fn custom_resource_definitions() {
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {"group": "stable.example.com", "scope": "Namespaced",
                 "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": ["ct"]},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object"}}}]}});
    assert_eq!(
        validate(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            &crd,
            None
        ),
        vec![]
    );
    let bad = with(crd.clone(), "/metadata/name", json!("crontabs"));
    let msgs: Vec<String> = validate(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        &bad,
        None,
    )
    .iter()
    .map(|e| e.message())
    .collect();
    assert_eq!(msgs, vec!["metadata.name: Invalid value: \"crontabs\": must be spec.names.plural+\".\"+spec.group"]);
    let bad = with(crd, "/spec/versions/0/storage", json!(false));
    assert_eq!(
        validate(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            &bad,
            None
        )[0]
        .field,
        "spec.versions"
    );
}
