//! `check_host()` (RFC 7208 sections 4 to 6): fetch the record, evaluate its
//! mechanisms in order, follow `include:` and `redirect=`, and keep the
//! limits that protect the DNS.
//!
//! Limits, all shared by the includes and redirects of one evaluation:
//! - at most 10 terms that query the DNS (`include`, `a`, `mx`, `ptr`,
//!   `exists`, `redirect`); the 11th is a permerror (4.6.4);
//! - at most 10 MX names per `mx` (more is a permerror), at most the first
//!   10 PTR names per `ptr` or `%{p}` (the others are ignored);
//! - at most 2 void lookups (an answer that is NXDOMAIN or empty); the 3rd
//!   is a permerror. A void lookup is the query of the term itself (the
//!   address query of `a` and `exists`, the MX query of `mx`, the PTR query
//!   of `ptr`); an include's or a redirect's target without a record is a
//!   permerror anyway; the address queries of MX and PTR names and the `exp=` query are not
//!   counted (the latter comes after the result, 4.6.4).
//!
//! A DNS failure (timeout, SERVFAIL) ends the evaluation with temperror,
//! except in `ptr` and `%{p}` (5.5: the name is skipped) and in `exp=`
//! (6.2: no explanation). A target name that cannot be asked (an empty
//! label, a label over 63 bytes, as a macro may produce) is treated as a
//! name that does not exist.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use crate::dns::{Dns, DnsError, query_name, valid_name};
use crate::macros::{MacroString, Place, Vars};
use crate::record::{Mechanism, Qualifier, Record, is_spf};
use crate::{Evaluation, Reason, SpfResult};

/// Terms that query the DNS, per evaluation (4.6.4).
const MAX_DNS_TERMS: u32 = 10;
/// MX or PTR names looked at per mechanism (4.6.4).
const MAX_NAMES: usize = 10;

/// The state of one evaluation: what macros expand to and the counters.
pub(crate) struct Eval<'a, D: ?Sized> {
    pub dns: &'a D,
    /// The client, IPv4-mapped addresses already turned into IPv4.
    pub ip: IpAddr,
    pub sender: &'a str,
    pub local: &'a str,
    pub sender_domain: &'a str,
    pub helo: &'a str,
    pub receiver: &'a str,
    pub now: u64,
    pub void_limit: u32,
    pub dns_terms: u32,
    pub voids: u32,
}

/// What a record's evaluation came to, before the explanation is fetched.
struct Found {
    result: SpfResult,
    mechanism: Option<String>,
    /// The `exp=` of the record whose mechanism matched, with its domain.
    explanation: Option<(String, MacroString)>,
    /// Boxed: a `Found` is also the error of every step, and stays small.
    reason: Option<Box<Reason>>,
}

impl Found {
    fn ended(result: SpfResult, reason: Reason) -> Found {
        Found {
            result,
            mechanism: None,
            explanation: None,
            reason: Some(Box::new(reason)),
        }
    }

    fn none(reason: Reason) -> Found {
        Found::ended(SpfResult::None, reason)
    }

    fn permerror(reason: Reason) -> Found {
        Found::ended(SpfResult::PermError, reason)
    }

    fn temperror(name: &str, rtype: &'static str, detail: String) -> Found {
        Found::ended(
            SpfResult::TempError,
            Reason::Dns {
                name: name.to_owned(),
                rtype,
                detail,
            },
        )
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl<D: Dns + ?Sized> Eval<'_, D> {
    /// The whole of `check_host()` for `domain`, explanation included.
    pub async fn run(&mut self, domain: &str) -> Evaluation {
        let found = self.check(domain.to_owned()).await;
        let explanation = match (&found.result, &found.explanation) {
            (SpfResult::Fail, Some((domain, spec))) => self.explain(domain, spec).await,
            _ => None,
        };
        Evaluation {
            result: found.result,
            mechanism: found.mechanism,
            explanation,
            reason: found.reason.map(|reason| *reason),
        }
    }

    /// `check_host()` without the explanation: for the first domain, and
    /// again for each include and redirect.
    fn check(&mut self, domain: String) -> BoxFuture<'_, Found> {
        Box::pin(async move {
            match self.check_record(&domain).await {
                Ok(found) | Err(found) => found,
            }
        })
    }

