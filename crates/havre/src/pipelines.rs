//! The checks pipelines of the SMTP roles, built from the configuration:
//! what runs, in which order, on which resolver and state. Rebuilt at each
//! reload (`live.rs`), so new sessions run the new rules; sessions under
//! way keep the pipeline they began with.
//!
//! mx, in order (each check answers at its own stages):
//! 1. the `[[policy.rules]]` (an `accept` rule spares its mail the rest);
//! 2. `mx.dnsbl` then `mx.rhsbl` (RCPT);
//! 3. SPF (MAIL) when `mx.sender_auth`;
//! 4. greylisting (RCPT) when `greylist.enabled`: after the lists, so a
//!    listed client is refused rather than asked to come back;
//! 5. the attachment rules (end of DATA) when `attachments.enabled`:
//!    before DMARC, so a refused file costs no DNS lookup;
//! 6. DKIM, ARC and DMARC (end of DATA) when `mx.sender_auth`;
//! 7. the antivirus (end of DATA) when `antivirus.clamd` names clamd:
//!    after DMARC, so mail refused for its sender costs no scan;
//! 8. the spam filter (end of DATA) when `spam.enabled`: last, so it
//!    weighs what every check before it found (their headers in
//!    `Facts::added`).
//!
//! submission: the rules (rate limits by the authenticated user's class),
//! then the attachment rules and the antivirus (a user's infected
//! attachment is refused while their client waits), and the spam filter
//! when `spam.scan_submission`. LMTP and local
//! submission run none.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use havre_antivirus::{Antivirus, Endpoint, OnError};
use havre_checks::{Check, Pipeline};
use havre_config::{ClamdAddress, Config, OnScanError};
use havre_outbound::Resolver;
use havre_smtp::{ClientNames, SessionChecks};
use havre_spf::{Dns, HickoryDns};
use havre_state::State;

/// How long a client's reverse name may take before it is `unknown`.
const REVERSE_DNS_LIMIT: Duration = Duration::from_secs(10);

/// How long the end-of-DATA checks (DKIM keys, DMARC records) may take.
const MESSAGE_CHECKS_LIMIT: Duration = Duration::from_secs(20);

/// The pipelines of mx and submission and the naming of clients, over the
/// node's `resolver` and `state`.
pub fn build(
    config: &Config,
    state: Arc<dyn State>,
    resolver: &Resolver,
    bayes: Option<Arc<dyn havre_filter::BayesModel>>,
    events: &havre_events::Events,
) -> Result<SessionChecks, String> {
    let policy = havre_policy::from_config(config, state.clone())?;
    let dns: Arc<dyn Dns> = Arc::new(HickoryDns::new(resolver.hickory().clone()));
    let trusted: Vec<ipnet::IpNet> = config
        .relay
        .internal_networks
        .iter()
        .filter_map(|n| havre_policy::parse_network(n))
        .collect();

    // The session's program names in the log (Postfix's smtpd), so a
    // refusal is counted with the session's own by pflogsumm.
    let mut mx = Pipeline::new("smtpd").with_events(events.clone());
    for rule in &policy.rules {
        mx.push(rule.clone());
    }
    let lists = |sites: &[havre_config::DnsblSite]| havre_dnsbl::Lists {
        sites: sites.to_vec(),
        threshold: config.mx.dnsbl_threshold,
        trusted: trusted.clone(),
    };
    if !config.mx.dnsbl.is_empty() {
        mx.push(Arc::new(havre_dnsbl::Dnsbl::new(
            lists(&config.mx.dnsbl),
            dns.clone(),
        )));
    }
    if !config.mx.rhsbl.is_empty() {
        mx.push(Arc::new(havre_dnsbl::Rhsbl::new(
            lists(&config.mx.rhsbl),
            dns.clone(),
        )));
    }
    let sender_auth = config.mx.sender_auth.then(|| {
        havre_auth::SenderAuth::new(
            havre_auth::AuthSettings {
                authserv_id: config.server.hostname.clone(),
                reject_spf_fail: config.mx.spf_reject_fail,
                trusted: trusted.clone(),
                time_limit: MESSAGE_CHECKS_LIMIT,
            },
            dns.clone(),
            mail_auth::MessageAuthenticator(resolver.hickory().clone()),
        )
        .checks()
    });
    if let Some((spf, _)) = &sender_auth {
        mx.push(spf.clone());
    }
    if let Some(greylist) = &policy.greylist {
        mx.push(greylist.clone());
    }
    let attachments = attachments(config);
    if let Some(attachments) = &attachments {
        mx.push(attachments.clone());
    }
    if let Some((_, dmarc)) = &sender_auth {
        mx.push(dmarc.clone());
    }
    let antivirus = antivirus(config);
    if let Some(antivirus) = &antivirus {
        mx.push(antivirus.clone());
    }

    let spam = spam_check(config, state, dns.clone(), bayes)?;
    if config.spam.enabled {
        mx.push(spam.clone());
    }

    let mut submission = Pipeline::new("submission/smtpd").with_events(events.clone());
    for rule in &policy.rules {
        submission.push(rule.clone());
    }
    if let Some(attachments) = attachments {
        submission.push(attachments);
    }
    if let Some(antivirus) = antivirus {
        submission.push(antivirus);
    }
    if config.spam.scan_submission {
        submission.push(spam);
    }
    Ok(SessionChecks {
        mx: Some(Arc::new(mx)),
        submission: Some(Arc::new(submission)),
        names: Some(Arc::new(ReverseDns { dns })),
    })
}

