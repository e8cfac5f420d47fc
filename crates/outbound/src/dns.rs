//! Where mail for a domain goes: MX records (RFC 5321 5.1), the implicit MX
//! (the domain's own A/AAAA) when there is none, and the null MX of RFC 7505.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use rand::seq::SliceRandom;

/// One host to try, with its addresses in the order to try them (IPv4
/// first: many receivers judge IPv6 senders more harshly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailHost {
    /// The host name without a trailing dot (ASCII), or the IP address as
    /// text for address literals.
    pub name: String,
    pub addresses: Vec<IpAddr>,
}

/// Why a destination has no host to try.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// RFC 7505: the domain publishes "MX 0 ." and accepts no mail.
    #[error("Domain {domain} does not accept mail (nullMX)")]
    NullMx { domain: String },
    /// The recipients' domain does not exist (NXDOMAIN), or has neither MX
    /// nor address records: no host could ever take its mail. Permanent.
    #[error(
        "Host or domain name not found. Name service error for name={name} type={rtype}: Host not found"
    )]
    NoDomain { name: String, rtype: &'static str },
    /// A host to deliver to (an MX host, a route's host) does not exist or
    /// has no address: permanent, but a routing problem, not the address's.
    #[error(
        "Host or domain name not found. Name service error for name={name} type={rtype}: Host not found"
    )]
    NotFound { name: String, rtype: &'static str },
    /// A DNS failure that may go away (timeout, SERVFAIL): temporary.
    #[error(
        "Host or domain name not found. Name service error for name={name} type={rtype}: Host not found, try again ({detail})"
    )]
    TryAgain {
        name: String,
        rtype: &'static str,
        detail: String,
    },
    /// The name is not a valid domain name: permanent.
    #[error("bad address syntax: invalid domain name {name:?}")]
    BadName { name: String },
}

impl DestinationError {
    pub fn is_permanent(&self) -> bool {
        !matches!(self, DestinationError::TryAgain { .. })
    }

    /// The RFC 3463 status code of this failure: X.1.2 (bad destination
    /// system address) for a domain that does not exist, X.4.4 (unable to
    /// route) for a host that does not, as Postfix gives them.
    pub fn status(&self) -> &'static str {
        match self {
            DestinationError::NullMx { .. } => "5.1.10",
            DestinationError::NoDomain { .. } => "5.1.2",
            DestinationError::NotFound { .. } => "5.4.4",
            DestinationError::TryAgain { .. } => "4.4.3",
            DestinationError::BadName { .. } => "5.1.2",
        }
    }
}

/// The resolver could not be configured.
#[derive(Debug, thiserror::Error)]
#[error("DNS resolver configuration: {0}")]
pub struct ResolverError(String);

/// DNS lookups for outbound mail. Cheap to clone (the cache is shared).
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

impl Resolver {
    /// A resolver asking `nameservers` (UDP, then TCP for truncated
    /// answers), in the given order. With an empty list, the system
    /// configuration (`/etc/resolv.conf`) is read. `/etc/hosts` is never
    /// used, like Postfix's default `smtp_host_lookup = dns`.
    pub fn new(nameservers: &[SocketAddr]) -> Result<Resolver, ResolverError> {
        Resolver::build(nameservers, None)
    }

    /// [`Resolver::new`] with a time limit per query and a number of
    /// tries (5 s and 2 by default for explicit servers; resolv.conf's
    /// `timeout`/`attempts` otherwise).
    pub fn with_timeout(
        nameservers: &[SocketAddr],
        timeout: Duration,
        attempts: usize,
    ) -> Result<Resolver, ResolverError> {
        Resolver::build(nameservers, Some((timeout, attempts)))
    }

