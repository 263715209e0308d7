//! Where pod usage comes from: the resource metrics API
//! (`metrics.k8s.io/v1beta1` PodMetrics, served by metrics-server) behind a
//! trait, so the decision logic can be driven by a test double.

use super::quantity::{go_duration, milli_value};
use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// `metrics.k8s.io/v1beta1` PodMetricsList.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct PodMetricsList {
    #[serde(default)]
    pub items: Vec<PodMetrics>,
}

/// One pod's usage sample, as metrics-server reports it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct PodMetrics {
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// When the sample was taken (the end of its window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Time>,
    /// Go duration the sample averages over, e.g. "15s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ContainerMetrics {
    pub name: String,
    /// Resource name ("cpu", "memory") → quantity ("250m", "12345678n", "64Mi").
    #[serde(default)]
    pub usage: BTreeMap<String, Quantity>,
}

impl PodMetrics {
    /// A sample for pod `name` taken at `timestamp` over `window`, with
    /// `(container, resource, quantity)` usages.
    pub fn new(
        namespace: &str,
        name: &str,
        timestamp: Timestamp,
        window: Duration,
        usage: &[(&str, &str, &str)],
    ) -> Self {
        let mut containers: Vec<ContainerMetrics> = Vec::new();
        for (container, resource, quantity) in usage {
            let entry = match containers.iter_mut().position(|c| c.name == *container) {
                Some(i) => &mut containers[i],
                None => {
                    containers.push(ContainerMetrics {
                        name: container.to_string(),
                        usage: BTreeMap::new(),
                    });
                    let last = containers.len() - 1;
                    &mut containers[last]
                }
            };
            entry
                .usage
                .insert(resource.to_string(), Quantity(quantity.to_string()));
        }
        Self {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                ..Default::default()
            },
            timestamp: Some(Time(timestamp)),
            window: Some(format!("{}s", window.as_secs_f64())),
            containers,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The metrics API could not be read (not served, forbidden, down…).
    #[error("unable to fetch metrics from resource metrics API: {0}")]
    Fetch(String),
}

/// A source of pod resource usage for the pods matching a label selector.
pub trait MetricsSource: Send + Sync {
    /// Samples for the pods in `namespace` matching `selector` (a label
    /// selector string such as "app=web,tier in (a,b)").
    fn pod_metrics<'a>(
        &'a self,
        namespace: &'a str,
        selector: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PodMetrics>, MetricsError>>;
}

/// Reads `GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods?labelSelector=…`.
pub struct ApiMetricsSource {
    client: kube::Client,
}

impl ApiMetricsSource {
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }
}

impl MetricsSource for ApiMetricsSource {
    fn pod_metrics<'a>(
        &'a self,
        namespace: &'a str,
        selector: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PodMetrics>, MetricsError>> {
        Box::pin(async move {
            let path = format!("/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods");
            let request = kube::core::Request::new(path)
                .list(&ListParams::default().labels(selector))
                .map_err(|e| MetricsError::Fetch(e.to_string()))?;
            let list: PodMetricsList = self
                .client
                .request(request)
                .await
                .map_err(|e| MetricsError::Fetch(describe_api_error(&e)))?;
            Ok(list.items)
        })
    }
}

/// client-go's wording for the usual failures, which end up in HPA conditions.
fn describe_api_error(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if status.code == 404 => {
            "the server could not find the requested resource (get pods.metrics.k8s.io)".into()
        }
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// A test double: fixed samples per namespace, settable at any time.
/// The selector is not applied (callers store only the pods they mean).
#[derive(Default)]
pub struct StaticMetrics {
    samples: Mutex<HashMap<String, Vec<PodMetrics>>>,
    failure: Mutex<Option<String>>,
}

impl StaticMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace every sample of `namespace`.
    pub fn set(&self, namespace: &str, samples: Vec<PodMetrics>) {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(namespace.into(), samples);
    }

    /// Make every read fail with `message` (None: succeed again).
    pub fn fail_with(&self, message: Option<&str>) {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = message.map(String::from);
    }
}

