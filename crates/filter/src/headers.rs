//! Header sanity: what every mail program writes and spam tools get wrong.
//! Missing or malformed `Date:`, `Message-ID:`, `From:`, `To:`,
//! `Subject:`; a date far from the time the message was received; a
//! mailer named in `X-Mailer:`/`User-Agent:` whose `Message-ID:` is not the
//! form that program writes (spamware claims to be Outlook); recipients in
//! bulk; a subject in capitals.

use std::sync::OnceLock;

use havre_content::Content;
use regex_lite::Regex;

use crate::score::Found;

/// A date this far after the reception is in the future (Rspamd: 2 hours).
const FUTURE: i64 = 2 * 3600;
/// A date this far before the reception is in the past (Rspamd: a day).
const PAST: i64 = 86_400;
/// Addresses in To: and Cc: from which a message is bulk.
const BULK_RECIPIENTS: usize = 20;
/// A subject needs this many letters to be "in capitals".
const CAPS_SUBJECT_LETTERS: usize = 10;

/// The header symbols of `content`, received at `received` (Unix
/// seconds; `None`: the dates are not compared).
pub fn symbols(content: &Content, received: Option<i64>) -> Vec<Found> {
    let mut found = Vec::new();
    date(content, received, &mut found);
    message_id(content, &mut found);
    from(content, &mut found);
    if content.header("To").is_none() {
        found.push(Found::new("MISSING_TO"));
    }
    match content.subject() {
        None => found.push(Found::new("MISSING_SUBJECT")),
        Some(subject) if in_capitals(subject) => found.push(Found::new("SUBJ_ALL_CAPS")),
        Some(_) => {}
    }
    let recipients: usize = content
        .header_all("To")
        .chain(content.header_all("Cc"))
        .map(count_addresses)
        .sum();
    if recipients >= BULK_RECIPIENTS {
        found.push(Found::new("HEADER_RCPTS_BULK").with(format!("{recipients} addresses")));
    }
    if content.header("MIME-Version").is_none() && is_mime(content) {
        found.push(Found::new("MISSING_MIME_VERSION"));
    }
    if content.encoding.header_8bit {
        found.push(Found::new("RAW_8BIT_HEADER"));
    }
    found.extend(forged_mua(content));
    found
}

fn date(content: &Content, received: Option<i64>, found: &mut Vec<Found>) {
    if content.date().is_none() {
        found.push(Found::new("MISSING_DATE"));
        return;
    }
    let Some(date) = content.date_timestamp else {
        found.push(Found::new("INVALID_DATE"));
        return;
    };
    let Some(received) = received else { return };
    if date > received + FUTURE {
        found.push(Found::new("DATE_IN_FUTURE").with(hours(date - received)));
    } else if date < received - PAST {
        found.push(Found::new("DATE_IN_PAST").with(hours(received - date)));
    }
}

fn hours(seconds: i64) -> String {
    format!("{} h", seconds / 3600)
}

fn message_id(content: &Content, found: &mut Vec<Found>) {
    match content.message_id() {
        None => found.push(Found::new("MISSING_MID")),
        Some(id) if !valid_message_id(id) => found.push(Found::new("INVALID_MSGID")),
        Some(_) => {}
    }
}

/// `<left@right>` (RFC 5322 3.6.4), without white space inside.
fn valid_message_id(id: &str) -> bool {
    let id = id.trim();
    let Some(inner) = id.strip_prefix('<').and_then(|i| i.strip_suffix('>')) else {
        return false;
    };
    let Some((left, right)) = inner.rsplit_once('@') else {
        return false;
    };
    !left.is_empty()
        && !right.is_empty()
        && !inner
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
}

fn from(content: &Content, found: &mut Vec<Found>) {
    let count = content.header_all("From").count();
    if count == 0 {
        found.push(Found::new("MISSING_FROM"));
        return;
    }
    if count > 1 {
        found.push(Found::new("MULTIPLE_FROM"));
    }
    if content.from_address.is_none() {
        found.push(Found::new("INVALID_FROM"));
    }
}

/// Letters enough, and none in lower case.
fn in_capitals(subject: &str) -> bool {
    let mut letters = 0;
    for c in subject.chars().filter(|c| c.is_alphabetic()) {
        if c.is_lowercase() {
            return false;
        }
        if c.is_uppercase() {
            letters += 1;
        }
    }
    letters >= CAPS_SUBJECT_LETTERS
}

