//! Upstream nameservers from a resolv.conf file.

use crate::error::DnsError;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// `nameserver` addresses (port 53) in file order; other directives are ignored.
pub fn parse_nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            if words.next() != Some("nameserver") {
                return None;
            }
            // A link-local IPv6 address may carry a zone (`fe80::1%eth0`), which
            // IpAddr does not parse; such servers are skipped.
            let ip: IpAddr = words.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

pub fn read_nameservers(path: &Path) -> Result<Vec<SocketAddr>, DnsError> {
    let text = std::fs::read_to_string(path).map_err(|source| DnsError::ResolvConf {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_nameservers(&text))
}

/// Drops the upstreams that are this server itself: forwarding to them would
/// loop. A loopback resolver such as systemd-resolved's 127.0.0.53 is kept when
/// we listen elsewhere (berth-dns runs in the host network namespace, where it
/// answers), and only dropped when our own listener would receive the query:
/// the same address, or any local loopback address on our port when we listen
/// on the unspecified address.
pub fn without_self(upstreams: Vec<SocketAddr>, bind: SocketAddr) -> Vec<SocketAddr> {
    upstreams
        .into_iter()
        .filter(|upstream| {
            let same_port = upstream.port() == bind.port();
            let is_us = *upstream == bind
                || (same_port && bind.ip().is_unspecified() && upstream.ip().is_loopback());
            !is_us
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nameserver_lines_only() {
        let text = "# generated\nsearch default.svc.cluster.local\nnameserver 10.0.0.2\n\
                    nameserver  fd00::53 # comment\noptions ndots:5\nnameserver bogus\n\
                    nameserver fe80::1%eth0\n";
        assert_eq!(
            parse_nameservers(text),
            vec![
                "10.0.0.2:53".parse::<SocketAddr>().unwrap(),
                "[fd00::53]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn drops_only_upstreams_that_are_ourselves() {
        let resolved: SocketAddr = "127.0.0.53:53".parse().unwrap();
        let cluster_dns: SocketAddr = "10.43.0.10:53".parse().unwrap();
        let other: SocketAddr = "192.168.1.1:53".parse().unwrap();
        let all = vec![resolved, cluster_dns, other];
        assert_eq!(
            without_self(all.clone(), cluster_dns),
            vec![resolved, other]
        );
        assert_eq!(
            without_self(all.clone(), "0.0.0.0:53".parse().unwrap()),
            vec![cluster_dns, other]
        );
        assert_eq!(
            without_self(all.clone(), "127.0.0.1:5353".parse().unwrap()),
            all
        );
    }
}
