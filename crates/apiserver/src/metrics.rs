//! `/metrics` in Prometheus text format: requests by verb/resource/code with
//! latency, store latency, open watches, objects written.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub verb: String,
    pub resource: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerbResource {
    pub verb: String,
    pub resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Resource {
    pub resource: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<VerbResource, Histogram>,
    watches: Family<Resource, Gauge>,
    writes: Family<Resource, Counter>,
    listed: Family<Resource, Counter>,
    store_latency: Family<StoreOp, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<VerbResource, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let watches = Family::<Resource, Gauge>::default();
        let writes = Family::<Resource, Counter>::default();
        let listed = Family::<Resource, Counter>::default();
        registry.register(
            "apiserver_request",
            "Requests by verb, resource and HTTP code",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Request latency by verb and resource",
            latency.clone(),
        );
        registry.register(
            "apiserver_registered_watchers",
            "Open watches by resource",
            watches.clone(),
        );
        registry.register(
            "apiserver_storage_writes",
            "Objects written to the store by resource",
            writes.clone(),
        );
        registry.register(
            "apiserver_storage_list_returned_objects",
            "Objects returned by lists",
            listed.clone(),
        );
        let store_latency = Family::<StoreOp, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.00005, 2.0, 18))
        });
        registry.register(
            "berth_store_operation_duration_seconds",
            "State store latency by operation and result",
            store_latency.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            latency,
            watches,
            writes,
            listed,
            store_latency,
        }
    }

    pub fn request(&self, verb: &str, resource: &str, code: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                verb: verb.into(),
                resource: resource.into(),
                code: code.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&VerbResource {
                verb: verb.into(),
                resource: resource.into(),
            })
            .observe(seconds);
    }
    pub fn watch_started(&self, resource: &str) {
        self.watches
            .get_or_create(&Resource {
                resource: resource.into(),
            })
            .inc();
    }
    pub fn watch_ended(&self, resource: &str) {
        self.watches
            .get_or_create(&Resource {
                resource: resource.into(),
            })
            .dec();
    }
    pub fn object_written(&self, resource: &str) {
        self.writes
            .get_or_create(&Resource {
                resource: resource.into(),
            })
            .inc();
    }
    pub fn list_served(&self, resource: &str, n: usize) {
        self.listed
            .get_or_create(&Resource {
                resource: resource.into(),
            })
            .inc_by(n as u64);
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        out
    }
}

/// A store wrapper that records each operation's latency and outcome.
pub struct MeteredStore {
    inner: std::sync::Arc<dyn berth_store::Store>,
    latency: Family<StoreOp, Histogram>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreOp {
    pub operation: String,
    pub result: String,
}

impl MeteredStore {
    pub fn wrap(inner: std::sync::Arc<dyn berth_store::Store>, metrics: &Metrics) -> Self {
        Self {
            inner,
            latency: metrics.store_latency.clone(),
        }
    }

    fn observe<T>(&self, op: &str, started: std::time::Instant, r: &berth_store::Result<T>) {
        let result = match r {
            Ok(_) => "ok",
            Err(berth_store::StoreError::Conflict { .. }) => "conflict",
            Err(berth_store::StoreError::NotFound(_)) => "not_found",
            Err(berth_store::StoreError::AlreadyExists(_)) => "exists",
            Err(_) => "error",
        };
        self.latency
            .get_or_create(&StoreOp {
                operation: op.into(),
                result: result.into(),
            })
            .observe(started.elapsed().as_secs_f64());
    }
}

macro_rules! metered {
    ($self:ident, $op:literal, $call:expr) => {{
        let started = std::time::Instant::now();
        let r = $call.await;
        $self.observe($op, started, &r);
        r
    }};
}

#[async_trait::async_trait]
impl berth_store::Store for MeteredStore {
    async fn get(&self, key: &str) -> berth_store::Result<Option<berth_store::KeyValue>> {
        metered!(self, "get", self.inner.get(key))
    }
    async fn list(
        &self,
        opts: berth_store::ListOptions,
    ) -> berth_store::Result<berth_store::ListResult> {
        metered!(self, "list", self.inner.list(opts))
    }
    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
    ) -> berth_store::Result<berth_store::KeyValue> {
        metered!(self, "create", self.inner.create(key, value))
    }
    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: berth_store::Revision,
    ) -> berth_store::Result<berth_store::KeyValue> {
        metered!(self, "update", self.inner.update(key, value, expected))
    }
    async fn delete(
        &self,
        key: &str,
        expected: Option<berth_store::Revision>,
    ) -> berth_store::Result<berth_store::KeyValue> {
        metered!(self, "delete", self.inner.delete(key, expected))
    }
    async fn watch(
        &self,
        prefix: &str,
        after: berth_store::Revision,
    ) -> berth_store::Result<berth_store::WatchStream> {
        metered!(self, "watch", self.inner.watch(prefix, after))
    }
    async fn current_revision(&self) -> berth_store::Result<berth_store::Revision> {
        metered!(self, "current_revision", self.inner.current_revision())
    }
    async fn compact(&self, revision: berth_store::Revision) -> berth_store::Result<()> {
        metered!(self, "compact", self.inner.compact(revision))
    }
    async fn compacted_revision(&self) -> berth_store::Result<berth_store::Revision> {
        self.inner.compacted_revision().await
    }
    async fn count(&self, prefix: &str) -> berth_store::Result<u64> {
        metered!(self, "count", self.inner.count(prefix))
    }
}
