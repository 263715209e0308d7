//! Small read helpers over the optional fields of k8s-openapi pods.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity;

pub(crate) fn spec(pod: &Pod) -> PodSpecRef<'_> {
    PodSpecRef(pod.spec.as_ref())
}

/// A pod spec that may be absent; absent reads as the empty spec.
#[derive(Clone, Copy)]
pub(crate) struct PodSpecRef<'a>(Option<&'a PodSpec>);

impl<'a> PodSpecRef<'a> {
    pub(crate) fn get(self) -> Option<&'a PodSpec> {
        self.0
    }
    pub(crate) fn containers(self) -> &'a [Container] {
        self.0.map_or(&[], |s| s.containers.as_slice())
    }
    pub(crate) fn init_containers(self) -> &'a [Container] {
        self.0
            .and_then(|s| s.init_containers.as_deref())
            .unwrap_or(&[])
    }
    pub(crate) fn host_network(self) -> bool {
        self.0.and_then(|s| s.host_network).unwrap_or(false)
    }
}

pub(crate) fn name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("")
}
pub(crate) fn namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("")
}
pub(crate) fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

/// The kubelet's `format.Pod`: `name_namespace(uid)`.
pub(crate) fn format_pod(pod: &Pod) -> String {
    format!("{}_{}({})", name(pod), namespace(pod), uid(pod))
}

fn limits(c: &Container) -> Option<&BTreeMap<String, Quantity>> {
    c.resources.as_ref().and_then(|r| r.limits.as_ref())
}

/// Container limit for a resource, if set.
pub(crate) fn limit<'a>(c: &'a Container, resource: &str) -> Option<&'a Quantity> {
    limits(c).and_then(|l| l.get(resource))
}

/// Container request for a resource as the API server would have defaulted
/// it: an explicit request, else the limit (requests default to limits).
pub(crate) fn request<'a>(c: &'a Container, resource: &str) -> Option<&'a Quantity> {
    c.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get(resource))
        .or_else(|| limit(c, resource))
}

/// Requests with defaulting applied (all resource names).
pub(crate) fn effective_requests(c: &Container) -> BTreeMap<String, Quantity> {
    let mut out: BTreeMap<String, Quantity> = limits(c).cloned().unwrap_or_default();
    if let Some(req) = c.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        out.extend(req.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

pub(crate) fn limits_map(c: &Container) -> BTreeMap<String, Quantity> {
    limits(c).cloned().unwrap_or_default()
}

pub(crate) fn is_restartable_init(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// Sums a per-container resource over the pod the way the kubelet's
/// `PodRequests`/`PodLimits` do: regular containers and sidecars add up, and
/// the pod needs at least as much as its largest init phase (an init container
/// plus the sidecars started before it). Values are in the unit `read` returns.
pub(crate) fn pod_total(pod: &Pod, read: &dyn Fn(&Container) -> i64) -> i64 {
    let spec = spec(pod);
    let mut total: i64 = spec
        .containers()
        .iter()
        .map(read)
        .fold(0, i64::saturating_add);
    let mut sidecars: i64 = 0;
    let mut init_peak: i64 = 0;
    for c in spec.init_containers() {
        let v = read(c);
        if is_restartable_init(c) {
            total = total.saturating_add(v);
            sidecars = sidecars.saturating_add(v);
            init_peak = init_peak.max(sidecars);
        } else {
            init_peak = init_peak.max(v.saturating_add(sidecars));
        }
    }
    total.max(init_peak)
}

/// Quantity value helper for `pod_total` readers.
pub(crate) fn milli_or_zero(q: Option<&Quantity>) -> i64 {
    q.map_or(0, quantity::milli_value)
}
pub(crate) fn value_or_zero(q: Option<&Quantity>) -> i64 {
    q.map_or(0, quantity::value)
}
