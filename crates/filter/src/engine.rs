//! The engine: a message's bytes and envelope in, its [`Score`] out.
//!
//! [`score`] is the whole of the scoring without any network: what the
//! benchmark and the Bayes cross-validation call, message after message,
//! on an analysis they made once. [`Engine::scan`] adds what needs the
//! node: the analysis off the async threads, the DNS lists on the node's
//! resolver and the Bayes probability from the store, each bounded in time.

use std::sync::Arc;
use std::time::Duration;

use havre_content::{Content, analyze};
use havre_spf::Dns;

use crate::bayes::BayesModel;
use crate::envelope::Envelope;
use crate::score::{Found, Score};
use crate::settings::Settings;
use crate::{attachments, auth, bayes, body, headers, lists};

/// How long the Bayes classifier may take for one message.
const BAYES_TIME_LIMIT: Duration = Duration::from_secs(5);

/// The score of an analysed message without any lookup: headers, body,
/// attachments, the results of the earlier checks, and the Bayes
/// probability if the caller has one. `extra` are symbols found elsewhere
/// (the DNS lists).
pub fn score(
    content: &Content,
    envelope: &Envelope,
    settings: &Settings,
    bayes_probability: Option<f64>,
    extra: Vec<Found>,
) -> Score {
    if content.size as u64 > settings.max_size {
        return skipped(content.size as u64, settings);
    }
    let mut found = Vec::new();
    match &envelope.added {
        Some(added) => found.extend(auth::symbols(
            added.iter().map(|h| (h.name.as_str(), h.value.as_str())),
            &settings.authserv_id,
        )),
        None => found.extend(auth::symbols(
            content
                .headers
                .iter()
                .map(|f| (f.name.as_str(), f.value.as_str())),
            &settings.authserv_id,
        )),
    }
    found.extend(extra);
    found.extend(headers::symbols(content, envelope.received));
    found.extend(body::symbols(content));
    found.extend(attachments::symbols(content));
    found.extend(bayes_probability.and_then(bayes::symbol));
    Score::new(found, settings)
}

/// The score of a message bigger than `spam.max_size`: not analysed.
pub fn skipped(size: u64, settings: &Settings) -> Score {
    Score::new(
        vec![Found::new("SCAN_SKIPPED_SIZE").with(format!("{size} bytes"))],
        settings,
    )
}

/// The filter of a node: settings, and the resolver and classifier it
/// asks (an engine without them scores offline).
#[derive(Clone)]
pub struct Engine {
    settings: Arc<Settings>,
    dns: Option<Arc<dyn Dns>>,
    bayes: Option<Arc<dyn BayesModel>>,
}

impl Engine {
    /// An engine that looks nothing up.
    pub fn new(settings: Settings) -> Engine {
        Engine {
            settings: Arc::new(settings),
            dns: None,
            bayes: None,
        }
    }

    /// The same, looking up DNS lists through `dns`.
    pub fn with_dns(mut self, dns: Arc<dyn Dns>) -> Engine {
        self.dns = Some(dns);
        self
    }

