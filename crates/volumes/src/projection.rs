//! Building the file payloads of the configMap, secret, downwardAPI and projected plugins
//! (what goes into the atomic writer). Error texts follow upstream's plugins.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, DownwardAPIVolumeFile, KeyToPath, Pod, ProjectedVolumeSource,
    Secret, SecretVolumeSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::atomic_writer::{FileProjection, Payload};
use crate::downward_api;
use crate::source::VolumeSource;
use crate::token_cache::{TokenCache, TokenKey};

/// Upstream's default file mode for all four plugins (`0644`, secrets included).
pub const DEFAULT_MODE: u32 = 0o644;

/// What payload builders need besides the volume source.
pub struct ProjectionContext<'a> {
    pub source: &'a dyn VolumeSource,
    pub pod: &'a Pod,
    pub namespace: &'a str,
    pub node_allocatable: &'a BTreeMap<String, Quantity>,
    pub tokens: &'a TokenCache,
}

fn mode_of(mode: Option<i32>, default_mode: u32) -> u32 {
    mode.and_then(|m| u32::try_from(m).ok())
        .map(|m| m & 0o7777)
        .unwrap_or(default_mode)
}

/// Fetches a configMap; a missing one is an error unless `optional` (then it reads as empty).
async fn fetch_config_map(
    ctx: &ProjectionContext<'_>,
    name: &str,
    optional: bool,
) -> Result<ConfigMap, String> {
    match ctx.source.config_map(ctx.namespace, name).await? {
        Some(cm) => Ok(cm),
        None if optional => Ok(ConfigMap::default()),
        None => Err(format!("configmap {name:?} not found")),
    }
}

async fn fetch_secret(
    ctx: &ProjectionContext<'_>,
    name: &str,
    optional: bool,
) -> Result<Secret, String> {
    match ctx.source.secret(ctx.namespace, name).await? {
        Some(secret) => Ok(secret),
        None if optional => Ok(Secret::default()),
        None => Err(format!("secret {name:?} not found")),
    }
}

/// Every key of the configMap (data and binaryData) as bytes.
fn config_map_entries(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut entries: BTreeMap<String, Vec<u8>> = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    for (k, v) in cm.binary_data.iter().flatten() {
        entries.insert(k.clone(), v.0.clone());
    }
    entries
}

/// Every key of the secret; `stringData` wins over `data` as the API server would merge it.
fn secret_entries(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut entries: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        entries.insert(k.clone(), v.as_bytes().to_vec());
    }
    entries
}

/// All keys (no items) or the listed items; a listed key that is missing is an error unless
/// the source is optional. `what` is "configmap"/"secret" for the upstream error text.
fn key_payload(
    entries: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    optional: bool,
    missing_key: impl Fn(&str) -> String,
) -> Result<Payload, String> {
    let mut payload = Payload::new();
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (key, data) in entries {
                payload.insert(
                    key.clone(),
                    FileProjection {
                        data: data.clone(),
                        mode: default_mode,
                    },
                );
            }
        }
        Some(items) => {
            for item in items {
                let Some(data) = entries.get(&item.key) else {
                    if optional {
                        continue;
                    }
                    return Err(missing_key(&item.key));
                };
                payload.insert(
                    item.path.clone(),
                    FileProjection {
                        data: data.clone(),
                        mode: mode_of(item.mode, default_mode),
                    },
                );
            }
        }
    }
    Ok(payload)
}

fn config_map_missing_key(key: &str) -> String {
    format!("configmap references non-existent config key: {key}")
}

fn secret_missing_key(key: &str) -> String {
    format!("references non-existent secret key: {key}")
}

pub async fn config_map_payload(
    ctx: &ProjectionContext<'_>,
    source: &ConfigMapVolumeSource,
) -> Result<Payload, String> {
    let optional = source.optional.unwrap_or(false);
    let cm = fetch_config_map(ctx, &source.name, optional).await?;
    key_payload(
        &config_map_entries(&cm),
        source.items.as_ref(),
        mode_of(source.default_mode, DEFAULT_MODE),
        optional,
        config_map_missing_key,
    )
}

pub async fn secret_payload(
    ctx: &ProjectionContext<'_>,
    source: &SecretVolumeSource,
) -> Result<Payload, String> {
    let optional = source.optional.unwrap_or(false);
    let name = source.secret_name.as_deref().unwrap_or_default();
    let secret = fetch_secret(ctx, name, optional).await?;
    key_payload(
        &secret_entries(&secret),
        source.items.as_ref(),
        mode_of(source.default_mode, DEFAULT_MODE),
        optional,
        secret_missing_key,
    )
}

