//! Every Service in the cluster, kept current by one watch, for the service
//! environment variables of starting containers (`WEB_SERVICE_HOST`, …).
//! Upstream's kubelet keeps a Service informer for the same reason: listing
//! Services from the API for every container start is two LISTs per pod
//! (the pod's namespace and `default`), 300,000 LISTs for 150,000 pods.
//!
//! ```text
//!  watch services (all namespaces) ─▶ reflector store ─▶ services_in(ns)
//! ```
//!
//! Until the first list has arrived, callers fall back to a LIST (a container
//! must not start without the variables of Services that already exist).

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::Api;
use std::time::Duration;

/// A handle on the store; clones share it (the hollow-node simulator gives
/// one to thousands of nodes).
#[derive(Clone)]
pub struct ServiceCache {
    store: reflector::Store<Service>,
}

impl ServiceCache {
    /// Start the watch on `client`; it runs (and re-lists after errors,
    /// with back-off) for the life of the runtime.
    pub fn start(client: kube::Client) -> Self {
        let (store, writer) = reflector::store();
        let events = reflector(
            writer,
            watcher(Api::<Service>::all(client), watcher::Config::default()),
        )
        .default_backoff();
        tokio::spawn(async move {
            events
                .for_each(|event| async move {
                    if let Err(e) = event {
                        tracing::debug!("service watch: {e}");
                    }
                })
                .await;
        });
        ServiceCache { store }
    }

    /// The Services of namespace `ns`; `None` when the first list has not
    /// arrived within `wait`.
    pub async fn services_in(&self, ns: &str, wait: Duration) -> Option<Vec<Service>> {
        tokio::time::timeout(wait, self.store.wait_until_ready())
            .await
            .ok()?
            .ok()?;
        Some(
            self.store
                .state()
                .iter()
                .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
                .map(|s| Service::clone(s))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::runtime::watcher::Event;

    fn service(ns: &str, name: &str) -> Service {
        Service {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn names(services: &[Service]) -> Vec<String> {
        let mut names: Vec<String> = services
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn answers_per_namespace_only_after_the_first_list() {
        let (store, mut writer) = reflector::store();
        let cache = ServiceCache { store };
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(service("a", "web")));
        assert!(
            cache
                .services_in("a", Duration::from_millis(20))
                .await
                .is_none(),
            "not before the list is complete"
        );
        writer.apply_watcher_event(&Event::InitApply(service("a", "db")));
        writer.apply_watcher_event(&Event::InitApply(service("b", "other")));
        writer.apply_watcher_event(&Event::InitDone);
        let in_a = cache
            .services_in("a", Duration::from_millis(20))
            .await
            .expect("synced");
        assert_eq!(names(&in_a), ["db", "web"]);
        // Later watch events show at once.
        writer.apply_watcher_event(&Event::Delete(service("a", "db")));
        writer.apply_watcher_event(&Event::Apply(service("a", "cache")));
        let in_a = cache
            .services_in("a", Duration::from_millis(20))
            .await
            .expect("synced");
        assert_eq!(names(&in_a), ["cache", "web"]);
        let in_c = cache.services_in("c", Duration::from_millis(20)).await;
        assert_eq!(in_c.map(|s| s.len()), Some(0));
    }
}
