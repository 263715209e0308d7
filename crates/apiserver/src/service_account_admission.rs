//! The ServiceAccount admission plugin (pod create): default
//! `spec.serviceAccountName`, require the ServiceAccount to exist, mount
//! the `kube-api-access-<random>` projected volume (token, cluster CA,
//! namespace) into every container unless automounting is off, and copy
//! the ServiceAccount's imagePullSecrets. Reads the watch cache only.
//!
//! ```text
//! pod ─▶ mirror pod? leave it ─▶ serviceAccountName ||= "default"
//!     ─▶ ServiceAccount in cache? no ─▶ 403 error looking up service account
//!     ─▶ automount (pod, else SA, else true) ─▶ volume + read-only mounts
//!     ─▶ imagePullSecrets ||= SA's
//! ```

use crate::Server;
use berth_api::status::ApiError;
use serde_json::{json, Value};
use std::time::Duration;

pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// Prefix of the generated token volume's name.
pub const VOLUME_PREFIX: &str = "kube-api-access-";
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The ConfigMap the root-CA publisher keeps in every namespace.
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";
/// Upstream's `WarnOnlyBoundTokenExpirationSeconds`: one hour plus seven seconds.
pub const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

fn sa_key(ns: &str, name: &str) -> String {
    format!("/registry/core/serviceaccounts/{ns}/{name}")
}

fn service_account_name(pod: &Value) -> &str {
    pod.pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SERVICE_ACCOUNT)
}

fn is_mirror_pod(pod: &Value) -> bool {
    pod.pointer("/metadata/annotations")
        .and_then(|a| a.get(MIRROR_ANNOTATION))
        .is_some()
}

/// Upstream retries the lookup of a missing `default` ServiceAccount (it
/// is created right after its namespace); wait up to ~2 s for the cache to
/// show it. Other names and existing accounts cost nothing.
pub async fn wait_for_default(srv: &Server, ns: &str, pod: &Value) {
    if is_mirror_pod(pod) || service_account_name(pod) != DEFAULT_SERVICE_ACCOUNT {
        return;
    }
    let key = sa_key(ns, DEFAULT_SERVICE_ACCOUNT);
    for _ in 0..20 {
        if srv.cache.get(&key).is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The plugin, on a pod being created.
pub fn admit(srv: &Server, pod: &mut Value) -> Result<(), ApiError> {
    if is_mirror_pod(pod) {
        return Ok(());
    }
    let ns = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let sa_name = service_account_name(pod).to_string();
    pod["spec"]["serviceAccountName"] = json!(sa_name);
    if pod.pointer("/spec/serviceAccount").is_none() {
        pod["spec"]["serviceAccount"] = json!(sa_name);
    }
    let Some(sa) = srv.cache.get(&sa_key(&ns, &sa_name)) else {
        let pod_name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(ApiError::forbidden_on(
            "",
            "pods",
            pod_name,
            &format!(
                "error looking up service account {ns}/{sa_name}: serviceaccount \"{sa_name}\" not found"
            ),
        ));
    };
    let sa = sa.value();
    if should_automount(pod, &sa) {
        mount_token(pod, || crate::rest::generate_name(VOLUME_PREFIX));
    }
    copy_pull_secrets(pod, &sa);
    Ok(())
}

/// The pod's `automountServiceAccountToken`, else the ServiceAccount's, else true.
pub fn should_automount(pod: &Value, sa: &Value) -> bool {
    pod.pointer("/spec/automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| {
            sa.get("automountServiceAccountToken")
                .and_then(Value::as_bool)
        })
        .unwrap_or(true)
}

/// The projected source of the token volume, defaultMode set explicitly as upstream does.
pub fn token_volume_source() -> Value {
    json!({
        "defaultMode": 0o644,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIG_MAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
    })
}

/// Mount the token volume read-only at [`MOUNT_PATH`] in every init and
/// regular container that does not mount something there already; add the
/// volume when some container got the mount. A volume already named
/// `kube-api-access-*` is reused.
pub fn mount_token(pod: &mut Value, generated_name: impl FnOnce() -> String) {
    let existing = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .find(|n| n.starts_with(VOLUME_PREFIX))
        .map(str::to_string);
    let (name, exists) = match existing {
        Some(n) => (n, true),
        None => (generated_name(), false),
    };
    let mount = json!({"name": name, "readOnly": true, "mountPath": MOUNT_PATH});
    let mut mounted = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = pod
            .pointer_mut(&format!("/spec/{list}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for c in containers {
            let has_mount = c
                .get("volumeMounts")
                .and_then(Value::as_array)
                .is_some_and(|ms| {
                    ms.iter()
                        .any(|m| m.get("mountPath") == Some(&json!(MOUNT_PATH)))
                });
            if has_mount {
                continue;
            }
            match c.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                Some(ms) => ms.push(mount.clone()),
                None => c["volumeMounts"] = json!([mount.clone()]),
            }
            mounted = true;
        }
    }
    if mounted && !exists {
        let volume = json!({"name": name, "projected": token_volume_source()});
        match pod
            .pointer_mut("/spec/volumes")
            .and_then(Value::as_array_mut)
        {
            Some(vs) => vs.push(volume),
            None => pod["spec"]["volumes"] = json!([volume]),
        }
    }
}

