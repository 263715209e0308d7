//! The four patch types kube-rs sends: merge, JSON, strategic merge and
//! server-side apply (field ownership, conflicts, force).

use crate::common::*;
use crate::support::TestServer;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::{json, Value};

#[tokio::test]
async fn merge_patch_sets_and_removes_keys() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    cms.create(
        &PostParams::default(),
        &config_map("m", &[("a", "1"), ("b", "2")]),
    )
    .await
    .expect("create");
    let patch = json!({"metadata": {"labels": {"x": "y"}}, "data": {"a": null, "c": "3"}});
    let out = cms
        .patch("m", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("merge patch");
    assert_eq!(out.data, labels(&[("b", "2"), ("c", "3")]));
    assert_eq!(out.labels().get("x").map(String::as_str), Some("y"));
    assert_eq!(cms.get("m").await.expect("get").data, out.data);
}

#[tokio::test]
async fn json_patch_applies_operations_in_order() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    cms.create(
        &PostParams::default(),
        &config_map("j", &[("a", "1"), ("b", "2")]),
    )
    .await
    .expect("create");
    let ops: json_patch::Patch = typed(json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/data/c", "value": "3"},
        {"op": "copy", "from": "/data/c", "path": "/data/d"}
    ]));
    let out = cms
        .patch("j", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .expect("json patch");
    assert_eq!(out.data, labels(&[("a", "10"), ("c", "3"), ("d", "3")]));

    // A failed `test` rejects the whole patch with 422 and writes nothing.
    let failing: json_patch::Patch = typed(json!([
        {"op": "replace", "path": "/data/a", "value": "99"},
        {"op": "test", "path": "/data/a", "value": "1"}
    ]));
    let status = api_error(
        cms.patch("j", &PatchParams::default(), &Patch::Json::<()>(failing))
            .await,
    );
    assert_eq!(status.code, 422, "{status:?}");
    assert_eq!(cms.get("j").await.expect("get").data, out.data);
}

fn container_images(d: &Deployment) -> Vec<(String, String)> {
    let spec = d.spec.as_ref().expect("spec");
    let pod = spec.template.spec.as_ref().expect("pod spec");
    pod.containers
        .iter()
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_by_name() {
    let server = TestServer::memory().await;
    let deploys: Api<Deployment> = Api::namespaced(server.client().await, "default");
    let containers = vec![container("a", "nginx:1.27"), container("b", "busybox:1.36")];
    deploys
        .create(&PostParams::default(), &deployment("web", 1, containers))
        .await
        .expect("create");

    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "b", "image": "busybox:1.37"},
        {"name": "c", "image": "redis:7"}
    ]}}}});
    let out = deploys
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("strategic patch");
    let images = container_images(&out);
    assert_eq!(images.len(), 3, "{images:?}");
    let by_name = |n: &str| {
        images
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, i)| i.as_str())
    };
    assert_eq!(by_name("a"), Some("nginx:1.27"), "untouched container kept");
    assert_eq!(
        by_name("b"),
        Some("busybox:1.37"),
        "matching container merged"
    );
    assert_eq!(by_name("c"), Some("redis:7"), "new container added");
    // The merged container keeps the fields the patch did not name (server defaults).
    let spec = out.spec.clone().expect("spec");
    let b = spec
        .template
        .spec
        .expect("pod spec")
        .containers
        .into_iter()
        .find(|c| c.name == "b");
    assert!(b.and_then(|c| c.termination_message_path).is_some());

    // `$patch: delete` removes one element by its merge key.
    let delete_a = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}});
    let out = deploys
        .patch("web", &PatchParams::default(), &Patch::Strategic(&delete_a))
        .await
        .expect("strategic delete");
    let names: Vec<String> = container_images(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["b", "c"]);

    // A JSON merge patch, by contrast, replaces the whole list.
    let merge = json!({"spec": {"template": {"spec": {"containers": [{"name": "z", "image": "alpine:3"}]}}}});
    let out = deploys
        .patch("web", &PatchParams::default(), &Patch::Merge(&merge))
        .await
        .expect("merge patch");
    assert_eq!(
        container_images(&out),
        vec![("z".to_string(), "alpine:3".to_string())]
    );
}

fn entry<'a>(obj: &'a ConfigMap, manager: &str) -> Option<&'a ManagedFieldsEntry> {
    obj.metadata
        .managed_fields
        .as_ref()?
        .iter()
        .find(|e| e.manager.as_deref() == Some(manager))
}

/// The data keys (`f:data.f:<key>`) a manager owns.
fn owned_data_keys(obj: &ConfigMap, manager: &str) -> Vec<String> {
    let Some(fields) = entry(obj, manager).and_then(|e| e.fields_v1.as_ref()) else {
        return vec![];
    };
    let mut keys: Vec<String> = fields
        .0
        .get("f:data")
        .and_then(Value::as_object)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.strip_prefix("f:").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys
}

fn applied(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": data})
}

