//! Domain-name helpers: building cluster names, dashed IP labels, reverse names.

use hickory_server::proto::rr::{LowerName, Name};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A fully qualified, lower-cased name from dotted text (a trailing dot is optional).
pub(crate) fn fqdn(text: &str) -> Option<Name> {
    let mut name = Name::from_ascii(text).ok()?;
    name.set_fqdn(true);
    Some(name.to_lowercase())
}

/// `label.parent`, or None when `label` is not a valid DNS label.
pub(crate) fn child(parent: &Name, label: &str) -> Option<Name> {
    if !is_dns_label(label) && !is_service_label(label) {
        return None;
    }
    parent.prepend_label(label.to_ascii_lowercase()).ok()
}

/// RFC 1123 label: what Kubernetes accepts for hostnames, namespaces and port names.
pub(crate) fn is_dns_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// `_http`, `_tcp`: the SRV service/protocol labels.
fn is_service_label(text: &str) -> bool {
    text.strip_prefix('_').is_some_and(is_dns_label)
}

/// The endpoint name CoreDNS uses when an endpoint has no hostname:
/// `10.1.2.3` → `10-1-2-3`, `fd00::1` → `fd00--1`.
pub fn dashed_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => v6.to_string().replace(':', "-"),
    }
}

/// Inverse of [`dashed_ip`] for the pod names `<dashed-ip>.<ns>.pod.<zone>`.
pub fn ip_from_dashed(label: &str) -> Option<IpAddr> {
    let dashes = label.bytes().filter(|b| *b == b'-').count();
    if dashes == 3 && !label.contains("--") {
        return label
            .replace('-', ".")
            .parse::<Ipv4Addr>()
            .ok()
            .map(IpAddr::V4);
    }
    label
        .replace('-', ":")
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

/// `d.c.b.a.in-addr.arpa.` (or the ip6.arpa nibble form).
pub fn reverse_name(ip: IpAddr) -> Name {
    let mut name = Name::from(ip);
    name.set_fqdn(true);
    name
}

/// The labels of `name` below `apex`, leftmost first, lower-cased, or None when
/// `name` is not inside `apex`.
pub(crate) fn labels_below(name: &LowerName, apex: &LowerName) -> Option<Vec<String>> {
    if !apex.zone_of(name) {
        return None;
    }
    let below = usize::from(name.num_labels()) - usize::from(apex.num_labels());
    let plain: Name = name.into();
    Some(
        plain
            .iter()
            .take(below)
            .map(|label| String::from_utf8_lossy(label).to_ascii_lowercase())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashed_ip_round_trips_v4_and_v6() {
        let v4: IpAddr = "10.244.1.7".parse().unwrap();
        let v6: IpAddr = "fd00:10:244::7".parse().unwrap();
        assert_eq!(dashed_ip(v4), "10-244-1-7");
        assert_eq!(dashed_ip(v6), "fd00-10-244--7");
        assert_eq!(ip_from_dashed("10-244-1-7"), Some(v4));
        assert_eq!(ip_from_dashed("fd00-10-244--7"), Some(v6));
    }

    #[test]
    fn malformed_dashed_names_are_rejected() {
        for bad in [
            "blah",
            "10-244-1",
            "10-244-1-300",
            "1-2-3-4-5",
            "",
            "a-b-c-d",
            "10.1.2.3",
        ] {
            assert_eq!(ip_from_dashed(bad), None, "{bad}");
        }
    }

    #[test]
    fn reverse_names_are_fqdn_arpa() {
        let name = reverse_name("10.43.0.10".parse().unwrap());
        assert_eq!(name.to_ascii(), "10.0.43.10.in-addr.arpa.");
        assert!(name.is_fqdn());
        let v6 = reverse_name("fd00::1".parse().unwrap());
        assert!(v6.to_ascii().ends_with(".ip6.arpa."));
    }

    #[test]
    fn labels_below_apex_are_lowercased() {
        let apex = LowerName::new(&fqdn("cluster.local").unwrap());
        let name = LowerName::new(&Name::from_ascii("Web.Default.SVC.cluster.local.").unwrap());
        assert_eq!(
            labels_below(&name, &apex).unwrap(),
            vec!["web", "default", "svc"]
        );
        let outside = LowerName::new(&Name::from_ascii("example.com.").unwrap());
        assert_eq!(labels_below(&outside, &apex), None);
    }

    #[test]
    fn dns_labels_follow_rfc1123() {
        assert!(is_dns_label("web-0"));
        assert!(!is_dns_label("-web"));
        assert!(!is_dns_label("web_0"));
        assert!(!is_dns_label(&"a".repeat(64)));
    }
}
