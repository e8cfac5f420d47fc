//! IMAP strings as Dovecot's `imap-quote.c` writes them (IMAP4rev1, no
//! UTF8=ACCEPT): "quoted" when possible, a {n} literal when the text has
//! CR, LF, 8-bit characters or more than four '"'/'\' to escape.

const QUOTED_MAX_ESCAPE_CHARS: usize = 4;

fn literal(out: &mut String, s: &str) {
    out.push('{');
    out.push_str(&s.len().to_string());
    out.push_str("}\r\n");
    out.push_str(s);
}

fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '\r' | '\n' => {}
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if !c.is_ascii() => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A string (never NIL).
pub(crate) fn string(out: &mut String, s: &str) {
    let mut escapes = 0;
    for b in s.bytes() {
        let needs_literal = match b {
            b'"' | b'\\' => {
                escapes += 1;
                escapes > QUOTED_MAX_ESCAPE_CHARS
            }
            b'\r' | b'\n' => true,
            b => b >= 0x80,
        };
        if needs_literal {
            return literal(out, s);
        }
    }
    quoted(out, s);
}

/// NIL or a string.
pub(crate) fn nstring(out: &mut String, s: Option<&str>) {
    match s {
        None => out.push_str("NIL"),
        Some(s) => string(out, s),
    }
}

/// NIL or a string with its line breaks removed (a space is put where the
/// next line does not start with whitespace).
pub(crate) fn nstring_nolf(out: &mut String, s: Option<&str>) {
    let Some(s) = s.filter(|s| s.contains(['\r', '\n'])) else {
        return nstring(out, s);
    };
    let bytes = s.as_bytes();
    let mut clean = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        if c != '\r' && c != '\n' {
            clean.push(c);
        } else if !matches!(bytes.get(i + 1), None | Some(b' ' | b'\t' | b'\r' | b'\n')) {
            clean.push(' ');
        }
    }
    string(out, &clean);
}

/// A string cleaned up for humans (subjects, display names): whitespace
/// runs become one space, leading and trailing whitespace goes. Written
/// quoted when nothing needed changing, else as a literal, like Dovecot.
pub(crate) fn string_for_humans(out: &mut String, s: &str) {
    let is_ws = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    let mut modify = false;
    let mut last_lwsp = true;
    let mut only_ws_so_far = true;
    for c in s.chars() {
        match c {
            '\r' | '\n' | '\t' => {
                modify = true;
                last_lwsp = true;
            }
            ' ' => {
                if last_lwsp {
                    modify = true;
                }
                last_lwsp = true;
            }
            '"' | '\\' => {
                modify = true;
                last_lwsp = false;
            }
            c => {
                if !c.is_ascii() {
                    modify = true;
                }
                last_lwsp = false;
            }
        }
        if !last_lwsp {
            only_ws_so_far = false;
        }
    }
    if last_lwsp && !s.is_empty() && !only_ws_so_far {
        modify = true;
    }
    if !modify {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut clean = String::with_capacity(s.len());
    let mut last_lwsp = true;
    for c in s.chars() {
        if is_ws(c) {
            if !last_lwsp {
                clean.push(' ');
            }
            last_lwsp = true;
        } else {
            clean.push(c);
            last_lwsp = false;
        }
    }
    if clean.ends_with(' ') {
        clean.pop();
    }
    if clean.is_empty() {
        out.push_str("\"\"");
    } else {
        literal(out, &clean);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(f: impl Fn(&mut String)) -> String {
        let mut s = String::new();
        f(&mut s);
        s
    }

    #[test]
    fn strings_are_quoted_or_literal() {
        assert_eq!(w(|o| string(o, "a \"b\"")), "\"a \\\"b\\\"\"");
        assert_eq!(w(|o| string(o, "caf\u{e9}")), "{5}\r\ncaf\u{e9}");
        assert_eq!(w(|o| string(o, "a\"\"\"\"\"")), "{6}\r\na\"\"\"\"\"");
        assert_eq!(w(|o| nstring(o, None)), "NIL");
        assert_eq!(w(|o| nstring_nolf(o, Some("a\n b\nc"))), "\"a b c\"");
    }

    #[test]
    fn human_strings_are_cleaned() {
        assert_eq!(
            w(|o| string_for_humans(o, "Hello world")),
            "\"Hello world\""
        );
        assert_eq!(
            w(|o| string_for_humans(o, "Hello\n\tworld ")),
            "{11}\r\nHello world"
        );
        assert_eq!(
            w(|o| string_for_humans(o, "say \"hi\"")),
            "{8}\r\nsay \"hi\""
        );
        assert_eq!(w(|o| string_for_humans(o, "  ")), "\"\"");
        assert_eq!(w(|o| string_for_humans(o, "")), "\"\"");
    }
}
