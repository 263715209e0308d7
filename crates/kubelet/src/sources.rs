//! The kubelet's API-backed implementations of what the translation, volume
//! and probe crates need: ConfigMaps, Secrets, Services, PVCs/PVs, and
//! exec in a container through CRI.

use crate::pod::runtime::Runtime;
use crate::ttl_cache::{TtlCache, VOLUME_OBJECT_TTL};
use async_trait::async_trait;
use berth_cri::api;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service,
};
use kube::api::{Api, ListParams};
use std::sync::Arc;
use std::time::Duration;

pub struct ApiSources {
    pub client: kube::Client,
    /// Services from a watch; `None` (or not yet synced): LIST each time.
    pub services: Option<crate::service_cache::ServiceCache>,
    /// ConfigMaps and Secrets for volumes, kept for [`VOLUME_OBJECT_TTL`].
    pub volume_config_maps: TtlCache<ConfigMap>,
    pub volume_secrets: TtlCache<Secret>,
}

impl ApiSources {
    pub fn new(client: kube::Client, services: Option<crate::service_cache::ServiceCache>) -> Self {
        ApiSources {
            client,
            services,
            volume_config_maps: TtlCache::new(VOLUME_OBJECT_TTL),
            volume_secrets: TtlCache::new(VOLUME_OBJECT_TTL),
        }
    }
}

/// How long a container start waits for the Service cache's first list
/// before it lists Services itself.
const SERVICE_CACHE_WAIT: Duration = Duration::from_secs(5);

fn err(e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message,
        other => other.to_string(),
    }
}

#[async_trait]
impl berth_podspec::EnvSource for ApiSources {
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>, String> {
        Api::<ConfigMap>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(err)
    }
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Secret>, String> {
        Api::<Secret>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(err)
    }
    async fn services(&self, ns: &str) -> Result<Vec<Service>, String> {
        if let Some(cache) = &self.services {
            if let Some(services) = cache.services_in(ns, SERVICE_CACHE_WAIT).await {
                return Ok(services);
            }
        }
        Api::<Service>::namespaced(self.client.clone(), ns)
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .map_err(err)
    }
}

#[async_trait]
impl berth_volumes::VolumeSource for ApiSources {
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>, String> {
        self.volume_config_maps
            .get_or_fetch(ns, name, || async {
                Api::<ConfigMap>::namespaced(self.client.clone(), ns)
                    .get_opt(name)
                    .await
            })
            .await
            .map_err(err)
    }
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Secret>, String> {
        self.volume_secrets
            .get_or_fetch(ns, name, || async {
                Api::<Secret>::namespaced(self.client.clone(), ns)
                    .get_opt(name)
                    .await
            })
            .await
            .map_err(err)
    }
    async fn persistent_volume_claim(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, String> {
        Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(err)
    }
    async fn persistent_volume(&self, name: &str) -> Result<Option<PersistentVolume>, String> {
        Api::<PersistentVolume>::all(self.client.clone())
            .get_opt(name)
            .await
            .map_err(err)
    }
    /// TokenRequest bound to the pod (name and uid), as the kubelet's token manager asks.
    async fn service_account_token(
        &self,
        ns: &str,
        sa: &str,
        audiences: &[String],
        expiration_seconds: i64,
        pod: &Pod,
    ) -> Result<berth_volumes::ServiceAccountToken, String> {
        use k8s_openapi::api::authentication::v1::{
            BoundObjectReference, TokenRequest, TokenRequestSpec,
        };
        use k8s_openapi::api::core::v1::ServiceAccount;
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: audiences.to_vec(),
                expiration_seconds: Some(expiration_seconds),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: pod.metadata.name.clone(),
                    uid: pod.metadata.uid.clone(),
                }),
            },
            ..Default::default()
        };
        let issued = Api::<ServiceAccount>::namespaced(self.client.clone(), ns)
            .create_token_request(sa, &kube::api::PostParams::default(), &request)
            .await
            .map_err(err)?;
        let status = issued
            .status
            .ok_or_else(|| format!("TokenRequest for {ns}/{sa} returned no token"))?;
        let expiration = std::time::SystemTime::from(status.expiration_timestamp.0);
        Ok(berth_volumes::ServiceAccountToken {
            token: status.token,
            expiration,
        })
    }
}

/// Probe execs through CRI ExecSync.
pub struct CriExec {
    pub runtime: Arc<dyn Runtime>,
}

#[async_trait]
impl berth_probes::ExecRunner for CriExec {
    async fn exec(
        &self,
        container_id: &str,
        cmd: Vec<String>,
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>), String> {
        let req = api::ExecSyncRequest {
            container_id: container_id.to_string(),
            cmd,
            timeout: timeout.as_secs().max(1) as i64,
        };
        let r = self
            .runtime
            .exec_sync(req)
            .await
            .map_err(|e| e.message().to_string())?;
        let mut out = r.stdout;
        out.extend_from_slice(&r.stderr);
        Ok((r.exit_code, out))
    }
}
