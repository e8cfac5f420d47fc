//! The DNS the evaluator asks, as a trait: the only I/O of this crate.
//!
//! Names are given without a trailing dot, as the SPF record produced them
//! (after macro expansion they may hold any byte but a dot: the RFC lets a
//! label be anything DNS can carry). Answers distinguish what SPF
//! distinguishes: records, a name that does not exist (NXDOMAIN), a name
//! without records of the type (NODATA), and a failure that may go away
//! (timeout, SERVFAIL, REFUSED: RFC 7208 section 5, "temperror").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;

/// Why a lookup has no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// RCODE 3: the name does not exist.
    #[error("no such domain")]
    NxDomain,
    /// RCODE 0 and no answer of the type asked.
    #[error("no records")]
    NoData,
    /// Timeout, SERVFAIL or any other RCODE: the answer may come later.
    #[error("{0}")]
    TempError(String),
}

/// A lookup's answer. An empty `Ok` list means the same as
/// [`DnsError::NoData`].
pub type Lookup<T> = Result<Vec<T>, DnsError>;

/// The lookups `check_host()` makes.
#[async_trait]
pub trait Dns: Send + Sync {
    /// TXT records of `name`, each one's character-strings joined without
    /// separator (RFC 7208 3.3), as bytes: a record need not be ASCII.
    async fn txt(&self, name: &str) -> Lookup<Vec<u8>>;
    async fn a(&self, name: &str) -> Lookup<Ipv4Addr>;
    async fn aaaa(&self, name: &str) -> Lookup<Ipv6Addr>;
    /// The exchange names of `name`'s MX records (any order; the null MX
    /// "." as an empty name).
    async fn mx(&self, name: &str) -> Lookup<String>;
    /// The names of the PTR records of `ip`'s reverse name
    /// (`in-addr.arpa` / `ip6.arpa`), in the order the answer gave them.
    async fn ptr(&self, ip: IpAddr) -> Lookup<String>;
}

#[async_trait]
impl<D: Dns + ?Sized> Dns for std::sync::Arc<D> {
    async fn txt(&self, name: &str) -> Lookup<Vec<u8>> {
        (**self).txt(name).await
    }
    async fn a(&self, name: &str) -> Lookup<Ipv4Addr> {
        (**self).a(name).await
    }
    async fn aaaa(&self, name: &str) -> Lookup<Ipv6Addr> {
        (**self).aaaa(name).await
    }
    async fn mx(&self, name: &str) -> Lookup<String> {
        (**self).mx(name).await
    }
    async fn ptr(&self, ip: IpAddr) -> Lookup<String> {
        (**self).ptr(ip).await
    }
}

/// The reverse name of `ip` without the trailing dot: `4.3.2.1.in-addr.arpa`,
/// or 32 lower-case nibbles and `ip6.arpa`.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(73);
            for nibble in nibbles(v6).iter().rev() {
                name.push(*nibble);
                name.push('.');
            }
            name.push_str("ip6.arpa");
            name
        }
    }
}

/// The 32 hex digits of an IPv6 address, most significant first, lower case.
pub(crate) fn nibbles(v6: Ipv6Addr) -> [char; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = ['0'; 32];
    for (i, byte) in v6.octets().iter().enumerate() {
        out[2 * i] = HEX[usize::from(byte >> 4)] as char;
        out[2 * i + 1] = HEX[usize::from(byte & 0xf)] as char;
    }
    out
}

/// The longest name a query may carry, in its dotted text form.
const MAX_NAME: usize = 253;

/// A name ready to be asked: the trailing dot dropped and, when longer than
/// 253 characters, labels removed from the left until it fits (RFC 7208
/// 7.3). `None` when it cannot be asked at all: empty, an empty label, or a
/// label over 63 bytes (RFC 1035); SPF treats such a name as one that does
/// not exist.
pub(crate) fn query_name(name: &str) -> Option<String> {
    let mut name = name.strip_suffix('.').unwrap_or(name);
    while name.len() > MAX_NAME {
        name = &name[name.find('.')? + 1..];
    }
    valid_name(name).then(|| name.to_owned())
}

/// Every label 1 to 63 bytes, at most 253 in all.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split('.').all(|label| (1..=63).contains(&label.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names_of_both_families() {
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap()),
            "1.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::cb01".parse().unwrap()),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn a_long_name_loses_labels_on_the_left_until_it_fits() {
        let long = format!("{}.example.com", ["abcdefghij"; 30].join("."));
        let cut = query_name(&long).unwrap();
        assert!(cut.len() <= 253 && long.ends_with(&cut), "{cut}");
        assert!(cut.starts_with("abcdefghij."));
        assert_eq!(query_name("example.com."), Some("example.com".into()));
        assert_eq!(query_name("a..b"), None);
        assert_eq!(query_name(""), None);
        assert_eq!(query_name(&format!("{}.com", "x".repeat(64))), None);
    }
}
