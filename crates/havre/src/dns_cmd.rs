//! `havre dns records DOMAIN`: what a local domain publishes in the DNS so
//! that its mail arrives, and what it sends is accepted (MX, SPF, DKIM,
//! DMARC, MTA-STS, TLS-RPT, CAA), as zone-file lines to paste.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use havre_dkim::KeyInfo;

use crate::cli::DnsCommand;
use crate::directory_cmd::store;
use crate::dkim_cmd::local_domain;

pub async fn run(explicit: Option<PathBuf>, command: DnsCommand) -> anyhow::Result<()> {
    match command {
        DnsCommand::Records { domain } => {
            let (config, store) = store(explicit).await?;
            let domain = local_domain(&store, &domain).await?;
            let dir = havre_dkim::keys_dir(&config.data_dir());
            let keys = havre_dkim::keys(&dir, &domain)?;
            print!(
                "{}",
                records(&Records {
                    domain: &domain,
                    hostname: &config.config.server.hostname,
                    keys: &keys,
                    signing: config.config.dkim.sign,
                    now: Utc::now(),
                })
            );
            Ok(())
        }
    }
}

struct Records<'a> {
    domain: &'a str,
    /// server.hostname: the MX target.
    hostname: &'a str,
    /// The domain's DKIM keys, oldest first.
    keys: &'a [KeyInfo],
    /// dkim.sign
    signing: bool,
    now: DateTime<Utc>,
}

/// The zone-file text. Names are absolute, so it can be pasted into any zone
/// file or typed into a DNS host's form; `;` starts a comment.
fn records(r: &Records<'_>) -> String {
    let Records {
        domain, hostname, ..
    } = *r;
    let hostname = hostname.trim_end_matches('.');
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    line(&format!(
        "; DNS records for {domain} (havre dns records, {}).",
        r.now.format("%Y-%m-%d %H:%M UTC")
    ));
    line("; Names are absolute (they end with a dot); the zone's default TTL applies.");
    line("");

    line(&format!(
        "; Mail for {domain} comes to this node. {hostname} needs an A (and AAAA) record, and the"
    ));
    line(&format!(
        "; reverse DNS (PTR) of those addresses should give {hostname} back."
    ));
    if !hostname.contains('.') {
        line(&format!(
            "; WARNING: server.hostname is {hostname:?}, not a public name: \
             havre config set server.hostname mail.{domain}"
        ));
    }
    line(&format!("{domain}. IN MX 10 {hostname}."));
    line("");

    line(
        "; SPF: the MX hosts send the domain's mail. \"~all\" (softfail) rather than \"-all\": some",
    );
    line(
        "; receivers reject an SPF fail before looking at DKIM, losing forwarded mail that DKIM would",
    );
    line(
        "; pass (RFC 7489 10.1); DMARC below enforces. List other senders (ip4:, include:) before ~all.",
    );
    line(&format!("{domain}. IN TXT \"v=spf1 mx ~all\""));
    line("");

    if r.keys.is_empty() {
        line(&format!(
            "; DKIM: {domain} has no key; create one with: havre dkim generate {domain}"
        ));
    } else {
        line("; DKIM: one record per key; the newest key of each algorithm signs.");
        if !r.signing {
            line("; (dkim.sign is false: nothing is signed until it is true)");
        }
    }
    let active = havre_dkim::active_keys(r.keys);
    for key in r.keys {
        let role = if active.contains(&key) {
            "signs"
        } else {
            "older: keep it published a week after it stopped signing"
        };
        line(&format!(
            "; selector {}, {}, created {} ({role})",
            key.selector,
            key.algorithm,
            key.created.format("%Y-%m-%d")
        ));
        line(&key.zone_record());
    }
    line("");

    line(
        "; DMARC: a starting point. Make sure postmaster@ receives mail (user or alias), read the daily",
    );
    line("; aggregate reports, then move to p=reject once only your own servers show up.");
    line(&format!(
        "_dmarc.{domain}. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}\""
    ));
    line("");

    line(
        "; MTA-STS (RFC 8461): senders insist on TLS with a valid certificate towards the MX. The id",
    );
    line(
        "; is today's date: keep the one you published, and change it whenever the policy changes.",
    );
    line(&format!(
        "_mta-sts.{domain}. IN TXT \"v=STSv1; id={}\"",
        r.now.format("%Y%m%d%H%M%S")
    ));
    line(&format!(
        "; The policy is served at https://mta-sts.{domain}/.well-known/mta-sts.txt (mta-sts.{domain}"
    ));
    line("; needs an A/AAAA record and a certificate valid for that name), with this content:");
    line(";   version: STSv1");
    line(";   mode: testing");
    line(&format!(";   mx: {hostname}"));
    line(";   max_age: 86400");
    line(
        "; Switch to mode: enforce (and max_age: 604800) once the TLS reports below show no failures.",
    );
    line("");

    line("; TLS-RPT (RFC 8460): daily reports from senders that could not set up TLS to the MX.");
    line(&format!(
        "_smtp._tls.{domain}. IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@{domain}\""
    ));
    line("");

    line(&format!(
        "; CAA (optional): only the CAs listed may issue certificates for {domain} and its names."
    ));
    line(&format!("; {domain}. IN CAA 0 issue \"letsencrypt.org\""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_is_there_and_each_line_is_a_comment_a_record_or_empty() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = records(&Records {
            domain: "example.org",
            hostname: "mail.example.org.",
            keys: &[],
            signing: true,
            now,
        });
        for expected in [
            "example.org. IN MX 10 mail.example.org.\n",
            "example.org. IN TXT \"v=spf1 mx ~all\"\n",
            "; DKIM: example.org has no key; create one with: havre dkim generate example.org\n",
            "_dmarc.example.org. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org\"\n",
            "_mta-sts.example.org. IN TXT \"v=STSv1; id=20261123030405\"\n",
            ";   mx: mail.example.org\n",
            "_smtp._tls.example.org. IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.org\"\n",
            "; example.org. IN CAA 0 issue \"letsencrypt.org\"\n",
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }
        assert!(!text.contains("WARNING"));
        for l in text.lines() {
            assert!(
                l.is_empty() || l.starts_with(';') || l.contains(". IN "),
                "{l}"
            );
        }
        let local = records(&Records {
            domain: "example.org",
            hostname: "localhost",
            keys: &[],
            signing: true,
            now,
        });
        assert!(
            local.contains("; WARNING: server.hostname is \"localhost\""),
            "{local}"
        );
    }
}
