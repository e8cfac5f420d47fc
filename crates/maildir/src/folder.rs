//! Folder names on disk, the Maildir++ way Dovecot lays them out: the IMAP
//! name "Lists/foo" is the directory ".Lists.foo" beside the INBOX's cur/,
//! new/ and tmp/, and non-ASCII names are stored in modified UTF-7
//! (RFC 3501 §5.1.3), which is what Dovecot writes unless told to use UTF-8.

use crate::MaildirError;

/// Maps an IMAP folder name ('/' separates levels) to its Maildir++
/// directory name, e.g. "Lists/foo" → ".Lists.foo".
pub(crate) fn dir_name(name: &str) -> Result<String, MaildirError> {
    let invalid = |reason| MaildirError::InvalidFolder {
        name: name.to_owned(),
        reason,
    };
    if name.eq_ignore_ascii_case("INBOX") {
        return Err(invalid("INBOX is the maildir root, not a folder"));
    }
    let mut out = String::new();
    for part in name.split('/') {
        if part.is_empty() {
            return Err(invalid("empty level"));
        }
        // '.' is the level separator on disk: it cannot be part of a name.
        if part.contains('.') {
            return Err(invalid("'.' is the Maildir++ hierarchy separator"));
        }
        if part.chars().any(char::is_control) {
            return Err(invalid("control character"));
        }
        out.push('.');
        encode_mutf7(part, &mut out);
    }
    Ok(out)
}

/// Modified UTF-7: printable ASCII stands for itself except '&' ("&-");
/// runs of other characters are '&' + base64 (',' for '/', no padding)
/// of their UTF-16BE form + '-'.
fn encode_mutf7(s: &str, out: &mut String) {
    let mut run: Vec<u16> = Vec::new();
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            flush_run(&mut run, out);
            match c {
                '&' => out.push_str("&-"),
                c => out.push(c),
            }
        } else {
            let mut units = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush_run(&mut run, out);
}

fn flush_run(run: &mut Vec<u16>, out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    if run.is_empty() {
        return;
    }
    let bytes: Vec<u8> = run.drain(..).flat_map(u16::to_be_bytes).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        // 1 byte → 2 sextets, 2 → 3, 3 → 4; no '=' padding in mUTF-7.
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out.push('-');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_map_to_dot_directories() {
        assert_eq!(dir_name("Sent").unwrap(), ".Sent");
        assert_eq!(dir_name("Lists/foo").unwrap(), ".Lists.foo");
        assert_eq!(dir_name("Tom & Jerry").unwrap(), ".Tom &- Jerry");
    }

    #[test]
    fn non_ascii_names_are_modified_utf7() {
        // Examples from RFC 3501 §5.1.3 and Dovecot's own test suite.
        assert_eq!(dir_name("Envoyés").unwrap(), ".Envoy&AOk-s");
        assert_eq!(
            dir_name("~peter/mail/台北/日本語").unwrap(),
            ".~peter.mail.&U,BTFw-.&ZeVnLIqe-"
        );
        assert_eq!(dir_name("😀").unwrap(), ".&2D3eAA-");
    }

    #[test]
    fn names_that_cannot_be_stored_are_refused() {
        for bad in ["", "a//b", "/a", "a/", "a.b", "INBOX", "inbox", "a\tb"] {
            assert!(dir_name(bad).is_err(), "{bad:?}");
        }
    }
}
