//! The kubelet's token manager: service account tokens of projected volumes are requested
//! once and reused until they need a refresh (older than 80% of their lifetime, or 24 hours),
//! so re-running `setup` every sync costs no TokenRequest.
//!
//! ```text
//! setup ─▶ projected serviceAccountToken ─▶ TokenCache::get(key, now)
//!            fresh? ─▶ cached token
//!            else   ─▶ VolumeSource::service_account_token ─▶ put ─▶ token
//!                       failed but the old one is still valid ─▶ old token (retry next sync)
//! teardown(pod) ─▶ forget_pod
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// A token and when it stops being valid (TokenRequest `status.expirationTimestamp`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccountToken {
    pub token: String,
    pub expiration: SystemTime,
}

/// Upstream's ceiling on how long a token is used before a refresh, whatever its lifetime.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// What a token was requested for; a pod's tokens differ by account, audiences and lifetime.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct TokenKey {
    pub namespace: String,
    pub service_account: String,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub pod_uid: String,
}

/// Must a token requested for `expiration_seconds` and expiring at `expiration` be replaced
/// at `now`? Its issue time is `expiration - expiration_seconds`, as upstream reckons it.
pub fn requires_refresh(expiration: SystemTime, expiration_seconds: i64, now: SystemTime) -> bool {
    let lifetime = Duration::from_secs(u64::try_from(expiration_seconds).unwrap_or(0));
    let issued = expiration.checked_sub(lifetime).unwrap_or(expiration);
    if now >= issued + MAX_TTL {
        return true;
    }
    // The last 20% of the lifetime.
    let margin = lifetime / 5;
    now >= expiration.checked_sub(margin).unwrap_or(expiration)
}

#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<TokenKey, ServiceAccountToken>>,
}

impl TokenCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<TokenKey, ServiceAccountToken>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached token for `key` when it needs no refresh at `now`.
    pub fn fresh(&self, key: &TokenKey, now: SystemTime) -> Option<String> {
        self.entries()
            .get(key)
            .filter(|t| !requires_refresh(t.expiration, key.expiration_seconds, now))
            .map(|t| t.token.clone())
    }

    /// The cached token for `key` while it is still valid at `now` (refresh due or not).
    pub fn valid(&self, key: &TokenKey, now: SystemTime) -> Option<String> {
        self.entries()
            .get(key)
            .filter(|t| now < t.expiration)
            .map(|t| t.token.clone())
    }

    pub fn put(&self, key: TokenKey, token: ServiceAccountToken) {
        self.entries().insert(key, token);
    }

    /// Drop every token of a pod that is gone.
    pub fn forget_pod(&self, pod_uid: &str) {
        self.entries().retain(|k, _| k.pod_uid != pod_uid);
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn refresh_after_eighty_percent_of_the_lifetime() {
        // Issued at 1000 for 3600 s: expires at 4600, refresh from 1000 + 2880 = 3880.
        let exp = at(4600);
        assert!(!requires_refresh(exp, 3600, at(1000)));
        assert!(!requires_refresh(exp, 3600, at(3879)));
        assert!(requires_refresh(exp, 3600, at(3880)));
        assert!(requires_refresh(exp, 3600, at(5000)));
    }

    #[test]
    fn long_lived_tokens_refresh_after_a_day() {
        let week = 7 * 24 * 3600;
        let exp = at(1000 + week);
        assert!(!requires_refresh(exp, week as i64, at(1000 + 23 * 3600)));
        assert!(requires_refresh(exp, week as i64, at(1000 + 24 * 3600)));
    }

    #[test]
    fn cache_serves_fresh_tokens_and_forgets_pods() {
        let cache = TokenCache::default();
        let key = |uid: &str| TokenKey {
            namespace: "ns".into(),
            service_account: "default".into(),
            audiences: vec![],
            expiration_seconds: 3600,
            pod_uid: uid.into(),
        };
        cache.put(
            key("a"),
            ServiceAccountToken {
                token: "t".into(),
                expiration: at(4600),
            },
        );
        assert_eq!(cache.fresh(&key("a"), at(2000)).as_deref(), Some("t"));
        assert_eq!(cache.fresh(&key("a"), at(4000)), None);
        assert_eq!(cache.valid(&key("a"), at(4000)).as_deref(), Some("t"));
        assert_eq!(cache.valid(&key("a"), at(4600)), None);
        assert_eq!(cache.fresh(&key("b"), at(2000)), None);
        cache.forget_pod("a");
        assert!(cache.is_empty());
    }
}
