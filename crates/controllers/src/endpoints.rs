//! The Endpoints controller (upstream pkg/controller/endpoint): for every
//! Service with a selector, an Endpoints object of the same name listing the
//! selected pods by port set, ready ones in `addresses` and the rest in
//! `notReadyAddresses`. Selector-less and ExternalName Services are left
//! alone; the Endpoints go when the Service goes.

use crate::endpoint_util::{
    find_port, is_headless, is_ipv6, managed_selector, pod_ips, port_protocol, publish_not_ready,
    selected_pods, should_pod_be_in_endpoints, should_set_hostname, PodServiceIndex,
    TriggerTimeTracker, HEADLESS_LABEL, LAST_CHANGE_TRIGGER_TIME,
};
use crate::informers::Informer;
use crate::pod_state::is_ready;
use crate::runner::{error_policy, run_reconcile, Context};
use crate::ControllerError;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const COMPONENT: &str = "endpoint-controller";
/// Set to `truncated` when more than [`MAX_CAPACITY`] addresses were dropped.
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
pub const MAX_CAPACITY: usize = 1000;
/// Endpoints used as leader-election locks are never garbage-collected.
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

/// The address family Endpoints carry for this Service: its primary family.
fn wants_ipv6(svc: &Service) -> Option<bool> {
    let family = svc
        .spec
        .as_ref()
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first())?;
    Some(family == "IPv6")
}

fn address_of(pod: &Pod, svc: &Service) -> Option<EndpointAddress> {
    let ips = pod_ips(pod);
    let ip = match wants_ipv6(svc) {
        Some(v6) => ips.into_iter().find(|ip| is_ipv6(ip) == v6)?,
        None => ips.into_iter().next()?,
    };
    Some(EndpointAddress {
        ip,
        hostname: should_set_hostname(pod, svc)
            .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
            .flatten(),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..Default::default()
        }),
    })
}

/// The subsets the Service's selected `pods` yield, packed (see [`repack`]).
pub fn desired_subsets(svc: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let tolerate_unready = publish_not_ready(svc);
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    let mut subsets = Vec::new();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, tolerate_unready) {
            continue;
        }
        let Some(addr) = address_of(pod, svc) else {
            continue;
        };
        let ready = tolerate_unready || is_ready(pod);
        let subset = |ports: Option<Vec<EndpointPort>>| EndpointSubset {
            addresses: ready.then(|| vec![addr.clone()]),
            not_ready_addresses: (!ready).then(|| vec![addr.clone()]),
            ports,
        };
        if ports.is_empty() {
            // Only headless Services publish port-less addresses.
            if svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
                subsets.push(subset(None));
            }
            continue;
        }
        for sp in &ports {
            if let Some(port) = find_port(pod, sp) {
                subsets.push(subset(Some(vec![EndpointPort {
                    name: sp.name.clone().filter(|n| !n.is_empty()),
                    port,
                    protocol: Some(port_protocol(sp)),
                    app_protocol: sp.app_protocol.clone(),
                }])));
            }
        }
    }
    repack(subsets)
}

type PortKey = (String, i32, String, String);
type AddrKey = (String, String);
/// Addresses offering one port, with whether each is ready.
type AddressReadiness = BTreeMap<AddrKey, (EndpointAddress, bool)>;

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.name.clone().unwrap_or_default(),
        p.port,
        p.protocol.clone().unwrap_or_else(|| "TCP".into()),
        p.app_protocol.clone().unwrap_or_default(),
    )
}

fn addr_key(a: &EndpointAddress) -> AddrKey {
    let uid = a.target_ref.as_ref().and_then(|r| r.uid.clone());
    (a.ip.clone(), uid.unwrap_or_default())
}

