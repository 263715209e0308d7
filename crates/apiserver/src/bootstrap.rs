//! Objects every cluster starts with: the system namespaces and the
//! `kubernetes` Service pointing at this API server.

use crate::rest;
use crate::{Server, User};
use berth_api::registry;
use serde_json::{json, Value};
use std::sync::Arc;

async fn ensure_object(
    srv: &Arc<Server>,
    group: &str,
    version: &str,
    plural: &str,
    ns: Option<&str>,
    obj: Value,
) {
    let Some(info) = registry::lookup(group, version, plural) else {
        return;
    };
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if rest::read(srv, info, ns, &name).await.is_ok() {
        return;
    }
    let res = match rest::prepare_create(srv, info, ns, obj, &User::system()) {
        Ok(o) => rest::commit_create(srv, info, ns, o, false)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = res {
        if e.code != 409 {
            tracing::error!("bootstrap {plural}/{name}: {e}");
        }
    }
}

pub async fn ensure(srv: &Arc<Server>) {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        ensure_object(srv, "", "v1", "namespaces", None, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}})).await;
    }
    for (name, value, description) in [
        ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ] {
        ensure_object(srv, "scheduling.k8s.io", "v1", "priorityclasses", None, json!({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "description": description,
            "preemptionPolicy": "PreemptLowerPriority",
        })).await;
    }
    // Cluster DNS runs on every node at this address (berth-dns on lo), so
    // the Service only reserves the IP and names it; berth-proxy skips it.
    let dns_ip = srv.config.service_cidr.nth(10).to_string();
    ensure_object(srv, "", "v1", "services", Some("kube-system"), json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {
            "k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS", "berth.dev/node-local": "true"}},
        "spec": {"clusterIP": dns_ip, "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
        ], "sessionAffinity": "None", "type": "ClusterIP"},
    })).await;
    let port = srv.config.bind.port();
    let ip = srv.config.service_cidr.nth(1).to_string();
    ensure_object(srv, "", "v1", "services", Some("default"), json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}], "sessionAffinity": "None", "type": "ClusterIP"},
    })).await;
    let advertised: Option<std::net::IpAddr> = srv.config.advertise_address.parse().ok();
    if advertised.is_none_or(|ip| ip.is_loopback()) {
        tracing::warn!(
            "the kubernetes Service has no endpoints: the advertise address {} is not reachable from pods; pass --advertise-address",
            srv.config.advertise_address
        );
        return;
    }
    ensure_object(srv, "", "v1", "endpoints", Some("default"), json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": srv.config.advertise_address}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    })).await;
    // The proxy and DNS read EndpointSlices; the endpointslice controller
    // leaves selector-less Services alone, so this one is written here.
    ensure_object(srv, "discovery.k8s.io", "v1", "endpointslices", Some("default"), json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [srv.config.advertise_address], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    })).await;
}
