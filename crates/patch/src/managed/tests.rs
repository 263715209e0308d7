//! Server-side apply scenarios as kubectl drives them.

use serde_json::{json, Value};

use super::{apply, conflicts_message, track_update, ApplyError, Conflict};
use crate::test_schemas::{defs, DEPLOYMENT};
use crate::Schemas;

const T1: &str = "2025-01-01T00:00:00Z";
const T2: &str = "2025-01-01T00:01:00Z";
const T3: &str = "2025-01-01T00:02:00Z";

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]}
            }
        }
    })
}

fn with_store_metadata(mut object: Value) -> Value {
    // What the store adds after a write; must never become owned.
    object["metadata"]["uid"] = json!("u-1");
    object["metadata"]["resourceVersion"] = json!("5");
    object["metadata"]["generation"] = json!(1);
    object["metadata"]["creationTimestamp"] = json!(T1);
    object["status"] = json!({"replicas": 0});
    object
}

fn entries(object: &Value) -> Vec<Value> {
    object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn entry<'v>(object: &'v Value, manager: &str) -> Option<&'v Value> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager)
}

fn run_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    let defs = defs();
    let schemas = Schemas::new(&defs);
    apply(live, applied, manager, force, &schemas, DEPLOYMENT, now)
}

fn run_update(old: Option<&Value>, new: &Value, manager: &str, now: &str) -> Value {
    let defs = defs();
    let schemas = Schemas::new(&defs);
    track_update(
        old, new, manager, "Update", "apps/v1", &schemas, DEPLOYMENT, now,
    )
}

#[test]
fn create_by_apply_records_kubernetes_shaped_entry() {
    let applied = deployment(2, "nginx:1");
    let created = run_apply(None, &applied, "kubectl", false, T1).unwrap_or_default();
    assert_eq!(created["spec"], applied["spec"]);
    assert_eq!(
        entries(&created),
        vec![json!({
            "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {
                            "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}
                        }}
                    }
                }
            }
        })]
    );
    // Byte-for-byte layout: "." first, keys sorted.
    let text = serde_json::to_string(&entries(&created)[0]["fieldsV1"]).unwrap_or_default();
    assert!(
        text.contains(r#""k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}"#),
        "{text}"
    );
}

#[test]
fn reapply_without_a_field_removes_it() {
    let mut first = deployment(2, "nginx:1");
    first["metadata"]["labels"]["tier"] = json!("fe");
    first["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "A", "value": "1"}]);
    if let Some(containers) = first["spec"]["template"]["spec"]["containers"].as_array_mut() {
        containers.push(json!({"name": "side", "image": "busybox"}));
    }
    let live =
        with_store_metadata(run_apply(None, &first, "kubectl", false, T1).unwrap_or_default());

    let second = deployment(2, "nginx:1");
    let out = run_apply(Some(&live), &second, "kubectl", false, T2).unwrap_or_default();
    assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "web", "image": "nginx:1"}])
    );
    // Store-owned fields are untouched and unowned.
    assert_eq!(out["metadata"]["uid"], "u-1");
    assert_eq!(out["status"], json!({"replicas": 0}));
    let fields = entry(&out, "kubectl")
        .map(|e| e["fieldsV1"].to_string())
        .unwrap_or_default();
    assert!(
        !fields.contains("tier")
            && !fields.contains("side")
            && !fields.contains("f:uid")
            && !fields.contains("status")
    );
    assert_eq!(
        entry(&out, "kubectl").map(|e| e["time"].clone()),
        Some(json!(T2))
    );
}

#[test]
fn two_appliers_with_different_fields_coexist() {
    let live = run_apply(None, &deployment(2, "nginx:1"), "kubectl", false, T1).unwrap_or_default();
    let labeler = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "web", "labels": {"team": "a"}}});
    let live = run_apply(Some(&live), &labeler, "labeler", false, T2).unwrap_or_default();
    assert_eq!(
        live["metadata"]["labels"],
        json!({"app": "web", "team": "a"})
    );
    assert_eq!(entries(&live).len(), 2);

    // kubectl re-applies its own config: the labeler's label stays.
    let live =
        run_apply(Some(&live), &deployment(3, "nginx:1"), "kubectl", false, T3).unwrap_or_default();
    assert_eq!(
        live["metadata"]["labels"],
        json!({"app": "web", "team": "a"})
    );
    assert_eq!(live["spec"]["replicas"], 3);
    assert!(entry(&live, "labeler").is_some());

    // A field both apply with the same value is shared; dropping it from one
    // applier keeps it because the other still owns it.
    let mut shared = labeler.clone();
    shared["metadata"]["labels"]["app"] = json!("web");
    let live = run_apply(Some(&live), &shared, "labeler", false, T3).unwrap_or_default();
    let mut without_app = deployment(3, "nginx:1");
    without_app["metadata"]["labels"] = json!({});
    let live = run_apply(Some(&live), &without_app, "kubectl", false, T3).unwrap_or_default();
    assert_eq!(
        live["metadata"]["labels"],
        json!({"app": "web", "team": "a"})
    );
}

