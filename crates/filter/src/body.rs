//! Symbols of the body, from the analysis of `havre-content`: the shape of
//! the HTML (HTML only, links lying about where they go, hidden text,
//! images instead of text), capitals, encodings that hide words from
//! filters, URLs to bare addresses, the limits of the analysis, and GTUBE.

use std::net::IpAddr;

use havre_content::Content;

use crate::score::Found;

/// The GTUBE test string (SpamAssassin's "Generic Test for Unsolicited
/// Bulk Email"): a message carrying it is refused, as by Rspamd.
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// Hidden characters from which hidden text counts (a newsletter's hidden
/// preview line is shorter).
const HIDDEN_CHARS: usize = 150;
/// Letters from which the share of capitals of the text is judged.
const CAPS_LETTERS: usize = 200;
/// The share of capitals that is too many.
const CAPS_RATIO: f32 = 0.5;
/// The share of `=XX` escapes of ASCII text in quoted-printable that is
/// too many (plain ASCII needs almost none).
const QP_RATIO: f32 = 0.2;

/// The body symbols of `content`.
pub fn symbols(content: &Content) -> Vec<Found> {
    let mut found = Vec::new();
    if content.text.contains(GTUBE) {
        found.push(Found::new("GTUBE"));
    }
    html(content, &mut found);
    if content.letters >= CAPS_LETTERS && content.capital_ratio() >= CAPS_RATIO {
        found.push(
            Found::new("BODY_EXCESS_CAPS")
                .with(format!("{:.0}% capitals", content.capital_ratio() * 100.0)),
        );
    }
    encodings(content, &mut found);
    let ip_hosts: Vec<&String> = content
        .url_hosts
        .iter()
        .filter(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().is_ok())
        .collect();
    if let Some(first) = ip_hosts.first() {
        found.push(Found::new("HTTP_TO_IP").with(first.as_str()));
    }
    limits(content, &mut found);
    found
}

fn html(content: &Content, found: &mut Vec<Found>) {
    let html = &content.html;
    if html.html_only {
        found.push(Found::new("MIME_HTML_ONLY"));
    }
    if let Some(link) = html.links.iter().find(|l| l.text_names_other_host()) {
        found.push(Found::new("PHISHING").with(format!(
            "{} -> {}",
            link.text_host.as_deref().unwrap_or(""),
            link.href_host.as_deref().unwrap_or("")
        )));
    }
    if html.hidden_chars >= HIDDEN_CHARS {
        found
            .push(Found::new("HTML_HIDDEN_TEXT").with(format!("{} characters", html.hidden_chars)));
    }
    if html.mostly_images {
        found.push(Found::new("HTML_IMAGE_ONLY").with(format!("{} images", html.images)));
    }
}

fn encodings(content: &Content, found: &mut Vec<Found>) {
    let e = &content.encoding;
    // Text that is plain ASCII needs no encoding to hide in.
    let ascii = content.text.is_ascii();
    if e.text_base64 > 0 {
        found.push(Found::new(if ascii {
            "MIME_BASE64_TEXT_BOGUS"
        } else {
            "MIME_BASE64_TEXT"
        }));
    }
    if e.text_qp > 0 && ascii && e.qp_max_encoded_ratio >= QP_RATIO {
        found.push(
            Found::new("MIME_QP_HEAVY")
                .with(format!("{:.0}% escaped", e.qp_max_encoded_ratio * 100.0)),
        );
    }
    if e.broken_base64 + e.broken_qp > 0 {
        found.push(Found::new("BROKEN_ENCODING"));
    }
    if e.unknown_transfer_encodings > 0 {
        found.push(Found::new("UNKNOWN_CTE"));
    }
    if let Some(charset) = e.unknown_charsets.first() {
        found.push(Found::new("UNKNOWN_CHARSET").with(charset.as_str()));
    }
    if e.undeclared_8bit > 0 {
        found.push(Found::new("MISSING_CHARSET_8BIT"));
    }
}

