//! The end-of-DATA check: DKIM, ARC and DMARC over the whole message, the
//! `Authentication-Results:` header, and DMARC's policy applied.

use std::sync::Arc;

use async_trait::async_trait;
use havre_checks::{Check, Facts, Stage, Verdict};
use mail_auth::arc::ArcError;
use mail_auth::common::crypto::Algorithm;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::{AuthenticatedMessage, DkimResult, DmarcResult, Error, SpfOutput};

use crate::results::{Results, comment, value};
use crate::{SenderAuth, dkim};

/// The header local delivery reads to file a message into the recipient's
/// Junk folder (DMARC quarantine). The mx removes any the client sent.
pub const QUARANTINE_HEADER: &str = "X-Havre-Quarantine";

/// DKIM, ARC and DMARC at the end of DATA; adds `Authentication-Results:`.
pub struct DmarcCheck {
    auth: Arc<SenderAuth>,
}

impl DmarcCheck {
    pub(crate) fn new(auth: Arc<SenderAuth>) -> DmarcCheck {
        DmarcCheck { auth }
    }
}

/// What DMARC says should happen to the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    None,
    Quarantine,
    Reject,
}

impl Disposition {
    fn as_str(self) -> &'static str {
        match self {
            Disposition::None => "none",
            Disposition::Quarantine => "quarantine",
            Disposition::Reject => "reject",
        }
    }
}

fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::None | Policy::Unspecified => "none",
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
    }
}

fn spf_result(result: havre_spf::SpfResult) -> mail_auth::SpfResult {
    use havre_spf::SpfResult as S;
    use mail_auth::SpfResult as M;
    match result {
        S::None => M::None,
        S::Neutral => M::Neutral,
        S::Pass => M::Pass,
        S::Fail => M::Fail,
        S::SoftFail => M::SoftFail,
        S::TempError => M::TempError,
        S::PermError => M::PermError,
    }
}

/// The results of one message, for the header, the log and the verdict.
struct Evaluation {
    results: Results,
    summary: String,
    dmarc_domain: String,
    disposition: Disposition,
}

impl SenderAuth {
    async fn evaluate(&self, facts: &Facts, raw: &[u8]) -> Evaluation {
        let spf = self.spf_mail_from(facts).await;
        let mut results = Results::new(&self.settings.authserv_id);
        results.push(spf.authentication_results());
        let Some(mut message) = AuthenticatedMessage::parse(raw) else {
            results.push("dkim=none");
            results.push("dmarc=none (no header to read)");
            results.push("arc=none");
            return Evaluation {
                results,
                summary: format!("spf={} dkim=none dmarc=none arc=none", spf.result()),
                dmarc_domain: String::new(),
                disposition: Disposition::None,
            };
        };
        message.dkim_headers.truncate(dkim::MAX_SIGNATURES);
        let message = message;

        let dkim = dkim::verify(&self.authenticator, self.dns.as_ref(), &message).await;
        results.parts_extend(dkim.parts.iter().cloned());

        // The SPF-authenticated identifier of DMARC: the MAIL FROM domain, or
        // the HELO name for the null sender (RFC 7489 3.1.2).
        let spf_domain = spf.domain.clone();
        let spf_output = SpfOutput::new(spf_domain.clone()).with_result(spf_result(spf.result()));
        let dmarc = self
            .authenticator
            .verify_dmarc(DmarcParameters::new(
                &message,
                &dkim.for_dmarc,
                &spf_domain,
                &spf_output,
            ))
            .await;
        let domain = dmarc.domain().to_owned();
        let policy = dmarc
            .dmarc_record()
            .map(|_| dmarc.policy())
            .unwrap_or(Policy::Unspecified);
        let (word, disposition, why) = match dmarc.result() {
            DmarcResult::Pass => ("pass", Disposition::None, None),
            DmarcResult::Fail(_) => (
                "fail",
                match policy {
                    Policy::Reject => Disposition::Reject,
                    Policy::Quarantine => Disposition::Quarantine,
                    Policy::None | Policy::Unspecified => Disposition::None,
                },
                None,
            ),
            DmarcResult::TempError(e) => ("temperror", Disposition::None, Some(e.to_string())),
            DmarcResult::PermError(e) => ("permerror", Disposition::None, Some(e.to_string())),
            DmarcResult::None => ("none", Disposition::None, None),
        };
        let mut part = format!("dmarc={word}");
        match (&why, dmarc.dmarc_record()) {
            (Some(why), _) => part.push_str(&format!(" ({})", comment(why))),
            (None, Some(_)) => part.push_str(&format!(
                " (p={} dis={})",
                policy_name(policy),
                disposition.as_str()
            )),
            (None, None) => {}
        }
        if !domain.is_empty() {
            part.push_str(&format!(" header.from={}", value(&domain)));
        }
        results.push(part);

        let arc = self.authenticator.verify_arc(&message).await;
        let sha1 = arc.sets().iter().any(|s| {
            s.signature.header.a == Algorithm::RsaSha1 || s.seal.header.a == Algorithm::RsaSha1
        });
        let arc_word = match arc.result() {
            _ if sha1 => "fail (rsa-sha1 is not accepted, RFC 8301)".to_owned(),
            DkimResult::Pass => "pass".to_owned(),
            DkimResult::None => "none".to_owned(),
            // A message changed since it was sealed: the chain fails (RFC
            // 8617 5.2), where mail-auth says neutral.
            DkimResult::Neutral(Error::Arc(ArcError::FailedBodyHashMatch)) => {
                "fail (body hash did not verify)".to_owned()
            }
            DkimResult::Neutral(e) => format!("neutral ({})", comment(&e.to_string())),
            DkimResult::Fail(e) => format!("fail ({})", comment(&e.to_string())),
            DkimResult::PermError(e) => format!("permerror ({})", comment(&e.to_string())),
            DkimResult::TempError(e) => format!("temperror ({})", comment(&e.to_string())),
        };
        let arc_short = arc_word.split(' ').next().unwrap_or("none").to_owned();
        results.push(format!("arc={arc_word}"));

        Evaluation {
            results,
            summary: format!(
                "spf={} dkim={} dmarc={word}{} arc={arc_short}",
                spf.result(),
                dkim.summary,
                if disposition == Disposition::None {
                    String::new()
                } else {
                    format!(" ({})", disposition.as_str())
                }
            ),
            dmarc_domain: domain,
            disposition,
        }
    }
}

