//! Applying editheader's changes (RFC 5293) to the message's bytes.

use crate::outcome::HeaderEdit;

/// `raw` with `edits` applied in order: added fields written as
/// `Name: value` with CRLF (a value that is not ASCII as RFC 2047 encoded
/// words), deleted fields removed with their folded lines. The body is
/// left as it is.
pub fn apply_header_edits(raw: &[u8], edits: &[HeaderEdit]) -> Vec<u8> {
    if edits.is_empty() {
        return raw.to_vec();
    }
    let (mut fields, body_start) = split_fields(raw);
    for edit in edits {
        match edit {
            HeaderEdit::Add { name, value, last } => {
                let line = format!("{name}: {}\r\n", encode_value(value)).into_bytes();
                if *last {
                    fields.push(line);
                } else {
                    fields.insert(0, line);
                }
            }
            HeaderEdit::Delete { name, occurrence } => {
                let position = fields
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| field_name(f).eq_ignore_ascii_case(name.as_bytes()))
                    .nth(occurrence.saturating_sub(1))
                    .map(|(i, _)| i);
                if let Some(i) = position {
                    fields.remove(i);
                }
            }
        }
    }
    let mut out = fields.concat();
    if body_start == 0
        || !raw[..body_start].ends_with(b"\n")
        || !ends_with_blank(&raw[..body_start])
    {
        out.extend_from_slice(b"\r\n");
    } else {
        // Keep the separator line as the message wrote it.
        let separator =
            if raw[..body_start].ends_with(b"\r\n\r\n") || raw[..body_start].ends_with(b"\n\r\n") {
                &b"\r\n"[..]
            } else {
                &b"\n"[..]
            };
        out.extend_from_slice(separator);
    }
    out.extend_from_slice(&raw[body_start..]);
    out
}

fn ends_with_blank(header: &[u8]) -> bool {
    header.ends_with(b"\n\n") || header.ends_with(b"\n\r\n") || header == b"\r\n" || header == b"\n"
}

/// Each field with its folded lines and line ends, and where the body starts.
fn split_fields(raw: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut fields: Vec<Vec<u8>> = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let end = raw[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |n| at + n + 1);
        let line = &raw[at..end];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            return (fields, end);
        }
        if matches!(content[0], b' ' | b'\t') && !fields.is_empty() {
            if let Some(last) = fields.last_mut() {
                last.extend_from_slice(line);
            }
        } else if content.contains(&b':') {
            let mut field = line.to_vec();
            if !field.ends_with(b"\n") {
                field.extend_from_slice(b"\r\n");
            }
            fields.push(field);
        } else if at == 0 {
            return (fields, 0);
        }
        at = end;
    }
    (fields, raw.len())
}

fn field_name(field: &[u8]) -> &[u8] {
    let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
    let name = &field[..colon];
    let end = name
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &name[..end]
}

/// An ASCII value as it is; any other as one RFC 2047 `B` encoded word
/// per 45 bytes of UTF-8 (cut on characters), folded.
fn encode_value(value: &str) -> String {
    if value.is_ascii() {
        return value.to_string();
    }
    let mut words = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut cut = rest.len().min(45);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        words.push(format!("=?UTF-8?B?{}?=", base64(&rest.as_bytes()[..cut])));
        rest = &rest[cut..];
    }
    words.join("\r\n ")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &[u8] =
        b"Received: from a\r\nSubject: hi\r\nX-Spam: yes\r\n  folded\r\nX-Spam: no\r\n\r\nbody\r\n";

    #[test]
    fn adds_and_deletes_fields() {
        let edits = [
            HeaderEdit::Add {
                name: "X-Top".into(),
                value: "1".into(),
                last: false,
            },
            HeaderEdit::Add {
                name: "X-Bottom".into(),
                value: "2".into(),
                last: true,
            },
            HeaderEdit::Delete {
                name: "x-spam".into(),
                occurrence: 1,
            },
        ];
        assert_eq!(
            String::from_utf8(apply_header_edits(RAW, &edits)).unwrap(),
            "X-Top: 1\r\nReceived: from a\r\nSubject: hi\r\nX-Spam: no\r\nX-Bottom: 2\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn other_than_ascii_is_encoded() {
        let edits = [HeaderEdit::Add {
            name: "X-Note".into(),
            value: "café".into(),
            last: false,
        }];
        let out = String::from_utf8(apply_header_edits(b"A: b\n\nbody", &edits)).unwrap();
        assert_eq!(out, "X-Note: =?UTF-8?B?Y2Fmw6k=?=\r\nA: b\n\nbody");
    }

    #[test]
    fn base64_as_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
