//! Transfer encodings undone leniently (as mail clients do), noting what
//! had to be forgiven, and body text read in its charset.

use std::borrow::Cow;

use mail_parser::decoders::charsets::map::charset_decoder;

/// A decoded body and what its encoding looked like.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    pub(crate) bytes: Cow<'a, [u8]>,
    /// Characters outside the encoding's alphabet, bad escapes, data
    /// after base64 padding, a base64 length not a multiple of 4.
    pub(crate) broken: bool,
    /// Quoted-printable: share of `=XX` escapes among the characters.
    pub(crate) escaped_ratio: f32,
}

/// The transfer encodings of RFC 2045.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferEncoding {
    /// 7bit, 8bit, binary or none declared.
    Identity,
    Base64,
    QuotedPrintable,
    /// Something else: read as it is.
    Unknown,
}

impl TransferEncoding {
    pub(crate) fn from_header(value: Option<&str>) -> Self {
        let Some(value) = value.map(str::trim) else {
            return TransferEncoding::Identity;
        };
        let is = |name: &str| value.eq_ignore_ascii_case(name);
        if is("base64") {
            TransferEncoding::Base64
        } else if is("quoted-printable") {
            TransferEncoding::QuotedPrintable
        } else if is("7bit") || is("8bit") || is("binary") || value.is_empty() {
            TransferEncoding::Identity
        } else {
            TransferEncoding::Unknown
        }
    }
}

pub(crate) fn decode(body: &[u8], encoding: TransferEncoding) -> Decoded<'_> {
    match encoding {
        TransferEncoding::Base64 => base64(body),
        TransferEncoding::QuotedPrintable => quoted_printable(body),
        TransferEncoding::Identity | TransferEncoding::Unknown => Decoded {
            bytes: Cow::Borrowed(body),
            broken: false,
            escaped_ratio: 0.0,
        },
    }
}

fn base64_value(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Base64, skipping what is not in the alphabet; data after padding is
/// decoded too (and makes the body broken).
fn base64(body: &[u8]) -> Decoded<'_> {
    let mut out = Vec::with_capacity(body.len() / 4 * 3);
    let mut broken = false;
    let (mut acc, mut n) = (0u32, 0u32);
    let mut padded = false;
    for &b in body {
        if let Some(v) = base64_value(b) {
            if padded {
                broken = true;
                padded = false;
            }
            acc = acc << 6 | v;
            n += 1;
            if n == 4 {
                out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
                (acc, n) = (0, 0);
            }
        } else if b == b'=' {
            if !padded {
                flush(&mut out, acc, n, &mut broken);
                (acc, n) = (0, 0);
                padded = true;
            }
        } else if !b.is_ascii_whitespace() {
            broken = true;
        }
    }
    if n > 0 {
        // No padding where there should be: decode what is there.
        broken = true;
        flush(&mut out, acc, n, &mut broken);
    }
    Decoded {
        bytes: Cow::Owned(out),
        broken,
        escaped_ratio: 0.0,
    }
}

/// The bytes of an incomplete group of `n` sextets.
fn flush(out: &mut Vec<u8>, acc: u32, n: u32, broken: &mut bool) {
    match n {
        0 => {}
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => *broken = true,
    }
}

