//! What the submission role reads in a message's header, on raw bytes.
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

#[cfg(test)]
mod tests {
    use super::{from_addresses, message_id};

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
}
