//! DNS lists as checks of the pipeline, at RCPT, as Postfix applies them:
//!
//! - [`Dnsbl`]: the client's address looked up in each `mx.dnsbl` zone
//!   (`7.2.0.192.zen.example` for 192.0.2.7, nibbles for IPv6; RFC 5782).
//!   Each list that lists it adds its weight (postscreen's
//!   `postscreen_dnsbl_sites`); a score reaching the threshold is refused
//!   with Postfix's `reject_rbl_client` reply: `554 5.7.1 Service
//!   unavailable; Client host [192.0.2.7] blocked using zen.example; <the
//!   list's TXT text>`.
//! - [`Rhsbl`]: the sender's domain, the HELO name and the client's
//!   confirmed name looked up in each `mx.rhsbl` zone (`reject_rhsbl_sender`,
//!   `_helo`, `_reverse_client`), each scored the same way: `554 5.7.1
//!   Service unavailable; Sender address [spam.example] blocked using
//!   dbl.example`.
//!
//! A lookup that fails (timeout, SERVFAIL) counts as "not listed" and is
//! logged: a list that is down must not stop mail. The lists' answers are
//! cached by the node's resolver for their TTL, so the RCPTs of one
//! message ask once. Authenticated clients and the trusted networks
//! (`relay.internal_networks`) are not looked up.

#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use havre_checks::{Check, Facts, Stage, Verdict};
use havre_config::DnsblSite;
use havre_spf::{Dns, DnsError};
use ipnet::IpNet;

/// The longest list text put in a reply: a TXT record may be kilobytes.
const MAX_TEXT: usize = 200;

/// What the two checks need from the configuration.
#[derive(Debug, Clone)]
pub struct Lists {
    pub sites: Vec<DnsblSite>,
    /// The score from which a client or domain is refused.
    pub threshold: i32,
    /// Clients never looked up.
    pub trusted: Vec<IpNet>,
}

impl Lists {
    fn skip(&self, facts: &Facts) -> Option<&'static str> {
        let ip = facts.client_ip.to_canonical();
        if facts.sasl_login.is_some() {
            Some("authenticated client")
        } else if self.trusted.iter().any(|n| n.contains(&ip)) {
            Some("trusted network")
        } else {
            None
        }
    }
}

/// Why a name was found listed: the zone named in the reply and its text.
struct Listed {
    score: i32,
    /// The first list with a positive weight that listed the name.
    zone: Option<String>,
    /// `name.zone`, whose TXT record explains the listing.
    query: Option<String>,
}

/// Looks `name` up in every zone of `sites` (`name.zone`), at once.
async fn score(dns: &Arc<dyn Dns>, sites: &[DnsblSite], name: &str) -> Listed {
    // A zone listed several times (different answers, weights) is asked once.
    let mut zones: Vec<&str> = Vec::new();
    for site in sites {
        if !zones.contains(&site.zone.as_str()) {
            zones.push(&site.zone);
        }
    }
    let mut lookups = tokio::task::JoinSet::new();
    for (i, zone) in zones.iter().enumerate() {
        let query = format!("{name}.{zone}");
        let dns = dns.clone();
        lookups.spawn(async move { (i, query.clone(), dns.a(&query).await) });
    }
    let mut answers = vec![Vec::new(); zones.len()];
    let mut queries = vec![String::new(); zones.len()];
    while let Some(joined) = lookups.join_next().await {
        let Ok((i, query, answer)) = joined else {
            continue;
        };
        match answer {
            Ok(addresses) => answers[i] = addresses,
            Err(DnsError::NxDomain | DnsError::NoData) => {}
            Err(DnsError::TempError(detail)) => {
                tracing::warn!(target: "checks", "DNS list lookup of {query} failed ({detail}): counted as not listed");
            }
        }
        queries[i] = query;
    }
    let mut listed = Listed {
        score: 0,
        zone: None,
        query: None,
    };
    for site in sites {
        let Some(i) = zones.iter().position(|z| *z == site.zone) else {
            continue;
        };
        if answers[i].iter().any(|a| site.lists(*a)) {
            listed.score += site.weight;
            if site.weight > 0 && listed.zone.is_none() {
                listed.zone = Some(site.zone.clone());
                listed.query = Some(queries[i].clone());
            }
        } else if let Some(refused) = answers[i]
            .iter()
            .find(|a| a.octets()[..3] == [127, 255, 255])
        {
            tracing::warn!(target: "checks", "DNS list {} refused the query of {} ({refused}): counted as not listed", site.zone, queries[i]);
        }
    }
    listed
}

