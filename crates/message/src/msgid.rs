//! Message-IDs in Message-ID, In-Reply-To and References values, for
//! threading: `<id-left@id-right>` with comments and folding removed.
//! Broken ones fall back to the raw text between '<' and '>' when it has an
//! '@' and no whitespace; anything else is skipped.

use crate::rfc822::Lexer;

/// The valid message-IDs of a header value, in order, as "<left@right>".
pub(crate) fn message_ids(value: &[u8]) -> Vec<String> {
    let mut ids = Vec::new();
    let mut lx = Lexer::new(value);
    loop {
        if lx.skip_lwsp() < 0 {
            lx.pos += 1;
        }
        if lx.at_end() {
            break;
        }
        if lx.cur() != b'<' {
            lx.pos += 1;
            continue;
        }
        let start = lx.pos;
        match tokenized(&mut lx).or_else(|| {
            lx.pos = start;
            untokenized(value, &mut lx)
        }) {
            Some(id) => ids.push(id),
            None => lx.pos = start + 1,
        }
    }
    ids
}

fn tokenized(lx: &mut Lexer<'_>) -> Option<String> {
    lx.pos += 1;
    if lx.skip_lwsp() <= 0 {
        return None;
    }
    let mut left = Vec::new();
    let ret = if lx.cur() == b'"' {
        lx.parse_quoted_string(&mut left)
    } else {
        lx.parse_dot_atom(&mut left)
    };
    if ret <= 0 || lx.cur() != b'@' || left.is_empty() {
        return None;
    }
    let mut right = Vec::new();
    if lx.parse_domain(&mut right) <= 0 || lx.cur() != b'>' || right.is_empty() {
        return None;
    }
    lx.pos += 1;
    Some(format!(
        "<{}@{}>",
        String::from_utf8_lossy(&left),
        String::from_utf8_lossy(&right)
    ))
}

fn untokenized(value: &[u8], lx: &mut Lexer<'_>) -> Option<String> {
    let rest = &value[lx.pos + 1..];
    let close = rest.iter().position(|&b| b == b'>')?;
    let inner = &rest[..close];
    if inner.is_empty()
        || !inner.contains(&b'@')
        || inner.iter().any(|b| b.is_ascii_whitespace() || *b == b'<')
    {
        return None;
    }
    lx.pos += close + 2;
    Some(format!("<{}>", String::from_utf8_lossy(inner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_and_normalised() {
        assert_eq!(
            message_ids(b"<a@b.c> (comment)\n\t< x . y @ z > junk <bad> <q@[1.2.3.4]>"),
            ["<a@b.c>", "<x.y@z>", "<q@[1.2.3.4]>"]
        );
        assert_eq!(message_ids(b"<a:b@c>"), ["<a:b@c>"]);
        assert!(message_ids(b"").is_empty());
    }
}
