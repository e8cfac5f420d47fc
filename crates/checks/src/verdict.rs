//! What a check answers: go on, stop and accept, refuse, or defer; headers to
//! add; and why, for the log.

use std::fmt;

use crate::{Facts, Stage};

/// An SMTP reply of a refusal: code, enhanced status code (RFC 3463) and
/// text, without the Postfix-style subject (`<rcpt>: Recipient address
/// rejected:`) that [`Reply::line`] puts before the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// 4xx (defer) or 5xx (reject).
    pub code: u16,
    /// `4.7.1`, `5.7.1`...
    pub enhanced: String,
    pub text: String,
    /// The text is the whole reply after the codes: [`Reply::line`] puts no
    /// subject before it (Postfix's `reject_rbl_client` and a milter's
    /// reply are written so: `554 5.7.1 Service unavailable; Client host
    /// [192.0.2.7] blocked using zen.example`).
    pub verbatim: bool,
}

impl Reply {
    pub fn new(code: u16, enhanced: impl Into<String>, text: impl Into<String>) -> Reply {
        Reply {
            code,
            enhanced: enhanced.into(),
            text: sanitize(text.into()),
            verbatim: false,
        }
    }

    /// A reply written as it is, without the Postfix subject (see
    /// [`Reply::verbatim`]).
    pub fn verbatim(code: u16, enhanced: impl Into<String>, text: impl Into<String>) -> Reply {
        Reply {
            verbatim: true,
            ..Reply::new(code, enhanced, text)
        }
    }

    /// The reply line as Postfix writes a restriction's refusal at `facts`'
    /// stage: `450 4.7.1 <bob@example.org>: Recipient address rejected:
    /// Greylisted...`. The subject is the client (`name[ip]`) at Connect,
    /// the HELO name, the sender, the recipient, or `END-OF-MESSAGE` at the
    /// end of DATA; Postfix says "rejected" for deferrals too.
    pub fn line(&self, facts: &Facts) -> String {
        if self.verbatim {
            return self.to_string();
        }
        let (subject, what) = match facts.stage {
            Stage::Connect => (facts.client_label(), "Client host"),
            Stage::Helo => (facts.helo.clone().unwrap_or_default(), "Helo command"),
            Stage::Mail => (facts.sender.clone().unwrap_or_default(), "Sender address"),
            Stage::Rcpt => (
                facts.recipient.clone().unwrap_or_default(),
                "Recipient address",
            ),
            Stage::Data => ("END-OF-MESSAGE".to_owned(), "End-of-data"),
        };
        format!(
            "{} {} <{subject}>: {what} rejected: {}",
            self.code, self.enhanced, self.text
        )
    }
}

impl fmt::Display for Reply {
    /// `450 4.7.1 text`: the form of a Postfix policy service's `action=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.enhanced, self.text)
    }
}

/// A reply text is one line: CR, LF and other controls (from a rule's text
/// or an address) would break the SMTP reply or the policy protocol.
fn sanitize(text: String) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    } else {
        text
    }
}

/// What the transaction does after a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing against it: the next check of the stage runs.
    Accept,
    /// Accept at this stage without running the remaining checks of the
    /// stage (Postfix's `OK`); later stages are checked as usual.
    Permit,
    /// Refuse (5xx).
    Reject(Reply),
    /// Refuse for now (4xx): the client may try again.
    Defer(Reply),
}

impl Action {
    /// The reply of a refusal.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Action::Reject(r) | Action::Defer(r) => Some(r),
            Action::Accept | Action::Permit => None,
        }
    }

    /// Whether the stage ends here (Permit, Reject, Defer).
    pub fn is_final(&self) -> bool {
        !matches!(self, Action::Accept)
    }
}

/// A header field a check asks to add to the message (prepended, like
/// Postfix's `PREPEND` action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl Header {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Header {
        Header {
            name: name.into(),
            value: sanitize(value.into()),
        }
    }
}

impl fmt::Display for Header {
    /// `Name: value` without the line end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.value)
    }
}

/// One check's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub action: Action,
    /// Added to the message whatever the action (kept only if the message is
    /// accepted in the end).
    pub headers: Vec<Header>,
    /// Why, for the log and `havre check` (`triplet seen 12 s ago`,
    /// `10 messages per minute exceeded by sasl_login alice`).
    pub reason: Option<String>,
    /// Accept the message but keep it on hold in the queue (Postfix's
    /// `HOLD` action, the quarantine), for this reason: it is not delivered
    /// until an operator releases it. Whatever the action; it takes effect
    /// only if the message is accepted in the end (see
    /// [`crate::AddedHeaders::hold`]).
    pub hold: Option<String>,
    /// Put before the message's `Subject:` when it is stored (the spam
    /// filter's `[SPAM] `); kept only if the message is accepted in the end.
    pub subject_prefix: Option<String>,
    /// What the check found in the message, for the graphs and reports
    /// (whatever was done with it: tagged, put in Junk, refused).
    pub finding: Option<Finding>,
}

