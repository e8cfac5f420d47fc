//! The attachment rules as a check of the pipeline, at the end of DATA.

use std::sync::Arc;

use async_trait::async_trait;
use havre_checks::{Check, Facts, Stage, Verdict};

use crate::Rules;

/// What a message carrying a refused file gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Action {
    /// `554 5.7.1 Attachment refused: NAME (why)`.
    #[default]
    Reject,
    /// Accepted and held in the queue with that reason (the quarantine).
    Quarantine,
}

/// The check `attachments`: [`Rules`] on the message at the end of DATA.
pub struct AttachmentCheck {
    rules: Arc<Rules>,
    action: Action,
}

impl AttachmentCheck {
    pub fn new(rules: Rules, action: Action) -> AttachmentCheck {
        AttachmentCheck {
            rules: Arc::new(rules),
            action,
        }
    }
}

#[async_trait]
impl Check for AttachmentCheck {
    fn name(&self) -> &str {
        "attachments"
    }

    fn stages(&self) -> &[Stage] {
        &[Stage::Data]
    }

    async fn check(&self, facts: &Facts) -> Verdict {
        // The Postfix policy service has no message to look at.
        let Some(message) = facts.message.clone() else {
            return Verdict::accept();
        };
        if self.rules.is_empty() {
            return Verdict::accept();
        }
        let rules = self.rules.clone();
        let analysis = tokio::task::spawn_blocking(move || {
            let content = havre_content::analyze(&message, &rules.limits());
            rules.refused(&content)
        })
        .await;
        let refused = match analysis {
            Ok(Some(refused)) => refused,
            Ok(None) => return Verdict::accept(),
            // A bug in the analysis is not the sender's fault: the message
            // goes on, and the log says why it was not checked.
            Err(err) => {
                tracing::error!(target: "checks", "{}: attachments not checked: {err}",
                    facts.queue_id.as_deref().unwrap_or("NOQUEUE"));
                return Verdict::accept().because(format!("analysis failed: {err}"));
            }
        };
        let text = format!("Attachment refused: {refused}");
        match self.action {
            Action::Reject => Verdict::reject(554, "5.7.1", ascii(&text))
                .verbatim()
                .because(text),
            Action::Quarantine => Verdict::hold(text),
        }
    }
}

/// An SMTP reply is ASCII (RFC 5321 4.2, without SMTPUTF8): other
/// characters of a file name become `?`, as Postfix writes them.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}
