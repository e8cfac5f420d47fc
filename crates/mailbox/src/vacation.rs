//! Vacation replies (RFC 5230, with RFC 3834's rules for automatic
//! responses): whether a script's `vacation` is answered, and the answer.
//!
//! Never answered (RFC 5230 4.5-4.6, RFC 3834 2): the null sender; senders
//! that are mailers or lists by their local part (`MAILER-DAEMON`,
//! `owner-*`, `*-request`...); mail that says it is automatic
//! (`Auto-Submitted:` other than `no`), bulk (`Precedence: bulk`, `list`,
//! `junk`) or from a list (any `List-*:` field of RFC 2369/2919); mail
//! whose To/Cc/Bcc (and Resent-) fields name none of the user's addresses
//! (her own, the address the client gave, `:addresses`, `:from`); mail
//! from the user herself. A sender is answered at most once per `:days`
//! (`:seconds`) and handle: a counter in the node's state whose lifetime
//! is the period, so the check and the mark are one atomic step.
//!
//! The answer comes from the user (or `:from`) to the envelope sender,
//! `Auto-Submitted: auto-replied`, `In-Reply-To:` and `References:` the
//! original's, the subject `:subject` or "Auto: " and the original's; it
//! is queued from `<>` by the caller (RFC 3834 3.3).

use std::sync::Arc;

use havre_sieve::Vacation;
use havre_state::{Persist, State};

/// Local parts that are mailers and list robots (RFC 5230 4.6, as
/// Pigeonhole lists them).
const ROBOT_PREFIXES: [&str; 1] = ["owner-"];
const ROBOT_SUFFIXES: [&str; 3] = ["-request", "-owner", "-bounces"];
const ROBOTS: [&str; 7] = [
    "mailer-daemon",
    "mailer",
    "listserv",
    "majordomo",
    "postmaster",
    "noreply",
    "no-reply",
];

/// A vacation reply to queue, from `<>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacationReply {
    pub to: String,
    /// CRLF line endings.
    pub message: Vec<u8>,
}

/// What vacation needs of a delivery.
pub(crate) struct Delivery<'a> {
    pub user: &'a str,
    pub original_to: Option<&'a str>,
    pub sender: &'a str,
    pub raw: &'a [u8],
    pub hostname: &'a str,
    pub queue_id: &'a str,
}

/// Why a reply is not sent, for the log.
fn refusal(vacation: &Vacation, d: &Delivery<'_>, fields: &[(String, String)]) -> Option<String> {
    if d.sender.is_empty() {
        return Some("the sender is <>".into());
    }
    let sender = d.sender.to_ascii_lowercase();
    let local = sender.rsplit_once('@').map_or(sender.as_str(), |(l, _)| l);
    if ROBOTS.contains(&local)
        || ROBOT_PREFIXES.iter().any(|p| local.starts_with(p))
        || ROBOT_SUFFIXES.iter().any(|s| local.ends_with(s))
    {
        return Some(format!("<{}> is a mailer or a list", d.sender));
    }
    for (name, value) in fields {
        let name = name.to_ascii_lowercase();
        let value = value.trim().to_ascii_lowercase();
        if name == "auto-submitted" && value != "no" {
            return Some(format!("Auto-Submitted: {value}"));
        }
        if name == "precedence" && matches!(value.as_str(), "bulk" | "list" | "junk") {
            return Some(format!("Precedence: {value}"));
        }
        if name.starts_with("list-") {
            return Some(format!("mail from a list ({name})"));
        }
    }
    let own = own_addresses(vacation, d);
    if own.contains(&sender) {
        return Some("mail from the user herself".into());
    }
    let named = fields.iter().any(|(name, value)| {
        let name = name.to_ascii_lowercase();
        matches!(
            name.as_str(),
            "to" | "cc" | "bcc" | "resent-to" | "resent-cc" | "resent-bcc"
        ) && address_tokens(value).any(|t| own.contains(&t))
    });
    if !named {
        return Some("none of the user's addresses is in To/Cc/Bcc".into());
    }
    None
}