/// Something a content check found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Spam,
    /// A virus, with the names the scanner gave it.
    Virus(String),
}

impl Verdict {
    /// Nothing against it.
    pub fn accept() -> Verdict {
        Verdict {
            action: Action::Accept,
            headers: Vec::new(),
            reason: None,
            subject_prefix: None,
            hold: None,
            finding: None,
        }
    }

    /// Accept, but hold the message in the queue for `reason` (Postfix's
    /// `HOLD`): a quarantine that an operator lists, releases or deletes.
    pub fn hold(reason: impl Into<String>) -> Verdict {
        let reason = sanitize(reason.into());
        Verdict {
            reason: Some(reason.clone()),
            hold: Some(reason),
            ..Verdict::accept()
        }
    }

    /// Accept the stage now (Postfix's `OK`).
    pub fn permit() -> Verdict {
        Verdict {
            action: Action::Permit,
            ..Verdict::accept()
        }
    }

    /// Refuse with `code` (5xx) `enhanced` `text`.
    pub fn reject(code: u16, enhanced: &str, text: impl Into<String>) -> Verdict {
        Verdict {
            action: Action::Reject(Reply::new(code, enhanced, text)),
            ..Verdict::accept()
        }
    }

    /// Refuse for now with `code` (4xx) `enhanced` `text`.
    pub fn defer(code: u16, enhanced: &str, text: impl Into<String>) -> Verdict {
        Verdict {
            action: Action::Defer(Reply::new(code, enhanced, text)),
            ..Verdict::accept()
        }
    }

    /// The same, its reply written without the Postfix subject (see
    /// [`Reply::verbatim`]).
    pub fn verbatim(mut self) -> Verdict {
        if let Action::Reject(r) | Action::Defer(r) = &mut self.action {
            r.verbatim = true;
        }
        self
    }

    /// The same, with a header to add.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Verdict {
        self.headers.push(Header::new(name, value));
        self
    }

    /// The same, asking for `prefix` before the message's subject.
    pub fn with_subject_prefix(mut self, prefix: impl Into<String>) -> Verdict {
        self.subject_prefix = Some(sanitize(prefix.into()));
        self
    }

    /// The same, saying what the check found in the message.
    pub fn found(mut self, finding: Finding) -> Verdict {
        self.finding = Some(finding);
        self
    }

    /// The same, with the reason for the log.
    pub fn because(mut self, reason: impl Into<String>) -> Verdict {
        self.reason = Some(reason.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(stage: Stage) -> Facts {
        let mut f = Facts::new("192.0.2.7".parse().unwrap());
        f.stage = stage;
        f.helo = Some("client.example".into());
        f.sender = Some("alice@example.org".into());
        f.recipient = Some("bob@example.edu".into());
        f
    }

    #[test]
    fn refusals_are_written_as_postfix_writes_them_at_each_stage() {
        let r = Reply::new(450, "4.7.1", "Greylisted, try again in 300 seconds");
        assert_eq!(
            r.line(&facts(Stage::Rcpt)),
            "450 4.7.1 <bob@example.edu>: Recipient address rejected: Greylisted, try again in 300 seconds"
        );
        let r = Reply::new(554, "5.7.1", "Service unavailable");
        assert_eq!(
            r.line(&facts(Stage::Connect)),
            "554 5.7.1 <unknown[192.0.2.7]>: Client host rejected: Service unavailable"
        );
        assert_eq!(
            r.line(&facts(Stage::Helo)),
            "554 5.7.1 <client.example>: Helo command rejected: Service unavailable"
        );
        assert_eq!(
            r.line(&facts(Stage::Mail)),
            "554 5.7.1 <alice@example.org>: Sender address rejected: Service unavailable"
        );
        assert_eq!(
            r.line(&facts(Stage::Data)),
            "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Service unavailable"
        );
        assert_eq!(r.to_string(), "554 5.7.1 Service unavailable");
        let rbl = Reply::verbatim(
            554,
            "5.7.1",
            "Service unavailable; Client host [192.0.2.7] blocked using bl.example",
        );
        assert_eq!(
            rbl.line(&facts(Stage::Rcpt)),
            "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using bl.example"
        );
    }

    #[test]
    fn a_text_with_line_breaks_stays_one_line() {
        let r = Reply::new(550, "5.7.1", "no\r\n250 ok");
        assert_eq!(r.text, "no  250 ok");
        let h = Header::new("X-Rule", "a\nb");
        assert_eq!(h.to_string(), "X-Rule: a b");
    }
}
