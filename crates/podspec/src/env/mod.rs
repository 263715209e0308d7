//! A container's environment, resolved the way the kubelet's
//! `makeEnvironmentVariables` does.

mod downward;
mod services;

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};

use crate::error::SpecError;
use crate::expand::expand;
use crate::podutil::{self, spec};

/// Where env values come from (the node agent's informer caches or the API).
/// `Ok(None)` means "not found"; `Err` is any other failure and becomes the
/// container's error message as is.
#[async_trait]
pub trait EnvSource: Send + Sync {
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>, String>;
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Secret>, String>;
    /// All services of a namespace.
    async fn services(&self, ns: &str) -> Result<Vec<Service>, String>;
}

/// Facts about the running pod the downward API exposes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodFacts {
    pub node_name: String,
    pub host_ip: String,
    pub pod_ip: String,
    /// All pod IPs, primary first (`status.podIPs`).
    pub pod_ips: Vec<String>,
}

/// Node allocatable, the default for unset limits in `resourceFieldRef`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allocatable {
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    /// 0 when unknown (then an unset ephemeral-storage limit reads as 0).
    pub ephemeral_storage_bytes: i64,
}

/// Insertion-ordered env being built; a later write replaces the value in place.
#[derive(Default)]
struct OrderedEnv {
    order: Vec<String>,
    values: HashMap<String, String>,
}

impl OrderedEnv {
    fn set(&mut self, k: String, v: String) {
        if !self.values.contains_key(&k) {
            self.order.push(k.clone());
        }
        self.values.insert(k, v);
    }
    fn get(&self, k: &str) -> Option<&String> {
        self.values.get(k)
    }
}

/// ConfigMaps and Secrets fetched once per call.
struct Cache<'a> {
    src: &'a dyn EnvSource,
    ns: &'a str,
    config_maps: HashMap<String, Option<ConfigMap>>,
    secrets: HashMap<String, Option<Secret>>,
}

impl Cache<'_> {
    async fn config_map(&mut self, name: &str) -> Result<Option<&ConfigMap>, SpecError> {
        if !self.config_maps.contains_key(name) {
            let got = self
                .src
                .config_map(self.ns, name)
                .await
                .map_err(SpecError::config)?;
            self.config_maps.insert(name.to_string(), got);
        }
        Ok(self.config_maps.get(name).and_then(Option::as_ref))
    }
    async fn secret(&mut self, name: &str) -> Result<Option<&Secret>, SpecError> {
        if !self.secrets.contains_key(name) {
            let got = self
                .src
                .secret(self.ns, name)
                .await
                .map_err(SpecError::config)?;
            self.secrets.insert(name.to_string(), got);
        }
        Ok(self.secrets.get(name).and_then(Option::as_ref))
    }
}

fn secret_data(s: &Secret) -> BTreeMap<String, String> {
    s.data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect()
}

/// The container's environment, in this order: `envFrom` sources (each
/// source's keys sorted, a later source overriding an earlier key in place),
/// then `env` in declaration order (overriding `envFrom` keys in place), then
/// the service link variables no other variable already defines, sorted.
/// (The kubelet builds the same set through a Go map, so its order is random.)
///
/// - Service links: `kubernetes` from `default` always; every service of the
///   pod's namespace unless `enableServiceLinks: false`.
/// - `env[].value` gets `$(VAR)` expansion against earlier env entries,
///   `envFrom` values and service variables; `$$` escapes.
/// - Missing non-optional ConfigMaps/Secrets/keys fail with the kubelet's
///   `CreateContainerConfigError` messages (`configmap "x" not found`,
///   `couldn't find key k in ConfigMap ns/x`); optional ones are skipped.
pub async fn resolve_env(
    pod: &Pod,
    container: &Container,
    src: &dyn EnvSource,
    facts: &PodFacts,
    node_allocatable: &Allocatable,
) -> Result<Vec<(String, String)>, SpecError> {
    let ns = podutil::namespace(pod);
    // The API server defaults enableServiceLinks to true.
    let links = spec(pod)
        .get()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let service_failure = |_| SpecError::config("failed to list services when setting up env vars");
    let default_services = src.services("default").await.map_err(service_failure)?;
    let own_services = if links && ns != "default" {
        src.services(ns).await.map_err(service_failure)?
    } else {
        Vec::new()
    };
    let own = if ns == "default" {
        &default_services
    } else {
        &own_services
    };
    let service_env = services::service_env(ns, links, &default_services, own);

    let mut cache = Cache {
        src,
        ns,
        config_maps: HashMap::new(),
        secrets: HashMap::new(),
    };
    let mut env = OrderedEnv::default();

    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or("");
        if let Some(r) = &from.config_map_ref {
            match cache.config_map(&r.name).await? {
                Some(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        env.set(format!("{prefix}{k}"), v.clone());
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(SpecError::config(format!(
                        "configmap {:?} not found",
                        r.name
                    )))
                }
            }
        } else if let Some(r) = &from.secret_ref {
            match cache.secret(&r.name).await? {
                Some(s) => {
                    for (k, v) in secret_data(s) {
                        env.set(format!("{prefix}{k}"), v);
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(SpecError::config(format!("secret {:?} not found", r.name))),
            }
        }
    }

    for var in container.env.iter().flatten() {
        let literal = var.value.as_deref().unwrap_or("");
        let value = if !literal.is_empty() {
            let lookup = |name: &str| env.get(name).or_else(|| service_env.get(name)).cloned();
            expand(literal, &lookup)
        } else if let Some(from) = &var.value_from {
            if let Some(fs) = &from.field_ref {
                downward::field_ref_value(fs, pod, facts).map_err(SpecError::config)?
            } else if let Some(rs) = &from.resource_field_ref {
                downward::resource_ref_value(rs, pod, container, node_allocatable)
                    .map_err(SpecError::config)?
            } else if let Some(r) = &from.config_map_key_ref {
                let optional = r.optional == Some(true);
                let Some(cm) = cache.config_map(&r.name).await? else {
                    if optional {
                        continue;
                    }
                    return Err(SpecError::config(format!(
                        "configmap {:?} not found",
                        r.name
                    )));
                };
                match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
                    Some(v) => v.clone(),
                    None if optional => continue,
                    None => {
                        return Err(SpecError::config(format!(
                            "couldn't find key {} in ConfigMap {ns}/{}",
                            r.key, r.name
                        )))
                    }
                }
            } else if let Some(r) = &from.secret_key_ref {
                let optional = r.optional == Some(true);
                let Some(secret) = cache.secret(&r.name).await? else {
                    if optional {
                        continue;
                    }
                    return Err(SpecError::config(format!("secret {:?} not found", r.name)));
                };
                match secret.data.as_ref().and_then(|d| d.get(&r.key)) {
                    Some(v) => String::from_utf8_lossy(&v.0).into_owned(),
                    None if optional => continue,
                    None => {
                        return Err(SpecError::config(format!(
                            "couldn't find key {} in Secret {ns}/{}",
                            r.key, r.name
                        )))
                    }
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.set(var.name.clone(), value);
    }

    let OrderedEnv { order, mut values } = env;
    let mut out: Vec<(String, String)> = order
        .into_iter()
        .map(|k| {
            let v = values.remove(&k).unwrap_or_default();
            (k, v)
        })
        .collect();
    let defined: std::collections::HashSet<String> = out.iter().map(|(k, _)| k.clone()).collect();
    out.extend(
        service_env
            .into_iter()
            .filter(|(k, _)| !defined.contains(k)),
    );
    Ok(out)
}
