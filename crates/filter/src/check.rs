//! The filter as the last end-of-DATA check of the mx pipeline: the
//! message scored, then refused, greylisted once, or accepted with its
//! marks. It never fails a delivery: what it cannot do (a lookup, the
//! classifier) counts for nothing, and the state's trouble lets mail
//! through (greylisting's rule).

use std::sync::Arc;

use async_trait::async_trait;
use havre_checks::{Action as CheckAction, Check, Facts, Finding, Stage, Verdict};
use havre_policy::Greylist;
use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::envelope::Envelope;
use crate::marking::mark;
use crate::score::{Action, Score};

/// The spam filter, a check of the end of DATA.
pub struct SpamCheck {
    engine: Engine,
    /// Greylisting's rules and state, for the greylist action (`None`:
    /// mail of that score is accepted).
    greylist: Option<Arc<Greylist>>,
}

impl SpamCheck {
    pub fn new(engine: Engine, greylist: Option<Arc<Greylist>>) -> SpamCheck {
        SpamCheck { engine, greylist }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn trusted(&self, facts: &Facts) -> bool {
        let ip = facts.client_ip.to_canonical();
        facts.sasl_login.is_some()
            || self
                .engine
                .settings()
                .trusted
                .iter()
                .any(|n| n.contains(&ip))
    }

    /// The greylist action: the first delivery of this message is
    /// deferred, the same message retried after the delay passes.
    async fn greylist(&self, facts: &Facts, message: &[u8], score: &Score) -> Option<Verdict> {
        let greylist = self.greylist.as_ref()?;
        if self.trusted(facts) {
            return None;
        }
        let verdict = greylist.check_message(facts, &digest(message)).await;
        let CheckAction::Defer(reply) = verdict.action else {
            return None;
        };
        Some(
            Verdict::defer(451, "4.7.1", reply.text)
                .verbatim()
                .because(format!(
                    "spam score {} (greylist): {}",
                    score.total_text(),
                    score.symbols_line()
                )),
        )
    }
}

/// The message greylisting keys on: its body, which a client sends again
/// unchanged (headers like `Date:` may be rewritten by its queue).
fn digest(message: &[u8]) -> String {
    let body = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| &message[i + 4..])
        .or_else(|| {
            message
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| &message[i + 2..])
        })
        .unwrap_or(message);
    let hash = Sha256::digest(body);
    hash[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl Check for SpamCheck {
    fn name(&self) -> &str {
        "spam"
    }

    fn stages(&self) -> &[Stage] {
        &[Stage::Data]
    }

    async fn check(&self, facts: &Facts) -> Verdict {
        let Some(message) = facts.message.clone() else {
            return Verdict::accept().because("no message to score");
        };
        let score = self
            .engine
            .scan(message.clone(), &Envelope::from_facts(facts))
            .await;
        let queue_id = facts.queue_id.as_deref().unwrap_or("NOQUEUE");
        tracing::info!(
            target: "checks",
            "{queue_id}: spam: score {} action {}{} symbols {}",
            score.total_text(),
            score.action.as_str(),
            score.forced_by.map(|s| format!(" (forced by {s})")).unwrap_or_default(),
            score.symbols_line()
        );
        let why = format!("score {}: {}", score.total_text(), score.symbols_line());
        match score.action {
            // A reply that names nothing the sender could tune against.
            Action::Reject => Verdict::reject(554, "5.7.1", "Spam message rejected")
                .verbatim()
                .found(Finding::Spam)
                .because(why),
            Action::Greylist => match self.greylist(facts, &message, &score).await {
                Some(deferred) => deferred,
                None => mark(Verdict::accept(), &score, self.engine.settings()).because(why),
            },
            Action::AddHeader => mark(Verdict::accept(), &score, self.engine.settings())
                .found(Finding::Spam)
                .because(why),
            Action::NoAction => {
                mark(Verdict::accept(), &score, self.engine.settings()).because(why)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use havre_checks::Header;
    use havre_policy::GreylistSettings;
    use havre_state::EmbeddedState;

    use super::*;
    use crate::body::GTUBE;
    use crate::settings::Settings;

    fn facts(message: &str) -> Facts {
        let mut f = Facts::new("192.0.2.7".parse().unwrap());
        f.stage = Stage::Data;
        f.sender = Some("alice@example.org".into());
        f.recipients = vec!["bob@example.edu".into()];
        f.recipient_count = 1;
        f.time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_861_956_060);
        f.message = Some(Arc::new(message.as_bytes().to_vec()));
        f
    }

    const HEAD: &str = "From: Alice <alice@example.org>\r\nTo: bob@example.edu\r\n\
        Subject: Lunch\r\nDate: Mon, 01 Jan 2029 10:00:00 +0000\r\n\
        Message-ID: <abc@example.org>\r\n";

    fn check() -> SpamCheck {
        let state = Arc::new(EmbeddedState::memory());
        SpamCheck::new(
            Engine::new(Settings::default()),
            Some(Arc::new(Greylist::new(GreylistSettings::default(), state))),
        )
    }

    fn header<'a>(v: &'a Verdict, name: &str) -> Option<&'a str> {
        v.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value.as_str())
    }

    #[tokio::test]
    async fn gtube_is_refused_without_naming_the_symbols() {
        let v = check()
            .check(&facts(&format!("{HEAD}\r\n{GTUBE}\r\n")))
            .await;
        let CheckAction::Reject(reply) = &v.action else {
            panic!("{v:?}")
        };
        assert_eq!(reply.to_string(), "554 5.7.1 Spam message rejected");
        assert!(reply.verbatim);
        assert!(v.reason.as_deref().unwrap().contains("GTUBE(1000.00)"));
    }

    #[tokio::test]
    async fn ordinary_mail_is_accepted_with_its_score_and_symbols() {
        let v = check()
            .check(&facts(&format!("{HEAD}\r\nLunch at noon?\r\n")))
            .await;
        assert_eq!(v.action, CheckAction::Accept);
        assert_eq!(header(&v, "X-Spam-Score"), Some("0.0"));
        assert_eq!(header(&v, "X-Spam-Symbols"), Some(""));
        assert_eq!(header(&v, "X-Spam-Status"), None);
        assert_eq!(v.subject_prefix, None);
    }

    #[tokio::test]
    async fn a_middling_message_is_greylisted_once_then_accepted_with_its_level() {
        // No Date (1), no Message-ID (2.5), subject in capitals (2): 5.5.
        let message = "From: a@example.org\r\nTo: bob@example.edu\r\nSubject: ACT NOW FRIEND\r\n\r\nhello\r\n";
        let check = check();
        let mut f = facts(message);
        let first = check.check(&f).await;
        let CheckAction::Defer(reply) = &first.action else {
            panic!("{first:?}")
        };
        assert_eq!(
            reply.to_string(),
            "451 4.7.1 Greylisted, please try again in 300 seconds"
        );
        f.time += Duration::from_secs(400);
        let retry = check.check(&f).await;
        assert_eq!(retry.action, CheckAction::Accept, "{retry:?}");
        assert_eq!(header(&retry, "X-Spam-Score"), Some("5.5"));
        assert_eq!(header(&retry, "X-Spam-Status"), Some("HIGH"));
        assert_eq!(
            header(&retry, "X-Havre-Quarantine"),
            Some("spam (score 5.5)")
        );
        assert_eq!(retry.subject_prefix.as_deref(), Some("[SPAM] "));
        assert_eq!(header(&retry, "X-Spam"), None, "below add_header");
    }

    #[tokio::test]
    async fn the_results_of_earlier_checks_count_and_trusted_clients_are_not_greylisted() {
        let message = "From: a@example.org\r\nTo: bob@example.edu\r\nSubject: ACT NOW FRIEND\r\n\r\nhello\r\n";
        let mut f = facts(message);
        f.client_ip = "127.0.0.1".parse().unwrap();
        f.added = vec![Header::new(
            "Authentication-Results",
            "localhost; spf=fail; dkim=none",
        )];
        let v = check().check(&f).await;
        assert_eq!(
            v.action,
            CheckAction::Accept,
            "loopback is relay.internal_networks"
        );
        assert_eq!(header(&v, "X-Spam-Score"), Some("6.5"));
        assert!(
            header(&v, "X-Spam-Symbols")
                .unwrap()
                .contains("R_SPF_FAIL(1.00)")
        );
        assert_eq!(header(&v, "X-Spam"), Some("Yes"));
    }

    #[test]
    fn the_greylist_digest_is_the_bodys() {
        assert_eq!(
            digest(b"Date: 1\r\n\r\nbody\r\n"),
            digest(b"Date: 2\r\nX: y\r\n\r\nbody\r\n")
        );
        assert_ne!(digest(b"A: 1\n\nbody 1\n"), digest(b"A: 1\n\nbody 2\n"));
    }
}