/// RepackSubsets: regroup so each subset is a maximal set of addresses sharing
/// one set of ports; a ready listing wins over a not-ready one. The result is
/// sorted, so equal contents compare equal.
pub fn repack(subsets: Vec<EndpointSubset>) -> Vec<EndpointSubset> {
    // Per port (the -1 sentinel standing for "no ports"): address → ready.
    let sentinel = EndpointPort {
        port: -1,
        ..Default::default()
    };
    let mut by_port: BTreeMap<PortKey, (EndpointPort, AddressReadiness)> = BTreeMap::new();
    for subset in subsets {
        let ports = subset
            .ports
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| vec![sentinel.clone()]);
        for port in ports {
            let entry = by_port
                .entry(port_key(&port))
                .or_insert_with(|| (port.clone(), BTreeMap::new()));
            for a in subset.addresses.iter().flatten() {
                entry.1.insert(addr_key(a), (a.clone(), true));
            }
            for a in subset.not_ready_addresses.iter().flatten() {
                entry.1.entry(addr_key(a)).or_insert((a.clone(), false));
            }
        }
    }
    // Ports offered by exactly the same (address, ready) set share a subset.
    type Group = (Vec<EndpointPort>, Vec<(EndpointAddress, bool)>);
    let mut groups: BTreeMap<Vec<(AddrKey, bool)>, Group> = BTreeMap::new();
    for (_, (port, addrs)) in by_port {
        if addrs.is_empty() {
            continue;
        }
        let key = addrs.iter().map(|(k, (_, r))| (k.clone(), *r)).collect();
        let group = groups
            .entry(key)
            .or_insert_with(|| (Vec::new(), addrs.into_values().collect()));
        if port.port > 0 {
            group.0.push(port);
        }
    }
    groups
        .into_values()
        .map(|(ports, addrs)| {
            let (ready, not_ready): (Vec<_>, Vec<_>) = addrs.into_iter().partition(|(_, r)| *r);
            let strip = |v: Vec<(EndpointAddress, bool)>| {
                let v: Vec<_> = v.into_iter().map(|(a, _)| a).collect();
                (!v.is_empty()).then_some(v)
            };
            EndpointSubset {
                addresses: strip(ready),
                not_ready_addresses: strip(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

/// Keep at most `max` addresses, ready ones first; true when some were dropped.
pub fn truncate(subsets: &mut [EndpointSubset], max: usize) -> bool {
    let total: usize = subsets
        .iter()
        .map(|s| {
            s.addresses.as_ref().map_or(0, Vec::len)
                + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
        })
        .sum();
    if total <= max {
        return false;
    }
    let mut budget = max;
    for s in subsets.iter_mut() {
        if let Some(a) = s.addresses.as_mut() {
            a.truncate(budget);
            budget -= a.len();
        }
    }
    for s in subsets.iter_mut() {
        if let Some(a) = s.not_ready_addresses.as_mut() {
            a.truncate(budget);
            budget -= a.len();
        }
    }
    true
}

/// The Service's labels plus `service.kubernetes.io/headless` when headless.
pub fn desired_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.labels().clone();
    if is_headless(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    labels
}

struct State {
    pods: Arc<Informer<Pod>>,
    endpoints: Arc<Informer<Endpoints>>,
    tracker: TriggerTimeTracker,
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
    let name = svc.name_any();
    let svc_key = format!("{ns}/{name}");
    // Decide only on a cache that shows our own last write.
    if !state.endpoints.caught_up(&svc_key) {
        return Ok(Action::requeue(std::time::Duration::from_millis(200)));
    }
    let pods = selected_pods(&state.pods, &svc);
    let trigger = state.tracker.compute(&svc, &pods);
    let mut subsets = desired_subsets(&svc, &pods);
    let truncated = truncate(&mut subsets, MAX_CAPACITY);
    let labels = desired_labels(&svc);

    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &ns);
    let current = state.endpoints.get(Some(&ns), &name).map(|e| (*e).clone());
    if let Some(cur) = &current {
        let cur_subsets = repack(cur.subsets.clone().unwrap_or_default());
        let capacity_ok = cur.annotations().contains_key(OVER_CAPACITY) == truncated;
        if cur_subsets == subsets && *cur.labels() == labels && capacity_ok {
            return Ok(resync);
        }
    }
    let mut ep = current.clone().unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            ..Default::default()
        },
        ..Default::default()
    });
    ep.metadata.labels = Some(labels);
    let annotations = ep.metadata.annotations.get_or_insert_with(BTreeMap::new);
    match trigger {
        Some(t) => annotations.insert(LAST_CHANGE_TRIGGER_TIME.into(), rfc3339(t)),
        None => annotations.remove(LAST_CHANGE_TRIGGER_TIME),
    };
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    ep.subsets = Some(subsets);
    let result = match current {
        Some(_) => api.replace(&name, &PostParams::default(), &ep).await,
        None => api.create(&PostParams::default(), &ep).await,
    };
    match result {
        Ok(written) => {
            state.endpoints.expect_written(&svc_key, &written);
            Ok(resync)
        }
        // A namespace being deleted refuses new objects; nothing to do.
        Err(kube::Error::Api(e)) if e.code == 403 && e.message.contains("terminat") => Ok(resync),
        Err(e) => Err(e.into()),
    }
}

