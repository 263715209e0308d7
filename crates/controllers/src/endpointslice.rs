//! The EndpointSlice controller (upstream pkg/controller/endpointslice and
//! k8s.io/endpointslice's reconciler): discovery.k8s.io/v1 slices of at most
//! `max_endpoints_per_slice` endpoints per (address type, port set) for every
//! Service with a selector, updated in place to keep churn low. berth's proxy
//! and DNS read these, so pod events are acted on at once (no batching).

use crate::endpoint_util::{
    find_port, is_headless, is_ipv6, managed_selector, pod_ips, port_protocol, publish_not_ready,
    selected_pods, selector_matches, should_pod_be_in_endpoints, should_set_hostname,
    PodServiceIndex, TriggerTimeTracker, HEADLESS_LABEL, LAST_CHANGE_TRIGGER_TIME,
};
use crate::endpoints::rfc3339;
use crate::informers::{hash_json, ChangeFilter, Informer};
use crate::owner::owner_reference;
use crate::pod_state::is_ready;
use crate::runner::{error_policy, run_reconcile, Context};
use crate::ControllerError;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::ResourceExt;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "endpointslice-controller";
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Upstream's default `--max-endpoints-per-slice`.
pub const DEFAULT_MAX_ENDPOINTS: usize = 100;

#[derive(Clone, Debug)]
pub struct EndpointSliceConfig {
    pub max_endpoints_per_slice: usize,
}

impl Default for EndpointSliceConfig {
    fn default() -> Self {
        Self {
            max_endpoints_per_slice: DEFAULT_MAX_ENDPOINTS,
        }
    }
}

/// (addressType, sorted (name, port, protocol, appProtocol) of the ports).
pub type GroupKey = (String, Vec<(String, i32, String, String)>);

fn ports_key(ports: &[EndpointPort]) -> Vec<(String, i32, String, String)> {
    let mut key: Vec<_> = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or(0),
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                p.app_protocol.clone().unwrap_or_default(),
            )
        })
        .collect();
    key.sort();
    key
}

fn group_of(slice: &EndpointSlice) -> GroupKey {
    (
        slice.address_type.clone(),
        ports_key(slice.ports.as_deref().unwrap_or(&[])),
    )
}

/// Identity of an endpoint across syncs: its target and addresses.
type EndpointKey = (String, String, Vec<String>);

fn endpoint_key(ep: &Endpoint) -> EndpointKey {
    let r = ep.target_ref.as_ref();
    (
        r.and_then(|r| r.namespace.clone()).unwrap_or_default(),
        r.and_then(|r| r.name.clone()).unwrap_or_default(),
        ep.addresses.clone(),
    )
}

/// Address types the Service gets slices for, from spec.ipFamilies.
pub fn address_types(svc: &Service) -> Vec<String> {
    let families = svc.spec.as_ref().and_then(|s| s.ip_families.clone());
    let types: Vec<String> = families
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f == "IPv4" || f == "IPv6")
        .collect();
    if types.is_empty() {
        vec!["IPv4".into()]
    } else {
        types
    }
}

