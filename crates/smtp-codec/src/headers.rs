//! What the SMTP roles read in a message's header, on raw bytes: the
//! `From:` addresses (the submission check), the `Message-ID:` (the log),
//! where the header section ends, and the fields a receiving server must
//! remove before it adds its own (an `Authentication-Results:` claiming its
//! authserv-id).
//!
//! The header of a submitted message is whatever the client sent: 8-bit bytes,
//! invalid UTF-8, bare LF line ends, no body separator. This reads it as bytes
//! and never slices text at an offset it did not find itself, so no input can
//! make it panic (fuzzed: `fuzz/fuzz_targets/smtp_headers.rs`).

/// The addresses of every `From:` field of a message head (the first bytes of
/// the message; the header may be cut short). Folded lines are unfolded; a
/// bare LF ends a line as CRLF does, so a client cannot hide a `From:` field
/// from the sender check behind line ends that mail readers honour. Parts
/// without an `@` (group names, display names split at a comma) are skipped.
pub fn from_addresses(head: &[u8]) -> Vec<String> {
    let mut value: Vec<u8> = Vec::new();
    let mut in_from = false;
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if in_from {
                value.extend_from_slice(line);
            }
            continue;
        }
        match field_value(line, b"from") {
            Some(rest) => {
                // Two From: fields are two lists: keep them apart.
                value.push(b',');
                value.extend_from_slice(rest);
                in_from = true;
            }
            None => in_from = false,
        }
    }
    let mut addresses = Vec::new();
    for part in String::from_utf8_lossy(&value).split(',') {
        let angled = angle_addresses(part);
        // Every <...> of a malformed `<a@x> <b@y>` counts: a reader may show
        // either, so the sender check must see both.
        let found = if angled.is_empty() {
            vec![part.trim()]
        } else {
            angled
        };
        addresses.extend(
            found
                .into_iter()
                .filter(|a| a.contains('@'))
                .map(str::to_string),
        );
    }
    addresses
}

/// The value of the first `Message-ID:` field of a message head, unfolded
/// and trimmed (`<id@host>`), for the log line that lets one follow a
/// message from its client's copy to the server's log. At most 998 bytes
/// (RFC 5322's line limit) are kept.
pub fn message_id(head: &[u8]) -> Option<String> {
    let mut value: Option<Vec<u8>> = None;
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if let Some(value) = value.as_mut() {
                value.extend_from_slice(line);
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        value = field_value(line, b"message-id").map(<[u8]>::to_vec);
    }
    let value = value?;
    let text = String::from_utf8_lossy(&value[..value.len().min(998)]);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The trimmed contents of each `<...>` in `part`.
fn angle_addresses(part: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = part;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            break;
        };
        found.push(after[..close].trim());
        rest = &after[close + 1..];
    }
    found
}

/// The value of a field line when its name is `name` (ASCII, any case);
/// white space before the colon is allowed, as RFC 5322's obsolete syntax does.
fn field_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (field, rest) = line.split_at(colon);
    let field = field.trim_ascii_end();
    field.eq_ignore_ascii_case(name).then(|| &rest[1..])
}

