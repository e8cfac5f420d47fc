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

/// The IMAP name of a Maildir++ folder directory: ".Lists.foo" → "Lists/foo",
/// ".Envoy&AOk-s" → "Envoyés". `None` for what is not a folder Dovecot would
/// have written: no leading '.', an empty level, a control character, a level
/// that is not modified UTF-7 in the exact form [`dir_name`] writes, or ".INBOX".
/// So `dir_name(folder_name(d)?) == d` for every `d` accepted.
pub fn folder_name(dir: &str) -> Option<String> {
    let levels = dir.strip_prefix('.')?;
    let mut name = String::new();
    for level in levels.split('.') {
        if !name.is_empty() {
            name.push('/');
        }
        name.push_str(&decode_mutf7(level)?);
    }
    // INBOX is the root, and a name that does not map back is not Dovecot's.
    match dir_name(&name) {
        Ok(back) if back == dir => Some(name),
        _ => None,
    }
}

/// The IMAP name of a folder directory written by a Dovecot configured with
/// `:UTF-8` (levels as they are, not modified UTF-7): ".Envoyés" →
/// "Envoyés". `None` for an empty level, a control character or ".INBOX".
pub fn utf8_folder_name(dir: &str) -> Option<String> {
    let levels: Vec<&str> = dir.strip_prefix('.')?.split('.').collect();
    let fine = |l: &&str| !l.is_empty() && !l.chars().any(char::is_control);
    (levels.iter().all(fine) && !dir[1..].eq_ignore_ascii_case("INBOX")).then(|| levels.join("/"))
}

/// Decodes one level written by [`encode_mutf7`]; `None` if it is not
/// modified UTF-7 (the caller checks the round trip for canonical form).
fn decode_mutf7(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let run = &rest[at + 1..];
        let end = run.find('-')?;
        if end == 0 {
            out.push('&');
        } else {
            let mut units = Vec::new();
            let (mut acc, mut bits) = (0u32, 0u32);
            for b in run[..end].bytes() {
                let v = match b {
                    b'A'..=b'Z' => b - b'A',
                    b'a'..=b'z' => b - b'a' + 26,
                    b'0'..=b'9' => b - b'0' + 52,
                    b'+' => 62,
                    b',' => 63,
                    _ => return None,
                };
                acc = (acc << 6) | u32::from(v);
                bits += 6;
                if bits >= 16 {
                    bits -= 16;
                    units.push((acc >> bits) as u16);
                    acc &= (1 << bits) - 1;
                }
            }
            for c in char::decode_utf16(units) {
                out.push(c.ok()?);
            }
        }
        rest = &run[end + 1..];
    }
    out.push_str(rest);
    Some(out)
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
    fn folder_directories_map_back_to_their_names() {
        for name in [
            "Sent",
            "Lists/foo",
            "Tom & Jerry",
            "Envoyés",
            "~peter/mail/台北/日本語",
            "😀",
        ] {
            let dir = dir_name(name).unwrap();
            assert_eq!(folder_name(&dir).as_deref(), Some(name), "{dir}");
        }
    }

    #[test]
    fn directories_dovecot_would_not_write_are_not_folders() {
        for bad in [
            "Sent",
            ".",
            "..",
            ".a..b",
            ".a.",
            ".INBOX",
            ".Tom & Jerry",
            ".&AGE-",
            ".&Jjo",
            ".&AOk",
            ".caf\u{e9}",
            ".&2D0-",
        ] {
            assert_eq!(folder_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_that_cannot_be_stored_are_refused() {
        for bad in ["", "a//b", "/a", "a/", "a.b", "INBOX", "inbox", "a\tb"] {
            assert!(dir_name(bad).is_err(), "{bad:?}");
        }
    }
}
