//! MIME boundary lines, matched as Dovecot's `message-parser.c` does: a
//! line starting with "--" that *begins with* one of the open boundaries
//! of any nesting level (the longest match winning, the innermost first
//! among equals), so that an outer boundary also ends unclosed inner parts.

/// Boundaries longer than this are truncated (RFC 2046 allows 70).
pub(crate) const BOUNDARY_MAX: usize = 80;
const BOUNDARY_LINE_MAX: usize = BOUNDARY_MAX + 4;

/// An open boundary and the multipart (node id) it belongs to.
pub(crate) struct Boundary {
    pub part: usize,
    pub text: Vec<u8>,
}

/// Finds the open boundary `line` (at a line start) begins, if any:
/// (index in `boundaries`, whether it is the close delimiter).
pub(crate) fn find_boundary(boundaries: &[Boundary], line: &[u8]) -> Option<(usize, bool)> {
    if boundaries.is_empty() || !line.starts_with(b"--") {
        return None;
    }
    let rest = &line[2..];
    let find_len = match rest.iter().position(|&b| b == b'\n') {
        Some(mut n) => {
            if n > 0 && rest[n - 1] == b'\r' {
                n -= 1;
            }
            if n > 2 && rest[n - 1] == b'-' && rest[n - 2] == b'-' {
                n -= 2;
            }
            n
        }
        None => rest.len().min(BOUNDARY_LINE_MAX),
    };
    let mut best: Option<usize> = None;
    for (i, b) in boundaries.iter().enumerate().rev() {
        let len = b.text.len();
        if len <= find_len
            && rest[..len] == b.text[..]
            && best.is_none_or(|j| boundaries[j].text.len() < len)
        {
            best = Some(i);
            if len == find_len {
                break;
            }
        }
    }
    let i = best?;
    let len = boundaries[i].text.len();
    Some((i, rest.get(len..len + 2) == Some(&b"--"[..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(text: &str) -> Boundary {
        Boundary {
            part: 0,
            text: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn boundaries_match_by_prefix_longest_first() {
        let bs = [b("abc"), b("abcdef")];
        assert_eq!(find_boundary(&bs, b"--abcdef\r\n"), Some((1, false)));
        assert_eq!(find_boundary(&bs, b"--abcxyz--\r\n"), Some((0, false)));
        assert_eq!(find_boundary(&bs, b"--abc--\r\n"), Some((0, true)));
        assert_eq!(find_boundary(&bs, b"- -abc\r\n"), None);
        assert_eq!(find_boundary(&bs, b"--ab\r\n"), None);
        assert_eq!(find_boundary(&bs, b"--abc"), Some((0, false)));
    }
}