/// Addresses in a To:/Cc: value: the parts between commas outside quotes
/// that hold an `@`.
fn count_addresses(value: &str) -> usize {
    let (mut count, mut quoted, mut at) = (0, false, false);
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            '@' if !quoted => at = true,
            ',' | ';' if !quoted => {
                count += usize::from(at);
                at = false;
            }
            _ => {}
        }
    }
    count + usize::from(at)
}

/// The message has MIME structure or encoding (parts, a transfer encoding).
fn is_mime(content: &Content) -> bool {
    content.header("Content-Transfer-Encoding").is_some()
        || content.header("Content-Type").is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        })
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("a valid pattern"))
}

/// `X-Mailer:` or `User-Agent:` names a program whose Message-ID form is
/// known, and the `Message-ID:` is not of that form.
fn forged_mua(content: &Content) -> Option<Found> {
    static OUTLOOK: OnceLock<Regex> = OnceLock::new();
    static OUTLOOK_IMO: OnceLock<Regex> = OnceLock::new();
    static THUNDERBIRD: OnceLock<Regex> = OnceLock::new();
    let id = content.message_id()?.trim();
    let mailer = content
        .header("X-Mailer")
        .or_else(|| content.header("User-Agent"))?;
    // Microsoft's own mail services give their own ids to what Outlook
    // sends through them.
    let host = id
        .rsplit_once('@')
        .map(|(_, h)| h.trim_end_matches('>').to_ascii_lowercase());
    let microsoft = host.as_deref().is_some_and(|h| {
        ["hotmail.com", "msn.com", "outlook.com", "live.com"]
            .iter()
            .any(|d| h == *d || h.ends_with(&format!(".{d}")))
    });
    if mailer.starts_with("Microsoft Outlook IMO") {
        // Outlook 98/2000: 28 letters A-P, a dot, then the address.
        let ok = regex(&OUTLOOK_IMO, r"^<[A-P]{28}\.[^@>]+@[^>]+>$").is_match(id);
        return (!ok && !microsoft)
            .then(|| Found::new("FORGED_MUA_OUTLOOK").with(mailer.to_owned()));
    }
    let outlook = (mailer.starts_with("Microsoft Outlook")
        || mailer.starts_with("Microsoft Office Outlook"))
        && !mailer.contains("Macintosh");
    if outlook {
        // Outlook Express and Outlook 2002 and later: the FILETIME of the
        // moment in hex, whose high part starts with 01c or 01d since
        // 1996, then two more hex words, before `@`.
        let ok = regex(
            &OUTLOOK,
            r"^<[0-9A-Fa-f]{4}01[cdCD][0-9A-Fa-f]{5}\$[0-9A-Fa-f]{8}\$[0-9A-Fa-f]{8}\$?@[^>]+>$",
        )
        .is_match(id);
        return (!ok && !microsoft)
            .then(|| Found::new("FORGED_MUA_OUTLOOK").with(mailer.to_owned()));
    }
    let user_agent = content.header("User-Agent").unwrap_or(mailer);
    if user_agent.contains("Thunderbird/") {
        // Thunderbird: a UUID since version 68, `4C2D1F7E.4050003@...`
        // before.
        let ok = regex(
            &THUNDERBIRD,
            r"^<([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9A-F]{8}\.[0-9]{1,9})@[^>]+>$",
        )
        .is_match(id);
        return (!ok).then(|| Found::new("FORGED_MUA_THUNDERBIRD").with(user_agent.to_owned()));
    }
    None
}

#[cfg(test)]
mod tests {
    use havre_content::{Limits, analyze};

    use super::*;

