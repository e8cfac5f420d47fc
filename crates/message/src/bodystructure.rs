//! BODY and BODYSTRUCTURE (RFC 3501/9051 7.4.2, "body") as Dovecot's
//! `imap-bodystructure.c` writes them: types as written in the message
//! ("text" "plain" when absent), a default ("charset" "us-ascii") for
//! text, "7bit" when no encoding is given, sizes and line counts of the
//! CRLF form, MD5 as given (usually NIL), then disposition, language and
//! location. A multipart that has no parts gets one empty text/plain part;
//! a part typed multipart or message/rfc822 that could not be parsed as
//! one is application/octet-stream.

use crate::envelope::write_envelope;
use crate::part::{Kind, MimeData, Part};
use crate::quote::{nstring_nolf, string};

const DEFAULT_CHARSET: &str = "us-ascii";

fn params(out: &mut String, list: &[(String, String)], default_charset: bool) {
    if !default_charset && list.is_empty() {
        out.push_str("NIL");
        return;
    }
    out.push('(');
    let mut seen_charset = false;
    for (i, (k, v)) in list.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        seen_charset |= k.eq_ignore_ascii_case("charset");
        string(out, k);
        out.push(' ');
        string(out, v);
    }
    if default_charset && !seen_charset {
        if !list.is_empty() {
            out.push(' ');
        }
        out.push_str("\"charset\" \"");
        out.push_str(DEFAULT_CHARSET);
        out.push('"');
    }
    out.push(')');
}

fn common_extension(out: &mut String, data: &MimeData) {
    out.push(' ');
    match &data.disposition {
        None => out.push_str("NIL"),
        Some(d) => {
            out.push('(');
            string(out, d);
            out.push(' ');
            params(out, &data.disposition_params, false);
            out.push(')');
        }
    }
    out.push(' ');
    match &data.language {
        None => out.push_str("NIL"),
        Some(langs) => {
            out.push('(');
            for (i, l) in langs.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                string(out, l);
            }
            out.push(')');
        }
    }
    out.push(' ');
    nstring_nolf(out, data.location.as_deref());
}

fn empty_part(out: &mut String, extended: bool) {
    out.push_str("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
    if extended {
        out.push_str(" NIL NIL NIL NIL");
    }
    out.push(')');
}

fn multipart(out: &mut String, part: &Part, children: &[Part], extended: bool) {
    if children.is_empty() {
        empty_part(out, extended);
    }
    for child in children {
        out.push('(');
        write_part(out, child, extended);
        out.push(')');
    }
    out.push(' ');
    let subtype = part
        .data
        .content_type
        .as_ref()
        .map_or("", |(_, s)| s.as_str());
    string(out, subtype);
    if extended {
        out.push(' ');
        params(out, &part.data.params, false);
        common_extension(out, &part.data);
    }
}

fn single(out: &mut String, part: &Part, extended: bool) {
    let data = &part.data;
    let text = match (&part.kind, &data.content_type) {
        (Kind::Message(_), _) => {
            out.push_str("\"message\" \"rfc822\"");
            false
        }
        (_, None) => {
            out.push_str("\"text\" \"plain\"");
            true
        }
        (_, Some((t, s)))
            if t.eq_ignore_ascii_case("multipart")
                || (t.eq_ignore_ascii_case("message") && s.eq_ignore_ascii_case("rfc822")) =>
        {
            // A multipart that could not be parsed as one (as Dovecot does),
            // or a message/rfc822 past the nesting limit: written as a
            // basic type they would not match the grammar clients expect.
            out.push_str("\"application\" \"octet-stream\"");
            false
        }
        (_, Some((t, s))) => {
            string(out, t);
            out.push(' ');
            string(out, s);
            t.eq_ignore_ascii_case("text")
        }
    };
    out.push(' ');
    params(out, &data.params, text);
    out.push(' ');
    nstring_nolf(out, data.id.as_deref());
    out.push(' ');
    nstring_nolf(out, data.description.as_deref());
    out.push(' ');
    match &data.transfer_encoding {
        Some(cte) => string(out, cte),
        None => out.push_str("\"7bit\""),
    }
    out.push(' ');
    out.push_str(&part.body_size().to_string());
    if text {
        out.push(' ');
        out.push_str(&part.lines.to_string());
    } else if let Kind::Message(inner) = &part.kind {
        out.push_str(" (");
        write_envelope(out, inner.envelope.as_ref());
        out.push_str(") (");
        write_part(out, inner, extended);
        out.push_str(") ");
        out.push_str(&part.lines.to_string());
    }
    if extended {
        out.push(' ');
        nstring_nolf(out, data.md5.as_deref());
        common_extension(out, data);
    }
}

/// A part's body structure without the surrounding parentheses.
pub(crate) fn write_part(out: &mut String, part: &Part, extended: bool) {
    match &part.kind {
        Kind::Multipart(children) => multipart(out, part, children, extended),
        _ => single(out, part, extended),
    }
}
