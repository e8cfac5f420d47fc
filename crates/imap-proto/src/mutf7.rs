//! Modified UTF-7 for mailbox names (RFC 3501 5.1.3): printable ASCII
//! stands for itself except `&`, written `&-`; anything else is UTF-16BE in
//! base64 (with `,` for `/`, no padding) between `&` and `-`.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn b64_value(b: u8) -> Option<u32> {
    B64.iter().position(|&c| c == b).map(|v| v as u32)
}

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Mutf7Error {
    #[error("byte outside printable ASCII in a modified UTF-7 name")]
    NotAscii,
    #[error("'&' without a closing '-'")]
    Unterminated,
    #[error("bad base64 in a modified UTF-7 name")]
    BadBase64,
    #[error("bad UTF-16 in a modified UTF-7 name")]
    BadUtf16,
    #[error("printable ASCII encoded in base64")]
    NotCanonical,
}

/// Decodes a modified UTF-7 name to UTF-8. Strict: only printable ASCII,
/// every `&` closed, no padding bits, valid surrogate pairs, and printable
/// ASCII never base64-encoded, so that `encode(decode(x)) == x`.
pub fn mutf7_decode(name: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if b == b'&' {
            let len = name[i + 1..]
                .iter()
                .position(|&c| c == b'-')
                .ok_or(Mutf7Error::Unterminated)?;
            let encoded = &name[i + 1..i + 1 + len];
            i += len + 2;
            if encoded.is_empty() {
                out.push('&');
                continue;
            }
            let mut units = Vec::with_capacity(encoded.len() * 6 / 16);
            let (mut acc, mut bits) = (0u32, 0u32);
            for &c in encoded {
                acc = (acc << 6) | b64_value(c).ok_or(Mutf7Error::BadBase64)?;
                bits += 6;
                if bits >= 16 {
                    bits -= 16;
                    units.push((acc >> bits) as u16);
                    acc &= (1 << bits) - 1;
                }
            }
            if bits >= 6 || acc != 0 || units.is_empty() {
                return Err(Mutf7Error::BadBase64);
            }
            // Two shifted runs back to back should have been one.
            if name.get(i) == Some(&b'&') && name.get(i + 1) != Some(&b'-') {
                return Err(Mutf7Error::NotCanonical);
            }
            for ch in char::decode_utf16(units.iter().copied()) {
                let ch = ch.map_err(|_| Mutf7Error::BadUtf16)?;
                if (' '..='~').contains(&ch) {
                    return Err(Mutf7Error::NotCanonical);
                }
                out.push(ch);
            }
        } else if (0x20..=0x7e).contains(&b) {
            out.push(b as char);
            i += 1;
        } else {
            return Err(Mutf7Error::NotAscii);
        }
    }
    Ok(out)
}

/// Encodes a UTF-8 name in modified UTF-7.
pub fn mutf7_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut out, &mut pending);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut pending);
    out
}

fn flush(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let (mut acc, mut bits) = (0u32, 0u32);
    for &u in units.iter() {
        acc = (acc << 16) | u32::from(u);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(B64[((acc >> bits) & 63) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(B64[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out.push('-');
    units.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3501_examples_round_trip() {
        for (wire, utf8) in [
            ("&U,BTFw-", "台北"),
            ("~peter/mail/&ZeVnLIqe-/&U,BTFw-", "~peter/mail/日本語/台北"),
            ("&U,BTF2XlZyyKng-", "台北日本語"),
            ("AT&-T", "AT&T"),
            ("Entw&APw-rfe", "Entwürfe"),
            ("&2D3eAA-", "\u{1F600}"),
            ("INBOX", "INBOX"),
        ] {
            assert_eq!(mutf7_decode(wire.as_bytes()).as_deref(), Ok(utf8), "{wire}");
            assert_eq!(mutf7_encode(utf8), wire, "{utf8}");
        }
    }

    #[test]
    fn invalid_names_are_refused() {
        for bad in [
            "AT&T",
            "&Jjo",
            "&U,BTFw-&ZeVnLIqe-",
            "&AGE-",
            "caf\u{e9}",
            "&2D0-",
            "&=-",
        ] {
            assert!(mutf7_decode(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