impl MetricsSource for StaticMetrics {
    fn pod_metrics<'a>(
        &'a self,
        namespace: &'a str,
        _selector: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PodMetrics>, MetricsError>> {
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let samples = self
            .samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(namespace)
            .cloned()
            .unwrap_or_default();
        Box::pin(async move {
            match failure {
                Some(message) => Err(MetricsError::Fetch(message)),
                None => Ok(samples),
            }
        })
    }
}

/// One pod's usage of the resource being scaled on, in milli-units.
#[derive(Clone, Debug, PartialEq)]
pub struct PodMetric {
    pub value: i64,
    pub timestamp: Option<Timestamp>,
    pub window: Duration,
}

/// Pod name → metric.
pub type PodMetricsInfo = BTreeMap<String, PodMetric>;

/// metrics-server's usual window, for samples that do not say.
const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// Usage of `resource` per pod: the sum over its containers, or only
/// `container`'s. A pod with no containers, or a container without the
/// resource, has no metric (it counts as "missing" later).
pub fn usage_per_pod(
    samples: &[PodMetrics],
    resource: &str,
    container: Option<&str>,
) -> PodMetricsInfo {
    let mut out = PodMetricsInfo::new();
    for sample in samples {
        let Some(name) = sample.metadata.name.clone() else {
            continue;
        };
        let value = match container {
            Some(wanted) => sample
                .containers
                .iter()
                .find(|c| c.name == wanted)
                .and_then(|c| c.usage.get(resource))
                .and_then(|q| milli_value(&q.0)),
            None if sample.containers.is_empty() => None,
            None => sample
                .containers
                .iter()
                .map(|c| c.usage.get(resource).and_then(|q| milli_value(&q.0)))
                .sum::<Option<i64>>(),
        };
        if let Some(value) = value {
            out.insert(
                name,
                PodMetric {
                    value,
                    timestamp: sample.timestamp.as_ref().map(|t| t.0),
                    window: sample
                        .window
                        .as_deref()
                        .and_then(go_duration)
                        .unwrap_or(DEFAULT_WINDOW),
                },
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_metrics_server_list_and_sums_containers() {
        let list: PodMetricsList = serde_json::from_value(json!({
            "kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": [
                {"metadata": {"name": "a", "namespace": "ns"}, "timestamp": "2025-01-01T00:00:00Z",
                 "window": "15.2s",
                 "containers": [{"name": "app", "usage": {"cpu": "250m", "memory": "64Mi"}},
                                {"name": "side", "usage": {"cpu": "12345678n", "memory": "1234Ki"}}]},
                {"metadata": {"name": "b", "namespace": "ns"}, "timestamp": "2025-01-01T00:00:00Z",
                 "window": "1m0s",
                 "containers": [{"name": "app", "usage": {"memory": "1Mi"}}]},
                {"metadata": {"name": "c", "namespace": "ns"}, "containers": []},
            ]
        }))
        .expect("decode");
        let cpu = usage_per_pod(&list.items, "cpu", None);
        assert_eq!(cpu.len(), 1, "b lacks cpu, c has no containers");
        assert_eq!(cpu["a"].value, 263);
        assert_eq!(cpu["a"].window, Duration::from_millis(15_200));
        let mem = usage_per_pod(&list.items, "memory", None);
        assert_eq!(mem["b"].value, 1024 * 1024 * 1000);
        assert_eq!(mem["b"].window, Duration::from_secs(60));
        let side = usage_per_pod(&list.items, "cpu", Some("side"));
        assert_eq!(side["a"].value, 13);
        assert!(usage_per_pod(&list.items, "cpu", Some("nope")).is_empty());
    }

    #[tokio::test]
    async fn static_metrics_double_serves_and_fails() {
        let m = StaticMetrics::new();
        let now = Timestamp::now();
        m.set(
            "ns",
            vec![PodMetrics::new(
                "ns",
                "p",
                now,
                Duration::from_secs(15),
                &[("c", "cpu", "100m")],
            )],
        );
        let got = m.pod_metrics("ns", "app=x").await.expect("metrics");
        assert_eq!(got.len(), 1);
        assert_eq!(usage_per_pod(&got, "cpu", None)["p"].value, 100);
        assert!(m.pod_metrics("other", "").await.expect("empty").is_empty());
        m.fail_with(Some("down"));
        assert!(m.pod_metrics("ns", "").await.is_err());
    }
}