    fn names(message: &str, received: Option<i64>) -> Vec<&'static str> {
        let content = analyze(message.as_bytes(), &Limits::default());
        symbols(&content, received)
            .into_iter()
            .map(|f| f.name)
            .collect()
    }

    const GOOD: &str = "From: Alice <alice@example.org>\r\nTo: bob@example.edu\r\n\
                        Subject: Lunch\r\nDate: Mon, 01 Jan 2029 10:00:00 +0000\r\n\
                        Message-ID: <abc@example.org>\r\n\r\nHello\r\n";
    /// 2029-01-01T10:00:00Z
    const T: i64 = 1_861_956_000;

    #[test]
    fn an_ordinary_message_has_no_header_symbol() {
        assert!(
            names(GOOD, Some(T + 60)).is_empty(),
            "{:?}",
            names(GOOD, Some(T + 60))
        );
    }

    #[test]
    fn missing_and_malformed_fields_each_have_their_symbol() {
        assert_eq!(
            names("X-Nothing: 1\r\n\r\nbody\r\n", None),
            [
                "MISSING_DATE",
                "MISSING_MID",
                "MISSING_FROM",
                "MISSING_TO",
                "MISSING_SUBJECT"
            ]
        );
        let bad = "From: nobody\r\nTo: b@example.edu\r\nSubject: x\r\n\
                   Date: someday soon\r\nMessage-ID: 12345\r\n\r\nbody\r\n";
        assert_eq!(
            names(bad, None),
            ["INVALID_DATE", "INVALID_MSGID", "INVALID_FROM"]
        );
        let two = GOOD.replace("From:", "From: x@y.example\r\nFrom:");
        assert_eq!(names(&two, None), ["MULTIPLE_FROM"]);
    }

    #[test]
    fn dates_are_compared_with_the_time_the_message_was_received() {
        assert_eq!(names(GOOD, Some(T - 3 * 3600)), ["DATE_IN_FUTURE"]);
        assert_eq!(names(GOOD, Some(T + 2 * 86_400)), ["DATE_IN_PAST"]);
        assert!(names(GOOD, Some(T + 3600)).is_empty());
        assert!(
            names(GOOD, None).is_empty(),
            "no reception time: not compared"
        );
    }

    #[test]
    fn a_subject_in_capitals_bulk_recipients_and_mime_without_version() {
        let many: Vec<String> = (0..25).map(|i| format!("u{i}@example.edu")).collect();
        let message = format!(
            "From: a@example.org\r\nTo: {}\r\nCc: \"Doe, J\" <j@example.edu>\r\n\
             Subject: FREE MONEY NOW!!!\r\nDate: Mon, 01 Jan 2029 10:00:00 +0000\r\n\
             Message-ID: <x@y>\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n",
            many.join(", ")
        );
        assert_eq!(
            names(&message, None),
            ["SUBJ_ALL_CAPS", "HEADER_RCPTS_BULK", "MISSING_MIME_VERSION"]
        );
        assert_eq!(count_addresses("\"Doe, J\" <j@x>, k@y; l@z"), 3);
        assert!(!in_capitals("RE: meeting"));
        assert!(!in_capitals("OK"));
    }

    #[test]
    fn a_mailer_whose_message_id_is_not_its_own_is_forged() {
        let with = |mailer: &str, id: &str| {
            names(
                &GOOD.replace(
                    "Message-ID: <abc@example.org>",
                    &format!("{mailer}\r\nMessage-ID: {id}"),
                ),
                None,
            )
        };
        let oe = "X-Mailer: Microsoft Outlook Express 6.00.2600.0000";
        assert!(with(oe, "<005801c24a00$1e226060$73c04144@leslie>").is_empty());
        assert!(
            with(
                "X-Mailer: Microsoft Outlook 16.0",
                "<000001d9a0c5$d3ef9e90$7bcedbb0$@example.org>"
            )
            .is_empty()
        );
        assert_eq!(
            with(oe, "<000c84d37aae$7338a0a4$3ab55ec5@bjjwxv>"),
            ["FORGED_MUA_OUTLOOK"]
        );
        assert_eq!(
            with(oe, "<200208231922.UAA12066@webnote.net>"),
            ["FORGED_MUA_OUTLOOK"]
        );
        assert!(with(oe, "<DAV32l8aii08N8yxdZj00009342@hotmail.com>").is_empty());
        assert!(
            with(
                "X-Mailer: Microsoft Outlook Express Macintosh Edition - 4.5 (0410)",
                "<E17hrT0-0004gj-00@x>"
            )
            .is_empty()
        );
        let imo = "X-Mailer: Microsoft Outlook IMO, Build 9.0.2416 (9.0.2910.0)";
        assert!(with(imo, "<BCEFLMCEIJHPCPLGADJIGEEFCAAA.kiall@redpie.com>").is_empty());
        assert_eq!(
            with(imo, "<026d33d26c2a$1776b2e2$6ae60bb2@xiaefv>"),
            ["FORGED_MUA_OUTLOOK"]
        );
        let tb = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0";
        assert!(with(tb, "<3f0b8d2c-5a51-4b6e-9d1e-0c7a1b2c3d4e@example.org>").is_empty());
        assert!(with(tb, "<4C2D1F7E.4050003@example.org>").is_empty());
        assert_eq!(
            with(tb, "<20290101100000.12345@mailer.example>"),
            ["FORGED_MUA_THUNDERBIRD"]
        );
    }
}