/// RFC 3339 with second precision, as metav1.Time marshals.
pub(crate) fn rfc3339(t: k8s_openapi::jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Delete the Endpoints of Services that are gone: each deleted Service, and
/// once the caches are complete, any leftover without a Service.
async fn collect_orphans(
    client: kube::Client,
    services: Arc<Informer<Service>>,
    endpoints: Arc<Informer<Endpoints>>,
    tracker_state: Arc<State>,
) {
    let events = services.subscribe();
    services.ready().await;
    endpoints.ready().await;
    let leftovers: Vec<(String, String)> = endpoints
        .list()
        .iter()
        .filter(|e| !e.annotations().contains_key(LEADER_ANNOTATION))
        .map(|e| (e.namespace().unwrap_or_default(), e.name_any()))
        .collect();
    delete_unless_service(&client, &services, leftovers).await;
    let mut events = std::pin::pin!(events);
    while let Some(svc) = events.next().await {
        let ns = svc.namespace().unwrap_or_default();
        let name = svc.name_any();
        if services.get(Some(&ns), &name).is_some() {
            continue;
        }
        // Deleted (the informer hands deletions on too).
        tracker_state.tracker.forget(&ns, &name);
        delete_unless_service(&client, &services, vec![(ns, name)]).await;
    }
}

async fn delete_unless_service(
    client: &kube::Client,
    services: &Informer<Service>,
    candidates: Vec<(String, String)>,
) {
    for (ns, name) in candidates {
        if services.get(Some(&ns), &name).is_some() {
            continue;
        }
        let api: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(err) => {
                tracing::warn!(%err, %ns, %name, "deleting endpoints of deleted service")
            }
        }
    }
}