/// `name` (a [`reversed`] address or a [`domain`]) looked up in every zone
/// of `sites` at once, as the checks do: the sum of the weights of the
/// lists that list it, and the first list with a positive weight that
/// does. The spam filter scores with it.
pub async fn lookup(dns: &Arc<dyn Dns>, sites: &[DnsblSite], name: &str) -> (i32, Option<String>) {
    let listed = score(dns, sites, name).await;
    (listed.score, listed.zone)
}

/// The list's explanation (its TXT record), one line, bounded.
async fn text(dns: &Arc<dyn Dns>, query: &str) -> Option<String> {
    let records = dns.txt(query).await.ok()?;
    let first = records.into_iter().next()?;
    let text: String = String::from_utf8_lossy(&first)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_TEXT)
        .collect();
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Postfix's `default_rbl_reply`: `Service unavailable; <class> [<what>]
/// blocked using <zone>; <text>`.
async fn refusal(dns: &Arc<dyn Dns>, class: &str, what: &str, listed: Listed) -> Verdict {
    let zone = listed.zone.unwrap_or_default();
    let mut reply = format!("Service unavailable; {class} [{what}] blocked using {zone}");
    if let Some(query) = &listed.query
        && let Some(text) = text(dns, query).await
    {
        reply.push_str(&format!("; {text}"));
    }
    Verdict::reject(554, "5.7.1", reply)
        .verbatim()
        .because(format!("{what} listed by {zone} (score {})", listed.score))
}

/// The client address in `mx.dnsbl`.
pub struct Dnsbl {
    lists: Lists,
    dns: Arc<dyn Dns>,
}

impl Dnsbl {
    pub fn new(lists: Lists, dns: Arc<dyn Dns>) -> Dnsbl {
        Dnsbl { lists, dns }
    }
}

/// `7.2.0.192` for 192.0.2.7, the 32 nibbles for IPv6 (RFC 5782 2.1, 2.4).
pub fn reversed(ip: IpAddr) -> String {
    let name = havre_spf::reverse_name(ip.to_canonical());
    name.trim_end_matches(".in-addr.arpa")
        .trim_end_matches(".ip6.arpa")
        .to_owned()
}

#[async_trait]
impl Check for Dnsbl {
    fn name(&self) -> &str {
        "dnsbl"
    }

    fn stages(&self) -> &[Stage] {
        &[Stage::Rcpt]
    }

    async fn check(&self, facts: &Facts) -> Verdict {
        if let Some(why) = self.lists.skip(facts) {
            return Verdict::accept().because(why);
        }
        let ip = facts.client_ip.to_canonical();
        let listed = score(&self.dns, &self.lists.sites, &reversed(ip)).await;
        if listed.score >= self.lists.threshold && listed.zone.is_some() {
            return refusal(&self.dns, "Client host", &ip.to_string(), listed).await;
        }
        Verdict::accept().because(format!("score {}", listed.score))
    }
}

/// The sender's domain, the HELO name and the client's name in `mx.rhsbl`.
pub struct Rhsbl {
    lists: Lists,
    dns: Arc<dyn Dns>,
}

impl Rhsbl {
    pub fn new(lists: Lists, dns: Arc<dyn Dns>) -> Rhsbl {
        Rhsbl { lists, dns }
    }
}

/// A name worth looking up: a domain of at least two valid labels, short
/// enough to carry a zone after it.
pub fn domain(name: &str) -> Option<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let ok = name.len() <= 200
        && name.split('.').count() >= 2
        && name.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(name)
}

#[async_trait]
impl Check for Rhsbl {
    fn name(&self) -> &str {
        "rhsbl"
    }

    fn stages(&self) -> &[Stage] {
        &[Stage::Rcpt]
    }

    async fn check(&self, facts: &Facts) -> Verdict {
        if let Some(why) = self.lists.skip(facts) {
            return Verdict::accept().because(why);
        }
        let candidates = [
            ("Sender address", facts.sender_domain()),
            ("Helo command", facts.helo.clone()),
            ("Client host", facts.client_name.clone()),
        ];
        let mut seen: Vec<String> = Vec::new();
        for (class, name) in candidates {
            let Some(name) = name.as_deref().and_then(domain) else {
                continue;
            };
            if seen.contains(&name) {
                continue;
            }
            let listed = score(&self.dns, &self.lists.sites, &name).await;
            if listed.score >= self.lists.threshold && listed.zone.is_some() {
                return refusal(&self.dns, class, &name, listed).await;
            }
            seen.push(name);
        }
        Verdict::accept()
    }
}

#[cfg(test)]
mod tests {
    use havre_checks::Action;
    use havre_spf::testing::{Rr::*, ZoneDns};

    use super::*;

