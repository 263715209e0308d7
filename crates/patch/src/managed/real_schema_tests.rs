//! Server-side apply against the real generated OpenAPI v3 schemas
//! (berth-openapi), replaying what kubectl does when a client-side applied
//! object is applied server-side: apply, `kubectl-last-applied` apply,
//! csaupgrade migration of managedFields (a json-patch, tracked as an
//! Update that sends managedFields), re-apply.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{apply, track_update, ApplyError};
use crate::Schemas;

const T1: &str = "2026-11-23T19:01:45Z";
const T2: &str = "2026-11-23T19:01:46Z";
const T3: &str = "2026-11-23T19:01:47Z";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One kind with its real schemas.
struct Kind {
    defs: Arc<Map<String, Value>>,
    root: String,
    api_version: &'static str,
}

fn kind(group: &str, version: &str, kind_name: &str, api_version: &'static str) -> Kind {
    let openapi = berth_openapi::OpenApi::new();
    let defs = openapi.schemas(group, version).unwrap_or_default();
    let root = openapi
        .root_definition(group, version, kind_name)
        .unwrap_or_default();
    assert!(defs.contains_key(&root), "no schema for {kind_name}");
    Kind {
        defs,
        root,
        api_version,
    }
}

impl Kind {
    fn apply(&self, live: Option<&Value>, applied: &Value, manager: &str, now: &str) -> Value {
        self.try_apply(live, applied, manager, false, now)
            .unwrap_or_else(|e| panic!("apply by {manager}: {e}"))
    }

    fn try_apply(
        &self,
        live: Option<&Value>,
        applied: &Value,
        manager: &str,
        force: bool,
        now: &str,
    ) -> Result<Value, ApplyError> {
        let schemas = Schemas::new(&self.defs);
        apply(live, applied, manager, force, &schemas, &self.root, now)
    }

    fn update(&self, old: Option<&Value>, new: &Value, manager: &str, now: &str) -> Value {
        let schemas = Schemas::new(&self.defs);
        track_update(
            old,
            new,
            manager,
            "Update",
            self.api_version,
            &schemas,
            &self.root,
            now,
        )
    }
}

fn managers(object: &Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or_default().to_string(),
                e["operation"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn fields_union(a: &Value, b: &Value) -> Value {
    let mut out = a.as_object().cloned().unwrap_or_default();
    for (key, theirs) in b.as_object().into_iter().flatten() {
        let merged = match out.get(key) {
            Some(mine) => fields_union(mine, theirs),
            None => theirs.clone(),
        };
        out.insert(key.clone(), merged);
    }
    Value::Object(out)
}

/// client-go csaupgrade: fold `kubectl-client-side-apply`'s Update entry
/// into `kubectl`'s Apply entry; returns the object as the json-patch
/// leaves it (managedFields replaced by the client).
fn csa_upgraded(live: &Value) -> Value {
    let is = |e: &Value, manager: &str, operation: &str| {
        e["manager"] == manager && e["operation"] == operation
    };
    let mut entries = live["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let csa = entries
        .iter()
        .find(|e| is(e, "kubectl-client-side-apply", "Update"))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or_default();
    if let Some(ssa) = entries.iter_mut().find(|e| is(e, "kubectl", "Apply")) {
        ssa["fieldsV1"] = fields_union(&ssa["fieldsV1"], &csa);
    }
    entries.retain(|e| !is(e, "kubectl-client-side-apply", "Update"));
    let mut sent = live.clone();
    sent["metadata"]["managedFields"] = Value::Array(entries);
    sent
}

/// kubectl apply (client-side create) then `kubectl apply --server-side`
/// with migration, as kubectl 1.32/1.33 send it. `stored` is the object as
/// the server stored the create (defaults filled in).
fn client_side_then_server_side(kind: &Kind, stored: &Value, config: &Value) -> Value {
    let created = kind.update(None, stored, "kubectl-client-side-apply", T1);
    let applied = kind.apply(Some(&created), config, "kubectl", T2);
    let annotation = applied["metadata"]["annotations"][LAST_APPLIED].clone();
    assert!(annotation.is_string(), "annotation lost: {applied:#}");
    let only_annotation = json!({
        "apiVersion": config["apiVersion"], "kind": config["kind"],
        "metadata": {"name": config["metadata"]["name"],
                     "annotations": {LAST_APPLIED: annotation}},
    });
    let saved = kind.apply(Some(&applied), &only_annotation, "kubectl-last-applied", T2);
    let migrated = kind.update(Some(&saved), &csa_upgraded(&saved), "kubectl", T3);
    assert_eq!(
        managers(&migrated),
        [("kubectl", "Apply"), ("kubectl-last-applied", "Apply")]
            .map(|(m, o)| (m.to_string(), o.to_string())),
        "{migrated:#}"
    );
    let reapplied = kind.apply(Some(&migrated), config, "kubectl", T3);
    // The annotation keeps its owner.
    assert!(
        managers(&reapplied).contains(&("kubectl-last-applied".into(), "Apply".into())),
        "{reapplied:#}"
    );
    reapplied
}

fn service_config() -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"labels": {"app": "web"}, "name": "web", "namespace": "cap"},
           "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}],
                    "selector": {"app": "web"}}})
}