    fn build(
        nameservers: &[SocketAddr],
        limits: Option<(Duration, usize)>,
    ) -> Result<Resolver, ResolverError> {
        let (config, mut opts) = if nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| ResolverError(format!("reading /etc/resolv.conf: {e}")))?
        } else {
            let servers = nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            (
                ResolverConfig::from_parts(None, vec![], servers),
                ResolverOpts::default(),
            )
        };
        opts.use_hosts_file = ResolveHosts::Never;
        if let Some((timeout, attempts)) = limits {
            opts.timeout = timeout;
            opts.attempts = attempts.max(1);
        } else if !nameservers.is_empty() {
            opts.timeout = Duration::from_secs(5);
            opts.attempts = 2;
        }
        let mut builder = hickory_resolver::Resolver::builder_with_config(
            config,
            TokioRuntimeProvider::default(),
        );
        *builder.options_mut() = opts;
        let inner = builder.build().map_err(|e| ResolverError(e.to_string()))?;
        Ok(Resolver { inner })
    }

    /// Wraps a resolver configured elsewhere (shared with SPF/DKIM checks).
    pub fn from_hickory(inner: TokioResolver) -> Resolver {
        Resolver { inner }
    }

    /// The hickory resolver underneath, for the node's other lookups
    /// (reverse DNS, SPF, DKIM, DMARC, DNS lists), which then share its
    /// cache.
    pub fn hickory(&self) -> &TokioResolver {
        &self.inner
    }

    /// The hosts that receive mail for `domain`, best first: the MX hosts
    /// by preference (equal preferences in random order, RFC 5321 5.1),
    /// each with its addresses; without MX records, the domain itself. MX
    /// hosts that do not resolve are left out; when none resolves, the
    /// error of the last one. An address literal (`[192.0.2.1]`,
    /// `[IPv6:2001:db8::1]`) is that address.
    pub async fn mail_hosts(&self, domain: &str) -> Result<Vec<MailHost>, DestinationError> {
        if let Some(ip) = address_literal(domain) {
            return Ok(vec![MailHost {
                name: ip.to_string(),
                addresses: vec![ip],
            }]);
        }
        let fqdn = fqdn(domain)?;
        let started = std::time::Instant::now();
        let answer = self.inner.lookup(fqdn.as_str(), RecordType::MX).await;
        timed(RecordType::MX, started);
        let lookup = match answer {
            Ok(lookup) => lookup,
            Err(err) if err.is_nx_domain() => {
                return Err(DestinationError::NoDomain {
                    name: display_name(domain),
                    rtype: "MX",
                });
            }
            Err(err) if err.is_no_records_found() => {
                // No MX: the domain is its own mail host (implicit MX).
                let addresses = self.host_addresses(domain).await.map_err(|err| match err {
                    DestinationError::NotFound { name, rtype } => {
                        DestinationError::NoDomain { name, rtype }
                    }
                    other => other,
                })?;
                return Ok(vec![MailHost {
                    name: display_name(domain),
                    addresses,
                }]);
            }
            Err(err) => return Err(try_again(domain, "MX", &err)),
        };
        let mut mx: Vec<(u16, String)> = Vec::new();
        let mut null_mx = false;
        for record in lookup.answers() {
            if let RData::MX(record) = &record.data {
                if record.exchange.is_root() {
                    null_mx = true;
                } else {
                    let name = display_name(&record.exchange.to_ascii());
                    if !mx.iter().any(|(_, known)| *known == name) {
                        mx.push((record.preference, name));
                    }
                }
            }
        }
        if mx.is_empty() {
            return Err(if null_mx {
                DestinationError::NullMx {
                    domain: display_name(domain),
                }
            } else {
                // An answer without MX records (only a CNAME chain).
                DestinationError::NotFound {
                    name: display_name(domain),
                    rtype: "MX",
                }
            });
        }
        order_by_preference(&mut mx);

        let mut hosts = Vec::new();
        let mut last_error = None;
        let mut temporary = None;
        for (_, name) in mx {
            match self.host_addresses(&name).await {
                Ok(addresses) => hosts.push(MailHost { name, addresses }),
                Err(err) => {
                    if !err.is_permanent() {
                        temporary = Some(err.clone());
                    }
                    last_error = Some(err);
                }
            }
        }
        if hosts.is_empty() {
            // One MX host that may come back is worth a later retry.
            return Err(temporary
                .or(last_error)
                .unwrap_or(DestinationError::NotFound {
                    name: display_name(domain),
                    rtype: "MX",
                }));
        }
        Ok(hosts)
    }

    /// The addresses of one host name (A, then AAAA), or the address
    /// itself when `host` is an IP address.
    pub async fn host_addresses(&self, host: &str) -> Result<Vec<IpAddr>, DestinationError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let fqdn = fqdn(host)?;
        let timed_lookup = |rtype: RecordType| {
            let fqdn = fqdn.clone();
            async move {
                let started = std::time::Instant::now();
                let answer = self.inner.lookup(fqdn.as_str(), rtype).await;
                timed(rtype, started);
                answer
            }
        };
        let (v4, v6) = tokio::join!(timed_lookup(RecordType::A), timed_lookup(RecordType::AAAA));
        let mut addresses = Vec::new();
        let mut error = None;
        for (result, rtype) in [(v4, "A"), (v6, "AAAA")] {
            match result {
                Ok(lookup) => {
                    addresses.extend(lookup.answers().iter().filter_map(
                        |record| match &record.data {
                            RData::A(a) => Some(IpAddr::V4(a.0)),
                            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                            _ => None,
                        },
                    ))
                }
                Err(err) if err.is_no_records_found() => {}
                Err(err) => {
                    error.get_or_insert_with(|| try_again(host, rtype, &err));
                }
            }
        }
        addresses.dedup();
        if !addresses.is_empty() {
            return Ok(addresses);
        }
        Err(error.unwrap_or(DestinationError::NotFound {
            name: display_name(host),
            rtype: "A",
        }))
    }
}

