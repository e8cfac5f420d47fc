//! FETCH `BINARY[part]` (RFC 3516): a part's content with its
//! Content-Transfer-Encoding undone. Decoding is lenient, as readers of
//! real mail must be: base64 skips characters outside its alphabet,
//! quoted-printable keeps malformed '=' sequences as they are.

use std::fmt;

use crate::crlf::imap_form;
use crate::mime;
use crate::part::{Kind, Part};
use crate::section::find_part;

/// Why BINARY cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryError {
    /// The part's Content-Transfer-Encoding is not one we can decode: the
    /// server answers `NO [UNKNOWN-CTE]`.
    UnknownEncoding(String),
}

impl fmt::Display for BinaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BinaryError::UnknownEncoding(cte) => {
                write!(f, "unknown Content-Transfer-Encoding \"{cte}\"")
            }
        }
    }
}

impl std::error::Error for BinaryError {}

/// `BINARY[part]`: the decoded body of a leaf part (or of a message/rfc822).
/// A multipart's body and `[]` (the whole message) are returned as they
/// are (CRLF form); a part that does not exist gives an empty result.
pub fn binary_section(raw: &[u8], part: &[u32]) -> Result<Vec<u8>, BinaryError> {
    let data = imap_form(raw);
    if part.is_empty() {
        return Ok(data.into_owned());
    }
    let root = mime::parse(&data);
    match find_part(&root, part) {
        None => Ok(Vec::new()),
        Some(p) => decoded_body(&data, p),
    }
}

/// `BINARY.SIZE[part]`: the length of [`binary_section`].
pub fn binary_size(raw: &[u8], part: &[u32]) -> Result<u64, BinaryError> {
    binary_section(raw, part).map(|b| b.len() as u64)
}

pub(crate) fn decoded_body(data: &[u8], part: &Part) -> Result<Vec<u8>, BinaryError> {
    let body = &data[part.body_start..part.end];
    if let Kind::Multipart(_) = part.kind {
        return Ok(body.to_vec());
    }
    decode_transfer_encoding(body, part.data.transfer_encoding.as_deref())
}

/// Undoes a Content-Transfer-Encoding (absent, 7bit, 8bit, binary,
/// base64, quoted-printable).
pub(crate) fn decode_transfer_encoding(
    body: &[u8],
    cte: Option<&str>,
) -> Result<Vec<u8>, BinaryError> {
    let Some(cte) = cte else {
        return Ok(body.to_vec());
    };
    if ["7bit", "8bit", "binary"]
        .iter()
        .any(|e| cte.eq_ignore_ascii_case(e))
    {
        Ok(body.to_vec())
    } else if cte.eq_ignore_ascii_case("base64") {
        Ok(base64(body))
    } else if cte.eq_ignore_ascii_case("quoted-printable") {
        Ok(quoted_printable(body))
    } else {
        Err(BinaryError::UnknownEncoding(cte.to_owned()))
    }
}

fn base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                // padding: drop the partial group (blocks may be concatenated)
                acc = 0;
                bits = 0;
                continue;
            }
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|&b| b == b'\n') {
        let (content, newline) = match line {
            [c @ .., b'\r', b'\n'] => (c, &b"\r\n"[..]),
            [c @ .., b'\n'] => (c, &b"\n"[..]),
            c => (c, &b""[..]),
        };
        let mut content = content;
        while let [c @ .., b' ' | b'\t'] = content {
            content = c;
        }
        let (content, soft_break) = match content {
            [c @ .., b'='] => (c, true),
            c => (c, false),
        };
        let mut i = 0;
        while i < content.len() {
            let c = content[i];
            if c == b'='
                && let (Some(h), Some(l)) = (
                    content.get(i + 1).copied().and_then(hex),
                    content.get(i + 2).copied().and_then(hex),
                )
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            out.push(c);
            i += 1;
        }
        if !soft_break {
            out.extend_from_slice(newline);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_skips_noise_and_handles_concatenated_blocks() {
        assert_eq!(base64(b"aGVs\r\nbG8=\r\n"), b"hello");
        assert_eq!(base64(b"YQ==Yg=="), b"ab");
        assert_eq!(base64(b"a*GVsbG8"), b"hello");
    }

    #[test]
    fn quoted_printable_is_lenient() {
        assert_eq!(
            quoted_printable(b"caf=E9 =3d=\r\nx  \r\n=ZZ="),
            b"caf\xe9 =x\r\n=ZZ"
        );
        assert_eq!(quoted_printable(b"a=c3=a9"), b"a\xc3\xa9");
    }
}
