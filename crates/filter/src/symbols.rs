//! Every symbol of the filter with its default weight and what it means:
//! the one table `[spam.weights]` overrides and `havre spam symbols`
//! prints. Names follow Rspamd's where Rspamd has the same test (R_SPF_*,
//! DMARC_POLICY_*, MIME_HTML_ONLY, PHISHING...), so an operator's habits
//! and weights carry over; weights are Rspamd's or SpamAssassin's, tuned
//! on the training corpus where they had none.

/// One symbol: its name, default weight, family and meaning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Symbol {
    pub name: &'static str,
    /// Points added when it matches (a dynamic symbol scales them: a list's
    /// weight, the Bayes probability).
    pub weight: f64,
    pub group: &'static str,
    pub description: &'static str,
}

const fn s(name: &'static str, weight: f64, group: &'static str, d: &'static str) -> Symbol {
    Symbol {
        name,
        weight,
        group,
        description: d,
    }
}

/// The symbols, by family.
pub static SYMBOLS: &[Symbol] = &[
    // The results of the checks that ran before the filter (our
    // Authentication-Results:, Received-SPF:, X-Greylist:).
    s(
        "R_SPF_ALLOW",
        -0.2,
        "auth",
        "SPF: the client may send for the sender's domain",
    ),
    s(
        "R_SPF_FAIL",
        1.0,
        "auth",
        "SPF: the sender's domain says the client may not send for it",
    ),
    s(
        "R_SPF_SOFTFAIL",
        0.7,
        "auth",
        "SPF: the sender's domain says the client probably may not send for it (~all)",
    ),
    s(
        "R_SPF_NEUTRAL",
        0.0,
        "auth",
        "SPF: the sender's domain says nothing of the client (?all)",
    ),
    s(
        "R_SPF_NA",
        0.0,
        "auth",
        "SPF: the sender's domain publishes no SPF record",
    ),
    s(
        "R_SPF_DNSFAIL",
        0.0,
        "auth",
        "SPF: the DNS failed during the check (temperror)",
    ),
    s(
        "R_SPF_PERMFAIL",
        0.0,
        "auth",
        "SPF: the sender's domain publishes a broken record (permerror)",
    ),
    s("R_DKIM_ALLOW", -0.2, "auth", "DKIM: a signature verifies"),
    s(
        "R_DKIM_REJECT",
        1.0,
        "auth",
        "DKIM: a signature does not verify",
    ),
    s(
        "R_DKIM_TEMPFAIL",
        0.0,
        "auth",
        "DKIM: a signature could not be checked now (DNS)",
    ),
    s(
        "R_DKIM_PERMFAIL",
        0.0,
        "auth",
        "DKIM: a signature cannot be checked (broken, no key, refused algorithm)",
    ),
    s("R_DKIM_NA", 0.0, "auth", "DKIM: the message is not signed"),
    s(
        "DMARC_POLICY_ALLOW",
        -0.5,
        "auth",
        "DMARC: the author's domain authenticated the message",
    ),
    s(
        "DMARC_POLICY_REJECT",
        2.0,
        "auth",
        "DMARC: fails, the author's domain says reject",
    ),
    s(
        "DMARC_POLICY_QUARANTINE",
        1.5,
        "auth",
        "DMARC: fails, the author's domain says quarantine",
    ),
    s(
        "DMARC_POLICY_SOFTFAIL",
        0.1,
        "auth",
        "DMARC: fails, the author's domain asks for nothing (p=none)",
    ),
    s(
        "DMARC_NA",
        0.0,
        "auth",
        "DMARC: the author's domain has no policy",
    ),
    s(
        "DMARC_DNSFAIL",
        0.0,
        "auth",
        "DMARC: the DNS failed during the check (temperror)",
    ),
    s(
        "DMARC_BAD_POLICY",
        0.5,
        "auth",
        "DMARC: the author's domain publishes a broken policy (permerror)",
    ),
    s(
        "ARC_ALLOW",
        -1.0,
        "auth",
        "ARC: the chain of the forwarders verifies",
    ),
    s("ARC_REJECT", 1.0, "auth", "ARC: the chain does not verify"),
    s(
        "ARC_INVALID",
        0.5,
        "auth",
        "ARC: the chain is broken (permerror, neutral)",
    ),
    s(
        "ARC_DNSFAIL",
        0.0,
        "auth",
        "ARC: the DNS failed during the check (temperror)",
    ),
    s("ARC_NA", 0.0, "auth", "ARC: the message has no chain"),
    s(
        "GREYLIST_DELAYED",
        -0.1,
        "auth",
        "Greylisted at RCPT and sent again after the delay, as a mail queue does",
    ),
    // DNS lists.
    s(
        "RBL_LISTED",
        3.0,
        "lists",
        "The client's address is on lists of mx.dnsbl (times their weights)",
    ),
    s(
        "RHSBL_LISTED",
        2.0,
        "lists",
        "The sender domain, HELO or client name is on lists of mx.rhsbl (times their weights)",
    ),
    s(
        "URIBL_LISTED",
        4.5,
        "lists",
        "A host of a URL in the message is on lists of spam.uribl (times their weights)",
    ),
    s(
        "HTTP_TO_IP",
        1.0,
        "lists",
        "A URL of the message names a host by its IP address",
    ),
    // Header sanity.
    s("MISSING_DATE", 1.0, "headers", "No Date: header"),
    s(
        "INVALID_DATE",
        1.5,
        "headers",
        "A Date: header that is no RFC 5322 date",
    ),
    s(
        "DATE_IN_FUTURE",
        4.0,
        "headers",
        "Date: more than 2 hours after the message was received",
    ),
    s(
        "DATE_IN_PAST",
        1.0,
        "headers",
        "Date: more than a day before the message was received",
    ),
    s("MISSING_MID", 2.5, "headers", "No Message-ID: header"),
    s(
        "INVALID_MSGID",
        1.7,
        "headers",
        "A Message-ID: that is no <left@right>",
    ),
    s("MISSING_FROM", 2.0, "headers", "No From: header"),
    s(
        "INVALID_FROM",
        2.0,
        "headers",
        "A From: header without an address that parses",
    ),
    s(
        "MULTIPLE_FROM",
        3.0,
        "headers",
        "More than one From: header",
    ),
    s(
        "MISSING_TO",
        1.0,
        "headers",
        "No To: header (mailing lists drop it too)",
    ),
    s("MISSING_SUBJECT", 2.0, "headers", "No Subject: header"),
    s(
        "SUBJ_ALL_CAPS",
        2.0,
        "headers",
        "A subject written in capitals only",
    ),
    s(
        "MISSING_MIME_VERSION",
        2.0,
        "headers",
        "MIME content without a MIME-Version: header",
    ),
    s(
        "FORGED_MUA_OUTLOOK",
        3.0,
        "headers",
        "X-Mailer: says Outlook, but the Message-ID: is not Outlook's",
    ),
    s(
        "FORGED_MUA_THUNDERBIRD",
        3.0,
        "headers",
        "User-Agent: says Thunderbird, but the Message-ID: is not Thunderbird's",
    ),
    s(
        "HEADER_RCPTS_BULK",
        1.5,
        "headers",
        "20 or more addresses in To: and Cc: (bulk)",
    ),
    s(
        "RAW_8BIT_HEADER",
        0.5,
        "headers",
        "8-bit bytes in the header outside of RFC 2047 encoded words",
    ),
    // Body and HTML.
    s(
        "MIME_HTML_ONLY",
        1.0,
        "body",
        "HTML without a plain text version",
    ),
    s(
        "PHISHING",
        4.0,
        "body",
        "A link whose text names another site than the one it leads to",
    ),
    s(
        "HTML_HIDDEN_TEXT",
        2.0,
        "body",
        "Text of the HTML that a reader does not see (hidden, tiny, colour of the background)",
    ),
    s(
        "HTML_IMAGE_ONLY",
        2.0,
        "body",
        "HTML of images and almost no text",
    ),
    s(
        "BODY_EXCESS_CAPS",
        1.5,
        "body",
        "Half of the text or more in capitals",
    ),
    s("MIME_BASE64_TEXT", 0.1, "body", "A text part in base64"),
    s(
        "MIME_BASE64_TEXT_BOGUS",
        1.0,
        "body",
        "ASCII text in base64, which it does not need: words hidden from filters",
    ),
    s(
        "MIME_QP_HEAVY",
        1.0,
        "body",
        "ASCII text heavily escaped in quoted-printable: words hidden from filters",
    ),
    s(
        "BROKEN_ENCODING",
        1.0,
        "body",
        "Broken base64 or quoted-printable",
    ),
    s(
        "UNKNOWN_CTE",
        1.0,
        "body",
        "An unknown Content-Transfer-Encoding",
    ),
    s("UNKNOWN_CHARSET", 1.0, "body", "A charset nobody knows"),
    s(
        "MISSING_CHARSET_8BIT",
        0.5,
        "body",
        "8-bit text without a charset",
    ),
    // Attachments.
    s(
        "MIME_BAD_EXTENSION",
        4.0,
        "attachments",
        "An attachment a computer runs when it is opened (exe, scr, js, vbs, lnk...)",
    ),
    s(
        "MIME_DOUBLE_BAD_EXTENSION",
        3.0,
        "attachments",
        "A runnable attachment disguised behind a second extension (invoice.pdf.exe)",
    ),
    s(
        "MIME_EXE_DISGUISED",
        4.0,
        "attachments",
        "An attachment whose bytes are a program but whose name or type says otherwise",
    ),
    s(
        "MIME_ARCHIVE_BAD_EXTENSION",
        4.0,
        "attachments",
        "An archive holding a file a computer runs",
    ),
    s(
        "MIME_ARCHIVE_IN_ARCHIVE",
        2.0,
        "attachments",
        "An archive inside an archive",
    ),
    s(
        "MIME_ENCRYPTED_ARCHIVE",
        2.0,
        "attachments",
        "An encrypted archive, whose files cannot be checked",
    ),
    s(
        "MIME_OFFICE_MACRO",
        2.0,
        "attachments",
        "An Office document with macros (docm, xlsm, pptm...)",
    ),
    s(
        "MIME_HTML_ATTACHMENT",
        1.0,
        "attachments",
        "An HTML file attached (a login page to fill in offline)",
    ),
    // The bounds of the analysis.
    s(
        "SCAN_LIMIT_SIZE",
        0.0,
        "limits",
        "Only the start of a big message was analysed",
    ),
    s(
        "SCAN_LIMIT_PARTS",
        2.0,
        "limits",
        "Too many MIME parts: only the first were analysed",
    ),
    s(
        "SCAN_LIMIT_DEPTH",
        2.0,
        "limits",
        "MIME parts nested too deep: the deepest were not analysed",
    ),
    s(
        "SCAN_LIMIT_TEXT",
        0.0,
        "limits",
        "Too much text: only the start was analysed",
    ),
    s(
        "SCAN_LIMIT_URLS",
        1.0,
        "limits",
        "Too many URLs: only the first were analysed",
    ),
    s(
        "SCAN_LIMIT_ARCHIVE",
        2.0,
        "limits",
        "An archive with too many files or nested too deep",
    ),
    s(
        "SCAN_LIMIT_INFLATE",
        3.0,
        "limits",
        "An archive that inflates beyond the limit (a zip bomb)",
    ),
    s(
        "SCAN_LIMIT_DNS",
        0.0,
        "limits",
        "DNS list answers that did not come within spam.dns_time_limit",
    ),
    s(
        "SCAN_SKIPPED_SIZE",
        0.0,
        "limits",
        "Bigger than spam.max_size: not scored",
    ),
    // Policy.
    s(
        "GTUBE",
        1000.0,
        "policy",
        "The GTUBE test string: refused whatever the score",
    ),
    // Bayes, scaled by the probability as Rspamd does.
    s(
        "BAYES_SPAM",
        5.1,
        "bayes",
        "The Bayes classifier says spam (times its confidence)",
    ),
    s(
        "BAYES_HAM",
        -3.0,
        "bayes",
        "The Bayes classifier says ham (times its confidence)",
    ),
];

/// The symbol named `name` (exact, upper case).
pub fn symbol(name: &str) -> Option<&'static Symbol> {
    SYMBOLS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_names_are_unique_upper_case_and_described() {
        for (i, s) in SYMBOLS.iter().enumerate() {
            assert!(
                s.name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                s.name
            );
            assert!(!s.description.is_empty(), "{}", s.name);
            assert!(
                SYMBOLS[..i].iter().all(|o| o.name != s.name),
                "{} twice",
                s.name
            );
        }
        assert_eq!(symbol("GTUBE").map(|s| s.weight), Some(1000.0));
        assert!(symbol("gtube").is_none());
    }
}