/// The offset where the body starts: just after the first empty line (CRLF
/// or bare LF), or the whole length when there is none (all header).
pub fn header_end(message: &[u8]) -> usize {
    let mut start = 0;
    while start < message.len() {
        let end = message[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(message.len(), |i| start + i + 1);
        let line = &message[start..end];
        if line == b"\n" || line == b"\r\n" {
            return end;
        }
        start = end;
    }
    message.len()
}

/// `header` (a header section, as [`header_end`] cuts it) without the
/// fields for which `drop(name, value)` is true (the name without the
/// colon, the value as written, folded lines included); and how many were
/// left out. Lines that are no field (no colon) are kept.
pub fn without_fields(header: &[u8], drop: impl Fn(&[u8], &[u8]) -> bool) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(header.len());
    let mut removed = 0;
    let mut fields = Vec::new();
    let mut start = 0;
    // Split into fields: a line and the folded lines after it.
    while start < header.len() {
        let mut end = start;
        loop {
            end = header[end..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(header.len(), |i| end + i + 1);
            if end >= header.len() || !matches!(header[end], b' ' | b'\t') {
                break;
            }
        }
        fields.push(&header[start..end]);
        start = end;
    }
    for field in fields {
        let dropped = field
            .iter()
            .position(|&b| b == b':')
            .filter(|_| !matches!(field.first(), Some(b' ' | b'\t')))
            .is_some_and(|colon| drop(field[..colon].trim_ascii_end(), &field[colon + 1..]));
        if dropped {
            removed += 1;
        } else {
            out.extend_from_slice(field);
        }
    }
    (out, removed)
}

/// The authserv-id of an `Authentication-Results:` value (RFC 8601 2.2: a
/// token or a quoted string, after optional white space and comments),
/// unquoted; `None` when there is none.
pub fn authserv_id(value: &[u8]) -> Option<String> {
    let mut rest = value;
    loop {
        rest = rest.trim_ascii_start();
        match rest.first() {
            Some(b'(') => {
                // A comment, possibly nested.
                let mut depth = 0usize;
                let mut end = None;
                let mut escaped = false;
                for (i, &b) in rest.iter().enumerate() {
                    match b {
                        _ if escaped => escaped = false,
                        b'\\' => escaped = true,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(i + 1);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &rest[end?..];
            }
            Some(b'"') => {
                let mut id = Vec::new();
                let mut escaped = false;
                for &b in &rest[1..] {
                    match b {
                        _ if escaped => {
                            id.push(b);
                            escaped = false;
                        }
                        b'\\' => escaped = true,
                        b'"' => return Some(String::from_utf8_lossy(&id).into_owned()),
                        _ => id.push(b),
                    }
                }
                return None;
            }
            Some(_) => {
                let end = rest
                    .iter()
                    .position(|&b| b.is_ascii_whitespace() || b == b';' || b == b'(')
                    .unwrap_or(rest.len());
                return (end > 0).then(|| String::from_utf8_lossy(&rest[..end]).into_owned());
            }
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{authserv_id, from_addresses, header_end, message_id, without_fields};

    #[test]
    fn the_first_message_id_is_read_unfolded() {
        let head =
            b"Subject: x\r\nMessage-Id:\r\n <abc@example.test>\r\nMessage-ID: <second@x>\r\n\r\n";
        assert_eq!(message_id(head).as_deref(), Some("<abc@example.test>"));
        assert_eq!(
            message_id(b"Subject: none\r\n\r\nMessage-ID: <body@x>\r\n"),
            None
        );
        assert_eq!(message_id(b"Message-ID:   \r\n\r\n"), None);
    }

    #[test]
    fn a_display_name_and_an_angle_address() {
        let head =
            b"Subject: hi\r\nFrom: Alice <alice@example.test>\r\n\r\nFrom: body@example.test\r\n";
        assert_eq!(from_addresses(head), ["alice@example.test"]);
    }

    #[test]
    fn folded_lists_and_repeated_fields_are_all_read() {
        let head = b"FROM: a@one.test,\r\n\t\"B\" <b@two.test>\r\nTo: x@y.test\r\nfrom : c@three.test\r\n\r\n";
        assert_eq!(
            from_addresses(head),
            ["a@one.test", "b@two.test", "c@three.test"]
        );
    }

    #[test]
    fn eight_bit_bytes_in_a_field_name_are_not_a_from_field_and_do_not_panic() {
        // The issue's input: a multi-byte character across byte offset 5.
        let head = "abcdé: x\r\nFrom: me@example.test\r\n\r\n".as_bytes();
        assert_eq!(from_addresses(head), ["me@example.test"]);
        for at in 0..8 {
            let mut head = b"From: me@example.test\r\n\r\n".to_vec();
            head.insert(at, 0xE9);
            let found = from_addresses(&head);
            assert!(found.len() <= 1, "{found:?}");
        }
    }

    #[test]
    fn every_angle_address_of_a_malformed_field_is_read() {
        let head = b"From: <mallory@evil.test> <alice@example.test>\r\n\r\n";
        assert_eq!(
            from_addresses(head),
            ["mallory@evil.test", "alice@example.test"]
        );
    }

    #[test]
    fn a_bare_lf_ends_a_line_so_a_from_field_cannot_hide_behind_it() {
        let head = b"Subject: hi\nFrom: mallory@evil.test\n\nbody";
        assert_eq!(from_addresses(head), ["mallory@evil.test"]);
    }

    #[test]
    fn a_header_without_from_yields_nothing() {
        assert!(from_addresses(b"Subject: no sender\r\n\r\n").is_empty());
        assert!(from_addresses(b"").is_empty());
        assert!(from_addresses(b"From: undisclosed-recipients:;\r\n").is_empty());
    }

    #[test]
    fn the_body_starts_after_the_first_empty_line() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), 8);
        assert_eq!(header_end(b"A: b\n\nbody"), 6);
        assert_eq!(header_end(b"\r\nbody"), 2);
        assert_eq!(header_end(b"A: b\r\nC: d"), 10);
        assert_eq!(header_end(b""), 0);
    }

    #[test]
    fn fields_are_dropped_with_their_folded_lines_and_the_rest_kept() {
        let head = b"Received: x\r\nAuthentication-Results: mx.example.test;\r\n\tspf=pass\r\nSubject: hi\r\nauthentication-results : other.test; none\r\n\r\n";
        let (kept, removed) = without_fields(head, |name, value| {
            name.eq_ignore_ascii_case(b"authentication-results")
                && authserv_id(value).is_some_and(|id| id.eq_ignore_ascii_case("MX.example.test"))
        });
        assert_eq!(removed, 1);
        assert_eq!(
            kept,
            b"Received: x\r\nSubject: hi\r\nauthentication-results : other.test; none\r\n\r\n"
        );
    }

    #[test]
    fn the_authserv_id_after_comments_or_quoted() {
        assert_eq!(
            authserv_id(b" mx.example.test; spf=pass").as_deref(),
            Some("mx.example.test")
        );
        assert_eq!(
            authserv_id(b" (a (nested) comment) mx.example.test 1; none").as_deref(),
            Some("mx.example.test")
        );
        assert_eq!(
            authserv_id(b" \"mx.example.test\"; none").as_deref(),
            Some("mx.example.test")
        );
        assert_eq!(
            authserv_id(b"mx.example.test(c); none").as_deref(),
            Some("mx.example.test")
        );
        assert_eq!(authserv_id(b"  "), None);
        assert_eq!(authserv_id(b" (unclosed"), None);
    }
}