#[tokio::test]
async fn apply_creates_an_object_owned_by_the_applier() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let created = cms
        .patch(
            "ssa",
            &PatchParams::apply("mgr"),
            &Patch::Apply(applied(json!({"a": "1", "b": "2"}))),
        )
        .await
        .expect("first apply creates");
    assert_eq!(created.data, labels(&[("a", "1"), ("b", "2")]));
    let mgr = entry(&created, "mgr").expect("managedFields entry for mgr");
    assert_eq!(mgr.operation.as_deref(), Some("Apply"));
    assert_eq!(mgr.api_version.as_deref(), Some("v1"));
    assert_eq!(mgr.fields_type.as_deref(), Some("FieldsV1"));
    assert_eq!(owned_data_keys(&created, "mgr"), vec!["a", "b"]);
    let stored = cms.get("ssa").await.expect("get");
    assert_eq!(owned_data_keys(&stored, "mgr"), vec!["a", "b"]);
}

#[tokio::test]
async fn server_side_apply_tracks_owners_conflicts_and_force() {
    let server = TestServer::sqlite().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    // Created by a plain POST (so this test does not depend on apply-create).
    let creator = PostParams {
        field_manager: Some("creator".into()),
        ..Default::default()
    };
    cms.create(&creator, &config_map("ssa", &[]))
        .await
        .expect("create");

    let first = cms
        .patch(
            "ssa",
            &PatchParams::apply("mgr"),
            &Patch::Apply(applied(json!({"a": "1", "b": "2"}))),
        )
        .await
        .expect("first apply");
    assert_eq!(first.data, labels(&[("a", "1"), ("b", "2")]));
    let mgr = entry(&first, "mgr").expect("managedFields entry for mgr");
    assert_eq!(mgr.operation.as_deref(), Some("Apply"));
    assert_eq!(owned_data_keys(&first, "mgr"), vec!["a", "b"]);

    // Another manager applying a different value for an owned field conflicts.
    let status = api_error(
        cms.patch(
            "ssa",
            &PatchParams::apply("other"),
            &Patch::Apply(applied(json!({"a": "changed"}))),
        )
        .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(
        status.message.contains("conflict with \"mgr\"") && status.message.contains(".data.a"),
        "message: {}",
        status.message
    );
    let causes = status.details.expect("details").causes;
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].field, ".data.a");
    assert_eq!(cms.get("ssa").await.expect("get").data, first.data);

    // Applying the same value is no conflict: both managers share the field.
    let shared = cms
        .patch(
            "ssa",
            &PatchParams::apply("sharer"),
            &Patch::Apply(applied(json!({"b": "2"}))),
        )
        .await
        .expect("same value, no conflict");
    assert_eq!(owned_data_keys(&shared, "sharer"), vec!["b"]);
    assert_eq!(owned_data_keys(&shared, "mgr"), vec!["a", "b"]);

    // Forcing takes the field over.
    let forced = cms
        .patch(
            "ssa",
            &PatchParams::apply("other").force(),
            &Patch::Apply(applied(json!({"a": "changed"}))),
        )
        .await
        .expect("forced apply");
    assert_eq!(
        forced
            .data
            .as_ref()
            .and_then(|d| d.get("a"))
            .map(String::as_str),
        Some("changed")
    );
    assert_eq!(owned_data_keys(&forced, "other"), vec!["a"]);
    assert_eq!(owned_data_keys(&forced, "mgr"), vec!["b"]);

    // mgr stops applying `b`, but `sharer` still owns it, so it stays;
    // once sharer drops it as well, it is removed.
    let kept = cms
        .patch(
            "ssa",
            &PatchParams::apply("mgr"),
            &Patch::Apply(applied(json!({}))),
        )
        .await
        .expect("mgr applies nothing");
    assert_eq!(kept.data, labels(&[("a", "changed"), ("b", "2")]));
    let dropped = cms
        .patch(
            "ssa",
            &PatchParams::apply("sharer"),
            &Patch::Apply(applied(json!({}))),
        )
        .await
        .expect("sharer applies nothing");
    assert_eq!(dropped.data, labels(&[("a", "changed")]));
}

#[tokio::test]
async fn apply_requires_a_field_manager_and_updates_record_their_manager() {
    let server = TestServer::memory().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let created = cms
        .create(
            &PostParams {
                field_manager: Some("creator".into()),
                ..Default::default()
            },
            &config_map("owned", &[("a", "1")]),
        )
        .await
        .expect("create with field manager");
    let e = entry(&created, "creator").expect("creator recorded");
    assert_eq!(e.operation.as_deref(), Some("Update"));
    assert_eq!(owned_data_keys(&created, "creator"), vec!["a"]);

    let no_manager = PatchParams {
        field_manager: None,
        ..PatchParams::default()
    };
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"}});
    let status = api_error(cms.patch("owned", &no_manager, &Patch::Apply(&body)).await);
    // kube-apiserver's ValidatePatchOptions: 422 `PatchOptions.meta.k8s.io "" is invalid`.
    assert_eq!(status.code, 422, "{status:?}");
    assert!(
        status.message.contains("fieldManager: Required value"),
        "{status:?}"
    );
}