fn with_last_applied(mut object: Value, config: &Value) -> Value {
    object["metadata"]["annotations"] = json!({LAST_APPLIED: format!("{config}\n")});
    object
}

#[test]
fn migrated_client_side_apply_keeps_service_ports() {
    let service = kind("", "v1", "Service", "v1");
    let config = service_config();
    let mut stored = with_last_applied(config.clone(), &config);
    stored["spec"] = json!({
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        "selector": {"app": "web"}, "sessionAffinity": "None", "type": "ClusterIP",
        "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"], "clusterIP": "10.43.21.35", "clusterIPs": ["10.43.21.35"],
    });
    let result = client_side_then_server_side(&service, &stored, &config);
    assert_eq!(
        result["spec"]["ports"],
        json!([{"name": "http", "port": 80, "targetPort": "http"}]),
        "{result:#}"
    );
    assert_eq!(result["spec"]["selector"], json!({"app": "web"}));
    assert_eq!(result["metadata"]["labels"], json!({"app": "web"}));
    assert!(result["metadata"]["annotations"][LAST_APPLIED].is_string());
    // Fields only client-side apply recorded (server defaults) are released
    // and left to defaulting, as upstream ("they will be re-defaulted").
    assert!(
        result["spec"].get("sessionAffinity").is_none(),
        "{result:#}"
    );
}

#[test]
fn migrated_client_side_apply_keeps_deployment_template() {
    let deployments = kind("apps", "v1", "Deployment", "apps/v1");
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"labels": {"app": "web"}, "name": "web", "namespace": "cap"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{
              "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"key": "greeting", "name": "web-config"}}}],
              "image": "localhost/berth/echo:1", "name": "echo",
              "ports": [{"containerPort": 8080, "name": "http"}],
              "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "50m", "memory": "32Mi"}}}]}}}});
    let mut stored = with_last_applied(config.clone(), &config);
    let spec = &mut stored["spec"];
    spec["progressDeadlineSeconds"] = json!(600);
    spec["revisionHistoryLimit"] = json!(10);
    spec["strategy"] = json!({"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    spec["template"]["metadata"]["creationTimestamp"] = Value::Null;
    let pod = &mut spec["template"]["spec"];
    for (key, value) in [
        ("dnsPolicy", json!("ClusterFirst")),
        ("restartPolicy", json!("Always")),
        ("schedulerName", json!("default-scheduler")),
        ("securityContext", json!({})),
        ("terminationGracePeriodSeconds", json!(30)),
    ] {
        pod[key] = value;
    }
    let container = &mut pod["containers"][0];
    container["imagePullPolicy"] = json!("IfNotPresent");
    container["terminationMessagePath"] = json!("/dev/termination-log");
    container["terminationMessagePolicy"] = json!("File");
    container["ports"][0]["protocol"] = json!("TCP");

    let result = client_side_then_server_side(&deployments, &stored, &config);
    let template = &result["spec"]["template"];
    assert_eq!(
        template["metadata"]["labels"],
        json!({"app": "web"}),
        "{result:#}"
    );
    let container = &template["spec"]["containers"][0];
    assert_eq!(container["name"], "echo", "{result:#}");
    assert_eq!(container["image"], "localhost/berth/echo:1");
    assert_eq!(
        container["env"],
        config["spec"]["template"]["spec"]["containers"][0]["env"]
    );
    assert_eq!(
        container["resources"],
        config["spec"]["template"]["spec"]["containers"][0]["resources"]
    );
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["ports"][0]["name"], "http");
    assert_eq!(result["spec"]["replicas"], 3);
    assert_eq!(
        result["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
    assert_eq!(result["metadata"]["labels"], json!({"app": "web"}));
}

#[test]
fn migrated_client_side_apply_keeps_configmap_data_and_labels() {
    let configmaps = kind("", "v1", "ConfigMap", "v1");
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "data": {"greeting": "hello from berth"},
        "metadata": {"labels": {"app": "web"}, "name": "web-config", "namespace": "cap"}});
    let stored = with_last_applied(config.clone(), &config);
    let result = client_side_then_server_side(&configmaps, &stored, &config);
    assert_eq!(result["data"], config["data"], "{result:#}");
    assert_eq!(result["metadata"]["labels"], config["metadata"]["labels"]);
    assert!(result["metadata"]["annotations"][LAST_APPLIED].is_string());
}

#[test]
fn dropped_fields_are_still_pruned_after_migration() {
    let service = kind("", "v1", "Service", "v1");
    let config = service_config();
    let stored = with_last_applied(config.clone(), &config);
    let migrated = client_side_then_server_side(&service, &stored, &config);
    let mut smaller = config.clone();
    smaller["metadata"]
        .as_object_mut()
        .map(|m| m.remove("labels"));
    let pruned = service.apply(Some(&migrated), &smaller, "kubectl", T3);
    assert!(pruned["metadata"].get("labels").is_none(), "{pruned:#}");
    assert_eq!(pruned["spec"]["ports"], migrated["spec"]["ports"]);
    // `metadata` itself stays although only identity fields remain applied.
    assert_eq!(pruned["metadata"]["name"], "web");
    assert!(pruned["metadata"]["annotations"][LAST_APPLIED].is_string());
}

#[test]
fn reapplying_the_same_configuration_is_a_no_op() {
    let deployments = kind("apps", "v1", "Deployment", "apps/v1");
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1",
              "ports": [{"containerPort": 80}]}]}}}});
    let first = deployments.apply(None, &config, "kubectl", T1);
    let second = deployments.apply(Some(&first), &config, "kubectl", T2);
    assert_eq!(first, second);
    let third = deployments.apply(Some(&second), &config, "kubectl", T3);
    assert_eq!(first, third);
}

