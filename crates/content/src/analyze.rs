//! [`analyze`]: the entry point.

use std::sync::OnceLock;

use mail_parser::{HeaderName, MessageParser};

use crate::content::Content;
use crate::limits::Limits;
use crate::urls::{HostSet, email_domains, url_hosts};
use crate::walk::Walker;

/// mail-parser set to parse only the fields read here (MIME fields, Date,
/// From); the others stay raw, which is cheaper (Received lines are many
/// and costly to parse).
fn parser() -> &'static MessageParser {
    static PARSER: OnceLock<MessageParser> = OnceLock::new();
    PARSER.get_or_init(|| {
        MessageParser::new()
            .with_mime_headers()
            .header_date(HeaderName::Date)
            .header_address(HeaderName::From)
    })
}

/// Analyses a message (LF or CRLF line endings): see [`Content`]. Never
/// fails and never panics; only the first [`Limits::max_scan_bytes`] are
/// read, and every list and loop is bounded by `limits`
/// ([`Content::limits_hit`] says which bounds were reached).
pub fn analyze(raw: &[u8], limits: &Limits) -> Content {
    let mut content = Content {
        size: raw.len(),
        ..Content::default()
    };
    let scanned = if raw.len() > limits.max_scan_bytes {
        content.limits_hit.scan_bytes = true;
        &raw[..limits.max_scan_bytes]
    } else {
        raw
    };
    let mut walker = Walker::new(
        limits,
        parser(),
        content.limits_hit.scan_bytes.then_some(scanned),
    );
    walker.message(scanned);
    walker.finish(&mut content);
    content
}

/// URL hosts and e-mail domains of the text, and its letter counts.
pub(crate) fn hosts_and_counts(content: &mut Content, html_hosts: Vec<String>, max_urls: usize) {
    let mut hosts = HostSet::new(max_urls);
    for host in html_hosts {
        hosts.insert(host);
    }
    url_hosts(&content.text, |h| hosts.insert(h));
    url_hosts(&content.hidden_text, |h| hosts.insert(h));
    let mut emails = HostSet::new(max_urls);
    email_domains(&content.text, |d| emails.insert(d));
    content.limits_hit.urls |= hosts.full || emails.full;
    content.url_hosts = hosts.list;
    content.email_domains = emails.list;
    (content.letters, content.capitals, content.text_chars) = letter_counts(&content.text);
}

/// (letters, upper-case letters, characters) of `text`.
fn letter_counts(text: &str) -> (usize, usize, usize) {
    if text.is_ascii() {
        // The usual case, in loops the compiler vectorises.
        let bytes = text.as_bytes();
        let letters = bytes
            .iter()
            .map(|&b| usize::from((b | 0x20).wrapping_sub(b'a') < 26))
            .sum();
        let capitals = bytes
            .iter()
            .map(|&b| usize::from(b.wrapping_sub(b'A') < 26))
            .sum();
        return (letters, capitals, bytes.len());
    }
    let (mut letters, mut capitals, mut chars) = (0, 0, 0);
    for c in text.chars() {
        chars += 1;
        if c.is_alphabetic() {
            letters += 1;
            capitals += usize::from(c.is_uppercase());
        }
    }
    (letters, capitals, chars)
}
