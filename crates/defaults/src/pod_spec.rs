//! Defaults of a PodSpec and everything nested in it (containers, probes,
//! volumes). Applied to Pods and to every pod template (PodTemplate,
//! ReplicationController, Deployment, ReplicaSet, DaemonSet, StatefulSet, Job,
//! CronJob). Pod-only defaults live in `pod.rs`.

use serde_json::{json, Map, Value};

use crate::go_zero_values;
use crate::image::default_pull_policy;
use crate::json::{
    default_int, default_ptr, default_str, each_obj, is_unset, is_unset_str, obj, str_of,
};
use crate::persistent_volume::default_claim_spec;

/// Default mode of configMap, secret, downwardAPI and projected volumes (0644).
const VOLUME_DEFAULT_MODE: i64 = 0o644;

/// The container lists of a PodSpec. Ephemeral containers share the
/// container defaults (their common fields are a Container's).
const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// Applies PodSpec defaults and all nested defaults.
pub fn default_pod_spec(spec: &mut Map<String, Value>) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_ptr(spec, "securityContext", json!({}));
    default_ptr(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");

    for volume in each_obj(spec, "volumes") {
        default_volume(volume);
    }
    for list in CONTAINER_LISTS {
        for container in each_obj(spec, list) {
            default_container(container);
        }
    }
}

/// Applies PodSpec defaults to `parent.template.spec` if present.
pub fn default_template(parent: &mut Map<String, Value>) {
    if let Some(template) = obj(parent, "template") {
        go_zero_values::template_metadata(template);
        if let Some(spec) = obj(template, "spec") {
            default_pod_spec(spec);
        }
    }
}

