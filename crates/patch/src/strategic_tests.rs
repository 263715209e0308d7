//! Strategic merge patch cases, mostly from upstream's documented behaviour
//! (strategicpatch/patch_test.go and the kubectl apply wire format).

use serde_json::{json, Value};

use super::strategic_merge_patch;
use crate::test_schemas::{defs, DEPLOYMENT, POD, SERVICE};
use crate::{PatchError, Schemas};

fn has_directive(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, inner)| {
            key == "$patch"
                || key == "$retainKeys"
                || key.starts_with("$setElementOrder/")
                || key.starts_with("$deleteFromPrimitiveList/")
                || has_directive(inner)
        }),
        Value::Array(items) => items.iter().any(has_directive),
        _ => false,
    }
}

fn run(root: &str, original: Value, patch: Value) -> Result<Value, PatchError> {
    let defs = defs();
    let schemas = Schemas::new(&defs);
    let out = strategic_merge_patch(&original, &patch, &schemas, root);
    if let Ok(value) = &out {
        assert!(!has_directive(value), "directive left in {value}");
    }
    out
}

fn pod_spec(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

/// (description, root definition, original, patch, expected)
fn table() -> Vec<(&'static str, &'static str, Value, Value, Value)> {
    vec![
        (
            "containers merge by name and keep unmentioned fields",
            POD,
            pod_spec(json!({"containers": [
                {"name": "web", "image": "nginx:1", "args": ["a"]},
                {"name": "side", "image": "busybox"}]})),
            json!({"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}),
            pod_spec(json!({"containers": [
                {"name": "web", "image": "nginx:2", "args": ["a"]},
                {"name": "side", "image": "busybox"}]})),
        ),
        (
            "$patch: delete removes one container",
            POD,
            pod_spec(
                json!({"containers": [{"name": "web", "image": "a"}, {"name": "side", "image": "b"}]}),
            ),
            json!({"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}),
            pod_spec(json!({"containers": [{"name": "web", "image": "a"}]})),
        ),
        (
            "$setElementOrder puts containers in the applied order (kubectl apply)",
            POD,
            pod_spec(
                json!({"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}),
            ),
            json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
                            "containers": [{"name": "c", "image": "3"}]}}),
            pod_spec(
                json!({"containers": [{"name": "c", "image": "3"}, {"name": "b", "image": "2"}, {"name": "a", "image": "1"}]}),
            ),
        ),
        (
            "kubectl apply removing a container: delete directive plus element order",
            POD,
            pod_spec(
                json!({"containers": [{"name": "web", "image": "a"}, {"name": "side", "image": "b"}]}),
            ),
            json!({"spec": {"$setElementOrder/containers": [{"name": "web"}],
                            "containers": [{"$patch": "delete", "name": "side"}]}}),
            pod_spec(json!({"containers": [{"name": "web", "image": "a"}]})),
        ),
        (
            "$setElementOrder with an item missing from the list is ignored for it",
            POD,
            json!({"metadata": {"finalizers": ["1", "3"]}}),
            json!({"metadata": {"$setElementOrder/finalizers": ["3", "2", "1"]}}),
            json!({"metadata": {"finalizers": ["3", "1"]}}),
        ),
        (
            "$retainKeys on a retainKeys strategy drops keys not listed",
            DEPLOYMENT,
            json!({"spec": {"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
            json!({"spec": {"replicas": 1, "strategy": {"type": "Recreate"}}}),
        ),
        (
            "$retainKeys inside a merge,retainKeys list item switches the volume source",
            POD,
            pod_spec(
                json!({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}]}),
            ),
            json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["hostPath", "name"], "hostPath": {"path": "/x"}}]}}),
            pod_spec(
                json!({"volumes": [{"name": "v", "hostPath": {"path": "/x"}}, {"name": "w", "emptyDir": {}}]}),
            ),
        ),
        (
            "null deletes a label and keeps the others",
            POD,
            json!({"metadata": {"labels": {"app": "web", "tier": "fe"}}}),
            json!({"metadata": {"labels": {"tier": null, "new": "x"}}}),
            json!({"metadata": {"labels": {"app": "web", "new": "x"}}}),
        ),
        (
            "null for a missing key is ignored",
            POD,
            json!({"metadata": {"name": "p"}}),
            json!({"metadata": {"labels": null, "annotations": {"a": null, "b": "1"}}}),
            json!({"metadata": {"name": "p", "annotations": {"b": "1"}}}),
        ),
        (
            "finalizers (merge strategy scalars) merge as a set",
            POD,
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {"finalizers": ["b", "c"]}}),
            json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
        ),
        (
            "$deleteFromPrimitiveList removes every occurrence",
            POD,
            json!({"metadata": {"finalizers": ["a", "b", "b", "c"]}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
            json!({"metadata": {"finalizers": ["a", "c"]}}),
        ),
        (
            "add and delete in one scalar merge list (upstream raw case)",
            POD,
            json!({"metadata": {"finalizers": ["1", "2", "3", "4"]}}),
            json!({"metadata": {"$setElementOrder/finalizers": ["1", "2", "4"],
                                "$deleteFromPrimitiveList/finalizers": ["3"], "finalizers": ["4"]}}),
            json!({"metadata": {"finalizers": ["1", "2", "4"]}}),
        ),
        (
            "lists without merge strategy are replaced",
            POD,
            pod_spec(json!({"containers": [{"name": "web", "args": ["a", "b"]}]})),
            json!({"spec": {"containers": [{"name": "web", "args": ["c"]}]}}),
            pod_spec(json!({"containers": [{"name": "web", "args": ["c"]}]})),
        ),
        (
            "container ports merge by containerPort, env by name",
            POD,
            pod_spec(json!({"containers": [{"name": "web",
                "ports": [{"containerPort": 80, "name": "http"}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]})),
            json!({"spec": {"containers": [{"name": "web",
                "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}],
                "env": [{"name": "B", "value": "3"}]}]}}),
            pod_spec(json!({"containers": [{"name": "web",
                "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 443}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]}]})),
        ),
        (
            "service ports merge by port",
            SERVICE,
            json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
            json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}),
        ),
        (
            "ownerReferences merge by uid",
            POD,
            json!({"metadata": {"ownerReferences": [{"uid": "1", "kind": "ReplicaSet", "name": "rs"}]}}),
            json!({"metadata": {"ownerReferences": [{"uid": "2", "kind": "Node", "name": "n"}, {"uid": "1", "controller": true}]}}),
            json!({"metadata": {"ownerReferences": [
                {"uid": "2", "kind": "Node", "name": "n"},
                {"uid": "1", "kind": "ReplicaSet", "name": "rs", "controller": true}]}}),
        ),
        (
            "conditions merge by type",
            POD,
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Scheduled", "status": "True"}]}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Scheduled", "status": "True"}]}}),
        ),
        (
            "list-type map without patch merge key merges by its map keys",
            POD,
            pod_spec(
                json!({"hostAliases": [{"ip": "1.1.1.1", "hostnames": ["a"]}, {"ip": "2.2.2.2", "hostnames": ["b"]}]}),
            ),
            json!({"spec": {"hostAliases": [{"ip": "2.2.2.2", "hostnames": ["c"]}]}}),
            pod_spec(
                json!({"hostAliases": [{"ip": "1.1.1.1", "hostnames": ["a"]}, {"ip": "2.2.2.2", "hostnames": ["c"]}]}),
            ),
        ),
        (
            "$patch: replace in a list replaces it",
            POD,
            pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]})),
            json!({"spec": {"containers": [{"name": "c", "image": "x"}, {"$patch": "replace"}]}}),
            pod_spec(json!({"containers": [{"name": "c", "image": "x"}]})),
        ),
        (
            "$patch: replace on a map replaces it",
            POD,
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
            json!({"metadata": {"labels": {"c": "3"}}}),
        ),
        (
            "$patch: delete on a map empties it",
            POD,
            json!({"metadata": {"labels": {"a": "1"}}}),
            json!({"metadata": {"labels": {"$patch": "delete"}}}),
            json!({"metadata": {"labels": {}}}),
        ),
        (
            "$patch: merge on a map is the default merge",
            POD,
            json!({"metadata": {"labels": {"a": "1"}}}),
            json!({"metadata": {"labels": {"$patch": "merge", "b": "2"}}}),
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
        ),
        (
            "patch order is kept, server-only items stay in place (upstream order case 2)",
            POD,
            pod_spec(
                json!({"containers": [{"name": "1"}, {"name": "2", "image": "b"}, {"name": "3"}]}),
            ),
            json!({"spec": {"containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}]}}),
            pod_spec(
                json!({"containers": [{"name": "2", "image": "b"}, {"name": "3", "image": "c"}, {"name": "1", "image": "a"}]}),
            ),
        ),
        (
            "new list added where none existed; directives inside it are honoured",
            POD,
            pod_spec(json!({})),
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}], "$retainKeys": ["name", "env"]}]}}),
            pod_spec(json!({"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]})),
        ),
        (
            "without schema (custom resource) lists replace and maps merge",
            "example.com.v1.Widget",
            json!({"spec": {"items": [{"name": "a", "x": 1}], "size": {"w": 1, "h": 2}}}),
            json!({"spec": {"items": [{"name": "a"}], "size": {"h": null, "d": 3}}}),
            json!({"spec": {"items": [{"name": "a"}], "size": {"w": 1, "d": 3}}}),
        ),
        (
            "a different value type replaces",
            POD,
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": [1]}}),
            json!({"spec": {"x": {"y": 1}}}),
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": {"y": 1}}}),
        ),
    ]
}