    async fn check_record(&mut self, domain: &str) -> Result<Found, Found> {
        // 4.3: a malformed or single-label domain has no policy.
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        if !valid_name(domain) || !domain.contains('.') || domain.starts_with('[') {
            return Err(Found::none(Reason::InvalidDomain(domain.to_owned())));
        }
        let records = match self.dns.txt(domain).await {
            Ok(records) => records,
            Err(DnsError::NxDomain) => {
                return Err(Found::none(Reason::NoSuchDomain(domain.to_owned())));
            }
            Err(DnsError::NoData) => Vec::new(),
            Err(DnsError::TempError(detail)) => {
                return Err(Found::temperror(domain, "TXT", detail));
            }
        };
        // 4.5: other TXT records are none of SPF's business.
        let spf: Vec<&Vec<u8>> = records.iter().filter(|txt| is_spf(txt)).collect();
        let text = match spf.as_slice() {
            [] => return Err(Found::none(Reason::NoRecord(domain.to_owned()))),
            [text] => *text,
            _ => {
                return Err(Found::permerror(Reason::MultipleRecords(domain.to_owned())));
            }
        };
        let record = Record::parse(text).map_err(|error| {
            Found::permerror(Reason::Syntax {
                domain: domain.to_owned(),
                error,
            })
        })?;

        for directive in &record.directives {
            if directive.mechanism.queries_dns() {
                self.count_dns_term()?;
            }
            if self.matches(&directive.mechanism, domain).await? {
                return Ok(Found {
                    result: match directive.qualifier {
                        Qualifier::Pass => SpfResult::Pass,
                        Qualifier::Fail => SpfResult::Fail,
                        Qualifier::SoftFail => SpfResult::SoftFail,
                        Qualifier::Neutral => SpfResult::Neutral,
                    },
                    mechanism: Some(directive.text.clone()),
                    explanation: record
                        .explanation
                        .clone()
                        .map(|spec| (domain.to_owned(), spec)),
                    reason: None,
                });
            }
        }

        if let Some(redirect) = &record.redirect {
            // 6.1: the target's result is this record's, its exp= with it.
            self.count_dns_term()?;
            let target = self.expand(redirect, domain).await;
            let Some(name) = query_name(&target) else {
                return Err(Found::permerror(Reason::RedirectWithoutRecord(target)));
            };
            let found = self.check(name.clone()).await;
            if found.result == SpfResult::None {
                return Err(Found::permerror(Reason::RedirectWithoutRecord(name)));
            }
            return Ok(found);
        }
        // 4.7: as if "?all" ended the record.
        Ok(Found {
            result: SpfResult::Neutral,
            mechanism: None,
            explanation: None,
            reason: None,
        })
    }