/// The user's addresses, lower-case.
fn own_addresses(vacation: &Vacation, d: &Delivery<'_>) -> Vec<String> {
    let mut own = vec![d.user.to_ascii_lowercase()];
    own.extend(d.original_to.map(str::to_ascii_lowercase));
    own.extend(
        vacation
            .addresses
            .iter()
            .map(|a| bare(a).to_ascii_lowercase()),
    );
    if let Some(from) = &vacation.from {
        own.push(bare(from).to_ascii_lowercase());
    }
    own
}

/// The address of `Name <addr>`, or the text itself.
fn bare(text: &str) -> &str {
    match (text.rfind('<'), text.rfind('>')) {
        (Some(start), Some(end)) if start < end => text[start + 1..end].trim(),
        _ => text.trim(),
    }
}

/// Address-like words of a field value, lower-case.
fn address_tokens(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '<' | '>' | ';' | '"' | '(' | ')'))
        .filter(|t| t.contains('@'))
        .map(str::to_ascii_lowercase)
}

/// The header fields of `raw`, unfolded, values as written.
fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    let end = havre_message::header_end(raw);
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    fields
}

/// Decides and composes the reply; `None` when none is due (logged).
pub(crate) async fn reply(
    state: &Arc<dyn State>,
    vacation: &Vacation,
    d: &Delivery<'_>,
) -> Option<VacationReply> {
    let fields = header_fields(d.raw);
    if let Some(why) = refusal(vacation, d, &fields) {
        tracing::info!(target: "sieve", "{}: to=<{}>: sieve: vacation not sent: {why}", d.queue_id, d.user);
        return None;
    }
    // One counter per user, handle and sender, living `period` seconds:
    // the first delivery makes it 1 and answers; the next ones do not.
    let key = format!(
        "vacation:{}:{}:{}",
        d.user,
        key_part(&vacation.handle),
        d.sender.to_ascii_lowercase()
    );
    let period = std::time::Duration::from_secs(vacation.period.max(1));
    match state.incr(&key, 1, period, Persist::Durable).await {
        Ok(1) => {}
        Ok(_) => {
            tracing::info!(target: "sieve", "{}: to=<{}>: sieve: vacation not sent: <{}> already answered within {}s", d.queue_id, d.user, d.sender, vacation.period);
            return None;
        }
        Err(err) => {
            // Better no answer than one per message.
            tracing::warn!(target: "sieve", "{}: to=<{}>: sieve: vacation not sent: {err}", d.queue_id, d.user);
            return None;
        }
    }
    Some(VacationReply {
        to: d.sender.to_string(),
        message: compose(vacation, d, &fields, unix_now()),
    })
}