/// The endpoint for `pod` (podToEndpoint): ready = serving and not
/// terminating, unless publishNotReadyAddresses makes every endpoint ready.
pub fn pod_to_endpoint(
    pod: &Pod,
    node: Option<&Node>,
    svc: &Service,
    addresses: Vec<String>,
) -> Endpoint {
    let serving = is_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ready = publish_not_ready(svc) || (serving && !terminating);
    Endpoint {
        addresses,
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        node_name: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        zone: node
            .and_then(|n| n.labels().get(ZONE_LABEL).cloned())
            .filter(|z| !z.is_empty()),
        hostname: should_set_hostname(pod, svc)
            .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
            .flatten(),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Service ports as resolved on one pod (ports whose named target the pod
/// lacks are left out, as upstream does).
fn endpoint_ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
    ports
        .into_iter()
        .flatten()
        .filter_map(|sp| {
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(find_port(pod, sp)?),
                protocol: Some(port_protocol(sp)),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// Desired endpoints grouped by (address type, port set), with the ports.
pub type Desired = BTreeMap<GroupKey, (Vec<EndpointPort>, Vec<Endpoint>)>;

/// What the Service's pods should yield. The flag says some pod was skipped
/// because its node is unknown (retry later).
pub fn desired_endpoints(
    svc: &Service,
    pods: &[Arc<Pod>],
    node: &dyn Fn(&str) -> Option<Arc<Node>>,
) -> (Desired, bool) {
    let mut desired = Desired::new();
    let mut missing_node = false;
    let types = address_types(svc);
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, true) {
            continue;
        }
        let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        let node_obj = node_name.as_deref().and_then(node);
        if node_obj.is_none() && !publish_not_ready(svc) {
            missing_node = true;
            continue;
        }
        let ports = endpoint_ports(svc, pod);
        let ips = pod_ips(pod);
        for t in &types {
            let v6 = t == "IPv6";
            let Some(ip) = ips.iter().find(|ip| is_ipv6(ip) == v6) else {
                continue;
            };
            let ep = pod_to_endpoint(pod, node_obj.as_deref(), svc, vec![ip.clone()]);
            desired
                .entry((t.clone(), ports_key(&ports)))
                .or_insert_with(|| (ports.clone(), Vec::new()))
                .1
                .push(ep);
        }
    }
    (desired, missing_node)
}

/// Labels of a slice: the Service's (minus reserved keys) plus the reserved ones.
pub fn slice_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = svc
        .labels()
        .iter()
        .filter(|(k, _)| {
            ![SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL].contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(SERVICE_NAME_LABEL.into(), svc.name_any());
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    if is_headless(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

fn owned_by(slice: &EndpointSlice, svc: &Service) -> bool {
    let uid = svc.uid();
    slice
        .owner_references()
        .iter()
        .any(|r| Some(&r.uid) == uid.as_ref() && r.kind == "Service" && r.api_version == "v1")
}

/// The writes that bring the existing slices to the desired state.
#[derive(Debug, Default)]
pub struct Plan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

fn set_trigger(slice: &mut EndpointSlice, trigger: Option<Timestamp>) {
    let annotations = slice.metadata.annotations.get_or_insert_with(BTreeMap::new);
    match trigger {
        Some(t) => annotations.insert(LAST_CHANGE_TRIGGER_TIME.into(), rfc3339(t)),
        None => annotations.remove(LAST_CHANGE_TRIGGER_TIME),
    };
    if annotations.is_empty() {
        slice.metadata.annotations = None;
    }
}

fn new_slice(svc: &Service, address_type: &str, ports: Vec<EndpointPort>) -> EndpointSlice {
    let name = svc.name_any();
    // generateName adds 5 characters; names stay within 63.
    let prefix = if name.len() < 58 {
        format!("{name}-")
    } else {
        name.chars().take(58).collect()
    };
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: svc.namespace(),
            labels: Some(slice_labels(svc)),
            owner_references: owner_reference(svc).ok().map(|r| vec![r]),
            ..Default::default()
        },
        address_type: address_type.into(),
        endpoints: Vec::new(),
        ports: Some(ports),
    }
}

/// The reconciler proper (pure). Keeps every still-desired endpoint in the
/// slice it is in, removes stale ones, puts new ones first into slices that
/// change anyway, then into one unchanged slice they fit in, then into new
/// slices; emptied slices are reused for new ones instead of delete+create.
/// A Service without endpoints keeps one empty placeholder slice.
pub fn plan(
    svc: &Service,
    mut desired: Desired,
    existing: Vec<EndpointSlice>,
    max: usize,
    trigger: Option<Timestamp>,
) -> Plan {
    let max = max.max(1);
    let labels = slice_labels(svc);
    let types = address_types(svc);
    let mut out = Plan::default();
    let mut existing = existing;
    existing.sort_by_key(|s| s.name_any());
    let total_existing = existing.len();

    // Remaining desired endpoints per group, by identity.
    let mut remaining: BTreeMap<GroupKey, BTreeMap<EndpointKey, Endpoint>> = desired
        .iter_mut()
        .map(|(k, (_, eps))| {
            let map = std::mem::take(eps)
                .into_iter()
                .map(|ep| (endpoint_key(&ep), ep))
                .collect();
            (k.clone(), map)
        })
        .collect();
    let mut updated: Vec<EndpointSlice> = Vec::new();
    let mut unchanged: Vec<EndpointSlice> = Vec::new();
    for mut slice in existing {
        let group = group_of(&slice);
        let wanted = remaining.get_mut(&group);
        let keep = owned_by(&slice, svc) && types.contains(&slice.address_type);
        let Some(wanted) = wanted.filter(|_| keep) else {
            out.delete.push(slice);
            continue;
        };
        let mut changed = slice.labels() != &labels;
        let mut eps = Vec::with_capacity(slice.endpoints.len());
        for ep in std::mem::take(&mut slice.endpoints) {
            match wanted.remove(&endpoint_key(&ep)) {
                Some(want) => {
                    changed |= want != ep;
                    eps.push(want);
                }
                None => changed = true,
            }
        }
        slice.endpoints = eps;
        slice.metadata.labels = Some(labels.clone());
        if slice.endpoints.is_empty() {
            out.delete.push(slice);
        } else if changed {
            updated.push(slice);
        } else {
            unchanged.push(slice);
        }
    }

    for (group, mut eps) in remaining {
        if eps.is_empty() {
            continue;
        }
        // 1. Slices being written anyway, fullest first.
        updated.sort_by_key(|s| std::cmp::Reverse(s.endpoints.len()));
        for slice in updated.iter_mut().filter(|s| group_of(s) == group) {
            while slice.endpoints.len() < max {
                let Some((_, ep)) = eps.pop_first() else {
                    break;
                };
                slice.endpoints.push(ep);
            }
        }
        let mut left: Vec<Endpoint> = eps.into_values().collect();
        // 2. Whole chunks go to new slices; the rest to the unchanged slice it
        //    fits best (getSliceToFill), else to one more new slice.
        let ports = desired
            .get(&group)
            .map(|(p, _)| p.clone())
            .unwrap_or_default();
        while left.len() >= max {
            let rest = left.split_off(max);
            let mut slice = new_slice(svc, &group.0, ports.clone());
            slice.endpoints = std::mem::replace(&mut left, rest);
            out.create.push(slice);
        }
        if !left.is_empty() {
            let fit = unchanged
                .iter()
                .enumerate()
                .filter(|(_, s)| group_of(s) == group && s.endpoints.len() + left.len() <= max)
                .max_by_key(|(_, s)| s.endpoints.len())
                .map(|(i, _)| i);
            match fit {
                Some(i) => {
                    let mut slice = unchanged.remove(i);
                    slice.endpoints.extend(left);
                    updated.push(slice);
                }
                None => {
                    let mut slice = new_slice(svc, &group.0, ports);
                    slice.endpoints = left;
                    out.create.push(slice);
                }
            }
        }
    }

    // Nothing would be left: keep (or make) one placeholder.
    if total_existing == out.delete.len() && out.create.is_empty() {
        let placeholder = new_slice(svc, &types[0], Vec::new());
        let is_placeholder = |s: &EndpointSlice| {
            s.endpoints.is_empty()
                && s.ports.as_ref().is_none_or(Vec::is_empty)
                && s.address_type == placeholder.address_type
                && owned_by(s, svc)
        };
        match out.delete.iter().position(is_placeholder) {
            Some(i) if out.delete.len() == 1 => {
                let mut slice = out.delete.remove(i);
                if slice.labels() != &labels {
                    slice.metadata.labels = Some(labels.clone());
                    updated.push(slice);
                }
            }
            _ => out.create.push(placeholder),
        }
    }

    // Recycle slices about to be deleted for slices about to be created.
    let mut i = 0;
    while i < out.create.len() {
        let t = out.create[i].address_type.clone();
        match out
            .delete
            .iter()
            .position(|d| d.address_type == t && owned_by(d, svc))
        {
            Some(j) => {
                let old = out.delete.remove(j);
                let mut slice = out.create.remove(i);
                slice.metadata = ObjectMeta {
                    labels: Some(labels.clone()),
                    ..old.metadata
                };
                updated.push(slice);
            }
            None => i += 1,
        }
    }

    for slice in out.create.iter_mut().chain(updated.iter_mut()) {
        set_trigger(slice, trigger);
    }
    out.update = updated;
    out
}

/// Index of EndpointSlices by `namespace/<kubernetes.io/service-name>`.
pub const BY_SERVICE: &str = "service";

/// The Service a slice belongs to, as `namespace/name`.
pub fn service_key_of(slice: &EndpointSlice) -> Option<String> {
    let svc = slice.labels().get(SERVICE_NAME_LABEL)?;
    Some(format!("{}/{svc}", slice.namespace().unwrap_or_default()))
}

struct State {
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    slices: Arc<Informer<EndpointSlice>>,
    tracker: TriggerTimeTracker,
    max: usize,
}

async fn reconcile(
    svc: Arc<Service>,
    ctx: Arc<Context>,
    state: Arc<State>,
) -> Result<Action, ControllerError> {
    let resync = Action::requeue(ctx.resync);
    if managed_selector(&svc).is_none() || svc.metadata.deletion_timestamp.is_some() {
        return Ok(resync);
    }
    let ns = svc.namespace().unwrap_or_else(|| "default".into());
    let svc_key = format!("{ns}/{}", svc.name_any());
    // The slice tracker: decide only on a cache that shows our own writes,
    // or a lagging cache would make us create the same slices twice.
    if !state.slices.caught_up(&svc_key) {
        return Ok(Action::requeue(Duration::from_millis(200)));
    }
    let pods = selected_pods(&state.pods, &svc);
    let trigger = state.tracker.compute(&svc, &pods);
    let node = |name: &str| state.nodes.get(None, name);
    let (desired, missing_node) = desired_endpoints(&svc, &pods, &node);

    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
    let mut existing: Vec<EndpointSlice> = state
        .slices
        .by_index(BY_SERVICE, &svc_key)
        .into_iter()
        .map(|s| (*s).clone())
        .collect();
    // In name order, as a LIST returns them: plans stay deterministic.
    existing.sort_by_key(|s| s.name_any());
    let plan = plan(&svc, desired, existing, state.max, trigger);
    let pp = PostParams::default();
    for slice in &plan.create {
        match api.create(&pp, slice).await {
            Ok(created) => state.slices.expect_written(&svc_key, &created),
            Err(kube::Error::Api(e)) if e.code == 403 && e.message.contains("terminat") => {
                return Ok(resync)
            }
            Err(e) => return Err(e.into()),
        }
    }
    for slice in &plan.update {
        let updated = api.replace(&slice.name_any(), &pp, slice).await?;
        state.slices.expect_written(&svc_key, &updated);
    }
    for slice in &plan.delete {
        match api
            .delete(&slice.name_any(), &DeleteParams::default())
            .await
        {
            Ok(outcome) => state
                .slices
                .expect_deleted(&svc_key, slice, outcome.left().as_ref()),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    if missing_node {
        // Pods on nodes not (yet) known were left out; look again soon.
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    Ok(resync)
}

/// Node fields that change a Service's slices: existence and zone.
fn node_zone_fingerprint(node: &Node) -> u64 {
    hash_json(&node.labels().get(ZONE_LABEL))
}

/// Run the EndpointSlice controller until the watches end.
pub async fn run_endpointslice_controller(
    _client: kube::Client,
    ctx: Arc<Context>,
    config: EndpointSliceConfig,
) {
    let informers = ctx.informers.clone();
    let (pods, nodes, services) = (informers.pods(), informers.nodes(), informers.services());
    let slices = informers.get::<EndpointSlice>();
    let (pod_events, node_events, slice_events) =
        (pods.subscribe(), nodes.subscribe(), slices.subscribe());
    pods.ready().await;
    nodes.ready().await;
    slices.ready().await;
    let index = PodServiceIndex::new(services.clone(), pods.clone());
    let state = Arc::new(State {
        pods: pods.clone(),
        nodes: nodes.clone(),
        slices,
        tracker: TriggerTimeTracker::default(),
        max: config.max_endpoints_per_slice,
    });
    // A node appearing, going or changing zone touches the Services of its
    // pods; heartbeats and other status updates touch nothing.
    let zones = ChangeFilter::new(node_zone_fingerprint);
    let svc_cache = services.clone();
    let services_of_node = move |node: Arc<Node>| {
        let name = node.name_any();
        let present = nodes.get(None, &name).is_some();
        let mut refs: HashSet<ObjectRef<Service>> = HashSet::new();
        if !zones.changed(&node, present) {
            return refs;
        }
        for pod in pods.on_node(&name) {
            let ns = pod.namespace().unwrap_or_default();
            for s in svc_cache.in_namespace(&ns) {
                if managed_selector(&s)
                    .is_some_and(|sel| selector_matches(sel, pod.metadata.labels.as_ref()))
                {
                    refs.insert(ObjectRef::from_obj(s.as_ref()));
                }
            }
        }
        refs
    };
    Controller::for_shared_stream(services.subscribe(), services.ready_store().await)
        .watches_shared_stream(pod_events, move |pod: Arc<Pod>| index.services_for(&pod))
        .watches_shared_stream(node_events, services_of_node)
        .owns_shared_stream(slice_events)
        .run(
            move |svc, ctx| {
                let state = state.clone();
                run_reconcile(svc, ctx, move |svc, ctx| reconcile(svc, ctx, state))
            },
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "endpointslice controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn web() -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid",
                         "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.43.0.10",
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))
        .expect("service")
    }

    fn pod(name: &str, ip: &str, node: &str, ready: bool, deleting: bool) -> Arc<Pod> {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"nodeName": node, "containers": [{"name": "c"}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }}]},
        });
        if deleting {
            v["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        Arc::new(serde_json::from_value(v).expect("pod"))
    }

    fn node(name: &str, zone: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": name, "labels": {ZONE_LABEL: zone}}}),
            )
            .expect("node"),
        )
    }

    fn nodes(name: &str) -> Option<Arc<Node>> {
        (name == "n1").then(|| node("n1", "z1"))
    }

    fn conditions(ep: &Endpoint) -> (bool, bool, bool) {
        let c = ep.conditions.as_ref().expect("conditions");
        (
            c.ready.unwrap_or(false),
            c.serving.unwrap_or(false),
            c.terminating.unwrap_or(false),
        )
    }

    #[test]
    fn endpoint_conditions_follow_readiness_and_termination() {
        let svc = web();
        let pods = vec![
            pod("ready", "10.42.0.1", "n1", true, false),
            pod("unready", "10.42.0.2", "n1", false, false),
            pod("term-ready", "10.42.0.3", "n1", true, true),
            pod("term-unready", "10.42.0.4", "n1", false, true),
            pod("lost", "10.42.0.5", "gone", true, false),
        ];
        let (desired, missing) = desired_endpoints(&svc, &pods, &nodes);
        assert!(missing);
        let (ports, eps) = desired.values().next().expect("one group");
        assert_eq!(ports[0].port, Some(8080));
        assert_eq!(ports[0].name.as_deref(), Some("http"));
        let by_name = |n: &str| {
            eps.iter()
                .find(|e| e.target_ref.as_ref().and_then(|r| r.name.as_deref()) == Some(n))
                .map(conditions)
        };
        assert_eq!(eps.len(), 4);
        assert_eq!(by_name("ready"), Some((true, true, false)));
        assert_eq!(by_name("unready"), Some((false, false, false)));
        assert_eq!(by_name("term-ready"), Some((false, true, true)));
        assert_eq!(by_name("term-unready"), Some((false, false, true)));
        assert_eq!(by_name("lost"), None);
        assert_eq!(eps[0].zone.as_deref(), Some("z1"));
        assert_eq!(eps[0].node_name.as_deref(), Some("n1"));

        let mut publish = svc.clone();
        publish
            .spec
            .as_mut()
            .expect("spec")
            .publish_not_ready_addresses = Some(true);
        let (desired, missing) = desired_endpoints(&publish, &pods, &nodes);
        assert!(!missing);
        let eps = &desired.values().next().expect("group").1;
        assert_eq!(eps.len(), 5);
        assert!(eps.iter().all(|e| conditions(e).0));
    }

    fn existing_from(p: &Plan, names: &[&str]) -> Vec<EndpointSlice> {
        p.create
            .iter()
            .chain(&p.update)
            .cloned()
            .zip(names.iter())
            .map(|(mut s, n)| {
                s.metadata.name = Some(n.to_string());
                s.metadata.generate_name = None;
                s
            })
            .collect()
    }

    fn many(n: usize) -> Vec<Arc<Pod>> {
        (0..n)
            .map(|i| {
                pod(
                    &format!("p{i:03}"),
                    &format!("10.42.{}.{}", i / 200, i % 200 + 1),
                    "n1",
                    true,
                    false,
                )
            })
            .collect()
    }

    #[test]
    fn splits_at_max_and_updates_in_place() {
        let svc = web();
        let (desired, _) = desired_endpoints(&svc, &many(250), &nodes);
        let first = plan(&svc, desired, Vec::new(), 100, None);
        assert_eq!(first.create.len(), 3);
        let mut sizes: Vec<_> = first.create.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        assert_eq!(sizes, [50, 100, 100]);
        let s = &first.create[0];
        assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(s.address_type, "IPv4");
        assert_eq!(
            s.labels().get(SERVICE_NAME_LABEL).map(String::as_str),
            Some("web")
        );
        assert_eq!(
            s.labels().get(MANAGED_BY_LABEL).map(String::as_str),
            Some(MANAGED_BY)
        );
        assert_eq!(s.labels().get("team").map(String::as_str), Some("a"));
        let owner = &s.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("Service", "svc-uid", Some(true))
        );

        // Same state again: no writes.
        let existing = existing_from(&first, &["a", "b", "c"]);
        let (desired, _) = desired_endpoints(&svc, &many(250), &nodes);
        assert!(plan(&svc, desired, existing.clone(), 100, None).is_empty());

        // One pod turns unready: exactly one slice is updated.
        let mut pods = many(250);
        pods[7] = pod("p007", "10.42.0.8", "n1", false, false);
        let (desired, _) = desired_endpoints(&svc, &pods, &nodes);
        let p = plan(&svc, desired, existing.clone(), 100, None);
        assert!(p.create.is_empty() && p.delete.is_empty());
        assert_eq!(p.update.len(), 1);

        // One pod more: goes into the slice with room, no new slice.
        let (desired, _) = desired_endpoints(&svc, &many(251), &nodes);
        let p = plan(&svc, desired, existing.clone(), 100, None);
        assert!(p.create.is_empty() && p.delete.is_empty(), "{p:?}");
        assert_eq!(p.update.len(), 1);
        assert_eq!(p.update[0].endpoints.len(), 51);

        // Everything gone: one slice becomes the empty placeholder, the rest go.
        let (desired, _) = desired_endpoints(&svc, &[], &nodes);
        let p = plan(&svc, desired, existing, 100, None);
        assert_eq!(p.delete.len(), 2);
        assert_eq!(p.update.len(), 1);
        assert!(p.update[0].endpoints.is_empty());
        assert!(p.update[0].ports.as_ref().is_some_and(Vec::is_empty));
    }

    #[test]
    fn placeholder_for_service_without_endpoints_is_stable() {
        let svc = web();
        let (desired, _) = desired_endpoints(&svc, &[], &nodes);
        let first = plan(&svc, desired.clone(), Vec::new(), 100, None);
        assert_eq!(first.create.len(), 1);
        assert!(first.create[0].endpoints.is_empty());
        let existing = existing_from(&first, &["ph"]);
        assert!(plan(&svc, desired, existing, 100, None).is_empty());
    }

    #[test]
    fn port_change_recycles_slice_and_foreign_slices_go() {
        let svc = web();
        let (desired, _) = desired_endpoints(&svc, &many(3), &nodes);
        let mut existing = existing_from(&plan(&svc, desired, Vec::new(), 100, None), &["a"]);
        let mut foreign = existing[0].clone();
        foreign.metadata.name = Some("old".into());
        foreign.metadata.owner_references.as_mut().expect("owner")[0].uid = "other".into();
        existing.push(foreign);
        let mut svc2 = svc.clone();
        svc2.spec
            .as_mut()
            .expect("spec")
            .ports
            .as_mut()
            .expect("ports")[0]
            .target_port =
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(9090));
        let (desired, _) = desired_endpoints(&svc2, &many(3), &nodes);
        let t = Timestamp::from_second(1_700_000_000).expect("ts");
        let p = plan(&svc2, desired, existing, 100, Some(t));
        assert!(p.create.is_empty(), "{p:?}");
        assert_eq!(p.update.len(), 1);
        assert_eq!(p.update[0].name_any(), "a");
        assert_eq!(
            p.update[0].ports.as_ref().expect("ports")[0].port,
            Some(9090)
        );
        assert_eq!(
            p.update[0]
                .annotations()
                .get(LAST_CHANGE_TRIGGER_TIME)
                .map(String::as_str),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(p.delete.len(), 1);
        assert_eq!(p.delete[0].name_any(), "old");
    }
}