fn default_container(c: &mut Map<String, Value>) {
    if is_unset_str(c.get("imagePullPolicy")) {
        let policy = default_pull_policy(str_of(c, "image"));
        c.insert("imagePullPolicy".into(), Value::from(policy));
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    go_zero_values::container_resources(c);

    for port in each_obj(c, "ports") {
        default_str(port, "protocol", "TCP");
    }
    for env in each_obj(c, "env") {
        if let Some(field_ref) = obj(env, "valueFrom").and_then(|v| obj(v, "fieldRef")) {
            default_field_ref(field_ref);
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = obj(c, probe) {
            default_probe(p);
        }
    }
    if let Some(lifecycle) = obj(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(get) = obj(lifecycle, hook).and_then(|h| obj(h, "httpGet")) {
                default_http_get(get);
            }
        }
    }
}

fn default_probe(p: &mut Map<String, Value>) {
    default_int(p, "timeoutSeconds", 1);
    default_int(p, "periodSeconds", 10);
    default_int(p, "successThreshold", 1);
    default_int(p, "failureThreshold", 3);
    if let Some(get) = obj(p, "httpGet") {
        default_http_get(get);
    }
    if let Some(grpc) = obj(p, "grpc") {
        default_ptr(grpc, "service", json!(""));
    }
}

fn default_http_get(get: &mut Map<String, Value>) {
    default_str(get, "path", "/");
    default_str(get, "scheme", "HTTP");
}

/// `fieldRef.apiVersion` defaults to "v1".
pub fn default_field_ref(field_ref: &mut Map<String, Value>) {
    default_str(field_ref, "apiVersion", "v1");
}

fn default_volume(v: &mut Map<String, Value>) {
    // A volume naming no source at all is an emptyDir.
    if v.iter().all(|(k, val)| k == "name" || val.is_null()) {
        v.insert("emptyDir".into(), json!({}));
    }
    if let Some(image) = obj(v, "image") {
        if is_unset_str(image.get("pullPolicy")) {
            let policy = default_pull_policy(str_of(image, "reference"));
            image.insert("pullPolicy".into(), Value::from(policy));
        }
    }
    if let Some(host_path) = obj(v, "hostPath") {
        default_host_path(host_path);
    }
    for source in ["secret", "configMap"] {
        if let Some(s) = obj(v, source) {
            default_ptr(s, "defaultMode", json!(VOLUME_DEFAULT_MODE));
        }
    }
    if let Some(iscsi) = obj(v, "iscsi") {
        default_iscsi(iscsi);
    }
    if let Some(rbd) = obj(v, "rbd") {
        default_rbd(rbd);
    }
    if let Some(downward) = obj(v, "downwardAPI") {
        default_ptr(downward, "defaultMode", json!(VOLUME_DEFAULT_MODE));
        default_downward_items(downward);
    }
    if let Some(azure) = obj(v, "azureDisk") {
        default_azure_disk(azure);
    }
    if let Some(projected) = obj(v, "projected") {
        default_ptr(projected, "defaultMode", json!(VOLUME_DEFAULT_MODE));
        for source in each_obj(projected, "sources") {
            if let Some(downward) = obj(source, "downwardAPI") {
                default_downward_items(downward);
            }
            if let Some(token) = obj(source, "serviceAccountToken") {
                default_ptr(token, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(scale_io) = obj(v, "scaleIO") {
        default_scale_io(scale_io);
    }
    if let Some(claim_spec) = obj(v, "ephemeral")
        .and_then(|e| obj(e, "volumeClaimTemplate"))
        .and_then(|t| obj(t, "spec"))
    {
        default_claim_spec(claim_spec);
    }
}

fn default_downward_items(downward: &mut Map<String, Value>) {
    for item in each_obj(downward, "items") {
        if let Some(field_ref) = obj(item, "fieldRef") {
            default_field_ref(field_ref);
        }
    }
}

/// `hostPath.type` defaults to "" (no check), present explicitly.
pub fn default_host_path(host_path: &mut Map<String, Value>) {
    if is_unset(host_path.get("type")) {
        host_path.insert("type".into(), json!(""));
    }
}

pub fn default_iscsi(iscsi: &mut Map<String, Value>) {
    default_str(iscsi, "iscsiInterface", "default");
}

pub fn default_rbd(rbd: &mut Map<String, Value>) {
    default_str(rbd, "pool", "rbd");
    default_str(rbd, "user", "admin");
    default_str(rbd, "keyring", "/etc/ceph/keyring");
}

pub fn default_azure_disk(azure: &mut Map<String, Value>) {
    default_ptr(azure, "cachingMode", json!("ReadWrite"));
    default_ptr(azure, "kind", json!("Shared"));
    default_ptr(azure, "fsType", json!("ext4"));
    default_ptr(azure, "readOnly", json!(false));
}

pub fn default_scale_io(scale_io: &mut Map<String, Value>) {
    default_str(scale_io, "storageMode", "ThinProvisioned");
    default_str(scale_io, "fsType", "xfs");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_of(v: Value) -> Value {
        let mut v = v;
        if let Some(m) = v.as_object_mut() {
            default_pod_spec(m);
        }
        v
    }

    #[test]
    fn probes_get_timing_and_http_defaults() {
        let out = spec_of(json!({"containers": [{"name": "c", "image": "a:1",
            "livenessProbe": {"httpGet": {"port": 80}},
            "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 5},
            "startupProbe": {"exec": {"command": ["true"]}, "failureThreshold": 0}}]}));
        let c = &out["containers"][0];
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
        assert_eq!(
            c["readinessProbe"]["grpc"],
            json!({"port": 9000, "service": ""})
        );
        assert_eq!(c["startupProbe"]["failureThreshold"], 3);
    }

    #[test]
    fn lifecycle_http_hooks_get_path_and_scheme_only() {
        let out = spec_of(json!({"containers": [{"name": "c", "image": "a:1",
            "lifecycle": {"preStop": {"httpGet": {"port": 8080}}, "postStart": {"exec": {"command": ["x"]}}}}]}));
        assert_eq!(
            out["containers"][0]["lifecycle"],
            json!({"preStop": {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}},
                "postStart": {"exec": {"command": ["x"]}}})
        );
    }

    #[test]
    fn volumes_get_source_defaults() {
        let out = spec_of(json!({"volumes": [
            {"name": "bare"},
            {"name": "cm", "configMap": {"name": "x"}},
            {"name": "sec", "secret": {"secretName": "s", "defaultMode": 256}},
            {"name": "hp", "hostPath": {"path": "/tmp"}},
            {"name": "dw", "downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
            {"name": "pj", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token"}},
                {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}},
            {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
            {"name": "img", "image": {"reference": "quay.io/x/y:v1"}}
        ]}));
        assert_eq!(
            out["volumes"],
            json!([
                {"name": "bare", "emptyDir": {}},
                {"name": "cm", "configMap": {"name": "x", "defaultMode": 420}},
                {"name": "sec", "secret": {"secretName": "s", "defaultMode": 256}},
                {"name": "hp", "hostPath": {"path": "/tmp", "type": ""}},
                {"name": "dw", "downwardAPI": {"defaultMode": 420, "items": [
                    {"path": "l", "fieldRef": {"fieldPath": "metadata.labels", "apiVersion": "v1"}}]}},
                {"name": "pj", "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                    {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}]}}]}},
                {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {
                    "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}}}},
                {"name": "img", "image": {"reference": "quay.io/x/y:v1", "pullPolicy": "IfNotPresent"}}
            ])
        );
    }

    #[test]
    fn explicit_values_are_kept() {
        let input = json!({"dnsPolicy": "Default", "restartPolicy": "Never",
            "securityContext": {"runAsUser": 1}, "terminationGracePeriodSeconds": 0,
            "schedulerName": "mine",
            "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never", "resources": {},
                "terminationMessagePath": "/x", "terminationMessagePolicy": "FallbackToLogsOnError",
                "ports": [{"containerPort": 53, "protocol": "UDP"}]}]});
        assert_eq!(spec_of(input.clone()), input);
    }
}