    async fn matches(&mut self, mechanism: &Mechanism, domain: &str) -> Result<bool, Found> {
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4 { network, prefix } => {
                Ok(in_network(self.ip, IpAddr::V4(*network), *prefix))
            }
            Mechanism::Ip6 { network, prefix } => {
                Ok(in_network(self.ip, IpAddr::V6(*network), *prefix))
            }
            Mechanism::Include(spec) => {
                let target = self.expand(spec, domain).await;
                let Some(name) = query_name(&target) else {
                    return Err(Found::permerror(Reason::IncludeWithoutRecord(target)));
                };
                // 5.2: only a pass matches; errors end the evaluation.
                let found = self.check(name.clone()).await;
                match found.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError | SpfResult::PermError => Err(found),
                    SpfResult::None => Err(Found::permerror(Reason::IncludeWithoutRecord(name))),
                }
            }
            Mechanism::A { domain: spec, cidr } => {
                let Some(name) = self.target(spec.as_ref(), domain).await else {
                    self.void()?;
                    return Ok(false);
                };
                let addresses = match self.addresses(&name).await {
                    Ok(addresses) => addresses,
                    Err(DnsError::NxDomain | DnsError::NoData) => {
                        self.void()?;
                        return Ok(false);
                    }
                    Err(DnsError::TempError(detail)) => {
                        return Err(Found::temperror(&name, self.address_type(), detail));
                    }
                };
                Ok(addresses
                    .into_iter()
                    .any(|a| in_network(self.ip, a, self.prefix(cidr.v4, cidr.v6))))
            }
            Mechanism::Mx { domain: spec, cidr } => {
                let Some(name) = self.target(spec.as_ref(), domain).await else {
                    self.void()?;
                    return Ok(false);
                };
                let exchanges = match non_empty(self.dns.mx(&name).await) {
                    Ok(names) => names,
                    Err(DnsError::NxDomain | DnsError::NoData) => {
                        self.void()?;
                        return Ok(false);
                    }
                    Err(DnsError::TempError(detail)) => {
                        return Err(Found::temperror(&name, "MX", detail));
                    }
                };
                // The null MX (".") names no host.
                let exchanges: Vec<String> = exchanges
                    .iter()
                    .filter_map(|x| {
                        let x = x.strip_suffix('.').unwrap_or(x);
                        (!x.is_empty()).then(|| x.to_owned())
                    })
                    .collect();
                if exchanges.len() > MAX_NAMES {
                    return Err(Found::permerror(Reason::TooManyMx(name)));
                }
                let prefix = self.prefix(cidr.v4, cidr.v6);
                for exchange in exchanges {
                    let Some(host) = query_name(&exchange) else {
                        continue;
                    };
                    match self.addresses(&host).await {
                        Ok(addresses) => {
                            if addresses
                                .into_iter()
                                .any(|a| in_network(self.ip, a, prefix))
                            {
                                return Ok(true);
                            }
                        }
                        Err(DnsError::NxDomain | DnsError::NoData) => {}
                        Err(DnsError::TempError(detail)) => {
                            return Err(Found::temperror(&host, self.address_type(), detail));
                        }
                    }
                }
                Ok(false)
            }
            Mechanism::Ptr(spec) => {
                let Some(target) = self.target(spec.as_ref(), domain).await else {
                    self.void()?;
                    return Ok(false);
                };
                let names = match non_empty(self.dns.ptr(self.ip).await) {
                    Ok(names) => names,
                    Err(DnsError::NxDomain | DnsError::NoData) => {
                        self.void()?;
                        return Ok(false);
                    }
                    // 5.5: a DNS error in the PTR lookup is no match.
                    Err(DnsError::TempError(_)) => return Ok(false),
                };
                for name in names.iter().take(MAX_NAMES) {
                    let name = name.strip_suffix('.').unwrap_or(name);
                    if is_within(name, &target) && self.confirms(name).await {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Mechanism::Exists(spec) => {
                let target = self.expand(spec, domain).await;
                let Some(name) = query_name(&target) else {
                    self.void()?;
                    return Ok(false);
                };
                // 5.7: an A query whatever the client's family.
                match non_empty(self.dns.a(&name).await) {
                    Ok(_) => Ok(true),
                    Err(DnsError::NxDomain | DnsError::NoData) => {
                        self.void()?;
                        Ok(false)
                    }
                    Err(DnsError::TempError(detail)) => Err(Found::temperror(&name, "A", detail)),
                }
            }
        }
    }

    /// The name a mechanism looks at: its domain-spec expanded, or the
    /// current domain; `None` when it cannot be asked.
    async fn target(&mut self, spec: Option<&MacroString>, domain: &str) -> Option<String> {
        match spec {
            Some(spec) => {
                let expanded = self.expand(spec, domain).await;
                query_name(&expanded)
            }
            None => Some(domain.to_owned()),
        }
    }

    async fn expand(&mut self, spec: &MacroString, domain: &str) -> String {
        let validated = if spec.uses_validated_name() {
            self.validated_name(domain).await
        } else {
            String::new()
        };
        spec.expand(&self.vars(domain, &validated))
    }

    fn vars<'v>(&'v self, domain: &'v str, validated: &'v str) -> Vars<'v> {
        Vars {
            sender: self.sender,
            local: self.local,
            sender_domain: self.sender_domain,
            domain,
            ip: self.ip,
            helo: self.helo,
            receiver: self.receiver,
            validated,
            now: self.now,
        }
    }

    /// `%{p}` (7.3): a name of the client's PTR records whose addresses
    /// include the client; `domain` itself, else one of its subdomains,
    /// else any; "unknown" when none is (DNS errors included).
    async fn validated_name(&mut self, domain: &str) -> String {
        let Ok(names) = self.dns.ptr(self.ip).await else {
            return "unknown".to_owned();
        };
        let mut validated = Vec::new();
        for name in names.iter().take(MAX_NAMES) {
            let name = name.strip_suffix('.').unwrap_or(name);
            if self.confirms(name).await {
                validated.push(name.to_owned());
            }
        }
        let exact = validated.iter().find(|n| n.eq_ignore_ascii_case(domain));
        let within = || validated.iter().find(|n| is_within(n, domain));
        exact
            .or_else(within)
            .or(validated.first())
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// Whether `name`'s addresses include the client (the forward half of
    /// a PTR validation); a DNS error skips the name (5.5).
    async fn confirms(&self, name: &str) -> bool {
        let Some(name) = query_name(name) else {
            return false;
        };
        match self.addresses(&name).await {
            Ok(addresses) => addresses.contains(&self.ip),
            Err(_) => false,
        }
    }

    /// The A or AAAA records of `name`, as the client's family asks.
    async fn addresses(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        match self.ip {
            IpAddr::V4(_) => {
                non_empty(self.dns.a(name).await).map(|v| v.into_iter().map(IpAddr::V4).collect())
            }
            IpAddr::V6(_) => non_empty(self.dns.aaaa(name).await)
                .map(|v| v.into_iter().map(IpAddr::V6).collect()),
        }
    }

    fn address_type(&self) -> &'static str {
        if self.ip.is_ipv4() { "A" } else { "AAAA" }
    }

    fn prefix(&self, v4: u8, v6: u8) -> u8 {
        if self.ip.is_ipv4() { v4 } else { v6 }
    }

    fn count_dns_term(&mut self) -> Result<(), Found> {
        self.dns_terms += 1;
        if self.dns_terms > MAX_DNS_TERMS {
            return Err(Found::permerror(Reason::TooManyLookups));
        }
        Ok(())
    }

    fn void(&mut self) -> Result<(), Found> {
        self.voids += 1;
        if self.voids > self.void_limit {
            return Err(Found::permerror(Reason::TooManyVoidLookups(
                self.void_limit,
            )));
        }
        Ok(())
    }

    /// 6.2: the explanation of a fail, or `None` when anything is wrong
    /// with it (no name, DNS error, not exactly one TXT record, a syntax
    /// error or a byte outside printable ASCII in the text).
    async fn explain(&mut self, domain: &str, spec: &MacroString) -> Option<String> {
        let target = self.expand(spec, domain).await;
        let name = query_name(&target)?;
        let records = self.dns.txt(&name).await.ok()?;
        let [text] = records.as_slice() else {
            return None;
        };
        let text = MacroString::parse(text, Place::Explanation).ok()?;
        let validated = if text.uses_validated_name() {
            self.validated_name(domain).await
        } else {
            String::new()
        };
        Some(text.expand(&self.vars(domain, &validated)))
    }
}