#[test]
fn strategic_merge_patch_table() {
    for (description, root, original, patch, expected) in table() {
        let out = run(root, original, patch);
        assert_eq!(out, Ok(expected), "{description}");
    }
}

#[test]
fn kubectl_apply_patch_updates_image_and_keeps_server_fields() {
    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "resourceVersion": "12", "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"restartPolicy": "Always",
                                       "containers": [{"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}},
        "status": {"replicas": 2}
    });
    let patch = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}\n"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{"image": "nginx:2", "name": "web"}]}}}
    });
    let out = run(DEPLOYMENT, live.clone(), patch).unwrap_or_default();
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    assert_eq!(out["spec"]["template"]["spec"]["restartPolicy"], "Always");
    assert_eq!(
        out["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(out["status"], live["status"]);
}

#[test]
fn new_item_without_order_directive_goes_first_like_upstream() {
    let out = run(
        POD,
        pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]})),
        json!({"spec": {"containers": [{"name": "c"}]}}),
    );
    assert_eq!(
        out,
        Ok(pod_spec(
            json!({"containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]})
        ))
    );
}

#[test]
fn malformed_patches_are_rejected_with_the_right_class() {
    let original = pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
    let cases = [
        (
            json!({"spec": {"containers": [{"image": "x"}]}}),
            422,
            "missing merge key",
        ),
        (
            json!({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                         "containers": [{"name": "b"}, {"name": "a"}]}}),
            400,
            "order mismatch",
        ),
        (
            json!({"spec": {"containers": [{"name": "a", "$patch": "bogus"}]}}),
            400,
            "unknown directive",
        ),
        (
            json!({"metadata": {"$patch": "bogus"}}),
            400,
            "unknown map directive",
        ),
        (
            json!({"spec": {"$retainKeys": ["containers"], "restartPolicy": "Never"}}),
            400,
            "key outside $retainKeys",
        ),
        (
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "x"}}),
            400,
            "bad deletion list",
        ),
        (json!(["not", "an", "object"]), 400, "patch not an object"),
    ];
    for (patch, status, description) in cases {
        let err = run(POD, original.clone(), patch);
        assert_eq!(
            err.map_err(|e| e.status_code()),
            Err(status),
            "{description}"
        );
    }
}

#[test]
fn resource_version_in_patch_is_a_precondition() {
    let original = json!({"metadata": {"name": "p", "resourceVersion": "10"}});
    let stale = run(
        POD,
        original.clone(),
        json!({"metadata": {"resourceVersion": "9", "labels": {"a": "b"}}}),
    );
    assert!(matches!(stale, Err(PatchError::Precondition { .. })));
    let current = run(
        POD,
        original,
        json!({"metadata": {"resourceVersion": "10", "labels": {"a": "b"}}}),
    );
    assert!(current.is_ok());
}
