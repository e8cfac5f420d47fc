//! SPF at MAIL FROM: the HELO identity, then the MAIL FROM identity
//! (RFC 7208 2.3, 2.4), as policyd-spf checks them.

use std::sync::Arc;

use async_trait::async_trait;
use havre_checks::{Check, Facts, Stage, Verdict};
use havre_spf::{Identity, SpfResult};

use crate::SenderAuth;

/// The SPF check of the MAIL stage: `Received-SPF:` for the message, and
/// a refusal of an SPF `fail` when the settings say so.
pub struct SpfCheck {
    auth: Arc<SenderAuth>,
}

impl SpfCheck {
    pub(crate) fn new(auth: Arc<SenderAuth>) -> SpfCheck {
        SpfCheck { auth }
    }
}

/// A HELO name worth an SPF check: a domain (with a dot), not an address
/// literal (`[192.0.2.1]`) nor a bare word.
fn checkable_helo(helo: &str) -> bool {
    helo.contains('.') && !helo.starts_with('[') && helo.parse::<std::net::IpAddr>().is_err()
}

/// policyd-spf's reply text, with the domain's explanation (`exp=`) when
/// it gave one.
fn refusal(verdict: &havre_spf::Verdict) -> Verdict {
    let who = match verdict.identity {
        Identity::Helo => format!("HELO {}", verdict.helo),
        Identity::MailFrom => verdict.sender.clone(),
    };
    let mut text = "Message rejected due to: SPF fail - not authorized".to_owned();
    if let Some(exp) = &verdict.evaluation.explanation {
        text.push_str(&format!(": {exp}"));
    }
    Verdict::reject(550, "5.7.23", text).because(format!(
        "SPF fail for {who} from {}{}",
        verdict.client_ip,
        verdict
            .evaluation
            .mechanism
            .as_deref()
            .map(|m| format!(" (mechanism {m})"))
            .unwrap_or_default()
    ))
}

#[async_trait]
impl Check for SpfCheck {
    fn name(&self) -> &str {
        "spf"
    }

    fn stages(&self) -> &[Stage] {
        &[Stage::Mail]
    }

