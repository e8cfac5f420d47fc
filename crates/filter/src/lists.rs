//! Symbols of DNS lists: the client's address in `mx.dnsbl`, the sender
//! domain, HELO name and client name in `mx.rhsbl` (the lookups of
//! `havre-dnsbl`, which refuses at RCPT from its threshold; here a listing
//! below it still weighs), and the hosts of the message's URLs in
//! `spam.uribl`.
//!
//! All lookups of a message run at once through the node's resolver
//! (which caches, so what the RCPT checks asked is not asked again) and
//! stop at `spam.dns_time_limit`: what has not answered by then counts as
//! not listed, and SCAN_LIMIT_DNS says so. At most `spam.uribl_max_hosts`
//! names are looked up in the URI lists. Trusted and authenticated clients
//! are not looked up (their URLs are).

use std::net::IpAddr;
use std::sync::Arc;

use havre_config::DnsblSite;
use havre_content::Content;
use havre_spf::Dns;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::envelope::Envelope;
use crate::score::Found;
use crate::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rbl,
    Rhsbl,
    Uribl,
}

impl Kind {
    fn symbol(self) -> &'static str {
        match self {
            Kind::Rbl => "RBL_LISTED",
            Kind::Rhsbl => "RHSBL_LISTED",
            Kind::Uribl => "URIBL_LISTED",
        }
    }
}

/// The list symbols of a message.
pub async fn symbols(
    dns: &Arc<dyn Dns>,
    settings: &Settings,
    envelope: &Envelope,
    content: &Content,
) -> Vec<Found> {
    let deadline = Instant::now() + settings.dns_time_limit;
    let mut lookups = JoinSet::new();
    let mut spawn = |kind: Kind, shown: String, query: String, sites: &[DnsblSite]| {
        let (dns, sites) = (dns.clone(), sites.to_vec());
        lookups.spawn(async move {
            let (score, zone) = havre_dnsbl::lookup(&dns, &sites, &query).await;
            (kind, shown, score, zone)
        });
    };
    let trusted = envelope.authenticated
        || envelope
            .client_ip
            .is_some_and(|ip| settings.trusted.iter().any(|n| n.contains(&ip)));
    if !trusted {
        if let Some(ip) = envelope.client_ip
            && !settings.dnsbl.is_empty()
        {
            spawn(
                Kind::Rbl,
                ip.to_string(),
                havre_dnsbl::reversed(ip),
                &settings.dnsbl,
            );
        }
        if !settings.rhsbl.is_empty() {
            let sender_domain = envelope
                .sender
                .as_deref()
                .and_then(|s| s.rsplit_once('@'))
                .map(|(_, d)| d.to_owned());
            let mut seen: Vec<String> = Vec::new();
            for name in [
                sender_domain,
                envelope.helo.clone(),
                envelope.client_name.clone(),
            ]
            .into_iter()
            .flatten()
            .filter_map(|n| havre_dnsbl::domain(&n))
            {
                if !seen.contains(&name) {
                    spawn(Kind::Rhsbl, name.clone(), name.clone(), &settings.rhsbl);
                    seen.push(name);
                }
            }
        }
    }
    if !settings.uribl.is_empty() {
        for name in uribl_names(&content.url_hosts, settings.uribl_max_hosts) {
            spawn(Kind::Uribl, name.clone(), name, &settings.uribl);
        }
    }

    // (kind, the strongest score, the names and lists that scored)
    let mut results: Vec<(Kind, i32, Vec<String>)> = Vec::new();
    let mut late = 0;
    loop {
        match tokio::time::timeout_at(deadline, lookups.join_next()).await {
            Ok(None) => break,
            Ok(Some(Ok((kind, shown, score, zone)))) => {
                if score == 0 {
                    continue;
                }
                let what = match zone {
                    Some(zone) => format!("{shown} in {zone}"),
                    None => shown,
                };
                match results.iter_mut().find(|(k, _, _)| *k == kind) {
                    Some((_, best, names)) => {
                        if stronger(score, *best) {
                            *best = score;
                        }
                        names.push(what);
                    }
                    None => results.push((kind, score, vec![what])),
                }
            }
            Ok(Some(Err(_))) => {}
            Err(_) => {
                late = lookups.len();
                lookups.abort_all();
                break;
            }
        }
    }
    let mut found: Vec<Found> = results
        .into_iter()
        .map(|(kind, score, mut names)| {
            names.sort();
            let mut f = Found::new(kind.symbol()).times(f64::from(score));
            f.options = names;
            f
        })
        .collect();
    found.sort_by_key(|f| f.name);
    if late > 0 {
        tracing::info!(target: "checks", "spam: {late} DNS list lookups did not answer within {:?}: counted as not listed", settings.dns_time_limit);
        found.push(Found::new("SCAN_LIMIT_DNS").with(format!("{late} lookups")));
    }
    found
}

/// A listing weighs by its strongest score: the highest, or for lists
/// that only allow (negative weights) the lowest.
fn stronger(score: i32, than: i32) -> bool {
    if than > 0 {
        score > than
    } else {
        score > 0 || score < than
    }
}