/// Run the Endpoints controller until the watches end.
pub async fn run_endpoints_controller(client: kube::Client, ctx: Arc<Context>) {
    let informers = ctx.informers.clone();
    let (pods, services) = (informers.pods(), informers.services());
    let endpoints = informers.get::<Endpoints>();
    let (pod_events, endpoint_events) = (pods.subscribe(), endpoints.subscribe());
    pods.ready().await;
    endpoints.ready().await;
    let state = Arc::new(State {
        pods: pods.clone(),
        endpoints: endpoints.clone(),
        tracker: TriggerTimeTracker::default(),
    });
    tokio::spawn(collect_orphans(
        client.clone(),
        services.clone(),
        endpoints,
        state.clone(),
    ));
    let index = PodServiceIndex::new(services.clone(), pods);
    Controller::for_shared_stream(services.subscribe(), services.ready_store().await)
        .watches_shared_stream(pod_events, move |pod: Arc<Pod>| index.services_for(&pod))
        // Someone else changing or deleting "our" Endpoints: put them back.
        .watches_shared_stream(endpoint_events, |ep: Arc<Endpoints>| {
            let r = ObjectRef::<Service>::new(&ep.name_any());
            Some(match ep.namespace() {
                Some(ns) => r.within(&ns),
                None => r,
            })
        })
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
                tracing::debug!(%err, "endpoints controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(v: serde_json::Value) -> Service {
        serde_json::from_value(v).expect("service")
    }

    fn pod(name: &str, ip: &str, ready: bool, extra: serde_json::Value) -> Arc<Pod> {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                         "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }}]},
        });
        merge(&mut v, extra);
        Arc::new(serde_json::from_value(v).expect("pod"))
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn web() -> Service {
        svc(
            json!({"metadata": {"name": "web", "namespace": "default", "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.43.0.10",
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
        )
    }

    fn ips(v: &Option<Vec<EndpointAddress>>) -> Vec<String> {
        v.iter().flatten().map(|a| a.ip.clone()).collect()
    }

    #[test]
    fn ready_and_not_ready_addresses_share_a_subset() {
        let pods = vec![
            pod("a", "10.42.0.2", true, json!({})),
            pod("b", "10.42.0.3", false, json!({})),
            pod("c", "10.42.0.1", true, json!({})),
            pod("nop", "", true, json!({})),
            pod(
                "gone",
                "10.42.0.9",
                true,
                json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
            ),
            pod(
                "done",
                "10.42.0.8",
                false,
                json!({"status": {"phase": "Succeeded"}}),
            ),
        ];
        let subsets = desired_subsets(&web(), &pods);
        assert_eq!(subsets.len(), 1);
        let s = &subsets[0];
        assert_eq!(ips(&s.addresses), ["10.42.0.1", "10.42.0.2"]);
        assert_eq!(ips(&s.not_ready_addresses), ["10.42.0.3"]);
        let port = &s.ports.as_ref().expect("ports")[0];
        assert_eq!(
            (port.name.as_deref(), port.port, port.protocol.as_deref()),
            (Some("http"), 8080, Some("TCP"))
        );
        let a = &s.addresses.as_ref().expect("addresses")[1];
        assert_eq!(a.node_name.as_deref(), Some("n1"));
        let r = a.target_ref.as_ref().expect("targetRef");
        assert_eq!(
            (r.kind.as_deref(), r.name.as_deref(), r.uid.as_deref()),
            (Some("Pod"), Some("a"), Some("uid-a"))
        );
    }

    #[test]
    fn publish_not_ready_puts_everything_in_addresses_incl_terminating() {
        let mut s = web();
        s.spec.as_mut().expect("spec").publish_not_ready_addresses = Some(true);
        let pods = vec![
            pod("a", "10.42.0.2", false, json!({})),
            pod(
                "t",
                "10.42.0.3",
                true,
                json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
            ),
        ];
        let subsets = desired_subsets(&s, &pods);
        assert_eq!(ips(&subsets[0].addresses), ["10.42.0.2", "10.42.0.3"]);
        assert_eq!(subsets[0].not_ready_addresses, None);
    }

    #[test]
    fn pods_offering_different_ports_get_different_subsets() {
        let s = svc(json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.43.0.10", "ports": [
                {"name": "http", "port": 80, "targetPort": "http"},
                {"name": "raw", "port": 81, "targetPort": 9000, "appProtocol": "h2c"}]}}));
        let other = json!({"spec": {"containers": [{"name": "c", "ports": [
            {"name": "web", "containerPort": 8080}]}]}});
        let pods = vec![
            pod("a", "10.42.0.2", true, json!({})),
            pod("b", "10.42.0.3", true, other),
        ];
        // "http" resolves on a only, 9000 on both: two address sets, two subsets.
        let subsets = desired_subsets(&s, &pods);
        assert_eq!(subsets.len(), 2, "{subsets:?}");
        let by_port = |name: &str| {
            subsets
                .iter()
                .find(|s| {
                    s.ports
                        .as_ref()
                        .is_some_and(|p| p[0].name.as_deref() == Some(name))
                })
                .expect("subset")
        };
        assert_eq!(ips(&by_port("http").addresses), ["10.42.0.2"]);
        assert_eq!(ips(&by_port("raw").addresses), ["10.42.0.2", "10.42.0.3"]);
        let raw = &by_port("raw").ports.as_ref().expect("ports")[0];
        assert_eq!((raw.port, raw.app_protocol.as_deref()), (9000, Some("h2c")));
    }

    #[test]
    fn headless_without_ports_and_hostname() {
        let s = svc(json!({"metadata": {"name": "db", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "clusterIP": "None"}}));
        let pods = vec![pod(
            "db-0",
            "10.42.0.5",
            true,
            json!({"spec": {"hostname": "db-0", "subdomain": "db"}}),
        )];
        let subsets = desired_subsets(&s, &pods);
        assert_eq!(subsets.len(), 1);
        assert_eq!(subsets[0].ports, None);
        let a = &subsets[0].addresses.as_ref().expect("addresses")[0];
        assert_eq!(a.hostname.as_deref(), Some("db-0"));
        assert_eq!(
            desired_labels(&s).get(HEADLESS_LABEL).map(String::as_str),
            Some("")
        );
        // A ClusterIP Service without ports has no endpoints at all.
        let mut no_ports = web();
        no_ports.spec.as_mut().expect("spec").ports = None;
        assert!(desired_subsets(&no_ports, &pods).is_empty());
    }

    #[test]
    fn repack_is_order_independent() {
        let pods = vec![
            pod("a", "10.42.0.2", true, json!({})),
            pod("b", "10.42.0.3", false, json!({})),
        ];
        let mut reversed = pods.clone();
        reversed.reverse();
        let one = desired_subsets(&web(), &pods);
        assert_eq!(one, desired_subsets(&web(), &reversed));
        assert_eq!(repack(one.clone()), one);
    }

    #[test]
    fn truncates_ready_first() {
        let mk = |n: usize, ready: bool| {
            (0..n)
                .map(|i| {
                    pod(
                        &format!("p{ready}{i}"),
                        &format!("10.{}.{}.{}", u8::from(ready), i / 250, i % 250),
                        ready,
                        json!({}),
                    )
                })
                .collect::<Vec<_>>()
        };
        let mut pods = mk(900, true);
        pods.extend(mk(200, false));
        let mut subsets = desired_subsets(&web(), &pods);
        assert!(truncate(&mut subsets, MAX_CAPACITY));
        assert_eq!(subsets[0].addresses.as_ref().map(Vec::len), Some(900));
        assert_eq!(
            subsets[0].not_ready_addresses.as_ref().map(Vec::len),
            Some(100)
        );
    }
}