/// Sorts by preference and shuffles each run of equal preferences.
fn order_by_preference(mx: &mut [(u16, String)]) {
    mx.sort_by_key(|(preference, _)| *preference);
    let mut rng = rand::rng();
    let mut start = 0;
    while start < mx.len() {
        let end = start
            + mx[start..]
                .iter()
                .take_while(|(p, _)| *p == mx[start].0)
                .count();
        mx[start..end].shuffle(&mut rng);
        start = end;
    }
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 4.1.3).
fn address_literal(domain: &str) -> Option<IpAddr> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("ipv6:") => inner[5..].parse().ok(),
        _ => inner.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// The name with a final dot, so no search domain is ever appended.
fn fqdn(name: &str) -> Result<String, DestinationError> {
    let trimmed = name.trim().trim_end_matches('.');
    if trimmed.is_empty() || trimmed.contains(['[', ']', ' ', '@']) {
        return Err(DestinationError::BadName {
            name: name.to_owned(),
        });
    }
    Ok(format!("{trimmed}."))
}

fn display_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn try_again(name: &str, rtype: &'static str, err: &NetError) -> DestinationError {
    DestinationError::TryAgain {
        name: display_name(name),
        rtype,
        detail: err.to_string(),
    }
}

/// Counts a lookup's time in the DNS latency histogram (`/metrics`).
fn timed(rtype: RecordType, started: std::time::Instant) {
    metrics::histogram!("havre_dns_latency_seconds", "type" => rtype.to_string())
        .record(started.elapsed());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_preferences_are_shuffled_but_stay_behind_better_ones() {
        let mut seen_first = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut mx = vec![
                (20, "c".to_owned()),
                (10, "a".to_owned()),
                (10, "b".to_owned()),
                (30, "d".to_owned()),
            ];
            order_by_preference(&mut mx);
            let prefs: Vec<u16> = mx.iter().map(|(p, _)| *p).collect();
            assert_eq!(prefs, [10, 10, 20, 30]);
            seen_first.insert(mx[0].1.clone());
        }
        assert_eq!(seen_first.len(), 2, "both 10s should come first sometimes");
    }

    #[test]
    fn address_literals() {
        assert_eq!(address_literal("[192.0.2.1]"), "192.0.2.1".parse().ok());
        assert_eq!(
            address_literal("[IPv6:2001:db8::1]"),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(address_literal("[2001:db8::1]"), None);
        assert_eq!(address_literal("example.org"), None);
    }
}