/// An empty answer is NODATA.
fn non_empty<T>(answer: Result<Vec<T>, DnsError>) -> Result<Vec<T>, DnsError> {
    match answer {
        Ok(v) if v.is_empty() => Err(DnsError::NoData),
        other => other,
    }
}

/// `name` is `domain` or ends with "." and `domain`, in any case.
fn is_within(name: &str, domain: &str) -> bool {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let (n, d) = (name.as_bytes(), domain.as_bytes());
    n.len() >= d.len()
        && n[n.len() - d.len()..].eq_ignore_ascii_case(d)
        && (n.len() == d.len() || n[n.len() - d.len() - 1] == b'.')
}

/// Whether `ip` is in `network/prefix`; never across families.
pub(crate) fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_of_every_length() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_network(ip("1.2.3.4"), ip("9.9.9.9"), 0));
        assert!(in_network(ip("1.2.3.4"), ip("1.2.3.4"), 32));
        assert!(!in_network(ip("1.2.3.5"), ip("1.2.3.4"), 32));
        assert!(in_network(ip("1.2.3.5"), ip("1.2.3.4"), 24));
        assert!(!in_network(ip("1.2.4.5"), ip("1.2.3.4"), 24));
        assert!(in_network(
            ip("cafe:babe:8000::"),
            ip("cafe:babe:8000::"),
            33
        ));
        assert!(!in_network(ip("cafe:babe::"), ip("cafe:babe:8000::"), 33));
        assert!(in_network(ip("2001:db8::1"), ip("::"), 0));
        assert!(!in_network(ip("1.2.3.4"), ip("::"), 0));
        assert!(!in_network(ip("::1"), ip("0.0.0.0"), 0));
    }

    #[test]
    fn names_within_a_domain() {
        assert!(is_within("mail.Example.com", "example.COM"));
        assert!(is_within("example.com", "example.com."));
        assert!(!is_within("badexample.com", "example.com"));
        assert!(!is_within("com", "example.com"));
    }
}
