//! SPF, the Sender Policy Framework (RFC 7208): whether a client address may
//! send mail for a domain, from the domain's `v=spf1` TXT record.
//!
//! [`Checker::check_host`] is the RFC's `check_host(<ip>, <domain>,
//! <sender>)`; [`Checker::check_mail_from`] picks the identity an SMTP
//! server checks (the MAIL FROM domain, or `postmaster@<HELO>` for the null
//! sender, RFC 7208 2.4) and [`Checker::check_helo`] checks the HELO name
//! (2.3). The [`Verdict`] they return builds the `Received-SPF:` header
//! (9.1) and the `spf=` part of `Authentication-Results:` (RFC 8601).
//!
//! What this crate promises, beyond the happy path:
//! - a record is parsed whole before it is evaluated, and any syntax error
//!   is a permerror with its reason ([`RecordError`]): a CIDR length out of
//!   range or with a leading zero, an IPv4 address that is not a strict
//!   dotted quad, a control or non-ASCII byte, an unknown mechanism, a
//!   domain without a valid top label, a malformed or misplaced macro;
//! - the limits of 4.6.4: 10 DNS-querying terms, 10 MX names per `mx`, the
//!   first 10 PTR names, 2 void lookups; and an overall time limit (20 s by
//!   default) after which the result is temperror;
//! - an IPv4-mapped IPv6 client (`::ffff:192.0.2.1`) is an IPv4 client
//!   (section 5): `ip6`, and the IPv6 lengths of `a` and `mx`, never match it;
//! - a DNS timeout or server failure is temperror, a domain that does not
//!   exist or has no record is none, more than one record is permerror.
//!
//! The only I/O is through the [`Dns`] trait: [`HickoryDns`] asks a
//! hickory resolver (whose cache honours TTLs); the `testing` feature adds
//! an in-memory DNS built from a table.
//!
//! What it refuses: the SPF RR type (99) is never asked (7208 3.1), and
//! `spf2.0` (Sender ID) records are not SPF records.

#![forbid(unsafe_code)]

mod dns;
mod eval;
mod header;
#[cfg(feature = "hickory")]
mod hickory;
mod macros;
mod record;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

pub use dns::{Dns, DnsError, Lookup, reverse_name};
#[cfg(feature = "hickory")]
pub use hickory::HickoryDns;
pub use macros::{CharName, MacroError, MacroString};
pub use record::{
    Directive, DualCidr, Escaped, Mechanism, Qualifier, Record, RecordError, TermError, is_spf,
};

/// The results of RFC 7208 section 2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError,
    PermError,
}

impl SpfResult {
    /// The lower-case name used in `Received-SPF:` and
    /// `Authentication-Results:`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the result is none, permerror or temperror: for logs, the
/// `problem=` of `Received-SPF:` and `havre check`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("{0:?} is not a valid domain name")]
    InvalidDomain(String),
    #[error("{0} does not exist")]
    NoSuchDomain(String),
    #[error("{0} has no SPF record")]
    NoRecord(String),
    #[error("{0} has more than one SPF record")]
    MultipleRecords(String),
    #[error("the SPF record of {domain} is invalid: {error}")]
    Syntax { domain: String, error: RecordError },
    #[error("more than 10 DNS-querying mechanisms and redirects")]
    TooManyLookups,
    #[error("more than {0} lookups found nothing (void lookups)")]
    TooManyVoidLookups(u32),
    #[error("{0} has more than 10 MX records")]
    TooManyMx(String),
    #[error("include:{0} names no SPF record")]
    IncludeWithoutRecord(String),
    #[error("redirect={0} names no SPF record")]
    RedirectWithoutRecord(String),
    #[error("DNS lookup of {name} {rtype} failed: {detail}")]
    Dns {
        name: String,
        rtype: &'static str,
        detail: String,
    },
    #[error("the evaluation took longer than {0:?}")]
    TimeLimit(Duration),
}

/// The outcome of `check_host()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub result: SpfResult,
    /// The term that decided, as the record wrote it (in the first record,
    /// or the one a redirect led to); `None` when none matched.
    pub mechanism: Option<String>,
    /// For a fail: the domain's `exp=` text, expanded (6.2); `None` when
    /// it has none or it could not be used.
    pub explanation: Option<String>,
    /// Why, for none, permerror and temperror.
    pub reason: Option<Reason>,
}

/// Which identity was checked (RFC 7208 2.3, 2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    MailFrom,
    Helo,
}

impl Identity {
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::MailFrom => "mailfrom",
            Identity::Helo => "helo",
        }
    }
}

/// An SMTP server's SPF check: the evaluation and the facts it was made
/// of, from which the headers are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub identity: Identity,
    pub client_ip: IpAddr,
    pub helo: String,
    /// The MAIL FROM address as received (empty for the null sender and
    /// for a HELO check).
    pub envelope_from: String,
    /// `<sender>` as evaluated: `postmaster@` the HELO name for the HELO
    /// identity, a local part `postmaster` added when there was none.
    pub sender: String,
    /// `<domain>`: where the evaluation started.
    pub domain: String,
    /// The host that checked (`receiver=` and `%{r}`).
    pub receiver: String,
    pub evaluation: Evaluation,
}

