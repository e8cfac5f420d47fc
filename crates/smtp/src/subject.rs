//! The subject of a stored message, prefixed as a check asked (the spam
//! filter's `[SPAM] `, as SpamAssassin's `rewrite_header Subject` and
//! Rspamd's `rewrite_subject`), on raw header bytes.
//!
//! Only the first `Subject:` field changes: the prefix goes right after the
//! colon and the white space that follows it, so the rest of the value
//! (encoded words, folded lines) stays as the client wrote it. A subject
//! that already starts with the prefix is left alone (a message tagged by
//! another server, or coming back). A header without a subject gets one.

/// `header` (a header section) with `prefix` before the subject; `None`
/// when it has no `Subject:` field, so the caller adds one.
pub(crate) fn prefixed(header: &[u8], prefix: &str) -> Option<Vec<u8>> {
    let mut start = 0;
    while start < header.len() {
        let end = header[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(header.len(), |i| start + i + 1);
        let line = &header[start..end];
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && !matches!(line.first(), Some(b' ' | b'\t'))
            && line[..colon]
                .trim_ascii_end()
                .eq_ignore_ascii_case(b"subject")
        {
            let mut at = start + colon + 1;
            while matches!(header.get(at), Some(b' ' | b'\t')) {
                at += 1;
            }
            let tag = prefix.trim_end().as_bytes();
            if header[at..].starts_with(tag) {
                return Some(header.to_vec());
            }
            let mut out = Vec::with_capacity(header.len() + prefix.len() + 1);
            out.extend_from_slice(&header[..start + colon + 1]);
            out.push(b' ');
            out.extend_from_slice(prefix.as_bytes());
            // The value, without the white space the colon had after it.
            let value = &header[at..];
            if prefix.ends_with(' ') || value.starts_with(b"\r") || value.starts_with(b"\n") {
                out.extend_from_slice(value);
            } else {
                out.push(b' ');
                out.extend_from_slice(value);
            }
            return Some(out);
        }
        start = end;
    }
    None
}

/// The field to add to a message without a subject: `Subject: [SPAM]`.
pub(crate) fn new_field(prefix: &str) -> Vec<u8> {
    format!("Subject: {}\r\n", prefix.trim_end()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Option<Vec<u8>>) -> Option<String> {
        bytes.map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn the_first_subject_gets_the_prefix_and_keeps_its_words() {
        let header = b"From: a@example.org\r\nsubject:   Cheap =?utf-8?q?p=C3=AElls?=\r\n\
                       \tand more\r\nSubject: second\r\n\r\n";
        assert_eq!(
            text(prefixed(header, "[SPAM] ")).as_deref(),
            Some(
                "From: a@example.org\r\nsubject: [SPAM] Cheap =?utf-8?q?p=C3=AElls?=\r\n\
                 \tand more\r\nSubject: second\r\n\r\n"
            )
        );
    }

    #[test]
    fn a_subject_already_tagged_or_empty_or_missing() {
        let tagged = b"Subject: [SPAM] hello\r\n\r\n";
        assert_eq!(
            prefixed(tagged, "[SPAM] ").as_deref(),
            Some(&tagged[..]),
            "tagged once only"
        );
        assert_eq!(
            text(prefixed(b"Subject:\r\n\r\n", "[SPAM] ")).as_deref(),
            Some("Subject: [SPAM] \r\n\r\n")
        );
        assert_eq!(
            text(prefixed(b"Subject: hi\n\n", "***SPAM***")).as_deref(),
            Some("Subject: ***SPAM*** hi\n\n")
        );
        assert_eq!(
            prefixed(b"From: a@b\r\n X-Subject: no\r\n\r\n", "[SPAM] "),
            None
        );
        assert_eq!(new_field("[SPAM] "), b"Subject: [SPAM]\r\n");
    }
}
