//! Where volume contents come from: the kubelet implements this with API calls (or a watch
//! cache); tests implement it with maps.

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret};

pub use crate::token_cache::ServiceAccountToken;

/// The API objects the volume manager reads. `Ok(None)` means "not found"; `Err` carries a
/// message that ends up in the FailedMount event as is.
#[async_trait]
pub trait VolumeSource: Send + Sync {
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>, String>;
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Secret>, String>;
    async fn persistent_volume_claim(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, String>;
    async fn persistent_volume(&self, name: &str) -> Result<Option<PersistentVolume>, String>;
    /// A bound token for `service_account` (TokenRequest with the pod as bound object) and
    /// its `status.expirationTimestamp`. An empty `audiences` means the API server's default
    /// audiences. The volume manager caches it and asks again before it expires.
    async fn service_account_token(
        &self,
        ns: &str,
        service_account: &str,
        audiences: &[String],
        expiration_seconds: i64,
        pod: &Pod,
    ) -> Result<ServiceAccountToken, String>;
}
