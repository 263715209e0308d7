//! The service load balancer, k3s-style: a `type: LoadBalancer` Service is
//! reachable on every Ready node's address at its port (berth-proxy renders
//! `status.loadBalancer.ingress` IPs like externalIPs), so its status lists
//! those addresses — `kubectl get svc` shows an EXTERNAL-IP instead of
//! `<pending>` forever.
//!
//! ```text
//! Services (type LoadBalancer, no loadBalancerClass) + Nodes (Ready, InternalIP)
//!   ─▶ ingress = sorted node IPs ─▶ patch services/status when it differs
//! ```

use crate::informers::{hash_json, ChangeFilter};
use crate::runner::Context;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;
use std::sync::Arc;

/// The addresses a LoadBalancer Service is served on: Ready nodes' InternalIPs.
pub fn ingress_ips(nodes: &[&Node]) -> Vec<String> {
    let mut ips: Vec<String> = nodes
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|n| {
            n.status
                .as_ref()?
                .addresses
                .as_ref()?
                .iter()
                .find(|a| a.type_ == "InternalIP")
                .map(|a| a.address.clone())
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Services this controller answers for, and their current ingress IPs.
fn current(svc: &Service) -> Option<Vec<String>> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() != Some("LoadBalancer") || spec.load_balancer_class.is_some() {
        return None;
    }
    Some(
        svc.status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .map(|i| i.iter().filter_map(|i| i.ip.clone()).collect())
            .unwrap_or_default(),
    )
}

/// What of a node matters here: readiness and InternalIP.
fn node_fingerprint(node: &Node) -> u64 {
    let refs = [node];
    hash_json(&ingress_ips(&refs))
}

pub async fn run_service_lb_controller(client: kube::Client, ctx: Arc<Context>) {
    let (nodes, services) = (ctx.informers.nodes(), ctx.informers.services());
    let node_filter = ChangeFilter::new(node_fingerprint);
    let node_cache = nodes.clone();
    // Node heartbeats that change neither readiness nor address are dropped.
    let node_events = nodes
        .subscribe()
        .filter(move |n| {
            let present = node_cache.get(None, &n.name_any()).is_some();
            std::future::ready(node_filter.changed(n, present))
        })
        .map(|_| ());
    let svc_events = services.subscribe().map(|_| ());
    nodes.ready().await;
    services.ready().await;
    let mut events = std::pin::pin!(futures::stream::select(node_events, svc_events));
    while events.next().await.is_some() {
        // Coalesce a burst (e.g. the initial replay): one pass for all of it.
        while let Some(Some(())) = events.next().now_or_never() {}
        let node_list = nodes.list();
        let refs: Vec<&Node> = node_list.iter().map(|n| n.as_ref()).collect();
        let wanted = ingress_ips(&refs);
        for svc in services.list() {
            let Some(have) = current(&svc) else { continue };
            if have == wanted {
                continue;
            }
            let (Some(ns), Some(name)) = (&svc.metadata.namespace, &svc.metadata.name) else {
                continue;
            };
            let ingress: Vec<_> = wanted
                .iter()
                .map(|ip| json!({"ip": ip, "ipMode": "VIP"}))
                .collect();
            let patch = json!({"status": {"loadBalancer": {"ingress": ingress}}});
            let api: Api<Service> = Api::namespaced(client.clone(), ns);
            if let Err(e) = api
                .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::warn!("service {ns}/{name}: setting load balancer ingress: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ip: &str, ready: bool) -> Node {
        serde_json::from_value(json!({"metadata": {"name": ip}, "status": {
            "addresses": [{"type": "InternalIP", "address": ip}],
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}}))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ready_nodes_ips_sorted() {
        let (a, b, c) = (
            node("10.0.0.2", true),
            node("10.0.0.1", true),
            node("10.0.0.3", false),
        );
        assert_eq!(ingress_ips(&[&a, &b, &c]), ["10.0.0.1", "10.0.0.2"]);
    }

    #[test]
    fn only_plain_load_balancer_services() {
        let svc = |t: &str, class: Option<&str>| -> Service {
            serde_json::from_value(
                json!({"metadata": {"name": "s"}, "spec": {"type": t, "loadBalancerClass": class}}),
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(current(&svc("LoadBalancer", None)), Some(vec![]));
        assert_eq!(current(&svc("ClusterIP", None)), None);
        assert_eq!(current(&svc("LoadBalancer", Some("example.com/lb"))), None);
    }
}
