//! Checks of a part's encoded body (mail-parser decodes leniently and does
//! not say what it had to forgive).

/// What a base64 body looks like.
pub(crate) fn base64_is_broken(body: &[u8]) -> bool {
    let mut data = 0usize;
    let mut padding = 0usize;
    for &b in body {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => {
                if padding > 0 {
                    // Data after the padding.
                    return true;
                }
                data += 1;
            }
            b'=' => {
                padding += 1;
                if padding > 2 {
                    return true;
                }
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => return true,
        }
    }
    (data + padding) % 4 != 0
}

/// A quoted-printable body: whether some `=` is not followed by two hex
/// digits or a line end, and the share of escapes among the characters
/// it encodes.
pub(crate) fn quoted_printable_facts(body: &[u8]) -> (bool, f32) {
    let mut broken = false;
    let mut escapes = 0usize;
    let mut chars = 0usize;
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'=' {
            if body[i] != b'\r' && body[i] != b'\n' {
                chars += 1;
            }
            i += 1;
            continue;
        }
        let next = &body[i + 1..body.len().min(i + 3)];
        if next.len() == 2 && next.iter().all(u8::is_ascii_hexdigit) {
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
            None | Some(b'\r' | b'\n') => {}
            Some(_) => broken = true,
        }
        i += 1 + blanks;
    }
    let ratio = if chars == 0 {
        0.0
    } else {
        escapes as f32 / chars as f32
    };
    (broken, ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_breakage_is_seen() {
        assert!(!base64_is_broken(b"SGVsbG8g\r\nd29ybGQ=\r\n"));
        assert!(!base64_is_broken(b""));
        assert!(base64_is_broken(b"SGVsbG8*d29ybGQ="));
        assert!(base64_is_broken(b"SGVsbG8=d29y"));
        assert!(base64_is_broken(b"SGVsbG8gd29ybGQ"));
    }

    #[test]
    fn quoted_printable_breakage_and_ratio() {
        assert_eq!(quoted_printable_facts(b"caf=C3=A9 =\r\nok"), (false, 0.25));
        assert!(quoted_printable_facts(b"50=% off").0);
        assert!(!quoted_printable_facts(b"end=  \r\n").0);
        let (_, r) = quoted_printable_facts(b"=56=69=61=67=72=61");
        assert_eq!(r, 1.0);
    }
}
