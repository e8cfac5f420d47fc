//! A message's name for "already learned": the same message learned twice
//! (from two folders, or again after a move) counts once.

use xxhash_rust::xxh3::xxh3_128;

/// The digest of a message: its `Message-ID` (when it has one) and its body
/// (the bytes after the header section), so that the trace fields a copy
/// gathers on its way (`Received:`, `Delivered-To:`, our marks) do not make
/// it another message.
pub fn digest(raw: &[u8], message_id: Option<&str>) -> [u8; 16] {
    let body = body_of(raw);
    let mut input = Vec::with_capacity(body.len() + 256);
    if let Some(id) = message_id {
        input.extend_from_slice(id.trim().as_bytes());
    }
    input.push(0);
    input.extend_from_slice(body);
    xxh3_128(&input).to_be_bytes()
}

/// The bytes after the first empty line (CRLF or LF); without one (a
/// message of header fields only, or no header at all), all of them.
fn body_of(raw: &[u8]) -> &[u8] {
    let mut at = 0;
    while let Some(nl) = raw[at..].iter().position(|&b| b == b'\n') {
        let line_end = at + nl;
        let line = &raw[at..line_end];
        if line.is_empty() || line == b"\r" {
            return &raw[line_end + 1..];
        }
        at = line_end + 1;
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_fields_do_not_change_the_digest() {
        let a = b"Received: from a\r\nSubject: hi\r\n\r\nbody\r\n";
        let b = b"Delivered-To: x@y\nReceived: from b\nSubject: hi\n\nbody\r\n";
        assert_eq!(digest(a, Some("<1@x>")), digest(b, Some("<1@x>")));
        assert_ne!(digest(a, Some("<1@x>")), digest(a, Some("<2@x>")));
        assert_ne!(digest(a, None), digest(b"S: x\n\nother\r\n", None));
        // No body: the whole message names it.
        assert_ne!(digest(b"S: x\r\n", None), digest(b"S: y\r\n", None));
    }
}
