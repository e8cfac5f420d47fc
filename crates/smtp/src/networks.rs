//! Client networks in CIDR notation (`relay.internal_networks`, Postfix's
//! mynetworks).

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    bits: u8,
}

impl Network {
    /// `192.0.2.0/24`, `::1/128`, or a bare address (a single host).
    pub fn parse(text: &str) -> Option<Network> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
            None => {
                let a = text.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (bits <= max).then_some(Network { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket is still that client.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.bits)
                };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.bits)
                };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_match_their_clients_only() {
        let lan = Network::parse("192.0.2.0/24").unwrap();
        assert!(lan.contains("192.0.2.77".parse().unwrap()));
        assert!(!lan.contains("192.0.3.1".parse().unwrap()));
        assert!(lan.contains("::ffff:192.0.2.5".parse().unwrap()));
        let host = Network::parse("::1").unwrap();
        assert!(host.contains("::1".parse().unwrap()));
        assert!(!host.contains("127.0.0.1".parse().unwrap()));
        assert!(Network::parse("10.0.0.0/33").is_none());
        assert!(Network::parse("nonsense").is_none());
    }
}