impl Verdict {
    pub fn result(&self) -> SpfResult {
        self.evaluation.result
    }
}

/// Evaluates SPF through a [`Dns`].
#[derive(Debug, Clone)]
pub struct Checker<D> {
    dns: D,
    receiver: String,
    time_limit: Duration,
    void_limit: u32,
}

impl<D: Dns> Checker<D> {
    /// A checker with the RFC's defaults: 2 void lookups, 20 s in all, and
    /// "unknown" as the receiving host's name.
    pub fn new(dns: D) -> Checker<D> {
        Checker {
            dns,
            receiver: "unknown".to_owned(),
            time_limit: Duration::from_secs(20),
            void_limit: 2,
        }
    }

    /// The name of this host, for `%{r}` and `receiver=`.
    pub fn with_receiver(mut self, receiver: impl Into<String>) -> Checker<D> {
        self.receiver = receiver.into();
        self
    }

    /// The time one evaluation may take before it is a temperror (4.6.4:
    /// "at least 20 seconds" is recommended).
    pub fn with_time_limit(mut self, limit: Duration) -> Checker<D> {
        self.time_limit = limit;
        self
    }

    /// The number of void lookups allowed (4.6.4 recommends 2).
    pub fn with_void_limit(mut self, limit: u32) -> Checker<D> {
        self.void_limit = limit;
        self
    }

    pub fn dns(&self) -> &D {
        &self.dns
    }

    /// RFC 7208 `check_host()`: may `ip` send for `domain`? `sender` is
    /// the MAIL FROM address (or `postmaster@<helo>`), `helo` the HELO name
    /// (for `%{h}`).
    pub async fn check_host(
        &self,
        ip: IpAddr,
        domain: &str,
        sender: &str,
        helo: &str,
    ) -> Evaluation {
        let (local, sender_domain) = split_sender(sender);
        let sender = format!("{local}@{sender_domain}");
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut eval = eval::Eval {
            dns: &self.dns,
            ip: ip.to_canonical(),
            sender: &sender,
            local,
            sender_domain,
            helo,
            receiver: &self.receiver,
            now,
            void_limit: self.void_limit,
            dns_terms: 0,
            voids: 0,
        };
        match tokio::time::timeout(self.time_limit, eval.run(domain)).await {
            Ok(evaluation) => evaluation,
            Err(_) => Evaluation {
                result: SpfResult::TempError,
                mechanism: None,
                explanation: None,
                reason: Some(Reason::TimeLimit(self.time_limit)),
            },
        }
    }

    /// The check of an SMTP transaction: the MAIL FROM identity, or the
    /// HELO identity when MAIL FROM is the null sender (2.4). A domain in
    /// U-labels (SMTPUTF8) is checked as its A-label.
    pub async fn check_mail_from(&self, ip: IpAddr, mail_from: &str, helo: &str) -> Verdict {
        if mail_from.is_empty() {
            return self.check_helo(ip, helo).await;
        }
        let (local, domain) = split_sender(mail_from);
        let domain = a_label(domain);
        let sender = format!("{local}@{domain}");
        let evaluation = self.check_host(ip, &domain, &sender, helo).await;
        Verdict {
            identity: Identity::MailFrom,
            client_ip: ip.to_canonical(),
            helo: helo.to_owned(),
            envelope_from: mail_from.to_owned(),
            sender,
            domain,
            receiver: self.receiver.clone(),
            evaluation,
        }
    }

    /// The HELO identity: `check_host(ip, helo, "postmaster@" helo)` (2.3).
    pub async fn check_helo(&self, ip: IpAddr, helo: &str) -> Verdict {
        let domain = a_label(helo);
        let sender = format!("postmaster@{domain}");
        let evaluation = self.check_host(ip, &domain, &sender, helo).await;
        Verdict {
            identity: Identity::Helo,
            client_ip: ip.to_canonical(),
            helo: helo.to_owned(),
            envelope_from: String::new(),
            sender,
            domain,
            receiver: self.receiver.clone(),
            evaluation,
        }
    }
}

/// A domain with non-ASCII labels as its A-label form (RFC 8616 4: SPF
/// looks up what DNS holds); an ASCII domain, or one IDNA refuses (then
/// invalid for SPF, so none), as it is.
fn a_label(domain: &str) -> String {
    if domain.is_ascii() {
        return domain.to_owned();
    }
    idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_owned())
}

/// `local@domain` at the last '@'; "postmaster" for a missing local part
/// (4.3), and the whole string as the domain when there is no '@'.
fn split_sender(sender: &str) -> (&str, &str) {
    match sender.rsplit_once('@') {
        Some(("", domain)) => ("postmaster", domain),
        Some((local, domain)) => (local, domain),
        None => ("postmaster", sender),
    }
}
