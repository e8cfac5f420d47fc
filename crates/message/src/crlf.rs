//! The CRLF form of a message: IMAP sizes, offsets and sections are defined
//! on it, while Maildir stores LF line endings.

use std::borrow::Cow;

/// The message with every bare LF turned into CRLF (CRLF pairs and lone CRs
/// stay as they are). Borrows when there is nothing to change.
pub fn to_crlf(raw: &[u8]) -> Cow<'_, [u8]> {
    let bare = bare_lf_count(raw);
    if bare == 0 {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + bare);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    Cow::Owned(out)
}

/// Size of the CRLF form (RFC822.SIZE) without building it.
pub fn crlf_size(raw: &[u8]) -> u64 {
    (raw.len() + bare_lf_count(raw)) as u64
}

fn bare_lf_count(raw: &[u8]) -> usize {
    let mut count = 0;
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            count += 1;
        }
        prev = b;
    }
    count
}

/// IMAP literals of non-binary FETCH items must not contain NUL: like
/// Dovecot, NULs become 0x80 (same length, so sizes do not change).
pub(crate) fn without_nuls(mut bytes: Vec<u8>) -> Vec<u8> {
    for b in bytes.iter_mut() {
        if *b == 0 {
            *b = 0x80;
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_lf_becomes_crlf_and_crlf_is_kept() {
        assert_eq!(&*to_crlf(b"a\nb\r\nc\rd\n"), b"a\r\nb\r\nc\rd\r\n");
        assert!(matches!(to_crlf(b"a\r\nb"), Cow::Borrowed(_)));
        assert_eq!(crlf_size(b"a\nb\r\nc\n"), 9);
    }
}
