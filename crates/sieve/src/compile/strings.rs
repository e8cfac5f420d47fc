//! String arguments: encoded characters (RFC 5228 §2.4.2.4) decoded at
//! compile time, then `${name}` and `${N}` references (RFC 5229 §3) split
//! out for expansion at run time.

use crate::program::{Piece, Str};

/// Decodes `${hex: 41 42}` and `${unicode: 263a}` sequences. A malformed
/// sequence stays as written (§2.4.2.4); hex octets that do not make UTF-8
/// and code points that are not characters are errors.
pub(crate) fn decode_encoded_characters(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match encoded_sequence(after)? {
            Some((decoded, used)) => {
                out.push_str(&decoded);
                rest = &after[used..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// `text` follows a `${`: the decoded sequence and how many bytes of `text` it used.
fn encoded_sequence(text: &str) -> Result<Option<(String, usize)>, String> {
    let Some(colon) = text.find(':') else {
        return Ok(None);
    };
    let kind = text[..colon].to_ascii_lowercase();
    if kind != "hex" && kind != "unicode" {
        return Ok(None);
    }
    let Some(close) = text[colon..].find('}').map(|c| c + colon) else {
        return Ok(None);
    };
    let body = &text[colon + 1..close];
    if !body
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, ' ' | '\t' | '\r' | '\n'))
    {
        return Ok(None);
    }
    let words = body.split_ascii_whitespace();
    let decoded = if kind == "hex" {
        let mut bytes = Vec::new();
        for word in words {
            if word.len() > 2 {
                return Ok(None);
            }
            bytes.push(u8::from_str_radix(word, 16).map_err(|e| e.to_string())?);
        }
        String::from_utf8(bytes).map_err(|_| format!("${{hex:{body}}} is not UTF-8"))?
    } else {
        let mut chars = String::new();
        for word in words {
            if word.len() > 6 {
                return Err(format!("${{unicode:{body}}} is not a Unicode character"));
            }
            let code = u32::from_str_radix(word, 16).map_err(|e| e.to_string())?;
            chars.push(
                char::from_u32(code)
                    .ok_or_else(|| format!("${{unicode:{word}}} is not a Unicode character"))?,
            );
        }
        chars
    };
    Ok(Some((decoded, close + 1)))
}

/// Splits `text` into literal text and variable references. A `${` that
/// does not start a well-formed reference stays literal (RFC 5229 §3).
pub(crate) fn template(text: String) -> Str {
    if !text.contains("${") {
        return Str::Const(text);
    }
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after
            .find('}')
            .and_then(|end| reference(&after[..end]).map(|p| (p, end)))
        {
            Some((piece, end)) => {
                if !literal.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut literal)));
                }
                pieces.push(piece);
                rest = &after[end + 1..];
            }
            None => {
                literal.push_str("${");
                rest = after;
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Lit(literal));
    }
    if pieces.iter().all(|p| matches!(p, Piece::Lit(_))) {
        return Str::Const(text);
    }
    Str::Template(pieces)
}

/// The reference named between `${` and `}`, if it is one.
fn reference(name: &str) -> Option<Piece> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Piece::Match(name.parse().unwrap_or(usize::MAX)));
    }
    if is_variable_name(name, true) {
        return Some(Piece::Var(name.to_ascii_lowercase()));
    }
    None
}

/// An identifier (RFC 5229 §3), or with `namespaces`, identifiers joined
/// by dots where the first is a namespace we know (`global`).
pub(crate) fn is_variable_name(name: &str, namespaces: bool) -> bool {
    let identifier = |s: &str| {
        let mut bytes = s.bytes();
        matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    match name.split_once('.') {
        None => identifier(name),
        Some((space, rest)) => {
            namespaces && space.eq_ignore_ascii_case("global") && identifier(rest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_characters_are_decoded() {
        assert_eq!(decode_encoded_characters("${hex: 40 41}b").unwrap(), "@Ab");
        assert_eq!(decode_encoded_characters("${HEX:e2 98 BA}").unwrap(), "☺");
        assert_eq!(
            decode_encoded_characters("${unicode:263a 40}").unwrap(),
            "☺@"
        );
        assert_eq!(decode_encoded_characters("${Unicode:}x").unwrap(), "x");
    }

    #[test]
    fn malformed_sequences_stay_as_written() {
        for text in [
            "${hex:4x}",
            "${hex 40}",
            "${hex:40",
            "${foo:40}",
            "${hex:404}",
            "$hex",
        ] {
            assert_eq!(decode_encoded_characters(text).unwrap(), text);
        }
    }

    #[test]
    fn sequences_that_are_not_characters_are_errors() {
        assert!(decode_encoded_characters("${hex:ff}").is_err());
        assert!(decode_encoded_characters("${unicode:d800}").is_err());
        assert!(decode_encoded_characters("${unicode:110000}").is_err());
    }

    #[test]
    fn templates_split_references() {
        assert_eq!(template("plain".into()), Str::Const("plain".into()));
        assert_eq!(
            template("a${Foo}b${1}${global.x}".into()),
            Str::Template(vec![
                Piece::Lit("a".into()),
                Piece::Var("foo".into()),
                Piece::Lit("b".into()),
                Piece::Match(1),
                Piece::Var("global.x".into()),
            ])
        );
        assert_eq!(
            template("${bad name}${".into()),
            Str::Const("${bad name}${".into())
        );
        assert_eq!(
            template("${${x}}".into()),
            Str::Template(vec![
                Piece::Lit("${".into()),
                Piece::Var("x".into()),
                Piece::Lit("}".into()),
            ])
        );
    }
}
