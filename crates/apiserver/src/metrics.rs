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
        Self {
            registry: Mutex::new(registry),
            requests,
            latency,
            watches,
            writes,
            listed,
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
