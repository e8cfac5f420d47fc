//! The message a script runs on, and its envelope: header fields as
//! written (the `header`, `address`, `exists` and `date` tests read them,
//! editheader changes a copy), the raw bytes for `size` and `body :raw`,
//! and the MIME structure (mail-parser's, built on first use) for `body
//! :text` and `body :content`.

use std::borrow::Cow;
use std::cell::OnceCell;

use mail_parser::parsers::MessageStream;
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

/// The SMTP envelope of the delivery, for the `envelope` test and
/// vacation's decisions. Addresses without angle brackets; the null sender
/// is the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM.
    pub from: String,
    /// The RCPT TO this delivery is for (the user's address after alias expansion).
    pub to: String,
    /// The RCPT TO as the client sent it, when it differs (an alias): `envelope "orig_to"`.
    pub original_to: Option<String>,
    /// The authenticated sender (SMTP AUTH), if any: `envelope "auth"`.
    pub auth: Option<String>,
}

/// One header field: its name as written and its value as written
/// (folded, not decoded), without the line end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub name: String,
    pub value: String,
}

/// A message as a script sees it. Made once per delivery from the raw
/// bytes; parsing never fails (a message without a header section has no
/// fields and all its bytes as body).
pub struct Message<'a> {
    raw: &'a [u8],
    body_start: usize,
    fields: Vec<Field>,
    mime: OnceCell<Option<mail_parser::Message<'a>>>,
}

impl<'a> Message<'a> {
    pub fn parse(raw: &'a [u8]) -> Message<'a> {
        let (fields, body_start) = split_header(raw);
        Message {
            raw,
            body_start,
            fields,
            mime: OnceCell::new(),
        }
    }

    /// The message's size in bytes, for the `size` test.
    pub fn size(&self) -> usize {
        self.raw.len()
    }

    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    pub(crate) fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The body as written, for `body :raw`.
    pub(crate) fn raw_body(&self) -> &'a [u8] {
        &self.raw[self.body_start..]
    }

    fn mime(&self) -> Option<&mail_parser::Message<'a>> {
        self.mime
            .get_or_init(|| MessageParser::default().parse(self.raw))
            .as_ref()
    }

    /// The decoded text of the parts `body` looks at: for `:text`
    /// (`types` None) the text parts, HTML turned to text; for `:content`
    /// the parts whose type is one of `types` (`""` is any, `"text"` any
    /// text/*), decoded. At most `max` bytes in all.
    pub(crate) fn body_texts(&self, types: Option<&[String]>, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut budget = max;
        if let Some(message) = self.mime() {
            collect_parts(message, types, &mut out, &mut budget, 0);
        }
        out
    }
}

/// Nested messages deeper than this are not looked into.
const MAX_NESTING: usize = 8;

fn collect_parts(
    message: &mail_parser::Message<'_>,
    types: Option<&[String]>,
    out: &mut Vec<String>,
    budget: &mut usize,
    depth: usize,
) {
    for part in &message.parts {
        if *budget == 0 {
            return;
        }
        let (main, sub) = match part.content_type() {
            Some(ct) => (
                ct.c_type.to_ascii_lowercase(),
                ct.c_subtype.as_deref().unwrap_or("").to_ascii_lowercase(),
            ),
            None => ("text".to_string(), "plain".to_string()),
        };
        let wanted = match types {
            None => true,
            Some(types) => types.iter().any(|t| {
                let t = t.to_ascii_lowercase();
                match t.split_once('/') {
                    Some((m, s)) => m == main && s == sub,
                    None => t.is_empty() || t == main,
                }
            }),
        };
        let text: Option<Cow<'_, str>> = match &part.body {
            PartType::Text(text) if wanted => Some(Cow::Borrowed(text.as_ref())),
            PartType::Html(html) if wanted => Some(if types.is_none() {
                Cow::Owned(mail_parser::decoders::html::html_to_text(html))
            } else {
                Cow::Borrowed(html.as_ref())
            }),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes)
                if wanted && types.is_some() =>
            {
                Some(String::from_utf8_lossy(bytes))
            }
            PartType::Message(nested) if depth < MAX_NESTING => {
                collect_parts(nested, types, out, budget, depth + 1);
                None
            }
            _ => None,
        };
        if let Some(text) = text {
            let cut = floor_char_boundary(&text, *budget);
            *budget -= cut;
            out.push(text[..cut].to_string());
        }
    }
}

