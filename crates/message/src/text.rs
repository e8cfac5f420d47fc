//! Bytes to text: raw header bytes as strings, RFC 2047 encoded-words, body
//! charsets, and the case-insensitive matching IMAP SEARCH asks for.
//! Decoding itself (encoded-words, charsets) is mail-parser's.

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;

/// Raw bytes as a string: UTF-8 when valid, else Windows-1252 (a superset of
/// Latin-1, the usual unlabelled 8-bit charset). Never fails.
pub(crate) fn lossless_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => match charset_decoder(b"windows-1252") {
            Some(decode) => decode(bytes),
            None => String::from_utf8_lossy(bytes).into_owned(),
        },
    }
}

/// A raw header value as Dovecot keeps it for ENVELOPE and BODYSTRUCTURE:
/// bytes as they are, NUL replaced by U+FFFD.
pub(crate) fn header_string(bytes: &[u8]) -> String {
    let s = lossless_string(bytes);
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s
    }
}

/// Text of a body in `charset` (any label mail-parser knows); unknown or
/// absent charsets are read as UTF-8, falling back to Windows-1252.
pub(crate) fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    match charset.and_then(|c| charset_decoder(c.trim().as_bytes())) {
        Some(decode) => decode(bytes),
        None => lossless_string(bytes),
    }
}

/// A header value with folding removed and RFC 2047 encoded-words decoded
/// (whitespace between two adjacent encoded-words dropped, as RFC 2047 6.2
/// says), trimmed. Words that do not decode stay as they are.
pub fn decode_header_value(value: &[u8]) -> String {
    let unfolded: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let mut out = String::with_capacity(unfolded.len());
    let mut plain_start = 0;
    let mut after_word = false;
    let mut i = 0;
    while i < unfolded.len() {
        if unfolded[i] == b'=' && unfolded.get(i + 1) == Some(&b'?') {
            let mut stream = MessageStream::new(&unfolded[i + 1..]);
            if let Some(word) = stream.decode_rfc2047() {
                let between = &unfolded[plain_start..i];
                if !(after_word && between.iter().all(|b| *b == b' ' || *b == b'\t')) {
                    out.push_str(&lossless_string(between));
                }
                out.push_str(&word);
                i += 1 + stream.offset();
                plain_start = i;
                after_word = true;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&lossless_string(&unfolded[plain_start..]));
    out.trim_matches(|c| c == ' ' || c == '\t').to_owned()
}

/// Folds case for SEARCH comparisons (Unicode lower case).
pub(crate) fn fold_case(s: &str) -> String {
    s.to_lowercase()
}

/// Case-insensitive substring test; `needle` must already be folded.
pub(crate) fn contains_folded(haystack: &str, folded_needle: &str) -> bool {
    folded_needle.is_empty() || fold_case(haystack).contains(folded_needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_are_decoded_and_joined() {
        assert_eq!(
            decode_header_value(b"=?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?w6A=?= la\n carte"),
            "Caf\u{e9}\u{e0} la carte"
        );
        assert_eq!(decode_header_value(b" plain  text "), "plain  text");
        assert_eq!(decode_header_value(b"=?bogus"), "=?bogus");
    }

    #[test]
    fn eight_bit_latin1_is_read_as_windows_1252() {
        assert_eq!(lossless_string(b"caf\xe9"), "caf\u{e9}");
        assert_eq!(header_string(b"a\0b"), "a\u{FFFD}b");
    }
}
