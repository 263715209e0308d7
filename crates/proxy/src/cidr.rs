//! A tiny IPv4 prefix type: the cluster CIDR and NetworkPolicy ipBlocks.

use crate::error::ProxyError;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network `addr/len`, with `addr` masked to its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    len: u8,
}

impl Ipv4Cidr {
    pub fn new(addr: Ipv4Addr, len: u8) -> Result<Self, ProxyError> {
        if len > 32 {
            return Err(ProxyError::InvalidCidr(format!("{addr}/{len}")));
        }
        let masked = u32::from(addr) & Self::mask(len);
        Ok(Ipv4Cidr {
            addr: Ipv4Addr::from(masked),
            len,
        })
    }

    fn mask(len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len))
        }
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.len) == u32::from(self.addr)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = ProxyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ProxyError::InvalidCidr(s.to_string());
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, l.parse::<u8>().map_err(|_| bad())?),
            None => (s, 32),
        };
        let addr = addr.parse::<Ipv4Addr>().map_err(|_| bad())?;
        Ipv4Cidr::new(addr, len).map_err(|_| bad())
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_masks_and_matches() {
        let c: Ipv4Cidr = "10.42.7.9/16".parse().unwrap();
        assert_eq!(c.to_string(), "10.42.0.0/16");
        assert!(c.contains("10.42.255.1".parse().unwrap()));
        assert!(!c.contains("10.43.0.1".parse().unwrap()));
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let host: Ipv4Cidr = "1.2.3.4".parse().unwrap();
        assert_eq!(host.to_string(), "1.2.3.4/32");
        assert!("10.0.0.0/33".parse::<Ipv4Cidr>().is_err());
        assert!("fd00::/8".parse::<Ipv4Cidr>().is_err());
    }
}