#[test]
fn update_then_conflicting_apply_names_manager_and_field() {
    let created =
        run_apply(None, &deployment(2, "nginx:1"), "kubectl", false, T1).unwrap_or_default();
    // `kubectl scale`/`edit` style write by another manager.
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(5);
    let scaled = run_update(Some(&created), &scaled, "kubectl-edit", T2);
    let edit = entry(&scaled, "kubectl-edit").cloned().unwrap_or_default();
    assert_eq!(edit["operation"], "Update");
    assert_eq!(edit["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    // The applier lost the field to the updater.
    let applier = entry(&scaled, "kubectl")
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or_default();
    assert!(applier["f:spec"].get("f:replicas").is_none());

    let err = run_apply(
        Some(&scaled),
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        T3,
    );
    let expected = Conflict {
        manager: "kubectl-edit".into(),
        field: ".spec.replicas".into(),
        operation: "Update".into(),
        api_version: "apps/v1".into(),
        subresource: String::new(),
    };
    assert_eq!(err, Err(ApplyError::Conflicts(vec![expected.clone()])));
    assert_eq!(
        conflicts_message(std::slice::from_ref(&expected)),
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        expected.cause_message(),
        "conflict with \"kubectl-edit\" using apps/v1"
    );

    // Applying the value the other manager set is not a conflict.
    assert!(run_apply(
        Some(&scaled),
        &deployment(5, "nginx:1"),
        "kubectl",
        false,
        T3
    )
    .is_ok());
}

#[test]
fn force_takes_ownership() {
    let created =
        run_apply(None, &deployment(2, "nginx:1"), "kubectl", false, T1).unwrap_or_default();
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(5);
    scaled["spec"]["paused"] = json!(true);
    let scaled = run_update(Some(&created), &scaled, "kubectl-edit", T2);

    let forced = run_apply(
        Some(&scaled),
        &deployment(3, "nginx:1"),
        "kubectl",
        true,
        T3,
    )
    .unwrap_or_default();
    assert_eq!(forced["spec"]["replicas"], 3);
    assert_eq!(forced["spec"]["paused"], true);
    let edit = entry(&forced, "kubectl-edit").cloned().unwrap_or_default();
    assert_eq!(edit["fieldsV1"], json!({"f:spec": {"f:paused": {}}}));
    let applier = entry(&forced, "kubectl").cloned().unwrap_or_default();
    assert_eq!(applier["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
    // Entries come out Apply before Update.
    let operations: Vec<Value> = entries(&forced)
        .iter()
        .map(|e| e["operation"].clone())
        .collect();
    assert_eq!(operations, vec![json!("Apply"), json!("Update")]);
}

#[test]
fn conflicts_inside_keyed_lists_use_key_paths() {
    let created =
        run_apply(None, &deployment(2, "nginx:1"), "kubectl", false, T1).unwrap_or_default();
    let mut edited = created.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:edited");
    let edited = run_update(Some(&created), &edited, "kubectl-set", T2);
    let err = run_apply(
        Some(&edited),
        &deployment(2, "nginx:2"),
        "kubectl",
        false,
        T3,
    );
    let fields: Vec<String> = match err {
        Err(ApplyError::Conflicts(conflicts)) => conflicts.into_iter().map(|c| c.field).collect(),
        other => panic!("expected conflicts, got {other:?}"),
    };
    assert_eq!(
        fields,
        vec![".spec.template.spec.containers[name=\"web\"].image".to_string()]
    );
}

#[test]
fn track_update_on_create_owns_everything_but_identity_and_status() {
    let object = with_store_metadata(deployment(1, "nginx:1"));
    let tracked = run_update(None, &object, "kubectl-create", T1);
    let all = entries(&tracked);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["manager"], "kubectl-create");
    assert_eq!(all[0]["apiVersion"], "apps/v1");
    let fields = &all[0]["fieldsV1"];
    assert_eq!(
        fields["f:metadata"],
        json!({"f:labels": {".": {}, "f:app": {}}})
    );
    assert!(fields.get("f:status").is_none() && fields.get("f:apiVersion").is_none());

    // An update that removes a label drops it from the owner's set and does
    // not touch the time when nothing else changed for that manager.
    let mut relabeled = tracked.clone();
    relabeled["metadata"]["labels"] = json!({"other": "x"});
    let updated = run_update(Some(&tracked), &relabeled, "kubectl-label", T2);
    let create = entry(&updated, "kubectl-create")
        .cloned()
        .unwrap_or_default();
    assert_eq!(create["time"], T1);
    // The labels map itself stays owned by its creator ("." alone encodes as {}).
    assert_eq!(create["fieldsV1"]["f:metadata"], json!({"f:labels": {}}));
    let label = entry(&updated, "kubectl-label")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        label["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:other": {}}}})
    );
}

