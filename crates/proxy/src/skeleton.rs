//! The static part of `table ip berth`: base chains on the netfilter hooks,
//! the dispatch maps the services fill, and small helper chains.
//!
//! Priorities follow kube-proxy's nftables mode: service filtering before
//! DNAT (`dstnat - 10` = -110), DNAT at `dstnat` (-100), masquerade at
//! `srcnat` (100); numbers, because nft 1.0.6 only knows `dstnat` on prerouting;
//! NetworkPolicy runs on `forward` around `filter` (after DNAT, so it sees
//! the real endpoint address).

use crate::config::NodeFacts;
use std::fmt::Write;

/// Bit of the packet mark that asks `masquerading` for SNAT (kube-proxy's default bit 14).
pub const MASQUERADE_MARK: &str = "0x00004000";

// Containers the dynamic part fills with elements.
pub const SERVICE_IPS: &str = "service-ips";
pub const SERVICE_NODEPORTS: &str = "service-nodeports";
pub const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
pub const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
pub const CLUSTER_IPS: &str = "cluster-ips";
pub const POLICY_INGRESS_PODS: &str = "policy-ingress-pods";
pub const POLICY_EGRESS_PODS: &str = "policy-egress-pods";

// Helper chains services point at.
pub const MARK_FOR_MASQUERADE: &str = "mark-for-masquerade";
pub const REJECT_CHAIN: &str = "reject-chain";

/// The table body's static declarations for this node.
pub fn render(node: &NodeFacts) -> String {
    let cidr = node.cluster_cidr;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\tcomment \"berth-proxy: services and network policies\""
    );

    // Dispatch maps keyed like kube-proxy: (ip . proto . port) and (proto . port).
    let svc_map = "type ipv4_addr . inet_proto . inet_service : verdict";
    let np_map = "type inet_proto . inet_service : verdict";
    let _ = writeln!(s, "\tmap {SERVICE_IPS} {{ {svc_map}; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\"; }}");
    let _ = writeln!(
        s,
        "\tmap {SERVICE_NODEPORTS} {{ {np_map}; comment \"NodePort traffic\"; }}"
    );
    let _ = writeln!(s, "\tmap {NO_ENDPOINT_SERVICES} {{ {svc_map}; comment \"services without usable endpoints\"; }}");
    let _ = writeln!(s, "\tmap {NO_ENDPOINT_NODEPORTS} {{ {np_map}; comment \"nodeports without usable endpoints\"; }}");
    let _ = writeln!(
        s,
        "\tset {CLUSTER_IPS} {{ type ipv4_addr; comment \"active ClusterIPs\"; }}"
    );
    let _ = write!(
        s,
        "\tset nodeport-ips {{ type ipv4_addr; comment \"IPs that accept NodePort traffic\";"
    );
    if !node.node_ips.is_empty() {
        let ips: Vec<String> = node.node_ips.iter().map(|ip| ip.to_string()).collect();
        let _ = write!(s, " elements = {{ {} }};", ips.join(", "));
    }
    s.push_str(" }\n");
    let _ = writeln!(s, "\tmap {POLICY_INGRESS_PODS} {{ type ipv4_addr : verdict; comment \"local pods isolated for ingress\"; }}");
    let _ = writeln!(s, "\tmap {POLICY_EGRESS_PODS} {{ type ipv4_addr : verdict; comment \"local pods isolated for egress\"; }}");

    let chain = |s: &mut String, name: &str, base: Option<&str>, rules: &[String]| {
        let _ = write!(s, "\tchain {name} {{");
        if let Some(base) = base {
            let _ = write!(s, "\n\t\t{base};");
        }
        for rule in rules {
            let _ = write!(s, "\n\t\t{rule}");
        }
        s.push_str("\n\t}\n");
    };

    // Filtering of service traffic without endpoints. `reject` is not allowed
    // in prerouting, so it is checked on input/forward/output.
    for hook in ["input", "forward", "output"] {
        chain(
            &mut s,
            &format!("filter-{hook}"),
            Some(&format!(
                "type filter hook {hook} priority -110; policy accept"
            )),
            &["ct state new jump endpoints-check".into()],
        );
    }
    chain(
        &mut s,
        "endpoints-check",
        None,
        &[
            format!("ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}"),
            format!("ip daddr @nodeport-ips meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}"),
        ],
    );
    // After DNAT, anything still addressed to a ClusterIP hit a port the
    // service does not have: reject it instead of letting it wander off.
    chain(
        &mut s,
        "filter-forward-post-dnat",
        Some("type filter hook forward priority -90; policy accept"),
        &["ct state new jump cluster-ips-check".into()],
    );
    chain(
        &mut s,
        "filter-output-post-dnat",
        Some("type filter hook output priority -90; policy accept"),
        &["ct state new jump cluster-ips-check".into()],
    );
    chain(
        &mut s,
        "cluster-ips-check",
        None,
        &[format!(
            "ip daddr @{CLUSTER_IPS} goto {REJECT_CHAIN} comment \"undefined port of a ClusterIP\""
        )],
    );
    // TCP gets a reset: the kernel rate-limits ICMP errors per peer and
    // drops the first one to a new peer, so a plain `reject` (kube-proxy's)
    // often leaves a client waiting for its SYN retransmit.
    chain(
        &mut s,
        REJECT_CHAIN,
        None,
        &[
            "meta l4proto tcp reject with tcp reset".into(),
            "reject".into(),
        ],
    );

    // Service dispatch.
    for hook in ["prerouting", "output"] {
        chain(
            &mut s,
            &format!("nat-{hook}"),
            Some(&format!(
                "type nat hook {hook} priority -100; policy accept"
            )),
            &["jump services".into()],
        );
    }
    chain(
        &mut s,
        "services",
        None,
        &[
            format!("ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}"),
            format!("ip daddr @nodeport-ips meta l4proto . th dport vmap @{SERVICE_NODEPORTS}"),
        ],
    );

    // Masquerading: services mark, postrouting SNATs marked packets; pods
    // reaching beyond the pod network leave with the node's address.
    chain(
        &mut s,
        MARK_FOR_MASQUERADE,
        None,
        &[format!("meta mark set meta mark | {MASQUERADE_MARK}")],
    );
    chain(
        &mut s,
        "nat-postrouting",
        Some("type nat hook postrouting priority 100; policy accept"),
        &["jump masquerading".into(), "jump pod-egress".into()],
    );
    chain(
        &mut s,
        "masquerading",
        None,
        &[
            format!("meta mark & {MASQUERADE_MARK} == 0 return"),
            format!("meta mark set meta mark ^ {MASQUERADE_MARK}"),
            "masquerade fully-random".into(),
        ],
    );
    chain(
        &mut s,
        "pod-egress",
        None,
        &[format!(
            "ip saddr {cidr} ip daddr != {cidr} masquerade comment \"pods to the outside\""
        )],
    );

    // NetworkPolicy: egress of the sending pod first; `accept` there ends only
    // that base chain, so the receiving pod's ingress check still runs.
    chain(
        &mut s,
        "policy-egress",
        Some("type filter hook forward priority -5; policy accept"),
        &[
            "ct state established,related accept".into(),
            format!("ip saddr vmap @{POLICY_EGRESS_PODS}"),
        ],
    );
    chain(
        &mut s,
        "policy-ingress",
        Some("type filter hook forward priority 5; policy accept"),
        &[
            "ct state established,related accept".into(),
            format!("ip daddr vmap @{POLICY_INGRESS_PODS}"),
        ],
    );
    s
}
