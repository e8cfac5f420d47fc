//! The forward-confirmed reverse name of an SMTP client (Postfix's
//! `client_name`; RFC 8601's `iprev`): a PTR name of the address whose own
//! A (or AAAA) records lead back to that address.

use std::net::IpAddr;
use std::time::Duration;

use havre_spf::Dns;

/// PTR names tried at most (RFC 7208 4.6.4 sets the same bound for SPF's
/// `ptr`): a reverse zone listing hundreds would cost as many lookups.
const MAX_NAMES: usize = 10;

/// The client's confirmed name, lower-case and without the final dot, or
/// `None` (Postfix's `unknown`): no PTR record, a DNS failure, no name
/// that resolves back to `ip`, or no answer within `limit`.
///
/// A name that is not a valid host name (a PTR may hold any bytes) is
/// skipped: it would go into `Received:` and the logs.
pub async fn confirmed_name(dns: &dyn Dns, ip: IpAddr, limit: Duration) -> Option<String> {
    let ip = ip.to_canonical();
    match tokio::time::timeout(limit, lookup(dns, ip)).await {
        Ok(name) => name,
        Err(_) => {
            tracing::info!(target: "smtp", role = "smtpd", "reverse lookup of {ip} took longer than {limit:?}: client is unknown");
            None
        }
    }
}

async fn lookup(dns: &dyn Dns, ip: IpAddr) -> Option<String> {
    let names = match dns.ptr(ip).await {
        Ok(names) => names,
        Err(havre_spf::DnsError::TempError(detail)) => {
            tracing::info!(target: "smtp", role = "smtpd", "reverse lookup of {ip} failed: {detail}");
            return None;
        }
        Err(_) => return None,
    };
    let mut tried = 0;
    for name in names {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if !valid_hostname(&name) {
            continue;
        }
        tried += 1;
        if tried > MAX_NAMES {
            break;
        }
        let back: Vec<IpAddr> = match ip {
            IpAddr::V4(_) => dns
                .a(&name)
                .await
                .map(|a| a.into_iter().map(IpAddr::V4).collect())
                .unwrap_or_default(),
            IpAddr::V6(_) => dns
                .aaaa(&name)
                .await
                .map(|a| a.into_iter().map(IpAddr::V6).collect())
                .unwrap_or_default(),
        };
        if back.contains(&ip) {
            return Some(name);
        }
        // Postfix's words for the same finding.
        tracing::warn!(target: "smtp", role = "smtpd", "hostname {name} does not resolve to address {ip}");
    }
    None
}

/// Letters, digits and hyphens in labels of 1-63 bytes (no hyphen at
/// either end; `_` too, as Postfix allows), 253 in all; one label will do
/// (`localhost`).
fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use havre_spf::testing::{Rr::*, ZoneDns};

    use super::*;

    const LIMIT: Duration = Duration::from_secs(5);

    fn dns() -> ZoneDns {
        ZoneDns::new(&[
            ("7.2.0.192.in-addr.arpa", Ptr("Mail.Example.org.")),
            ("mail.example.org", A("192.0.2.7")),
            ("8.2.0.192.in-addr.arpa", Ptr("liar.example.org")),
            ("liar.example.org", A("192.0.2.99")),
            ("9.2.0.192.in-addr.arpa", Ptr("bad name\r\n.example.org")),
            ("9.2.0.192.in-addr.arpa", Ptr("second.example.org")),
            ("second.example.org", A("192.0.2.9")),
            ("10.2.0.192.in-addr.arpa", Timeout),
            (
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                Ptr("v6.example.org"),
            ),
            ("v6.example.org", Aaaa("2001:db8::1")),
        ])
    }

    async fn name(ip: &str) -> Option<String> {
        confirmed_name(&dns(), ip.parse().unwrap(), LIMIT).await
    }

    #[tokio::test]
    async fn a_name_whose_address_leads_back_is_the_client_name() {
        assert_eq!(name("192.0.2.7").await.as_deref(), Some("mail.example.org"));
        assert_eq!(
            name("::ffff:192.0.2.7").await.as_deref(),
            Some("mail.example.org")
        );
        assert_eq!(name("2001:db8::1").await.as_deref(), Some("v6.example.org"));
    }

    #[tokio::test]
    async fn an_unconfirmed_missing_or_failing_name_is_unknown() {
        assert_eq!(name("192.0.2.8").await, None, "PTR name points elsewhere");
        assert_eq!(name("192.0.2.50").await, None, "no PTR record");
        assert_eq!(name("192.0.2.10").await, None, "DNS timeout");
    }

    #[tokio::test]
    async fn a_ptr_that_is_no_host_name_is_skipped_for_the_next() {
        assert_eq!(
            name("192.0.2.9").await.as_deref(),
            Some("second.example.org")
        );
    }
}
