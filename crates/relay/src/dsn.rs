//! Delivery status notifications (RFC 3464): the bounce a sender gets when a
//! recipient fails for good, or the warning when mail is delayed.
//!
//! A DSN is `multipart/report; report-type=delivery-status` with three parts:
//! a human explanation in the Postfix style, the machine-readable
//! `message/delivery-status`, and the original headers
//! (`text/rfc822-headers`). It is sent from the null sender `<>`, so it can
//! never cause another bounce.

use std::fmt::Write as _;

/// What happened to the recipients a DSN reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    Delayed,
}

/// One recipient in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedRecipient {
    pub address: String,
    /// The address the sender wrote, when alias expansion changed it.
    pub original: Option<String>,
    /// The RFC 3463 status (`5.1.1`): the remote's enhanced code, or ours
    /// for a local reason (`5.1.2` for a domain that does not exist).
    pub status: String,
    /// The last reply, e.g. `host mx.far.test[192.0.2.1] said: 550 5.1.1
    /// <x@y>: user unknown` or a local reason; it does not repeat the
    /// recipient's address, which the report names already.
    pub diagnostic: String,
    /// `host mx.example.org[192.0.2.1]` when a remote server answered.
    pub remote_mta: Option<String>,
}

pub struct Report<'a> {
    pub reporting_mta: &'a str,
    pub queue_id: &'a str,
    /// The original envelope sender (the DSN's recipient).
    pub sender: &'a str,
    pub arrival: i64,
    pub action: Action,
    pub recipients: &'a [ReportedRecipient],
    /// The original message's header block (CRLF line endings).
    pub original_headers: &'a [u8],
    pub now: i64,
}

fn rfc2822(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_default()
}

/// The recipient's status when it is an RFC 3463 code, or a default by
/// action (a status is never left out of a report).
fn status_code(status: &str, action: Action) -> String {
    let parts: Vec<&str> = status.split('.').collect();
    let valid = parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit()));
    if valid {
        status.to_string()
    } else {
        match action {
            Action::Failed => "5.0.0".into(),
            Action::Delayed => "4.0.0".into(),
        }
    }
}

/// The Message-ID of the notice about `queue_id` made at `now`.
pub fn message_id(queue_id: &str, now: i64, reporting_mta: &str) -> String {
    format!("<{queue_id}.{now}.dsn@{reporting_mta}>")
}

/// The whole DSN message, CRLF line endings, ready to queue.
pub fn build(report: &Report<'_>) -> Vec<u8> {
    let boundary = format!(
        "{}.{}/{}",
        report.queue_id, report.now, report.reporting_mta
    );
    let (subject, explanation) = match report.action {
        Action::Failed => (
            "Undelivered Mail Returned to Sender",
            "I'm sorry to have to inform you that your message could not\r\n\
             be delivered to one or more recipients. It's attached below.\r\n",
        ),
        Action::Delayed => (
            "Delayed Mail (still being retried)",
            "Your message could not be delivered for some time. It will be\r\n\
             retried until it is too old; you do not need to send it again.\r\n",
        ),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "From: MAILER-DAEMON@{mta} (Mail Delivery System)\r\n\
         To: {sender}\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: {message_id}\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a MIME-encapsulated message.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Description: Notification\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         This is the mail system at host {mta}.\r\n\
         \r\n\
         {explanation}\
         \r\n\
         For further assistance, please send mail to postmaster.\r\n\
         \r\n\
         \x20                  The mail system\r\n\
         \r\n",
        mta = report.reporting_mta,
        sender = report.sender,
        date = rfc2822(report.now),
        message_id = message_id(report.queue_id, report.now, report.reporting_mta),
    );
    for rcpt in report.recipients {
        let via = rcpt
            .original
            .as_ref()
            .map(|o| format!(" (expanded from <{o}>)"))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<{}>{via}: {}\r\n\r\n",
            rcpt.address,
            one_line(&rcpt.diagnostic)
        );
    }
    let _ = write!(
        out,
        "--{boundary}\r\n\
         Content-Description: Delivery report\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; {mta}\r\n\
         X-Havre-Queue-ID: {id}\r\n\
         Arrival-Date: {arrival}\r\n",
        mta = report.reporting_mta,
        id = report.queue_id,
        arrival = rfc2822(report.arrival),
    );
    for rcpt in report.recipients {
        let action = match report.action {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
        };
        if let Some(original) = &rcpt.original {
            let _ = write!(out, "\r\nOriginal-Recipient: rfc822; {original}");
        }
        let _ = write!(
            out,
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: {action}\r\nStatus: {}\r\n",
            rcpt.address,
            status_code(&rcpt.status, report.action)
        );
        if let Some(remote) = &rcpt.remote_mta {
            let _ = write!(out, "Remote-MTA: dns; {remote}\r\n");
        }
        let _ = write!(
            out,
            "Diagnostic-Code: smtp; {}\r\n",
            one_line(&rcpt.diagnostic)
        );
    }
    let _ = write!(
        out,
        "\r\n--{boundary}\r\n\
         Content-Description: Undelivered Message Headers\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n"
    );
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(report.original_headers);
    if !report.original_headers.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// The header block of a spool file (up to the blank line).
pub fn header_block(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(message.len().min(64 * 1024));
    &message[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounce_names_the_recipient_the_remote_reply_and_carries_the_headers() {
        let rcpt = [ReportedRecipient {
            address: "nobody@far.test".into(),
            original: None,
            status: "5.1.1".into(),
            diagnostic:
                "host mx.far.test[192.0.2.9] said: 550 5.1.1 <nobody@far.test>: user unknown".into(),
            remote_mta: Some("mx.far.test".into()),
        }];
        let dsn = build(&Report {
            reporting_mta: "mx.example.test",
            queue_id: "0123ABCD",
            sender: "alice@example.test",
            arrival: 1_700_000_000,
            action: Action::Failed,
            recipients: &rcpt,
            original_headers: b"Subject: hello\r\nFrom: alice@example.test\r\n",
            now: 1_700_000_100,
        });
        let text = String::from_utf8(dsn).unwrap();
        assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status;"));
        assert!(text.contains(
            "Final-Recipient: rfc822; nobody@far.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        ));
        assert!(text.contains("Remote-MTA: dns; mx.far.test\r\n"));
        assert!(
            text.contains("Diagnostic-Code: smtp; host mx.far.test[192.0.2.9] said: 550 5.1.1")
        );
        assert!(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hello\r\n"));
        assert!(text.contains("To: alice@example.test\r\n"));
        assert!(text.ends_with("--\r\n"));
        assert!(!text.contains("\n\n") || text.contains("\r\n\r\n"));
    }

    #[test]
    fn a_status_is_kept_when_valid_else_defaults_by_action() {
        assert_eq!(status_code("5.1.2", Action::Failed), "5.1.2");
        assert_eq!(status_code("5.1.10", Action::Failed), "5.1.10");
        assert_eq!(status_code("", Action::Delayed), "4.0.0");
        assert_eq!(status_code("refused", Action::Failed), "5.0.0");
    }
}
