//! The CRLF form of a message: IMAP sizes, offsets and sections are defined
//! on it, while Maildir stores LF line endings.
//!
//! A stored file is one of two kinds (`havre-maildir` decides when writing):
//! text whose CRLFs became LFs, which has no CRLF left, or a message that
//! was not pure CRLF text (bare LFs in a `binary` part), stored as received,
//! CRLFs and all. [`imap_form`] tells them apart by that CRLF, so a bare LF
//! of the second kind is never rewritten (RFC 3516: BINARY returns the
//! octets as they are).

use std::borrow::Cow;

/// The message IMAP serves for a stored file: the file itself when it has a
/// CRLF (it was stored as received), else its LFs turned into CRLF.
pub fn imap_form(stored: &[u8]) -> Cow<'_, [u8]> {
    if has_crlf(stored) {
        Cow::Borrowed(stored)
    } else {
        to_crlf(stored)
    }
}

/// Size of [`imap_form`] (RFC822.SIZE) without building it.
pub fn imap_size(stored: &[u8]) -> u64 {
    if has_crlf(stored) {
        stored.len() as u64
    } else {
        crlf_size(stored)
    }
}

fn has_crlf(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\r\n")
}

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

    #[test]
    fn a_file_stored_as_received_keeps_its_bare_lfs_and_an_lf_file_gets_crlf() {
        let received = b"A: b\r\n\r\n\x00\n\x01\n\x02\r\n";
        assert!(matches!(imap_form(received), Cow::Borrowed(_)));
        assert_eq!(imap_size(received), received.len() as u64);
        assert_eq!(&*imap_form(b"A: b\n\nx\n"), b"A: b\r\n\r\nx\r\n");
        assert_eq!(imap_size(b"A: b\n\nx\n"), 11);
    }
}