/// A pod without imagePullSecrets gets its ServiceAccount's.
fn copy_pull_secrets(pod: &mut Value, sa: &Value) {
    let has_own = pod
        .pointer("/spec/imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if has_own {
        return;
    }
    let secrets: Vec<Value> = sa
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("name"))
        .map(|n| json!({"name": n}))
        .collect();
    if !secrets.is_empty() {
        pod["spec"]["imagePullSecrets"] = json!(secrets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Value {
        json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {
                "initContainers": [{"name": "init", "image": "i"}],
                "containers": [
                    {"name": "a", "image": "i", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                    {"name": "b", "image": "i"},
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
            }
        })
    }

    #[test]
    fn mounts_the_token_volume_in_every_container() {
        let mut p = pod();
        mount_token(&mut p, || "kube-api-access-abcde".into());
        let volumes = p["spec"]["volumes"].as_array().expect("volumes");
        assert_eq!(volumes.len(), 2);
        assert_eq!(volumes[1]["name"], "kube-api-access-abcde");
        let sources = &volumes[1]["projected"]["sources"];
        assert_eq!(sources[0]["serviceAccountToken"]["expirationSeconds"], 3607);
        assert_eq!(sources[0]["serviceAccountToken"]["path"], "token");
        assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt");
        assert_eq!(sources[1]["configMap"]["items"][0]["key"], "ca.crt");
        assert_eq!(
            sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"],
            "metadata.namespace"
        );
        assert_eq!(volumes[1]["projected"]["defaultMode"], 420);
        let expected =
            json!({"name": "kube-api-access-abcde", "readOnly": true, "mountPath": MOUNT_PATH});
        assert_eq!(
            p["spec"]["initContainers"][0]["volumeMounts"],
            json!([expected])
        );
        assert_eq!(p["spec"]["containers"][0]["volumeMounts"][1], expected);
        assert_eq!(
            p["spec"]["containers"][1]["volumeMounts"],
            json!([expected])
        );
    }

    #[test]
    fn an_existing_mount_at_the_path_is_kept() {
        let mut p = pod();
        for c in ["initContainers", "containers"] {
            for ctr in p["spec"][c].as_array_mut().expect("list") {
                ctr["volumeMounts"] = json!([{"name": "mine", "mountPath": MOUNT_PATH}]);
            }
        }
        let before = p.clone();
        mount_token(&mut p, || "kube-api-access-zzzzz".into());
        // Nobody needed the volume, so none was added.
        assert_eq!(p, before);

        let mut p = pod();
        p["spec"]["containers"][1]["volumeMounts"] =
            json!([{"name": "mine", "mountPath": MOUNT_PATH}]);
        mount_token(&mut p, || "kube-api-access-zzzzz".into());
        assert_eq!(
            p["spec"]["containers"][1]["volumeMounts"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert_eq!(p["spec"]["volumes"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn an_existing_token_volume_is_reused() {
        let mut p = pod();
        p["spec"]["volumes"] =
            json!([{"name": "kube-api-access-old12", "projected": token_volume_source()}]);
        mount_token(&mut p, || panic!("no new name needed"));
        assert_eq!(p["spec"]["volumes"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            p["spec"]["containers"][1]["volumeMounts"][0]["name"],
            "kube-api-access-old12"
        );
    }

    #[test]
    fn automount_pod_wins_over_service_account() {
        let sa_off = json!({"automountServiceAccountToken": false});
        let sa_default = json!({});
        let mut p = pod();
        assert!(should_automount(&p, &sa_default));
        assert!(!should_automount(&p, &sa_off));
        p["spec"]["automountServiceAccountToken"] = json!(true);
        assert!(should_automount(&p, &sa_off));
        p["spec"]["automountServiceAccountToken"] = json!(false);
        assert!(!should_automount(&p, &sa_default));
    }

    #[test]
    fn pull_secrets_come_from_the_account_when_the_pod_has_none() {
        let sa = json!({"imagePullSecrets": [{"name": "reg"}]});
        let mut p = pod();
        copy_pull_secrets(&mut p, &sa);
        assert_eq!(p["spec"]["imagePullSecrets"], json!([{"name": "reg"}]));
        let mut p = pod();
        p["spec"]["imagePullSecrets"] = json!([{"name": "own"}]);
        copy_pull_secrets(&mut p, &sa);
        assert_eq!(p["spec"]["imagePullSecrets"], json!([{"name": "own"}]));
    }
}
