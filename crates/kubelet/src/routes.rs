//! The pod network between nodes, flannel host-gw style: for every other
//! node, a route to its pod CIDR via its InternalIP. Pods keep their own IPs
//! across nodes (no overlay, no NAT); nodes must share an L2 segment.
//!
//! ```text
//! watch Nodes ─▶ desired {podCIDR → InternalIP} (all but this node)
//!             ─▶ `ip route replace CIDR via IP proto 200` for new/changed,
//!                `ip route del CIDR proto 200` for gone
//! ```
//! Checked against the kernel's table on every node event and every 2 s.
//! Routes carry protocol 200 so `berth down` can flush exactly ours.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::Api;
use std::collections::BTreeMap;

/// Routing protocol number marking berth's routes (`ip route ... proto 200`).
pub const ROUTE_PROTO: &str = "200";

/// Pod CIDR → next hop for every node except `me`.
pub fn desired(nodes: &[&Node], me: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for node in nodes {
        if node.metadata.name.as_deref() == Some(me) {
            continue;
        }
        let Some(cidr) = node.spec.as_ref().and_then(|s| s.pod_cidr.clone()) else {
            continue;
        };
        let ip = node
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
            .map(|a| a.address.clone());
        if let Some(ip) = ip {
            out.insert(cidr, ip);
        }
    }
    out
}

/// The `ip` invocations that take `current` to `wanted`.
pub fn plan(
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Vec<Vec<String>> {
    let mut cmds = Vec::new();
    for (cidr, via) in wanted {
        if current.get(cidr) != Some(via) {
            cmds.push(
                ["route", "replace", cidr, "via", via, "proto", ROUTE_PROTO]
                    .map(String::from)
                    .to_vec(),
            );
        }
    }
    for cidr in current.keys() {
        if !wanted.contains_key(cidr) {
            cmds.push(
                ["route", "del", cidr, "proto", ROUTE_PROTO]
                    .map(String::from)
                    .to_vec(),
            );
        }
    }
    cmds
}

fn ip(args: &[String]) -> bool {
    match std::process::Command::new("ip").args(args).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            tracing::warn!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            false
        }
        Err(e) => {
            tracing::warn!("ip {}: {e}", args.join(" "));
            false
        }
    }
}

/// Remove every route berth added on this machine (for `berth down`).
pub fn flush() {
    ip(&["route", "flush", "proto", ROUTE_PROTO].map(String::from));
}

/// Keep the routes in line with the Nodes until the watch ends.
pub async fn run(client: kube::Client, me: String) {
    let (reader, writer) = reflector::store::<Node>();
    let stream = reflector(
        writer,
        watcher(Api::<Node>::all(client), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects();
    let mut stream = std::pin::pin!(stream);
    flush();
    // Compared with the kernel's table on every pass, not a memory of it: a
    // failed `ip` call is retried and a route someone removed comes back.
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tokio::select! {
            event = stream.next() => match event {
                None => return,
                Some(Err(e)) => {
                    tracing::warn!("node routes: watching nodes: {e}");
                    continue;
                }
                Some(Ok(_)) => {}
            },
            _ = tick.tick() => {}
        }
        let nodes = reader.state();
        let refs: Vec<&Node> = nodes.iter().map(|n| n.as_ref()).collect();
        let wanted = desired(&refs, &me);
        for cmd in plan(&installed(), &wanted) {
            if ip(&cmd) {
                tracing::info!("node routes: ip {}", cmd.join(" "));
            }
        }
    }
}

/// berth's routes in the kernel now: destination → gateway.
fn installed() -> BTreeMap<String, String> {
    let out = std::process::Command::new("ip")
        .args(["-j", "route", "show", "proto", ROUTE_PROTO])
        .output();
    let Ok(out) = out else {
        return BTreeMap::new();
    };
    parse_installed(&out.stdout)
}

fn parse_installed(json: &[u8]) -> BTreeMap<String, String> {
    let routes: Vec<serde_json::Value> = serde_json::from_slice(json).unwrap_or_default();
    routes
        .iter()
        .filter_map(|r| {
            Some((
                r.get("dst")?.as_str()?.to_string(),
                r.get("gateway")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cidr: Option<&str>, ip: &str) -> Node {
        let mut n = json!({"metadata": {"name": name}, "spec": {},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}});
        if let Some(c) = cidr {
            n["spec"]["podCIDR"] = json!(c);
        }
        serde_json::from_value(n).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn routes_to_every_other_node_with_a_cidr() {
        let (a, b, c) = (
            node("a", Some("10.42.0.0/24"), "10.0.0.1"),
            node("b", Some("10.42.1.0/24"), "10.0.0.2"),
            node("c", None, "10.0.0.3"),
        );
        let wanted = desired(&[&a, &b, &c], "a");
        assert_eq!(
            wanted,
            BTreeMap::from([("10.42.1.0/24".to_string(), "10.0.0.2".to_string())])
        );
    }

    #[test]
    fn installed_routes_are_read_from_ip_json() {
        let json = br#"[{"dst":"10.42.1.0/24","gateway":"10.99.0.12","dev":"eth0","protocol":"200","flags":[]},
                        {"dst":"10.42.2.0/24","dev":"berth0","flags":[]}]"#;
        assert_eq!(
            parse_installed(json),
            BTreeMap::from([("10.42.1.0/24".to_string(), "10.99.0.12".to_string())])
        );
        assert!(parse_installed(b"").is_empty());
    }

    #[test]
    fn plan_adds_changes_and_removes() {
        let current = BTreeMap::from([
            ("10.42.1.0/24".to_string(), "10.0.0.2".to_string()),
            ("10.42.2.0/24".to_string(), "10.0.0.3".to_string()),
        ]);
        let wanted = BTreeMap::from([
            ("10.42.1.0/24".to_string(), "10.0.0.9".to_string()),
            ("10.42.3.0/24".to_string(), "10.0.0.4".to_string()),
        ]);
        let cmds: Vec<String> = plan(&current, &wanted)
            .iter()
            .map(|c| c.join(" "))
            .collect();
        assert_eq!(
            cmds,
            [
                "route replace 10.42.1.0/24 via 10.0.0.9 proto 200",
                "route replace 10.42.3.0/24 via 10.0.0.4 proto 200",
                "route del 10.42.2.0/24 proto 200",
            ]
        );
        assert!(plan(&wanted, &wanted).is_empty());
    }
}