/// Text as a key part of the state: hex of its hash, so no `:` of it
/// splits the key and no length makes it long.
pub(crate) fn key_part(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The reply message, CRLF line endings.
fn compose(
    vacation: &Vacation,
    d: &Delivery<'_>,
    fields: &[(String, String)],
    now: i64,
) -> Vec<u8> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let from = vacation.from.clone().unwrap_or_else(|| d.user.to_string());
    let subject = match &vacation.subject {
        Some(subject) => subject.clone(),
        None => {
            let original = havre_message::header(d.raw, "Subject").unwrap_or_default();
            format!("Auto: {original}")
        }
    };
    let date = chrono::DateTime::from_timestamp(now, 0)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_default();
    let mut out = String::new();
    out.push_str(&format!("From: {}\r\n", one_line(&from)));
    out.push_str(&format!("To: <{}>\r\n", d.sender));
    out.push_str(&format!(
        "Subject: {}\r\n",
        encode_word(&one_line(&subject))
    ));
    out.push_str(&format!("Date: {date}\r\n"));
    out.push_str(&format!(
        "Message-ID: <{}.{now}.vacation@{}>\r\n",
        d.queue_id, d.hostname
    ));
    if let Some(id) = field("Message-ID") {
        out.push_str(&format!("In-Reply-To: {id}\r\n"));
        let references = match field("References") {
            Some(refs) => format!("{refs} {id}"),
            None => id.to_string(),
        };
        out.push_str(&format!("References: {references}\r\n"));
    }
    out.push_str("Auto-Submitted: auto-replied (vacation)\r\n");
    out.push_str("Precedence: bulk\r\n");
    out.push_str("MIME-Version: 1.0\r\n");
    let reason = vacation.reason.replace("\r\n", "\n").replace('\n', "\r\n");
    if vacation.mime {
        // The reason is a MIME entity: its own header, then its body.
        out.push_str(&reason);
    } else {
        out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
        out.push_str("Content-Transfer-Encoding: 8bit\r\n\r\n");
        out.push_str(&reason);
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// A header value on one line, without control characters.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// RFC 2047 Q-encoding of a value that is not ASCII.
fn encode_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        let mut buf = [0u8; 4];
        let mut encoded = String::new();
        for b in c.encode_utf8(&mut buf).bytes() {
            if b.is_ascii_alphanumeric() {
                encoded.push(b as char);
            } else if b == b' ' {
                encoded.push('_');
            } else {
                encoded.push_str(&format!("={b:02X}"));
            }
        }
        // RFC 2047 2: encoded words of at most 75 characters.
        if word.len() + encoded.len() > 60 {
            words.push(std::mem::take(&mut word));
        }
        word.push_str(&encoded);
    }
    words.push(word);
    words
        .iter()
        .map(|w| format!("=?utf-8?Q?{w}?="))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vacation() -> Vacation {
        Vacation {
            reason: "I am away.".into(),
            subject: None,
            from: None,
            addresses: vec!["alice.smith@example.test".into()],
            mime: false,
            handle: "h".into(),
            period: 86_400,
        }
    }

    fn delivery<'a>(sender: &'a str, raw: &'a [u8]) -> Delivery<'a> {
        Delivery {
            user: "alice@example.test",
            original_to: None,
            sender,
            raw,
            hostname: "mx.example.test",
            queue_id: "Q1",
        }
    }

    fn refused(sender: &str, raw: &str) -> Option<String> {
        let d = delivery(sender, raw.as_bytes());
        refusal(&vacation(), &d, &header_fields(raw.as_bytes()))
    }

    #[test]
    fn lists_robots_automatic_mail_and_mail_not_to_the_user_get_no_reply() {
        let to_alice = "To: Alice <alice@example.test>\r\nSubject: hi\r\n\r\nx";
        assert_eq!(refused("bob@remote.example", to_alice), None);
        assert!(refused("", to_alice).unwrap().contains("<>"));
        for robot in [
            "MAILER-DAEMON@remote.example",
            "owner-talk@lists.example",
            "talk-request@lists.example",
        ] {
            assert!(refused(robot, to_alice).is_some(), "{robot}");
        }
        for field in [
            "Auto-Submitted: auto-replied",
            "Precedence: bulk",
            "Precedence: list",
            "List-Id: <talk.lists.example>",
        ] {
            let raw = format!("{field}\r\n{to_alice}");
            assert!(refused("bob@remote.example", &raw).is_some(), "{field}");
        }
        let auto_no = format!("Auto-Submitted: no\r\n{to_alice}");
        assert_eq!(refused("bob@remote.example", &auto_no), None);
        // Bcc'd through a list address: not hers.
        let other = "To: team@example.test\r\n\r\nx";
        assert!(refused("bob@remote.example", other).is_some());
        // One of :addresses, folded in Cc.
        let cc = "To: x@y.example\r\nCc: a@b.example,\r\n Alice Smith <Alice.Smith@example.test>\r\n\r\nx";
        assert_eq!(refused("bob@remote.example", cc), None);
        assert!(refused("alice@example.test", to_alice).is_some());
    }

    #[test]
    fn the_reply_threads_under_the_original_and_says_it_is_automatic() {
        let raw = b"To: alice@example.test\r\nSubject: =?utf-8?Q?caf=C3=A9?=\r\nMessage-ID: <m2@remote.example>\r\nReferences: <m1@remote.example>\r\n\r\nx";
        let d = delivery("bob@remote.example", raw);
        let text = String::from_utf8(compose(&vacation(), &d, &header_fields(raw), 0)).unwrap();
        assert!(text.starts_with("From: alice@example.test\r\nTo: <bob@remote.example>\r\nSubject: =?utf-8?Q?Auto=3A_caf=C3=A9?=\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n"), "{text}");
        assert!(text.contains("\r\nIn-Reply-To: <m2@remote.example>\r\nReferences: <m1@remote.example> <m2@remote.example>\r\nAuto-Submitted: auto-replied (vacation)\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nI am away.\r\n"), "{text}");
    }
}
