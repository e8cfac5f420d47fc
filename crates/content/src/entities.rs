//! HTML character references: numeric ones and the named ones mail uses
//! (markup, punctuation, Latin-1 letters).

/// The character a reference at the start of `s` (just after `&`) stands
/// for, and the bytes it takes (the `;` included when present).
pub(crate) fn decode_entity(s: &str) -> Option<(char, usize)> {
    let bytes = s.as_bytes();
    if bytes.first() == Some(&b'#') {
        let (digits_start, radix) = match bytes.get(1) {
            Some(b'x' | b'X') => (2, 16),
            _ => (1, 10),
        };
        let len = bytes[digits_start..]
            .iter()
            .take(8)
            .take_while(|b| b.is_ascii_hexdigit() && (radix == 16 || b.is_ascii_digit()))
            .count();
        if len == 0 {
            return None;
        }
        let code = u32::from_str_radix(&s[digits_start..digits_start + len], radix).ok()?;
        let c = match code {
            0 => '\u{fffd}',
            // Windows-1252 in numeric references, as browsers read them.
            0x80..=0x9f => cp1252(code as u8),
            _ => char::from_u32(code).unwrap_or('\u{fffd}'),
        };
        let end = digits_start + len;
        let end = if bytes.get(end) == Some(&b';') {
            end + 1
        } else {
            end
        };
        return Some((c, end));
    }
    let len = bytes
        .iter()
        .take(10)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if len == 0 {
        return None;
    }
    let c = named(&s[..len])?;
    let end = if bytes.get(len) == Some(&b';') {
        len + 1
    } else {
        len
    };
    Some((c, end))
}

fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    HIGH[(b - 0x80) as usize]
}

fn named(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "bull" => '•',
        "middot" => '·',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "deg" => '°',
        "laquo" => '«',
        "raquo" => '»',
        "times" => '×',
        "divide" => '÷',
        "iexcl" => '¡',
        "iquest" => '¿',
        "shy" => '\u{ad}',
        "zwnj" => '\u{200c}',
        "zwj" => '\u{200d}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "szlig" => 'ß',
        "AElig" => 'Æ',
        "aelig" => 'æ',
        "OElig" => 'Œ',
        "oelig" => 'œ',
        "Oslash" => 'Ø',
        "oslash" => 'ø',
        "ETH" => 'Ð',
        "eth" => 'ð',
        "THORN" => 'Þ',
        "thorn" => 'þ',
        _ => return accented(name),
    })
}

/// `eacute`, `Agrave`, `ccedil`...: a letter and an accent name.
fn accented(name: &str) -> Option<char> {
    let mut chars = name.chars();
    let letter = chars.next()?;
    let accent = chars.as_str();
    const TABLE: &[(char, &str, char)] = &[
        ('a', "grave", 'à'),
        ('a', "acute", 'á'),
        ('a', "circ", 'â'),
        ('a', "tilde", 'ã'),
        ('a', "uml", 'ä'),
        ('a', "ring", 'å'),
        ('c', "cedil", 'ç'),
        ('e', "grave", 'è'),
        ('e', "acute", 'é'),
        ('e', "circ", 'ê'),
        ('e', "uml", 'ë'),
        ('i', "grave", 'ì'),
        ('i', "acute", 'í'),
        ('i', "circ", 'î'),
        ('i', "uml", 'ï'),
        ('n', "tilde", 'ñ'),
        ('o', "grave", 'ò'),
        ('o', "acute", 'ó'),
        ('o', "circ", 'ô'),
        ('o', "tilde", 'õ'),
        ('o', "uml", 'ö'),
        ('u', "grave", 'ù'),
        ('u', "acute", 'ú'),
        ('u', "circ", 'û'),
        ('u', "uml", 'ü'),
        ('y', "acute", 'ý'),
        ('y', "uml", 'ÿ'),
    ];
    let (_, _, c) = TABLE
        .iter()
        .find(|(l, a, _)| *l == letter.to_ascii_lowercase() && *a == accent)?;
    if letter.is_ascii_uppercase() {
        c.to_uppercase().next()
    } else {
        Some(*c)
    }
}

/// `s` with its character references decoded (attribute values).
pub(crate) fn decode_all(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp + 1..];
        match decode_entity(rest) {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => out.push('&'),
        }
    }
    out.push_str(rest);
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_decode() {
        assert_eq!(
            decode_all(
                "a&amp;b &lt;x&gt; caf&eacute; &Eacute;t&eacute; &#233;&#xE9;&#x20AC; &#150;"
            ),
            "a&b <x> café Été éé€ –"
        );
        assert_eq!(decode_all("&unknown; & &#; &#xZZ"), "&unknown; & &#; &#xZZ");
        assert_eq!(decode_all("&#104;ttp"), "http");
    }
}