/// The names of `hosts` to look up in URI lists: each host (without
/// `www.`) and its registered domain as far as it can be told without the
/// public suffix list (the last two labels, three under a two-letter
/// country code with a generic second level like `co.uk`); IP addresses
/// are not looked up. At most `max`, in the order of the message.
fn uribl_names(hosts: &[String], max: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for host in hosts {
        if names.len() >= max {
            break;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
            continue;
        }
        let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
        let labels: Vec<&str> = host.split('.').collect();
        let keep = if labels.len() >= 3
            && labels[labels.len() - 1].len() == 2
            && [
                "co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go",
            ]
            .contains(&labels[labels.len() - 2])
        {
            3
        } else {
            2
        };
        let registered = labels[labels.len().saturating_sub(keep)..].join(".");
        for name in [host.clone(), registered] {
            if names.len() < max
                && !names.contains(&name)
                && let Some(name) = havre_dnsbl::domain(&name)
            {
                names.push(name);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use havre_content::{Limits, analyze};
    use havre_spf::testing::{Rr::A, ZoneDns};

    use super::*;

    fn settings() -> Settings {
        Settings {
            dnsbl: vec![
                "bl.example".parse().unwrap(),
                "weak.example*2".parse().unwrap(),
            ],
            rhsbl: vec!["dbl.example".parse().unwrap()],
            uribl: vec!["uribl.example".parse().unwrap()],
            trusted: vec!["10.0.0.0/8".parse().unwrap()],
            ..Settings::default()
        }
    }

    fn dns() -> Arc<dyn Dns> {
        Arc::new(ZoneDns::new(&[
            ("7.2.0.192.bl.example", A("127.0.0.2")),
            ("7.2.0.192.weak.example", A("127.0.0.2")),
            ("spam.example.dbl.example", A("127.0.1.2")),
            ("evil.example.uribl.example", A("127.0.0.2")),
        ]))
    }

    fn envelope(ip: &str) -> Envelope {
        Envelope {
            client_ip: Some(ip.parse().unwrap()),
            helo: Some("client.example".into()),
            sender: Some("a@spam.example".into()),
            ..Envelope::default()
        }
    }

    fn message(urls: &str) -> Content {
        analyze(
            format!("Subject: s\r\n\r\nSee {urls}\r\n").as_bytes(),
            &Limits::default(),
        )
    }

    #[tokio::test]
    async fn the_client_sender_and_url_hosts_are_scored_by_the_weights_of_their_lists() {
        let found = symbols(
            &dns(),
            &settings(),
            &envelope("192.0.2.7"),
            &message("http://www.evil.example/buy and https://fine.example/"),
        )
        .await;
        let got: Vec<(&str, f64, Vec<String>)> = found
            .iter()
            .map(|f| (f.name, f.factor, f.options.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "RBL_LISTED",
                    3.0,
                    vec!["192.0.2.7 in bl.example".to_owned()]
                ),
                (
                    "RHSBL_LISTED",
                    1.0,
                    vec!["spam.example in dbl.example".to_owned()]
                ),
                (
                    "URIBL_LISTED",
                    1.0,
                    vec!["evil.example in uribl.example".to_owned()]
                ),
            ]
        );
    }

    #[tokio::test]
    async fn trusted_clients_are_not_looked_up_but_their_urls_are() {
        let found = symbols(
            &dns(),
            &settings(),
            &envelope("10.1.2.3"),
            &message("http://evil.example/"),
        )
        .await;
        let names: Vec<&str> = found.iter().map(|f| f.name).collect();
        assert_eq!(names, ["URIBL_LISTED"]);
    }

    #[tokio::test]
    async fn lookups_stop_at_the_time_limit_and_say_so() {
        // A name server that never answers: the resolver waits for it.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let resolver = havre_outbound::Resolver::new(&[silent.local_addr().unwrap()]).unwrap();
        let dns: Arc<dyn Dns> = Arc::new(havre_spf::HickoryDns::new(resolver.hickory().clone()));
        let mut s = settings();
        s.dns_time_limit = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let found = symbols(
            &dns,
            &s,
            &envelope("192.0.2.99"),
            &message("http://slow.example/"),
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(2));
        let names: Vec<&str> = found.iter().map(|f| f.name).collect();
        assert_eq!(names, ["SCAN_LIMIT_DNS"]);
        // The client, the sender domain, the HELO name, the URL host.
        assert_eq!(found[0].options, ["4 lookups"]);
    }

    #[test]
    fn url_hosts_are_looked_up_with_their_registered_domain_bounded_in_number() {
        let hosts: Vec<String> = ["www.a.example", "x.y.shop.co.uk", "192.0.2.1", "b.example"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            uribl_names(&hosts, 10),
            ["a.example", "x.y.shop.co.uk", "shop.co.uk", "b.example"]
        );
        assert_eq!(uribl_names(&hosts, 2), ["a.example", "x.y.shop.co.uk"]);
    }
}