    /// The same, asking `bayes` for the probability.
    pub fn with_bayes(mut self, bayes: Arc<dyn BayesModel>) -> Engine {
        self.bayes = Some(bayes);
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The analysis the engine scores, within its limits.
    pub fn analyze(&self, raw: &[u8]) -> Content {
        analyze(raw, &self.settings.limits)
    }

    /// The score of `raw` (a whole message) received with `envelope`.
    /// Never fails: a message too big is [`skipped`]; lookups that fail
    /// or take too long count for nothing.
    pub async fn scan(&self, raw: Arc<Vec<u8>>, envelope: &Envelope) -> Score {
        let settings = &self.settings;
        if raw.len() as u64 > settings.max_size {
            return skipped(raw.len() as u64, settings);
        }
        // Up to 4 MiB of MIME and HTML: off the threads that run sessions.
        let limits = settings.limits.clone();
        let content = match tokio::task::spawn_blocking(move || analyze(&raw, &limits)).await {
            Ok(content) => content,
            Err(e) => {
                tracing::error!(target: "checks", "spam: the analysis of a message failed ({e}): not scored");
                return Score::new(Vec::new(), settings);
            }
        };
        self.score(&content, envelope).await
    }

    /// The score of an analysed message, with the lookups of this engine.
    pub async fn score(&self, content: &Content, envelope: &Envelope) -> Score {
        let settings = &self.settings;
        if content.size as u64 > settings.max_size {
            return skipped(content.size as u64, settings);
        }
        let listed = async {
            match &self.dns {
                Some(dns) => lists::symbols(dns, settings, envelope, content).await,
                None => Vec::new(),
            }
        };
        let probability = async {
            let model = self.bayes.as_ref()?;
            let asked = model.spam_probability(content, &envelope.recipients);
            match tokio::time::timeout(BAYES_TIME_LIMIT, asked).await {
                Ok(p) => p,
                Err(_) => {
                    tracing::warn!(target: "checks", "spam: the Bayes classifier took longer than {BAYES_TIME_LIMIT:?}: not counted");
                    None
                }
            }
        };
        let (listed, probability) = tokio::join!(listed, probability);
        score(content, envelope, settings, probability, listed)
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use havre_checks::Header;

    use super::*;
    use crate::score::Action;

    /// A classifier that answers one probability (unit tests only; the real
    /// one is havre-bayes's).
    struct Says(f64);

    #[async_trait]
    impl BayesModel for Says {
        async fn spam_probability(&self, _: &Content, users: &[String]) -> Option<f64> {
            assert_eq!(users, ["bob@example.edu"]);
            Some(self.0)
        }
    }

    const MESSAGE: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.edu\r\n\
        Subject: Lunch\r\nDate: Mon, 01 Jan 2029 10:00:00 +0000\r\n\
        Message-ID: <abc@example.org>\r\n\r\nHello Bob, lunch at noon?\r\n";

    fn envelope() -> Envelope {
        Envelope {
            recipients: vec!["bob@example.edu".into()],
            received: Some(1_861_956_060),
            added: Some(vec![Header::new(
                "Authentication-Results",
                "localhost; spf=pass smtp.mailfrom=alice@example.org; dkim=none; dmarc=none; arc=none",
            )]),
            ..Envelope::default()
        }
    }

    #[tokio::test]
    async fn an_ordinary_message_scores_its_authentication_and_the_bayes_word() {
        let engine = Engine::new(Settings::default()).with_bayes(Arc::new(Says(0.0)));
        let score = engine.scan(Arc::new(MESSAGE.to_vec()), &envelope()).await;
        assert_eq!(
            score.symbols_line(),
            "BAYES_HAM(-3.00), R_SPF_ALLOW(-0.20), ARC_NA(0.00), DMARC_NA(0.00), R_DKIM_NA(0.00)"
        );
        assert_eq!(score.total, -3.2);
        assert_eq!(score.action, Action::NoAction);
        let spammy = Engine::new(Settings::default()).with_bayes(Arc::new(Says(1.0)));
        let score = spammy.scan(Arc::new(MESSAGE.to_vec()), &envelope()).await;
        assert_eq!(score.total, 4.9);
        assert_eq!(score.action, Action::Greylist);
    }

    #[tokio::test]
    async fn a_message_over_the_size_limit_is_not_scored() {
        let settings = Settings {
            max_size: 100,
            ..Settings::default()
        };
        let score = Engine::new(settings)
            .scan(Arc::new(MESSAGE.to_vec()), &envelope())
            .await;
        assert_eq!(score.symbols_line(), "SCAN_SKIPPED_SIZE(0.00)");
        assert_eq!(
            score.symbols[0].options,
            [format!("{} bytes", MESSAGE.len())]
        );
    }

    #[tokio::test]
    async fn a_mime_bomb_is_scored_within_the_limits_and_says_which_it_reached() {
        let mut bomb = b"From: a@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            .to_vec();
        for _ in 0..100_000 {
            bomb.extend_from_slice(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n");
        }
        bomb.extend_from_slice(b"--b--\r\n");
        let started = std::time::Instant::now();
        let score = Engine::new(Settings::default())
            .scan(Arc::new(bomb), &Envelope::default())
            .await;
        assert!(score.has("SCAN_LIMIT_PARTS"), "{score:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_offline_score_reads_our_results_from_the_top_of_a_stored_message() {
        let stored = [
            b"Authentication-Results: localhost; spf=fail smtp.mailfrom=a@x; dkim=none; dmarc=fail (p=reject dis=reject); arc=none\r\n".as_slice(),
            b"Authentication-Results: elsewhere; dkim=pass\r\n",
            MESSAGE,
        ]
        .concat();
        let settings = Settings::default();
        let content = analyze(&stored, &settings.limits);
        let envelope = Envelope::from_message(&content);
        let score = score(&content, &envelope, &settings, None, Vec::new());
        assert!(
            score.has("R_SPF_FAIL") && score.has("DMARC_POLICY_REJECT"),
            "{score:?}"
        );
        assert!(!score.has("R_DKIM_ALLOW"), "another host's word");
    }
}
