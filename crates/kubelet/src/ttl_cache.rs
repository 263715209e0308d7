//! ConfigMaps and Secrets for volumes, kept a short while per node: every pod
//! re-syncs its volumes every few seconds, and each has at least the
//! `kube-root-ca.crt` ConfigMap (service account volume), so without this a
//! node GETs the same object once per pod per sync (30,000 pods: ~3,000
//! GETs/s). Upstream's kubelet does the same with its TTL-based
//! `Cache` change-detection strategy.
//!
//! Only objects that exist are kept: a pod waiting for a ConfigMap that is
//! not there yet must see it as soon as it is created.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a fetched object is served before it is fetched again: an update
/// reaches mounted volumes within this plus one pod sync.
pub const VOLUME_OBJECT_TTL: Duration = Duration::from_secs(30);

pub struct TtlCache<T> {
    ttl: Duration,
    entries: Mutex<HashMap<(String, String), (Instant, T)>>,
}

impl<T: Clone> TtlCache<T> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), (Instant, T)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The object `ns/name` if fetched less than the TTL ago, else `fetch` it
    /// (and keep it when it exists).
    pub async fn get_or_fetch<F, Fut, E>(
        &self,
        ns: &str,
        name: &str,
        fetch: F,
    ) -> Result<Option<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, E>>,
    {
        let key = (ns.to_string(), name.to_string());
        let now = Instant::now();
        if let Some((at, object)) = self.entries().get(&key) {
            if now.duration_since(*at) < self.ttl {
                return Ok(Some(object.clone()));
            }
        }
        let fetched = fetch().await?;
        let mut entries = self.entries();
        // Drop what expired, so deleted objects do not stay forever.
        let ttl = self.ttl;
        entries.retain(|_, (at, _)| now.duration_since(*at) < ttl);
        match &fetched {
            Some(object) => {
                entries.insert(key, (Instant::now(), object.clone()));
            }
            None => {
                entries.remove(&key);
            }
        }
        Ok(fetched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn get(
        cache: &TtlCache<String>,
        fetches: &AtomicUsize,
        answer: Option<&str>,
    ) -> Option<String> {
        cache
            .get_or_fetch("ns", "cm", || async {
                fetches.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(answer.map(str::to_string))
            })
            .await
            .expect("no error")
    }

    #[tokio::test]
    async fn an_existing_object_is_fetched_once_per_ttl() {
        let cache = TtlCache::new(Duration::from_millis(200));
        let fetches = AtomicUsize::new(0);
        assert_eq!(
            get(&cache, &fetches, Some("v1")).await.as_deref(),
            Some("v1")
        );
        // Within the TTL the cached copy answers, even if the object changed.
        assert_eq!(
            get(&cache, &fetches, Some("v2")).await.as_deref(),
            Some("v1")
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            get(&cache, &fetches, Some("v2")).await.as_deref(),
            Some("v2")
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_missing_object_is_asked_for_every_time() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let fetches = AtomicUsize::new(0);
        assert_eq!(get(&cache, &fetches, None).await, None);
        assert_eq!(get(&cache, &fetches, None).await, None);
        assert_eq!(
            get(&cache, &fetches, Some("now")).await.as_deref(),
            Some("now")
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }
}