/// Quoted-printable; an `=` not followed by two hex digits or a line end
/// stays as it is (and makes the body broken).
fn quoted_printable(body: &[u8]) -> Decoded<'_> {
    let mut out = Vec::with_capacity(body.len());
    let mut broken = false;
    let (mut escapes, mut chars) = (0usize, 0usize);
    let mut i = 0;
    while i < body.len() {
        let run = memchr::memchr(b'=', &body[i..]).unwrap_or(body.len() - i);
        if run > 0 {
            let plain = &body[i..i + run];
            out.extend_from_slice(plain);
            chars += plain.iter().filter(|&&b| b != b'\r' && b != b'\n').count();
            i += run;
            continue;
        }
        if let Some(&[h, l]) = body.get(i + 1..i + 3)
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            out.push(h << 4 | l);
            escapes += 1;
            chars += 1;
            i += 3;
            continue;
        }
        // A soft line break: `=`, optional trailing white space, line end.
        let rest = &body[i + 1..];
        let blanks = rest
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        match rest.get(blanks) {
            Some(b'\n') => i += 2 + blanks,
            Some(b'\r') if rest.get(blanks + 1) == Some(&b'\n') => i += 3 + blanks,
            None => i += 1 + blanks,
            Some(_) => {
                broken = true;
                out.push(b'=');
                chars += 1;
                i += 1;
            }
        }
    }
    Decoded {
        bytes: Cow::Owned(out),
        broken,
        escaped_ratio: if chars == 0 {
            0.0
        } else {
            escapes as f32 / chars as f32
        },
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Whether mail-parser can decode this charset (UTF-8 is read natively).
pub(crate) fn charset_known(charset: &str) -> bool {
    is_utf8_label(charset) || charset_decoder(charset.as_bytes()).is_some()
}

/// Charsets in which ASCII bytes are ASCII characters (not UTF-7, UTF-16,
/// ISO-2022-*, HZ, whose 7-bit bytes are escapes or halves).
fn ascii_compatible(charset: &str) -> bool {
    let c = charset.as_bytes();
    let starts = |p: &str| c.len() >= p.len() && c[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    is_utf8_label(charset)
        || [
            "us-ascii",
            "ascii",
            "iso-8859-",
            "iso8859",
            "windows-",
            "cp125",
            "latin",
            "koi8",
        ]
        .iter()
        .any(|p| starts(p))
}

fn is_utf8_label(charset: &str) -> bool {
    ["utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8"]
        .iter()
        .any(|l| charset.eq_ignore_ascii_case(l))
}

/// Text of a body in `charset`: a known charset is decoded; UTF-8 as
/// such (bad sequences replaced); none or an unknown one is read as UTF-8
/// when valid, else as Windows-1252 (the usual unlabelled 8-bit text).
pub(crate) fn text<'a>(bytes: &'a [u8], charset: Option<&str>) -> Cow<'a, str> {
    let charset = charset.map(str::trim);
    if bytes.is_ascii() && charset.is_none_or(ascii_compatible) {
        // Nothing to decode (and no copy).
        return std::str::from_utf8(bytes).unwrap_or_default().into();
    }
    if let Some(decode) = charset.and_then(|c| charset_decoder(c.as_bytes())) {
        return decode(bytes).into();
    }
    if charset.is_some_and(is_utf8_label) {
        return String::from_utf8_lossy(bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(_) => match charset_decoder(b"windows-1252") {
            Some(decode) => decode(bytes).into(),
            None => String::from_utf8_lossy(bytes),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> (Vec<u8>, bool) {
        let d = base64(s);
        (d.bytes.into_owned(), d.broken)
    }

    #[test]
    fn base64_decodes_leniently_and_says_when_it_had_to() {
        assert_eq!(
            b64(b"SGVsbG8g\r\nd29ybGQ=\r\n"),
            (b"Hello world".to_vec(), false)
        );
        assert_eq!(b64(b""), (vec![], false));
        assert_eq!(b64(b"SGVs*bG8="), (b"Hello".to_vec(), true));
        assert_eq!(b64(b"SGVsbG8=d29y"), (b"Hellowor".to_vec(), true));
        assert_eq!(b64(b"SGVsbG8gd29ybGQ"), (b"Hello world".to_vec(), true));
    }

    #[test]
    fn quoted_printable_decodes_and_measures_escapes() {
        let d = quoted_printable(b"caf=C3=A9 =\r\nok=\n!");
        assert_eq!(
            (&d.bytes[..], d.broken, d.escaped_ratio),
            ("café ok!".as_bytes(), false, 2.0 / 9.0)
        );
        let d = quoted_printable(b"50=% off");
        assert_eq!((&d.bytes[..], d.broken), (&b"50=% off"[..], true));
        assert!(!quoted_printable(b"end=  \r\n").broken);
        assert_eq!(quoted_printable(b"=56=69=61=67=72=61").escaped_ratio, 1.0);
    }

    #[test]
    fn text_follows_its_charset_or_guesses() {
        assert_eq!(text(b"caf\xe9", Some("ISO-8859-1")), "café");
        assert_eq!(text(b"caf\xe9", None), "café");
        assert_eq!(text("café".as_bytes(), Some("x-unknown")), "café");
        assert_eq!(text(b"caf\xe9", Some("utf-8")), "caf\u{fffd}");
        assert!(charset_known("UTF-8") && charset_known("koi8-r") && !charset_known("x-bogus"));
    }
}