/// The fields of the header section and where the body starts.
fn split_header(raw: &[u8]) -> (Vec<Field>, usize) {
    let mut fields: Vec<Field> = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let end = memchr_newline(&raw[at..]).map_or(raw.len(), |n| at + n + 1);
        let line = &raw[at..end];
        let content = trim_line_end(line);
        if content.is_empty() {
            return (fields, end);
        }
        if matches!(content[0], b' ' | b'\t') {
            if let Some(last) = fields.last_mut() {
                last.value.push_str("\r\n");
                last.value.push_str(&String::from_utf8_lossy(content));
            }
        } else if let Some(colon) = content.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&content[..colon])
                .trim_end()
                .to_string();
            if !name.is_empty() && !name.contains(' ') {
                fields.push(Field {
                    name,
                    value: String::from_utf8_lossy(&content[colon + 1..]).into_owned(),
                });
            }
        } else if fields.is_empty() && at == 0 {
            // Not a header section at all: everything is body.
            return (fields, 0);
        }
        at = end;
    }
    (fields, raw.len())
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The largest char boundary of `text` not past `max`.
pub(crate) fn floor_char_boundary(text: &str, max: usize) -> usize {
    if max >= text.len() {
        return text.len();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// A field's value unfolded, RFC 2047 words decoded, white space trimmed
/// (RFC 5228 §5.7), at most `max` bytes.
pub(crate) fn decoded_value(raw: &str, max: usize) -> String {
    let cut = floor_char_boundary(raw, max);
    let bytes = format!("{}\r\n", &raw[..cut]);
    let text = match MessageStream::new(bytes.as_bytes()).parse_unstructured() {
        HeaderValue::Text(text) => text.into_owned(),
        _ => unfold(&raw[..cut]),
    };
    text.trim().to_string()
}

/// A folded value on one line.
pub(crate) fn unfold(raw: &str) -> String {
    raw.replace("\r\n", "").replace('\n', "")
}

/// The addresses of an address field (groups flattened), each as
/// `local@domain`. A value with no address in it gives its trimmed text,
/// so `:all` still sees something (Pigeonhole does the same).
pub(crate) fn addresses(raw: &str, max: usize) -> Vec<String> {
    let cut = floor_char_boundary(raw, max);
    let bytes = format!("{}\r\n", &raw[..cut]);
    let mut out = Vec::new();
    match MessageStream::new(bytes.as_bytes()).parse_address() {
        // A group lists its members, maybe none.
        HeaderValue::Address(Address::Group(groups)) => out.extend(
            groups
                .into_iter()
                .flat_map(|g| g.addresses)
                .filter_map(|a| a.address),
        ),
        HeaderValue::Address(Address::List(list)) => {
            out.extend(list.into_iter().filter_map(|a| a.address))
        }
        _ => {}
    }
    if out.is_empty() && !raw[..cut].contains(':') {
        let text = unfold(&raw[..cut]);
        let text = text.trim();
        if !text.is_empty() {
            return vec![text.to_string()];
        }
    }
    out.into_iter().map(Cow::into_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"From: Joe <joe@example.com>\r\n\
Subject: =?UTF-8?Q?caf=C3=A9?= time\r\n\
To: a@example.org,\r\n  \"B\" <b@example.net>\r\n\
X-Empty:\r\n\
\r\n\
Hello\r\n";

    #[test]
    fn fields_keep_their_folded_values() {
        let message = Message::parse(MESSAGE);
        let names: Vec<&str> = message.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["From", "Subject", "To", "X-Empty"]);
        assert_eq!(
            message.fields()[2].value,
            " a@example.org,\r\n  \"B\" <b@example.net>"
        );
        assert_eq!(message.raw_body(), b"Hello\r\n");
        assert_eq!(message.size(), MESSAGE.len());
    }

    #[test]
    fn values_are_decoded_and_trimmed() {
        assert_eq!(
            decoded_value(" =?UTF-8?Q?caf=C3=A9?= time", 1000),
            "café time"
        );
        assert_eq!(decoded_value("  two\r\n lines ", 1000), "two lines");
        assert_eq!(decoded_value("", 1000), "");
    }

    #[test]
    fn addresses_come_out_bare() {
        assert_eq!(
            addresses(" a@example.org,\r\n  \"B\" <b@example.net>", 1000),
            ["a@example.org", "b@example.net"]
        );
        assert_eq!(
            addresses(" undisclosed-recipients:;", 1000),
            Vec::<String>::new()
        );
        assert_eq!(addresses(" not an address", 1000), ["not an address"]);
    }

    #[test]
    fn a_message_without_header_is_all_body() {
        let message = Message::parse(b"just text\r\n");
        assert!(message.fields().is_empty());
        assert_eq!(message.raw_body(), b"just text\r\n");
    }

    #[test]
    fn body_text_of_a_multipart_message() {
        let raw = b"Content-Type: multipart/alternative; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p>html <b>words</b></p>\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nYmluYXJ5\r\n\
--b--\r\n";
        let message = Message::parse(raw);
        let text = message.body_texts(None, 1 << 20).join("|");
        assert!(text.contains("plain words"), "{text}");
        assert!(text.contains("html words"), "{text}");
        assert!(!text.contains("binary"), "{text}");
        let html = message.body_texts(Some(&["text/html".to_string()]), 1 << 20);
        assert_eq!(html.len(), 1);
        assert!(html[0].contains("<b>words</b>"));
        let binary = message.body_texts(Some(&["application".to_string()]), 1 << 20);
        assert_eq!(binary, ["binary"]);
        let cut = message.body_texts(None, 5);
        assert_eq!(cut.concat(), "plain");
    }
}
