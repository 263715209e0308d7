//! A small `components.schemas` in the shape kube-apiserver publishes
//! (wrapped `$ref`s, patch and list extensions as on the real types), for tests.

use serde_json::{json, Map, Value};

fn r(name: &str) -> Value {
    json!({"allOf": [{"$ref": format!("#/components/schemas/{name}")}], "default": {}})
}

fn list_of(name: &str) -> Value {
    json!({"type": "array", "items": r(name)})
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";
const CORE: &str = "io.k8s.api.core.v1.";
const APPS: &str = "io.k8s.api.apps.v1.";

pub fn defs() -> Map<String, Value> {
    let string = json!({"type": "string", "default": ""});
    let strings = json!({"type": "array", "items": {"type": "string", "default": ""}});
    let string_map =
        json!({"type": "object", "additionalProperties": {"type": "string", "default": ""}});
    let mut defs = Map::new();
    let mut def = |name: String, value: Value| {
        defs.insert(name, value);
    };

    def(
        format!("{META}ObjectMeta"),
        json!({"type": "object", "properties": {
            "name": string, "namespace": string, "uid": string, "resourceVersion": string,
            "generation": {"type": "integer", "format": "int64"},
            "creationTimestamp": r(&format!("{META}Time")),
            "labels": string_map, "annotations": string_map,
            "finalizers": with(strings.clone(), json!({
                "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"})),
            "ownerReferences": with(list_of(&format!("{META}OwnerReference")), json!({
                "x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map",
                "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"})),
            "managedFields": with(list_of(&format!("{META}ManagedFieldsEntry")), json!({
                "x-kubernetes-list-type": "atomic"}))
        }}),
    );
    def(
        format!("{META}Time"),
        json!({"type": "string", "format": "date-time"}),
    );
    def(
        format!("{META}ManagedFieldsEntry"),
        json!({"type": "object", "properties": {
        "manager": string, "operation": string}}),
    );
    def(
        format!("{META}OwnerReference"),
        json!({"type": "object", "required": ["apiVersion", "kind", "name", "uid"],
        "properties": {"apiVersion": string, "kind": string, "name": string, "uid": string,
                       "controller": {"type": "boolean"}},
        "x-kubernetes-map-type": "atomic"}),
    );
    def(
        format!("{META}LabelSelector"),
        json!({"type": "object", "properties": {
        "matchLabels": string_map,
        "matchExpressions": with(list_of("x"), json!({"x-kubernetes-list-type": "atomic"}))},
        "x-kubernetes-map-type": "atomic"}),
    );
    def(
        format!("{META}Condition"),
        json!({"type": "object", "properties": {
        "type": string, "status": string, "reason": string}}),
    );

    def(
        format!("{CORE}Pod"),
        json!({"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": r(&format!("{META}ObjectMeta")),
        "spec": r(&format!("{CORE}PodSpec")),
        "status": r(&format!("{CORE}PodStatus"))}}),
    );
    def(
        format!("{CORE}PodStatus"),
        json!({"type": "object", "properties": {
        "phase": string,
        "conditions": with(list_of(&format!("{META}Condition")), json!({
            "x-kubernetes-list-map-keys": ["type"], "x-kubernetes-list-type": "map",
            "x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"}))}}),
    );
    def(
        format!("{CORE}PodSpec"),
        json!({"type": "object", "required": ["containers"], "properties": {
        "containers": with(list_of(&format!("{CORE}Container")), json!({
            "x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map",
            "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"})),
        "volumes": with(list_of(&format!("{CORE}Volume")), json!({
            "x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map",
            "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge,retainKeys"})),
        "nodeSelector": with(string_map.clone(), json!({"x-kubernetes-map-type": "atomic"})),
        "restartPolicy": string,
        "serviceAccountName": string,
        "hostAliases": with(list_of(&format!("{CORE}HostAlias")), json!({
            "x-kubernetes-list-map-keys": ["ip"], "x-kubernetes-list-type": "map"}))}}),
    );
    def(
        format!("{CORE}HostAlias"),
        json!({"type": "object", "required": ["ip"], "properties": {
        "ip": string, "hostnames": with(strings.clone(), json!({"x-kubernetes-list-type": "atomic"}))}}),
    );
    def(
        format!("{CORE}Container"),
        json!({"type": "object", "required": ["name"], "properties": {
        "name": string, "image": string,
        "args": with(strings.clone(), json!({"x-kubernetes-list-type": "atomic"})),
        "command": with(strings.clone(), json!({"x-kubernetes-list-type": "atomic"})),
        "env": with(list_of(&format!("{CORE}EnvVar")), json!({
            "x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map",
            "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"})),
        "ports": with(list_of(&format!("{CORE}ContainerPort")), json!({
            "x-kubernetes-list-map-keys": ["containerPort", "protocol"], "x-kubernetes-list-type": "map",
            "x-kubernetes-patch-merge-key": "containerPort", "x-kubernetes-patch-strategy": "merge"})),
        "resources": r(&format!("{CORE}ResourceRequirements"))}}),
    );
    def(
        format!("{CORE}ResourceRequirements"),
        json!({"type": "object", "properties": {
        "limits": {"type": "object", "additionalProperties": r("io.k8s.apimachinery.pkg.api.resource.Quantity")},
        "requests": {"type": "object", "additionalProperties": r("io.k8s.apimachinery.pkg.api.resource.Quantity")}}}),
    );
    def(
        "io.k8s.apimachinery.pkg.api.resource.Quantity".to_string(),
        json!({"type": "string"}),
    );
    def(
        format!("{CORE}EnvVar"),
        json!({"type": "object", "required": ["name"], "properties": {
        "name": string, "value": string, "valueFrom": {"type": "object", "properties": {"fieldRef": {"type": "object"}}}}}),
    );
    def(
        format!("{CORE}ContainerPort"),
        json!({"type": "object", "required": ["containerPort"], "properties": {
        "name": string, "containerPort": {"type": "integer", "format": "int32", "default": 0},
        "protocol": {"type": "string", "default": "TCP"}}}),
    );
    def(
        format!("{CORE}Volume"),
        json!({"type": "object", "required": ["name"], "properties": {
        "name": string, "emptyDir": {"type": "object", "properties": {"medium": string}},
        "hostPath": {"type": "object", "properties": {"path": string}},
        "configMap": {"type": "object", "properties": {"name": string}}}}),
    );
    def(
        format!("{CORE}Service"),
        json!({"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": r(&format!("{META}ObjectMeta")), "spec": r(&format!("{CORE}ServiceSpec"))}}),
    );
    def(
        format!("{CORE}ServiceSpec"),
        json!({"type": "object", "properties": {
        "ports": with(list_of(&format!("{CORE}ServicePort")), json!({
            "x-kubernetes-list-map-keys": ["port", "protocol"], "x-kubernetes-list-type": "map",
            "x-kubernetes-patch-merge-key": "port", "x-kubernetes-patch-strategy": "merge"})),
        "selector": with(string_map.clone(), json!({"x-kubernetes-map-type": "atomic"})),
        "type": string}}),
    );
    def(
        format!("{CORE}ServicePort"),
        json!({"type": "object", "required": ["port"], "properties": {
        "name": string, "port": {"type": "integer", "default": 0},
        "targetPort": {"x-kubernetes-int-or-string": true},
        "protocol": {"type": "string", "default": "TCP"}}}),
    );

    def(
        format!("{APPS}Deployment"),
        json!({"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": r(&format!("{META}ObjectMeta")),
        "spec": r(&format!("{APPS}DeploymentSpec")),
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}),
    );
    def(
        format!("{APPS}DeploymentSpec"),
        json!({"type": "object", "properties": {
        "replicas": {"type": "integer", "format": "int32"},
        "selector": r(&format!("{META}LabelSelector")),
        "template": r(&format!("{CORE}PodTemplateSpec")),
        "strategy": with(r(&format!("{APPS}DeploymentStrategy")), json!({
            "x-kubernetes-patch-strategy": "retainKeys"})),
        "paused": {"type": "boolean"}}}),
    );
    def(
        format!("{APPS}DeploymentStrategy"),
        json!({"type": "object", "properties": {
        "type": string,
        "rollingUpdate": {"type": "object", "properties": {
            "maxSurge": {"x-kubernetes-int-or-string": true},
            "maxUnavailable": {"x-kubernetes-int-or-string": true}}}}}),
    );
    def(
        format!("{CORE}PodTemplateSpec"),
        json!({"type": "object", "properties": {
        "metadata": r(&format!("{META}ObjectMeta")), "spec": r(&format!("{CORE}PodSpec"))}}),
    );
    defs
}

pub const POD: &str = "io.k8s.api.core.v1.Pod";
pub const SERVICE: &str = "io.k8s.api.core.v1.Service";
pub const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";
