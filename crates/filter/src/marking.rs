//! How an accepted message is marked, as the seeds marked it with
//! SpamAssassin: every message gets `X-Spam-Score:` and `X-Spam-Symbols:`;
//! from `level_low` an `X-Spam-Status:` of LOW, MEDIUM or HIGH; above
//! `level_high` the subject tag; from `add_header` `X-Spam: Yes` (Rspamd's
//! header); above `junk_above` the quarantine mark that local delivery
//! obeys by filing the message into the recipient's Junk folder.

use havre_checks::Verdict;

use crate::score::{Action, Score};
use crate::settings::Settings;

/// The mark local delivery files into Junk (`havre-mailbox`'s quarantine,
/// also set by DMARC p=quarantine); the mx removes any a client sent.
pub const QUARANTINE_HEADER: &str = "X-Havre-Quarantine";

/// `verdict` with the marks of `score`.
pub fn mark(mut verdict: Verdict, score: &Score, settings: &Settings) -> Verdict {
    verdict = verdict
        .with_header("X-Spam-Score", score.total_text())
        .with_header("X-Spam-Symbols", score.symbols_line());
    if let Some(level) = score.level {
        verdict = verdict.with_header("X-Spam-Status", level.as_str());
    }
    if matches!(score.action, Action::AddHeader | Action::Reject) {
        verdict = verdict.with_header("X-Spam", "Yes");
    }
    if score.total > settings.level_high && !settings.subject_tag.is_empty() {
        verdict = verdict.with_subject_prefix(settings.subject_tag.clone());
    }
    if score.junk {
        verdict = verdict.with_header(
            QUARANTINE_HEADER,
            format!("spam (score {})", score.total_text()),
        );
    }
    verdict
}

#[cfg(test)]
mod tests {
    use havre_checks::Header;

    use super::*;
    use crate::score::Found;

    fn marks(found: Vec<Found>) -> (Vec<Header>, Option<String>) {
        let settings = Settings::default();
        let score = Score::new(found, &settings);
        let v = mark(Verdict::accept(), &score, &settings);
        (v.headers, v.subject_prefix)
    }

    #[test]
    fn every_message_carries_its_score_and_symbols() {
        let (headers, tag) = marks(vec![Found::new("R_SPF_ALLOW")]);
        assert_eq!(
            headers,
            [
                Header::new("X-Spam-Score", "-0.2"),
                Header::new("X-Spam-Symbols", "R_SPF_ALLOW(-0.20)"),
            ]
        );
        assert_eq!(tag, None);
        let (headers, _) = marks(Vec::new());
        assert_eq!(headers[1], Header::new("X-Spam-Symbols", ""));
    }

    #[test]
    fn medium_mail_gets_its_level_and_spam_is_tagged_and_filed_into_junk() {
        let (headers, tag) = marks(vec![Found::new("DATE_IN_FUTURE"), Found::new("R_DKIM_NA")]);
        assert_eq!(headers[2], Header::new("X-Spam-Status", "MEDIUM"));
        assert_eq!((headers.len(), tag), (3, None));

        let (headers, tag) = marks(vec![Found::new("PHISHING"), Found::new("MISSING_MID")]);
        let names: Vec<&str> = headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "X-Spam-Score",
                "X-Spam-Symbols",
                "X-Spam-Status",
                "X-Spam",
                "X-Havre-Quarantine"
            ]
        );
        assert_eq!(headers[0].value, "6.5");
        assert_eq!(headers[2].value, "HIGH");
        assert_eq!(headers[4].value, "spam (score 6.5)");
        assert_eq!(tag.as_deref(), Some("[SPAM] "));
    }
}
