//! RFC 8970 PREVIEW: the start of a message's first readable text, as
//! plain text on one line, for clients to show under the subject.

use crate::part::{Kind, Part};
use crate::search::body_text;

/// RFC 8970 3: a preview is at most 256 characters.
pub const PREVIEW_MAX_CHARS: usize = 256;

/// The preview of a message whose CRLF form is `data` and MIME tree `root`:
/// the first text/plain (or, failing that, text/html with its markup
/// removed) part that is not an attachment, quoted lines (`>`) dropped and
/// whitespace collapsed, cut to [`PREVIEW_MAX_CHARS`] characters. Empty when
/// the message has no such text.
pub(crate) fn preview(data: &[u8], root: &Part) -> String {
    let Some(part) = first_text(root) else {
        return String::new();
    };
    let text = body_text(data, part);
    let text = if subtype_is(part, "html") {
        strip_html(&text)
    } else {
        text
    };
    one_line(&text)
}

fn subtype_is(part: &Part, subtype: &str) -> bool {
    part.data
        .content_type
        .as_ref()
        .is_some_and(|(_, st)| st.eq_ignore_ascii_case(subtype))
}

/// A leaf a reader would see as the message's text: text/plain or
/// text/html (no Content-Type means text/plain), not an attachment.
fn is_readable(part: &Part) -> bool {
    let textual = match &part.data.content_type {
        None => true,
        Some((t, st)) => {
            t.eq_ignore_ascii_case("text")
                && (st.eq_ignore_ascii_case("plain") || st.eq_ignore_ascii_case("html"))
        }
    };
    let attached = part
        .data
        .disposition
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case("attachment"));
    textual && !attached
}

/// The first readable leaf in reading order; in a multipart/alternative the
/// plain version is preferred to the HTML one. Attached messages are not
/// entered: their text is not this message's.
fn first_text(root: &Part) -> Option<&Part> {
    match &root.kind {
        Kind::Leaf => is_readable(root).then_some(root),
        Kind::Message(_) => None,
        Kind::Multipart(children) => {
            if subtype_is(root, "alternative")
                && let Some(plain) = children.iter().find(|c| {
                    matches!(c.kind, Kind::Leaf) && is_readable(c) && !subtype_is(c, "html")
                })
            {
                return Some(plain);
            }
            children.iter().find_map(first_text)
        }
    }
}

/// Text without tags, comments, `<style>`/`<script>`/`<head>` contents, and
/// with the common character references decoded.
fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else {
            return out;
        };
        let name: String = rest[1..gt]
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &rest[gt + 1..];
        if matches!(name.as_str(), "style" | "script" | "head" | "title") {
            let close = format!("</{name}");
            rest = find_ascii_ci(rest, &close).map_or("", |at| {
                let tail = &rest[at..];
                tail.find('>').map_or("", |end| &tail[end + 1..])
            });
        }
        // Block tags separate words ("a<br>b" reads "a b"); inline ones
        // do not ("<b>no</b>on" is "noon").
        if !INLINE.contains(&name.as_str()) {
            out.push(' ');
        }
    }
    out.push_str(&decode_entities(rest));
    out
}

const INLINE: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "em", "font", "i", "kbd", "mark", "q",
    "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "tt", "u", "var",
];

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let entity = rest[1..]
            .find(';')
            .filter(|&end| end <= 10)
            .map(|end| &rest[1..=end]);
        let decoded = entity.and_then(|name| match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => {
                let num = name.strip_prefix('#')?;
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => num.parse().ok()?,
                };
                char::from_u32(code)
            }
        });
        match (entity, decoded) {
            (Some(name), Some(c)) => {
                out.push(c);
                rest = &rest[name.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Quoted lines dropped, every run of whitespace (line ends included) one
/// space, control characters gone, trimmed, cut at the character limit.
fn one_line(text: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut space = false;
    let words = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('>'))
        .flat_map(|line| line.split(|c: char| c.is_whitespace() || c.is_control()))
        .filter(|w| !w.is_empty());
    for word in words {
        if space {
            if count + 1 >= PREVIEW_MAX_CHARS {
                break;
            }
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count == PREVIEW_MAX_CHARS {
                return out;
            }
            out.push(c);
            count += 1;
        }
        space = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::analyse;

    #[test]
    fn a_plain_message_previews_its_text_on_one_line() {
        let a = analyse(b"Subject: hi\r\n\r\nHello  Bob,\r\n> old quoted text\r\n\r\nsee you\r\n");
        assert_eq!(a.preview(), "Hello Bob, see you");
    }

    #[test]
    fn html_is_stripped_of_markup_styles_and_entities() {
        let raw = b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
            <html><head><style>p{color:red}</style></head><body><p>Caf&#xE9; &amp; \
            th<b>&#233;</b><br>today</p><!-- hidden --></body></html>\r\n";
        assert_eq!(analyse(raw).preview(), "Café & thé today");
    }

    #[test]
    fn alternative_prefers_plain_and_attachments_are_skipped() {
        let raw = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n\
            --m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnot me\r\n\
            --m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n\
            --a\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n\
            --a\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nplain =C3=A9t=C3=A9\r\n\
            --a--\r\n--m--\r\n";
        assert_eq!(analyse(raw).preview(), "plain été");
    }

    #[test]
    fn a_long_text_is_cut_at_256_characters() {
        let mut raw = b"Subject: long\r\n\r\n".to_vec();
        raw.extend("é".repeat(300).as_bytes());
        let preview = analyse(&raw).preview().to_owned();
        assert_eq!(preview.chars().count(), 256);
    }

    #[test]
    fn a_message_with_only_an_image_has_an_empty_preview() {
        let raw = b"MIME-Version: 1.0\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n";
        assert_eq!(analyse(raw).preview(), "");
    }

    #[test]
    fn the_preview_survives_the_cache() {
        let a = analyse(b"Subject: x\r\n\r\n\"quoted\" \\ text\r\n");
        let back = crate::Analysis::from_cache(&a.to_cache()).expect("cache reads back");
        assert_eq!(back.preview(), "\"quoted\" \\ text");
        assert_eq!(back, a);
    }
}