/// The attachment check of `[attachments]`, unless it is off.
fn attachments(config: &Config) -> Option<Arc<dyn havre_checks::Check>> {
    let a = &config.attachments;
    if !a.enabled {
        return None;
    }
    let rules =
        havre_attachments::Rules::new(&a.refused_extensions, &a.refused_types, a.scan_archives);
    let action = match a.action {
        havre_config::AttachmentAction::Reject => havre_attachments::Action::Reject,
        havre_config::AttachmentAction::Quarantine => havre_attachments::Action::Quarantine,
    };
    Some(Arc::new(havre_attachments::AttachmentCheck::new(
        rules, action,
    )))
}

/// The antivirus check, when `antivirus.clamd` names clamd: one for both
/// roles.
fn antivirus(config: &Config) -> Option<Arc<dyn Check>> {
    let av = &config.antivirus;
    let clamd = match &av.clamd {
        ClamdAddress::Off => return None,
        ClamdAddress::Tcp(address) => Endpoint::Tcp(address.clone()),
        ClamdAddress::Unix(path) => Endpoint::Unix(path.clone()),
    };
    Some(Arc::new(Antivirus::new(havre_antivirus::Settings {
        clamd,
        timeout: av.timeout.get(),
        max_size: usize::try_from(av.max_size.bytes()).unwrap_or(usize::MAX),
        on_error: match av.on_error {
            OnScanError::Defer => OnError::Defer,
            OnScanError::Accept => OnError::Accept,
        },
        hostname: config.server.hostname.clone(),
    })))
}

/// The spam filter of `config` on the node's resolver, `state` (its
/// greylist action keeps greylisting's keys there) and Bayes classifier.
pub fn spam_check(
    config: &Config,
    state: Arc<dyn State>,
    dns: Arc<dyn Dns>,
    bayes: Option<Arc<dyn havre_filter::BayesModel>>,
) -> Result<Arc<havre_filter::SpamCheck>, String> {
    let mut engine = spam_engine(config)?.with_dns(dns);
    if let Some(bayes) = bayes {
        engine = engine.with_bayes(bayes);
    }
    let greylist = havre_policy::Greylist::new(havre_policy::greylist_settings(config)?, state);
    Ok(Arc::new(havre_filter::SpamCheck::new(
        engine,
        Some(Arc::new(greylist)),
    )))
}

/// The scoring engine of `config`, without lookups (`havre spam check`
/// adds the node's resolver).
pub fn spam_engine(config: &Config) -> Result<havre_filter::Engine, String> {
    Ok(havre_filter::Engine::new(
        havre_filter::Settings::from_config(config)?,
    ))
}

/// Clients named by their forward-confirmed reverse name.
struct ReverseDns {
    dns: Arc<dyn Dns>,
}

#[async_trait]
impl ClientNames for ReverseDns {
    async fn confirmed_name(&self, ip: IpAddr) -> Option<String> {
        havre_auth::confirmed_name(self.dns.as_ref(), ip, REVERSE_DNS_LIMIT).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_mx_pipeline_runs_rules_lists_spf_greylisting_attachments_dmarc_antivirus_then_spam()
     {
        let mut config = Config::default();
        config.greylist.enabled = true;
        config.antivirus.clamd = "127.0.0.1:3310".parse().unwrap();
        config.mx.dnsbl = vec!["bl.example".parse().unwrap()];
        config.mx.rhsbl = vec!["dbl.example".parse().unwrap()];
        let resolver = Resolver::new(&["127.0.0.1:53".parse().unwrap()]).unwrap();
        let state = Arc::new(havre_state::EmbeddedState::memory());
        let checks = build(
            &config,
            state.clone(),
            &resolver,
            None,
            &havre_events::Events::disabled(),
        )
        .unwrap();
        assert_eq!(
            checks.mx.unwrap().names(),
            [
                "rule student-rate",
                "rule staff-rate",
                "dnsbl",
                "rhsbl",
                "spf",
                "greylist",
                "attachments",
                "dmarc",
                "antivirus",
                "spam"
            ]
        );
        assert_eq!(
            checks.submission.unwrap().names(),
            [
                "rule student-rate",
                "rule staff-rate",
                "attachments",
                "antivirus"
            ]
        );
        config.mx.sender_auth = false;
        config.greylist.enabled = false;
        config.attachments.enabled = false;
        config.mx.dnsbl.clear();
        config.mx.rhsbl.clear();
        config.antivirus.clamd = havre_config::ClamdAddress::Off;
        config.spam.enabled = false;
        config.spam.scan_submission = true;
        let bare = build(
            &config,
            state.clone(),
            &resolver,
            None,
            &havre_events::Events::disabled(),
        )
        .unwrap();
        assert_eq!(
            bare.mx.unwrap().names(),
            ["rule student-rate", "rule staff-rate"]
        );
        assert_eq!(
            bare.submission.unwrap().names(),
            ["rule student-rate", "rule staff-rate", "spam"]
        );
        config
            .spam
            .weights
            .insert("NO_SUCH_SYMBOL".into(), havre_config::Points(1.0));
        let refused = build(
            &config,
            state,
            &resolver,
            None,
            &havre_events::Events::disabled(),
        )
        .err()
        .unwrap();
        assert!(refused.contains("NO_SUCH_SYMBOL"), "{refused}");
    }
}
