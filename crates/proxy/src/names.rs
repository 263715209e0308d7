//! Names of the per-service, per-endpoint and per-pod objects in the table.
//!
//! A name is a fixed prefix, an 8-character hash of the readable part (so two
//! names never collide after truncation and near-identical names stay easy
//! to tell apart), then the readable part: `svc-1A2B3C4D-default/web/tcp/http`.
//! nft accepts `[A-Za-z0-9_./-]` in unquoted names; Kubernetes names only use
//! `[a-z0-9-]`, so `/` and `__` separate the fields unambiguously.

use sha2::{Digest, Sha256};

/// Longest name we emit (the kernel allows 256 bytes including the NUL).
const NAME_MAX: usize = 200;

pub const SERVICE_PREFIX: &str = "svc-";
pub const LOCAL_PREFIX: &str = "local-";
pub const EXTERNAL_PREFIX: &str = "ext-";
pub const ENDPOINT_PREFIX: &str = "ep-";
pub const AFFINITY_PREFIX: &str = "aff-";
pub const POLICY_INGRESS_PREFIX: &str = "pol-in-";
pub const POLICY_EGRESS_PREFIX: &str = "pol-eg-";

fn hashed(prefix: &str, readable: &str) -> String {
    let digest = Sha256::digest(readable.as_bytes());
    let mut name = String::with_capacity(prefix.len() + 9 + readable.len());
    name.push_str(prefix);
    for byte in &digest[..4] {
        name.push_str(&format!("{byte:02X}"));
    }
    name.push('-');
    name.push_str(readable);
    if name.len() > NAME_MAX {
        // Only ASCII reaches here (Kubernetes names and IPs), so byte slicing is safe.
        name.truncate(NAME_MAX - 3);
        name.push_str("...");
    }
    name
}

/// The readable identity of one service port: `ns/name/proto/portname`.
pub fn service_port_base(namespace: &str, name: &str, proto: &str, port_name: &str) -> String {
    format!("{namespace}/{name}/{proto}/{port_name}")
}

pub fn service_chain(base: &str) -> String {
    hashed(SERVICE_PREFIX, base)
}

pub fn local_chain(base: &str) -> String {
    hashed(LOCAL_PREFIX, base)
}

pub fn external_chain(base: &str) -> String {
    hashed(EXTERNAL_PREFIX, base)
}

/// Readable endpoint identity: IPv6 colons are not allowed in names.
fn endpoint_base(service_base: &str, ip: &str, port: i32) -> String {
    format!("{service_base}__{}/{port}", ip.replace(':', "."))
}

pub fn endpoint_chain(service_base: &str, ip: &str, port: i32) -> String {
    hashed(ENDPOINT_PREFIX, &endpoint_base(service_base, ip, port))
}

/// The affinity set carries its timeout in the hashed part: a new timeout is a
/// new set, so no rule ever points at a set that must be recreated in place.
pub fn affinity_set(service_base: &str, ip: &str, port: i32, timeout_seconds: i32) -> String {
    let base = endpoint_base(service_base, ip, port);
    let digest_input = format!("{base}#{timeout_seconds}");
    let mut name = hashed(AFFINITY_PREFIX, &digest_input);
    // Show the readable endpoint, not the `#timeout` suffix.
    if let Some(pos) = name.rfind('#') {
        name.truncate(pos);
    }
    name
}

pub fn policy_ingress_chain(namespace: &str, pod: &str) -> String {
    hashed(POLICY_INGRESS_PREFIX, &format!("{namespace}/{pod}"))
}

pub fn policy_egress_chain(namespace: &str, pod: &str) -> String {
    hashed(POLICY_EGRESS_PREFIX, &format!("{namespace}/{pod}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_stable_and_distinct() {
        let base = service_port_base("default", "web", "tcp", "http");
        let svc = service_chain(&base);
        assert!(svc.starts_with("svc-"));
        assert!(svc.ends_with("-default/web/tcp/http"));
        assert_eq!(svc.len(), "svc-".len() + 9 + base.len());
        assert_eq!(svc, service_chain(&base));
        let a = endpoint_chain(&base, "10.42.0.5", 8080);
        let b = endpoint_chain(&base, "10.42.0.6", 8080);
        assert_ne!(a[..12], b[..12]);
        assert!(a.ends_with("__10.42.0.5/8080"));
        let v6 = endpoint_chain(&base, "fd00::1", 80);
        assert!(!v6.contains(':'));
    }

    #[test]
    fn affinity_set_name_changes_with_timeout() {
        let base = service_port_base("ns", "s", "tcp", "");
        let one = affinity_set(&base, "10.0.0.1", 80, 10800);
        let two = affinity_set(&base, "10.0.0.1", 80, 60);
        assert_ne!(one, two);
        assert!(one.ends_with("__10.0.0.1/80"));
    }

    #[test]
    fn long_names_are_truncated() {
        let long = "a".repeat(63);
        let base = service_port_base(&long, &long, "sctp", &long);
        let ep = endpoint_chain(&base, "10.0.0.1", 80);
        assert!(ep.len() <= NAME_MAX);
        assert!(ep.ends_with("..."));
    }
}