#[test]
fn second_manager_conflicts_on_replicas() {
    let deployments = kind("apps", "v1", "Deployment", "apps/v1");
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}}});
    let live = deployments.apply(None, &config, "kubectl", T1);
    let scale = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"}, "spec": {"replicas": 5}});
    match deployments.try_apply(Some(&live), &scale, "autoscaler", false, T2) {
        Err(ApplyError::Conflicts(conflicts)) => {
            let fields: Vec<&str> = conflicts.iter().map(|c| c.field.as_str()).collect();
            assert_eq!(fields, [".spec.replicas"]);
            assert_eq!(conflicts[0].manager, "kubectl");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let forced = deployments
        .try_apply(Some(&live), &scale, "autoscaler", true, T2)
        .unwrap_or_else(|e| panic!("force: {e}"));
    assert_eq!(forced["spec"]["replicas"], 5);
    assert_eq!(forced["spec"]["template"], live["spec"]["template"]);
    // Same value: shared ownership, no conflict.
    let same = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"}, "spec": {"replicas": 2}});
    assert!(deployments
        .try_apply(Some(&live), &same, "autoscaler", false, T2)
        .is_ok());
}

#[test]
fn apply_after_unmigrated_client_side_apply_keeps_every_field() {
    let service = kind("", "v1", "Service", "v1");
    let config = service_config();
    let mut stored = with_last_applied(config.clone(), &config);
    stored["spec"]["ports"][0]["protocol"] = json!("TCP");
    stored["spec"]["type"] = json!("ClusterIP");
    let created = service.update(None, &stored, "kubectl-client-side-apply", T1);
    let applied = service.apply(Some(&created), &config, "kubectl", T2);
    let again = service.apply(Some(&applied), &config, "kubectl", T3);
    for result in [&applied, &again] {
        assert_eq!(result["spec"], stored["spec"], "{result:#}");
        assert_eq!(result["metadata"]["labels"], json!({"app": "web"}));
        assert!(result["metadata"]["annotations"][LAST_APPLIED].is_string());
        assert!(managers(result).contains(&("kubectl-client-side-apply".into(), "Update".into())));
    }
}

#[test]
fn named_fields_become_members_but_map_keys_and_items_do_not() {
    use super::fieldpath::{FieldSet, PathElement};
    use super::typed::Typed;
    let service = kind("", "v1", "Service", "v1");
    let schemas = Schemas::new(&service.defs);
    let typed = Typed { schemas: &schemas };
    let field = |name: &str| PathElement::Field(name.to_string());
    let port = PathElement::key(vec![
        ("port".into(), json!(80)),
        ("protocol".into(), json!("TCP")),
    ]);
    let mut set = FieldSet::new();
    set.insert(&[field("spec"), field("ports"), port.clone(), field("name")]);
    set.insert(&[field("metadata"), field("labels"), field("app")]);
    let named = typed.with_named_fields_as_members(&set, schemas.root(&service.root));
    assert!(named.has(&[field("spec")]));
    assert!(named.has(&[field("spec"), field("ports")]));
    assert!(!named.has(&[field("spec"), field("ports"), port.clone()]));
    assert!(named.has(&[field("spec"), field("ports"), port, field("name")]));
    assert!(named.has(&[field("metadata"), field("labels")]));
    assert!(named.has(&[field("metadata"), field("labels"), field("app")]));
}
