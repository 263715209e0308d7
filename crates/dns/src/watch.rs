//! Feeding `ClusterRecords` from the API server: one watch (list + watch,
//! relisting with backoff) each for Services and EndpointSlices.

use crate::config::DnsConfig;
use crate::config::PodMode;
use crate::error::DnsError;
use crate::handler_for;
use crate::records::ClusterRecords;
use crate::server::{serve, RunningDns};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The DNS server plus the watches that feed it.
pub struct ClusterDns {
    running: RunningDns,
    watches: Vec<JoinHandle<()>>,
}

impl ClusterDns {
    pub fn local_addr(&self) -> SocketAddr {
        self.running.local_addr()
    }

    pub fn records(&self) -> &Arc<ClusterRecords> {
        self.running.records()
    }

    /// Runs until the server stops (the watches retry forever).
    pub async fn wait(self) -> Result<(), DnsError> {
        let result = self.running.wait().await;
        for watch in &self.watches {
            watch.abort();
        }
        result
    }

    pub async fn shutdown(self) -> Result<(), DnsError> {
        for watch in &self.watches {
            watch.abort();
        }
        self.running.shutdown().await
    }
}

/// Binds the listeners and starts the watches; answers for the cluster zone
/// are SERVFAIL (never a cacheable NXDOMAIN) until both watches have listed.
pub async fn start(client: kube::Client, cfg: DnsConfig) -> Result<ClusterDns, DnsError> {
    let handler = handler_for(&cfg)?;
    let records = handler.records().clone();
    records.set_synced(false);
    let running = serve(handler, cfg.bind).await?;
    let verify_pods = records.pod_mode() == PodMode::Verified;
    let listed = Arc::new(Listed {
        pods: AtomicBool::new(!verify_pods),
        ..Listed::default()
    });
    let services = watcher::watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let slices = watcher::watcher(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default(),
    );
    let mut watches = vec![
        tokio::spawn(feed(
            services,
            records.clone(),
            listed.clone(),
            Kind::Services,
        )),
        tokio::spawn(feed(
            slices,
            records.clone(),
            listed.clone(),
            Kind::EndpointSlices,
        )),
    ];
    if verify_pods {
        let pods = watcher::watcher(Api::<Pod>::all(client), watcher::Config::default());
        watches.push(tokio::spawn(feed(pods, records, listed, Kind::Pods)));
    }
    Ok(ClusterDns { running, watches })
}

/// Serves cluster DNS with the API server behind `client` until the server fails.
pub async fn run(client: kube::Client, cfg: DnsConfig) -> Result<(), DnsError> {
    start(client, cfg).await?.wait().await
}

#[derive(Default)]
struct Listed {
    services: AtomicBool,
    slices: AtomicBool,
    pods: AtomicBool,
}

impl Listed {
    fn all(&self) -> bool {
        [&self.services, &self.slices, &self.pods]
            .iter()
            .all(|flag| flag.load(Ordering::Acquire))
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Services,
    EndpointSlices,
    Pods,
}

/// The objects one watch kind applies to the records.
trait Feedable: Sized {
    fn apply(records: &ClusterRecords, object: &Self);
    fn delete(records: &ClusterRecords, object: &Self);
    fn replace(records: &ClusterRecords, objects: &[Self]);
}

impl Feedable for Service {
    fn apply(records: &ClusterRecords, object: &Self) {
        records.apply_service(object);
    }
    fn delete(records: &ClusterRecords, object: &Self) {
        records.delete_service(object);
    }
    fn replace(records: &ClusterRecords, objects: &[Self]) {
        records.replace_services(objects);
    }
}

impl Feedable for EndpointSlice {
    fn apply(records: &ClusterRecords, object: &Self) {
        records.apply_endpoint_slice(object);
    }
    fn delete(records: &ClusterRecords, object: &Self) {
        records.delete_endpoint_slice(object);
    }
    fn replace(records: &ClusterRecords, objects: &[Self]) {
        records.replace_endpoint_slices(objects);
    }
}

impl Feedable for Pod {
    fn apply(records: &ClusterRecords, object: &Self) {
        records.apply_pod(object);
    }
    fn delete(records: &ClusterRecords, object: &Self) {
        records.delete_pod(object);
    }
    fn replace(records: &ClusterRecords, objects: &[Self]) {
        records.replace_pods(objects);
    }
}

async fn feed<K: Feedable>(
    stream: impl Stream<Item = Result<Event<K>, watcher::Error>> + Send,
    records: Arc<ClusterRecords>,
    listed: Arc<Listed>,
    kind: Kind,
) {
    let mut stream = std::pin::pin!(stream.default_backoff());
    // A (re)list is buffered and swapped in whole, so objects deleted while the
    // watch was down disappear and answers never show a half-listed set.
    let mut relist: Option<Vec<K>> = None;
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init) => relist = Some(Vec::new()),
            Ok(Event::InitApply(object)) => match relist.as_mut() {
                Some(buffer) => buffer.push(object),
                None => K::apply(&records, &object),
            },
            Ok(Event::InitDone) => {
                K::replace(&records, &relist.take().unwrap_or_default());
                let flag = match kind {
                    Kind::Services => &listed.services,
                    Kind::EndpointSlices => &listed.slices,
                    Kind::Pods => &listed.pods,
                };
                flag.store(true, Ordering::Release);
                if listed.all() {
                    records.set_synced(true);
                }
                tracing::debug!(?kind, names = records.name_count(), "cluster DNS listed");
            }
            Ok(Event::Apply(object)) => K::apply(&records, &object),
            Ok(Event::Delete(object)) => K::delete(&records, &object),
            Err(error) => tracing::warn!(?kind, %error, "cluster DNS watch failed; retrying"),
        }
    }
}