    fn dns() -> Arc<dyn Dns> {
        Arc::new(ZoneDns::new(&[
            ("7.2.0.192.bl.example", A("127.0.0.2")),
            (
                "7.2.0.192.bl.example",
                Txt("Listed: see https://bl.example/?192.0.2.7\r\nX"),
            ),
            ("8.2.0.192.bl.example", A("127.0.0.10")),
            ("8.2.0.192.weak.example", A("127.0.0.2")),
            ("9.2.0.192.refusing.example", A("127.255.255.254")),
            ("9.2.0.192.down.example", Timeout),
            ("7.2.0.192.allow.example", A("127.0.0.5")),
            ("spam.example.dbl.example", A("127.0.1.2")),
            ("spam.example.dbl.example", Txt(&"x".repeat(5000))),
        ]))
    }

    fn sites(text: &[&str]) -> Vec<DnsblSite> {
        text.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn rcpt(ip: &str) -> Facts {
        let mut f = Facts::new(ip.parse().unwrap());
        f.stage = Stage::Rcpt;
        f.helo = Some("client.example".into());
        f.sender = Some("alice@example.org".into());
        f.recipient = Some("bob@example.edu".into());
        f
    }

    fn dnsbl(list: &[&str], threshold: i32) -> Dnsbl {
        Dnsbl::new(
            Lists {
                sites: sites(list),
                threshold,
                trusted: vec!["10.0.0.0/8".parse().unwrap()],
            },
            dns(),
        )
    }

    #[tokio::test]
    async fn a_listed_client_is_refused_as_postfix_words_it_with_the_lists_text() {
        let f = rcpt("192.0.2.7");
        let v = dnsbl(&["bl.example=127.0.0.[2..11]"], 1).check(&f).await;
        assert_eq!(
            v.action.reply().unwrap().line(&f),
            "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using bl.example; Listed: see https://bl.example/?192.0.2.7  X"
        );
        let unlisted = dnsbl(&["bl.example"], 1).check(&rcpt("192.0.2.50")).await;
        assert_eq!(unlisted.action, Action::Accept);
    }

    #[tokio::test]
    async fn weights_add_up_to_the_threshold_and_allow_lists_subtract() {
        let f = rcpt("192.0.2.8");
        let two = ["bl.example=127.0.0.10", "weak.example"];
        assert_eq!(dnsbl(&two, 3).check(&f).await.action, Action::Accept);
        assert!(matches!(
            dnsbl(&two, 2).check(&f).await.action,
            Action::Reject(_)
        ));
        let patterned = dnsbl(&["bl.example=127.0.0.2*2"], 2).check(&f).await;
        assert_eq!(
            patterned.action,
            Action::Accept,
            "127.0.0.10 is not in the pattern"
        );
        let allowed = ["bl.example", "allow.example*-5"];
        assert_eq!(
            dnsbl(&allowed, 1).check(&rcpt("192.0.2.7")).await.action,
            Action::Accept
        );
    }

    #[tokio::test]
    async fn a_failing_or_refusing_list_counts_as_not_listed() {
        let f = rcpt("192.0.2.9");
        let v = dnsbl(&["refusing.example", "down.example"], 1)
            .check(&f)
            .await;
        assert_eq!(v.action, Action::Accept);
        let mut trusted = rcpt("10.0.0.7");
        assert_eq!(
            dnsbl(&["bl.example"], 1).check(&trusted).await.action,
            Action::Accept
        );
        trusted.client_ip = "192.0.2.7".parse().unwrap();
        trusted.sasl_login = Some("alice@example.org".into());
        assert_eq!(
            dnsbl(&["bl.example"], 1).check(&trusted).await.action,
            Action::Accept
        );
    }

    #[tokio::test]
    async fn a_listed_sender_domain_is_refused_and_a_huge_text_cut_short() {
        let rhsbl = Rhsbl::new(
            Lists {
                sites: sites(&["dbl.example=127.0.1.[2..99]"]),
                threshold: 1,
                trusted: Vec::new(),
            },
            dns(),
        );
        let mut f = rcpt("192.0.2.50");
        f.sender = Some("Bob@Spam.Example".into());
        let v = rhsbl.check(&f).await;
        let line = v.action.reply().unwrap().line(&f);
        assert!(
            line.starts_with("554 5.7.1 Service unavailable; Sender address [spam.example] blocked using dbl.example; xxx"),
            "{line}"
        );
        assert!(line.len() < 300, "{}", line.len());
        f.sender = Some("bob@example.org".into());
        f.helo = Some("spam.example".into());
        let v = rhsbl.check(&f).await;
        assert!(
            v.action
                .reply()
                .unwrap()
                .text
                .contains("Helo command [spam.example]")
        );
        f.helo = Some("[192.0.2.50]".into());
        assert_eq!(rhsbl.check(&f).await.action, Action::Accept);
    }
}