impl Results {
    fn parts_extend(&mut self, parts: impl IntoIterator<Item = String>) {
        for p in parts {
            self.push(p);
        }
    }
}

#[async_trait]
impl Check for DmarcCheck {
    fn name(&self) -> &str {
        "dmarc"
    }

    fn stages(&self) -> &[Stage] {
        &[Stage::Data]
    }

    async fn check(&self, facts: &Facts) -> Verdict {
        if facts.sasl_login.is_some() {
            return Verdict::accept().because("authenticated client: not checked");
        }
        let Some(raw) = facts.message.clone() else {
            return Verdict::accept().because("no message to check");
        };
        let auth = &self.auth;
        let queue_id = facts.queue_id.as_deref().unwrap_or("NOQUEUE");
        let limit = auth.settings.time_limit;
        let evaluation = match tokio::time::timeout(limit, auth.evaluate(facts, raw.as_slice()))
            .await
        {
            Ok(evaluation) => evaluation,
            Err(_) => {
                // Nothing is known: every result is a temporary error, and
                // the message is accepted (a DNS outage must not stop mail).
                let spf = auth.spf_mail_from(facts).await;
                let mut results = Results::new(&auth.settings.authserv_id);
                results.push(spf.authentication_results());
                let why = format!("checks took longer than {}s", limit.as_secs());
                for method in ["dkim", "dmarc", "arc"] {
                    results.push(format!("{method}=temperror ({why})"));
                }
                tracing::warn!(target: "checks", "{queue_id}: authentication: {why}; message accepted");
                return Verdict::accept()
                    .with_header("Authentication-Results", results.value())
                    .because(why);
            }
        };
        tracing::info!(target: "checks", "{queue_id}: authentication: {}", evaluation.summary);
        let header = evaluation.results.value();
        let trusted = auth.trusted(facts);
        match evaluation.disposition {
            Disposition::Reject if !trusted => Verdict::reject(
                550,
                "5.7.1",
                format!(
                    "Email rejected per DMARC policy for {}",
                    evaluation.dmarc_domain
                ),
            )
            .verbatim()
            .because(evaluation.summary),
            Disposition::Quarantine if !trusted => Verdict::accept()
                .with_header("Authentication-Results", header)
                .with_header(
                    QUARANTINE_HEADER,
                    format!("dmarc (p=quarantine for {})", evaluation.dmarc_domain),
                )
                .because(evaluation.summary),
            _ => Verdict::accept()
                .with_header("Authentication-Results", header)
                .because(evaluation.summary),
        }
    }
}
