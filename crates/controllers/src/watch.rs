//! Reflector-backed watch streams shared by the controllers: the cache is
//! written before the event is handed on, so a reconcile triggered by an event
//! always reads a cache that already contains that event.

use futures::{Stream, StreamExt};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Resource;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::hash::Hash;

/// A cache of `api` plus the stream of touched (applied or deleted) objects
/// that keeps it up to date. The stream must be polled (by a Controller as a
/// trigger, or by [`drive`]) for the cache to fill.
pub fn reflected<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .touched_objects();
    (reader, stream)
}

/// Poll a reflected stream forever, only to keep its cache filled.
pub async fn drive<S, K>(stream: S)
where
    S: Stream<Item = Result<K, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        if let Err(err) = item {
            tracing::debug!(%err, "watch error (retrying with back-off)");
        }
    }
}