fn limits(content: &Content, found: &mut Vec<Found>) {
    let hit = &content.limits_hit;
    for (reached, name) in [
        (hit.scan_bytes, "SCAN_LIMIT_SIZE"),
        (hit.parts, "SCAN_LIMIT_PARTS"),
        (hit.depth, "SCAN_LIMIT_DEPTH"),
        (hit.text, "SCAN_LIMIT_TEXT"),
        (hit.urls, "SCAN_LIMIT_URLS"),
        (
            hit.archive_entries || hit.archive_depth,
            "SCAN_LIMIT_ARCHIVE",
        ),
        (hit.inflate_bytes, "SCAN_LIMIT_INFLATE"),
    ] {
        if reached {
            found.push(Found::new(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use havre_content::{Limits, analyze};

    use super::*;

    fn names_with(message: &str, limits: &Limits) -> Vec<&'static str> {
        let content = analyze(message.as_bytes(), limits);
        symbols(&content).into_iter().map(|f| f.name).collect()
    }

    fn names(message: &str) -> Vec<&'static str> {
        names_with(message, &Limits::default())
    }

    const HEAD: &str =
        "From: a@example.org\r\nTo: b@example.edu\r\nSubject: s\r\nMIME-Version: 1.0\r\n";

    #[test]
    fn plain_text_has_no_body_symbol_and_gtube_is_found() {
        assert!(names(&format!("{HEAD}\r\nHello Bob, lunch at noon?\r\n")).is_empty());
        assert_eq!(names(&format!("{HEAD}\r\nTest: {GTUBE}\r\n")), ["GTUBE"]);
    }

    #[test]
    fn html_only_with_a_lying_link_hidden_text_and_a_url_to_an_address() {
        let hidden = "cheap pills ".repeat(20);
        let html = format!(
            "{HEAD}Content-Type: text/html\r\n\r\n<html><body><p>Dear customer, check your account:\r\n\
             <a href=\"http://login.evil.example/x\">www.bank.example</a>\r\n\
             <a href=\"http://192.0.2.55/y\">here</a>\r\n\
             <div style=\"display:none\">{hidden}</div></p></body></html>\r\n"
        );
        assert_eq!(
            names(&html),
            [
                "MIME_HTML_ONLY",
                "PHISHING",
                "HTML_HIDDEN_TEXT",
                "HTTP_TO_IP"
            ]
        );
    }

    #[test]
    fn capitals_and_encodings_that_hide_words() {
        let shout = "BUY NOW AND SAVE BIG ON EVERYTHING YOU WANT TODAY ".repeat(6);
        assert_eq!(
            names(&format!("{HEAD}\r\n{shout}\r\n")),
            ["BODY_EXCESS_CAPS"]
        );
        // "Hello there, friend" in base64: ASCII text needs no base64.
        let b64 = format!(
            "{HEAD}Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             SGVsbG8gdGhlcmUsIGZyaWVuZA==\r\n"
        );
        assert_eq!(names(&b64), ["MIME_BASE64_TEXT_BOGUS"]);
        let qp = format!(
            "{HEAD}Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
             =56=49=41=47=52=41 =63=68=65=61=70\r\n"
        );
        assert_eq!(names(&qp), ["MIME_QP_HEAVY"]);
        let charset = format!("{HEAD}Content-Type: text/plain; charset=x-martian\r\n\r\nhi\r\n");
        assert_eq!(names(&charset), ["UNKNOWN_CHARSET"]);
    }

    #[test]
    fn the_limits_of_the_analysis_have_their_symbols() {
        let mut parts = format!("{HEAD}Content-Type: multipart/mixed; boundary=b\r\n\r\n");
        for i in 0..20 {
            parts.push_str(&format!(
                "--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
            ));
        }
        parts.push_str("--b--\r\n");
        let small = Limits {
            max_parts: 5,
            ..Limits::default()
        };
        assert_eq!(names_with(&parts, &small), ["SCAN_LIMIT_PARTS"]);
    }
}