#[test]
fn track_update_respects_reset_and_untracked_objects() {
    let tracked = run_update(None, &deployment(1, "a"), "creator", T1);
    let mut reset = tracked.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    reset["spec"]["replicas"] = json!(4);
    let out = run_update(Some(&tracked), &reset, "editor", T2);
    assert!(out["metadata"].get("managedFields").is_none());

    let untracked = deployment(1, "a");
    let mut changed = untracked.clone();
    changed["spec"]["replicas"] = json!(2);
    let out = run_update(Some(&untracked), &changed, "editor", T2);
    assert!(out["metadata"].get("managedFields").is_none());
}

#[test]
fn first_apply_to_untracked_object_conflicts_with_before_first_apply() {
    let untracked = deployment(1, "nginx:1");
    let err = run_apply(
        Some(&untracked),
        &deployment(2, "nginx:1"),
        "kubectl",
        false,
        T1,
    );
    match err {
        Err(ApplyError::Conflicts(conflicts)) => {
            assert_eq!(conflicts.len(), 1);
            assert_eq!(conflicts[0].manager, "before-first-apply");
            assert_eq!(conflicts[0].field, ".spec.replicas");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn applied_managed_fields_and_bad_lists_are_rejected() {
    let mut applied = deployment(1, "a");
    applied["metadata"]["managedFields"] = json!([]);
    let err = run_apply(None, &applied, "kubectl", false, T1);
    assert_eq!(
        err,
        Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into()
        ))
    );

    let mut keyless = deployment(1, "a");
    keyless["spec"]["template"]["spec"]["containers"] = json!(["not-an-object"]);
    let err = run_apply(None, &keyless, "kubectl", false, T1);
    assert_eq!(err.map_err(|e| e.status_code()), Err(422));
}

#[test]
fn multiple_conflicts_message_groups_by_manager() {
    let conflict = |manager: &str, field: &str, operation: &str| Conflict {
        manager: manager.into(),
        field: field.into(),
        operation: operation.into(),
        api_version: "apps/v1".into(),
        subresource: String::new(),
    };
    let message = conflicts_message(&[
        conflict("b", ".spec.replicas", "Update"),
        conflict("a", ".metadata.labels.x", "Apply"),
        conflict("b", ".spec.paused", "Update"),
    ]);
    assert_eq!(
        message,
        "Apply failed with 3 conflicts: conflicts with \"a\":\n- .metadata.labels.x\nconflicts with \"b\" using apps/v1:\n- .spec.replicas\n- .spec.paused"
    );
}

#[test]
fn noop_apply_changes_nothing_at_all() {
    let live = run_apply(None, &deployment(2, "nginx:1"), "kubectl", false, T1).unwrap_or_default();
    let again =
        run_apply(Some(&live), &deployment(2, "nginx:1"), "kubectl", false, T2).unwrap_or_default();
    assert_eq!(again, live);
}

/// `kubectl apply` (client-side) first, then `kubectl apply --server-side`.
fn client_side_applied(replicas: i64) -> Value {
    let config = deployment(replicas, "nginx:1");
    let mut object = config.clone();
    object["metadata"]["annotations"] = json!({
        "kubectl.kubernetes.io/last-applied-configuration": format!("{config}\n")
    });
    run_update(None, &object, "kubectl-client-side-apply", T1)
}

#[test]
fn server_side_apply_takes_over_from_client_side_apply() {
    let live = client_side_applied(2);
    let out = run_apply(Some(&live), &deployment(3, "nginx:2"), "kubectl", false, T2);
    let out = out.unwrap_or_default();
    assert_eq!(out["spec"]["replicas"], 3);
    let annotation = out["metadata"]["annotations"]
        ["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let recorded: Value = serde_json::from_str(&annotation).unwrap_or_default();
    assert_eq!(recorded["spec"]["replicas"], 3);
    assert!(
        annotation.ends_with('\n')
            && annotation.starts_with("{\"apiVersion\":\"apps/v1\",\"kind\"")
    );
    let csa = entry(&out, "kubectl-client-side-apply")
        .cloned()
        .unwrap_or_default();
    assert!(csa["fieldsV1"]["f:spec"].get("f:replicas").is_none());

    // Another manager name gets no such leniency.
    let err = run_apply(Some(&live), &deployment(3, "nginx:1"), "my-tool", false, T2);
    assert!(matches!(err, Err(ApplyError::Conflicts(_))));
}

#[test]
fn fields_changed_since_client_side_apply_still_conflict() {
    let live = client_side_applied(2);
    let mut edited = live.clone();
    edited["spec"]["replicas"] = json!(7);
    let edited = run_update(Some(&live), &edited, "kubectl-edit", T2);
    let err = run_apply(
        Some(&edited),
        &deployment(3, "nginx:2"),
        "kubectl",
        false,
        T3,
    );
    match err {
        Err(ApplyError::Conflicts(conflicts)) => {
            let named: Vec<(String, String)> = conflicts
                .into_iter()
                .map(|c| (c.manager, c.field))
                .collect();
            assert_eq!(
                named,
                vec![("kubectl-edit".to_string(), ".spec.replicas".to_string())]
            );
        }
        other => panic!("expected conflicts, got {other:?}"),
    }
}

#[test]
fn sets_and_multi_key_lists_are_tracked_by_value_and_key() {
    let defs = defs();
    let schemas = Schemas::new(&defs);
    let service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "s", "finalizers": ["a/b"]},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "web"}}});
    let out = apply(
        None,
        &service,
        "kubectl",
        false,
        &schemas,
        crate::test_schemas::SERVICE,
        T1,
    )
    .unwrap_or_default();
    assert_eq!(
        entries(&out)[0]["fieldsV1"],
        json!({
            "f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}},
            "f:spec": {
                "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:targetPort": {}}},
                "f:selector": {}
            }
        })
    );
    // Re-applying without the finalizer removes it; the port item merges.
    let next = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 9090}], "selector": {"app": "web"}}});
    let out = apply(
        Some(&out),
        &next,
        "kubectl",
        false,
        &schemas,
        crate::test_schemas::SERVICE,
        T2,
    )
    .unwrap_or_default();
    assert!(out["metadata"].get("finalizers").is_none());
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "protocol": "TCP", "targetPort": 9090}])
    );
}

#[test]
fn update_managers_are_capped_into_ancient_changes() {
    let mut object = run_update(None, &deployment(1, "a"), "creator", T1);
    for i in 0..12 {
        let mut next = object.clone();
        next["metadata"]["labels"][format!("l{i}")] = json!("x");
        object = run_update(
            Some(&object),
            &next,
            &format!("writer-{i:02}"),
            &format!("2025-01-02T00:00:{i:02}Z"),
        );
    }
    let all = entries(&object);
    assert_eq!(all.len(), 10);
    let ancient = entry(&object, "ancient-changes")
        .cloned()
        .unwrap_or_default();
    // Capping runs at each write, like kube: the first oldest record of a
    // version becomes the bucket, later ones fold into it; the oldest record
    // seen first in a later round (writer-01) survives as kube's does.
    assert_eq!(ancient["operation"], "Update");
    let fields = ancient["fieldsV1"].to_string();
    for folded in ["f:replicas", "f:l0", "f:l2", "f:l3"] {
        assert!(fields.contains(folded), "{folded} in {fields}");
    }
    assert!(entry(&object, "creator").is_none() && entry(&object, "writer-03").is_none());
    assert!(entry(&object, "writer-01").is_some() && entry(&object, "writer-11").is_some());
}