    async fn check(&self, facts: &Facts) -> Verdict {
        if facts.sasl_login.is_some() {
            return Verdict::accept().because("authenticated client: no SPF check");
        }
        let auth = &self.auth;
        let may_refuse = auth.settings.reject_spf_fail && !auth.trusted(facts);
        let helo = facts.helo.as_deref().unwrap_or("");
        let null_sender = facts.sender.as_deref().is_none_or(str::is_empty);
        // With a sender, HELO is checked first (policyd-spf's order); for
        // the null sender the HELO identity is the MAIL FROM check itself.
        if !null_sender && checkable_helo(helo) {
            let verdict = auth.spf.check_helo(facts.client_ip, helo).await;
            if verdict.result() == SpfResult::Fail && may_refuse {
                return refusal(&verdict);
            }
        }
        let verdict = auth.spf_mail_from(facts).await;
        if verdict.result() == SpfResult::Fail && may_refuse {
            return refusal(&verdict);
        }
        let why = match &verdict.evaluation.reason {
            Some(reason) => format!("SPF {} ({reason})", verdict.result()),
            None => format!("SPF {}", verdict.result()),
        };
        Verdict::accept()
            .with_header("Received-SPF", verdict.received_spf())
            .because(why)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use havre_spf::testing::{Rr::*, ZoneDns};

    use super::*;
    use crate::AuthSettings;

    /// A resolver with no server: the SPF check never uses it.
    fn no_resolver() -> mail_auth::MessageAuthenticator {
        use hickory_resolver::config::ResolverConfig;
        use hickory_resolver::net::runtime::TokioRuntimeProvider;
        let resolver = hickory_resolver::Resolver::builder_with_config(
            ResolverConfig::from_parts(None, vec![], vec![]),
            TokioRuntimeProvider::default(),
        )
        .build()
        .unwrap();
        mail_auth::MessageAuthenticator(resolver)
    }

    fn check(reject: bool) -> SpfCheck {
        let dns = ZoneDns::new(&[
            ("pass.example", Txt("v=spf1 ip4:192.0.2.0/24 -all")),
            ("fail.example", Txt("v=spf1 -all exp=why.fail.example")),
            ("why.fail.example", Txt("%{i} may not send for %{d}")),
            ("soft.example", Txt("v=spf1 ~all")),
            ("badhelo.example", Txt("v=spf1 -all")),
        ]);
        let settings = AuthSettings {
            authserv_id: "mx.havre.test".into(),
            reject_spf_fail: reject,
            trusted: vec!["10.0.0.0/8".parse().unwrap()],
            time_limit: Duration::from_secs(5),
        };
        let auth = SenderAuth::new(settings, Arc::new(dns), no_resolver());
        SpfCheck::new(auth)
    }

    fn mail(ip: &str, helo: &str, sender: &str) -> Facts {
        let mut f = Facts::new(ip.parse().unwrap());
        f.stage = Stage::Mail;
        f.helo = Some(helo.into());
        f.sender = Some(sender.into());
        f
    }

    #[tokio::test]
    async fn a_pass_is_recorded_in_received_spf() {
        let v = check(true)
            .check(&mail("192.0.2.7", "client.pass.example", "a@pass.example"))
            .await;
        assert_eq!(v.action, havre_checks::Action::Accept);
        assert_eq!(v.headers[0].name, "Received-SPF");
        assert!(
            v.headers[0]
                .value
                .starts_with("pass (mx.havre.test: domain of a@pass.example designates 192.0.2.7"),
            "{:?}",
            v.headers
        );
    }

    #[tokio::test]
    async fn a_fail_is_refused_with_the_domains_explanation_unless_told_not_to() {
        let f = mail("192.0.2.7", "client.pass.example", "a@fail.example");
        let v = check(true).check(&f).await;
        let line = v.action.reply().unwrap().line(&f);
        assert_eq!(
            line,
            "550 5.7.23 <a@fail.example>: Sender address rejected: Message rejected due to: SPF fail - not authorized: 192.0.2.7 may not send for fail.example"
        );
        let v = check(false).check(&f).await;
        assert_eq!(v.action, havre_checks::Action::Accept);
        assert!(v.headers[0].value.starts_with("fail "), "{:?}", v.headers);
        let trusted = mail("10.1.2.3", "client.pass.example", "a@fail.example");
        assert_eq!(
            check(true).check(&trusted).await.action,
            havre_checks::Action::Accept
        );
    }

    #[tokio::test]
    async fn a_failing_helo_is_refused_before_the_sender_is_looked_at() {
        let f = mail("192.0.2.7", "badhelo.example", "a@pass.example");
        let v = check(true).check(&f).await;
        assert!(matches!(v.action, havre_checks::Action::Reject(_)), "{v:?}");
        assert!(v.reason.unwrap().contains("HELO badhelo.example"));
    }

    #[tokio::test]
    async fn softfail_none_and_the_null_sender_are_accepted() {
        for (helo, sender, word) in [
            ("client.pass.example", "a@soft.example", "softfail"),
            ("client.pass.example", "a@nowhere.example", "none"),
            ("pass.example", "", "pass"),
        ] {
            let v = check(true).check(&mail("192.0.2.7", helo, sender)).await;
            assert_eq!(v.action, havre_checks::Action::Accept, "{sender}");
            assert!(
                v.headers[0].value.starts_with(word),
                "{sender}: {:?}",
                v.headers
            );
        }
        let mut authenticated = mail("192.0.2.7", "x", "a@fail.example");
        authenticated.sasl_login = Some("a@fail.example".into());
        let v = check(true).check(&authenticated).await;
        assert!(v.headers.is_empty());
    }
}