pub fn downward_api_payload(
    pod: &Pod,
    items: Option<&Vec<DownwardAPIVolumeFile>>,
    default_mode: u32,
    node_allocatable: &BTreeMap<String, Quantity>,
) -> Result<Payload, String> {
    let mut payload = Payload::new();
    let mut errors = Vec::new();
    for item in items.into_iter().flatten() {
        let value = if let Some(field) = &item.field_ref {
            downward_api::field_value(pod, &field.field_path)
        } else if let Some(resource) = &item.resource_field_ref {
            downward_api::resource_value(pod, resource, node_allocatable)
        } else {
            Ok(String::new())
        };
        match value {
            Ok(value) => {
                payload.insert(
                    item.path.clone(),
                    FileProjection {
                        data: value.into_bytes(),
                        mode: mode_of(item.mode, default_mode),
                    },
                );
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(payload)
    } else {
        Err(aggregate(errors))
    }
}

/// The projected plugin: every source's files merged; failures collected and reported
/// together like upstream's aggregate error.
pub async fn projected_payload(
    ctx: &ProjectionContext<'_>,
    source: &ProjectedVolumeSource,
    fs_group_set: bool,
) -> Result<Payload, String> {
    let default_mode = mode_of(source.default_mode, DEFAULT_MODE);
    let mut payload = Payload::new();
    let mut errors = Vec::new();
    for projection in source.sources.iter().flatten() {
        let part = if let Some(cm) = &projection.config_map {
            let optional = cm.optional.unwrap_or(false);
            match fetch_config_map(ctx, &cm.name, optional).await {
                Ok(found) => key_payload(
                    &config_map_entries(&found),
                    cm.items.as_ref(),
                    default_mode,
                    optional,
                    config_map_missing_key,
                ),
                Err(e) => Err(e),
            }
        } else if let Some(secret) = &projection.secret {
            let optional = secret.optional.unwrap_or(false);
            match fetch_secret(ctx, &secret.name, optional).await {
                Ok(found) => key_payload(
                    &secret_entries(&found),
                    secret.items.as_ref(),
                    default_mode,
                    optional,
                    secret_missing_key,
                ),
                Err(e) => Err(e),
            }
        } else if let Some(downward) = &projection.downward_api {
            downward_api_payload(
                ctx.pod,
                downward.items.as_ref(),
                default_mode,
                ctx.node_allocatable,
            )
        } else if let Some(token) = &projection.service_account_token {
            service_account_token(ctx, token, default_mode, fs_group_set).await
        } else if projection.cluster_trust_bundle.is_some() {
            Err("projected source clusterTrustBundle is not supported by berth".to_string())
        } else {
            Ok(Payload::new())
        };
        match part {
            Ok(part) => payload.extend(part),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(payload)
    } else {
        Err(aggregate(errors))
    }
}

async fn service_account_token(
    ctx: &ProjectionContext<'_>,
    token: &k8s_openapi::api::core::v1::ServiceAccountTokenProjection,
    default_mode: u32,
    fs_group_set: bool,
) -> Result<Payload, String> {
    let spec = ctx.pod.spec.as_ref();
    let account = spec
        .and_then(|s| s.service_account_name.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    let audiences: Vec<String> = token
        .audience
        .iter()
        .filter(|a| !a.is_empty())
        .cloned()
        .collect();
    let expiration = token.expiration_seconds.unwrap_or(3600);
    let key = TokenKey {
        namespace: ctx.namespace.to_string(),
        service_account: account.to_string(),
        audiences: audiences.clone(),
        expiration_seconds: expiration,
        pod_uid: ctx.pod.metadata.uid.clone().unwrap_or_default(),
    };
    let now = std::time::SystemTime::now();
    let value = match ctx.tokens.fresh(&key, now) {
        Some(cached) => cached,
        None => match ctx
            .source
            .service_account_token(ctx.namespace, account, &audiences, expiration, ctx.pod)
            .await
        {
            Ok(issued) => {
                let value = issued.token.clone();
                ctx.tokens.put(key, issued);
                value
            }
            // A failed refresh keeps the old token while it is still valid (next sync retries).
            Err(e) => match ctx.tokens.valid(&key, now) {
                Some(old) => {
                    tracing::warn!(service_account = account, "token refresh failed: {e}");
                    old
                }
                None => return Err(e),
            },
        },
    };
    // With an fsGroup the token starts private and ownership management opens it to the group.
    let mode = if fs_group_set { 0o600 } else { default_mode };
    Ok(Payload::from([(
        token.path.clone(),
        FileProjection {
            data: value.into_bytes(),
            mode,
        },
    )]))
}

/// utilerrors.NewAggregate's text: one error as is, several as `[a, b]`.
fn aggregate(errors: Vec<String>) -> String {
    if errors.len() == 1 {
        errors.into_iter().next().unwrap_or_default()
    } else {
        format!("[{}]", errors.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_select_keys_with_modes() {
        let entries = BTreeMap::from([
            ("a".to_string(), b"1".to_vec()),
            ("b".to_string(), b"2".to_vec()),
        ]);
        let items = vec![KeyToPath {
            key: "b".into(),
            path: "dir/b.txt".into(),
            mode: Some(0o400),
        }];
        let payload =
            key_payload(&entries, Some(&items), 0o644, false, config_map_missing_key).unwrap();
        assert_eq!(payload.len(), 1);
        assert_eq!(payload["dir/b.txt"].mode, 0o400);
        assert_eq!(payload["dir/b.txt"].data, b"2");

        let all = key_payload(&entries, None, 0o440, false, config_map_missing_key).unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), vec!["a", "b"]);
        assert!(all.values().all(|f| f.mode == 0o440));
    }

    #[test]
    fn missing_item_key_fails_unless_optional() {
        let entries = BTreeMap::new();
        let items = vec![KeyToPath {
            key: "missing".into(),
            path: "m".into(),
            mode: None,
        }];
        assert_eq!(
            key_payload(&entries, Some(&items), 0o644, false, config_map_missing_key).unwrap_err(),
            "configmap references non-existent config key: missing"
        );
        assert_eq!(
            key_payload(&entries, Some(&items), 0o644, false, secret_missing_key).unwrap_err(),
            "references non-existent secret key: missing"
        );
        assert!(
            key_payload(&entries, Some(&items), 0o644, true, secret_missing_key)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn aggregates_like_upstream() {
        assert_eq!(aggregate(vec!["a".into()]), "a");
        assert_eq!(aggregate(vec!["a".into(), "b".into()]), "[a, b]");
    }
}
