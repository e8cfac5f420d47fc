//! RFC 822/2822 lexical tokens (comments, atoms, quoted strings, MIME
//! tokens, domains), following Dovecot's `rfc822-parser.c` closely so that
//! values, parameters and addresses come out as Dovecot writes them.
//!
//! The functions return Dovecot's codes: [`BROKEN`] (-1) for a syntax
//! error, [`END`] (0) when the input ends after the token, [`MORE`] (1)
//! when there is more input.

pub(crate) const BROKEN: i32 = -1;
pub(crate) const END: i32 = 0;
pub(crate) const MORE: i32 = 1;

/// rfc822_atext_chars: 1 = atext, 2 = alpha/digit/8-bit, 4 = atext that is
/// a MIME tspecial ('/', '=', '?').
fn class(c: u8) -> u8 {
    match c {
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'^' | b'_' | b'`'
        | b'{' | b'|' | b'}' | b'~' => 1,
        b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' | 0x80..=0xff => 2,
        b'/' | b'=' | b'?' => 4,
        _ => 0,
    }
}

pub(crate) fn is_atext(c: u8) -> bool {
    class(c) != 0
}

fn is_token_char(c: u8) -> bool {
    class(c) & 3 != 0
}

pub(crate) struct Lexer<'a> {
    data: &'a [u8],
    pub(crate) pos: usize,
    /// When set, the text of the last comment skipped (used for the display
    /// name of `user@host (Name)`).
    pub(crate) last_comment: Option<Vec<u8>>,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Lexer {
            data,
            pos: 0,
            last_comment: None,
        }
    }

    pub(crate) fn with_comments(data: &'a [u8]) -> Self {
        Lexer {
            data,
            pos: 0,
            last_comment: Some(Vec::new()),
        }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The current byte, 0 at the end (the C code reads the terminator).
    pub(crate) fn cur(&self) -> u8 {
        self.data.get(self.pos).copied().unwrap_or(0)
    }

    fn more_or_end(&self) -> i32 {
        if self.at_end() { END } else { MORE }
    }

    fn copy(&self, out: &mut Vec<u8>, start: usize, end: usize) {
        if start < end {
            out.extend_from_slice(&self.data[start..end]);
        }
    }

    fn skip_comment(&mut self) -> i32 {
        if let Some(c) = self.last_comment.as_mut() {
            c.clear();
        }
        self.pos += 1;
        let mut start = self.pos;
        let mut level = 1;
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                b'(' => level += 1,
                b')' => {
                    level -= 1;
                    if level == 0 {
                        if let Some(c) = self.last_comment.as_mut() {
                            c.extend_from_slice(&self.data[start..self.pos]);
                        }
                        self.pos += 1;
                        return self.more_or_end();
                    }
                }
                b'\n' => {
                    if let Some(c) = self.last_comment.as_mut() {
                        let mut end = self.pos;
                        if end > start && self.data[end - 1] == b'\r' {
                            end -= 1;
                        }
                        c.extend_from_slice(&self.data[start..end]);
                        start = self.pos + 1;
                    }
                }
                b'\\' => {
                    self.pos += 1;
                    if self.pos >= self.data.len() {
                        return BROKEN;
                    }
                    if matches!(self.data[self.pos], b'\r' | b'\n' | 0) {
                        // not a quoted-pair: the line break is folding
                        self.pos -= 1;
                    } else {
                        if let Some(c) = self.last_comment.as_mut() {
                            c.extend_from_slice(&self.data[start..self.pos - 1]);
                        }
                        start = self.pos;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        BROKEN
    }

    /// Skips whitespace, line breaks and comments.
    pub(crate) fn skip_lwsp(&mut self) -> i32 {
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => {
                    if self.skip_comment() < 0 {
                        return BROKEN;
                    }
                }
                _ => break,
            }
        }
        self.more_or_end()
    }

    pub(crate) fn parse_atom(&mut self, out: &mut Vec<u8>) -> i32 {
        if self.at_end() || !is_atext(self.cur()) {
            return BROKEN;
        }
        let start = self.pos;
        self.pos += 1;
        while self.pos < self.data.len() {
            if is_atext(self.data[self.pos]) {
                self.pos += 1;
                continue;
            }
            self.copy(out, start, self.pos);
            return self.skip_lwsp();
        }
        self.copy(out, start, self.pos);
        END
    }

    pub(crate) fn parse_dot_atom(&mut self, out: &mut Vec<u8>) -> i32 {
        if self.at_end() || !is_atext(self.cur()) {
            return BROKEN;
        }
        let mut start = self.pos;
        self.pos += 1;
        while self.pos < self.data.len() {
            if is_atext(self.data[self.pos]) {
                self.pos += 1;
                continue;
            }
            if start == self.pos {
                return BROKEN;
            }
            self.copy(out, start, self.pos);
            let ret = self.skip_lwsp();
            if ret <= 0 {
                return ret;
            }
            if self.cur() != b'.' {
                return MORE;
            }
            self.pos += 1;
            out.push(b'.');
            if self.skip_lwsp() <= 0 {
                return BROKEN;
            }
            start = self.pos;
        }
        self.copy(out, start, self.pos);
        END
    }

    /// A MIME token (RFC 2045), also accepting '.'.
    pub(crate) fn parse_mime_token(&mut self, out: &mut Vec<u8>) -> i32 {
        let start = self.pos;
        while self.pos < self.data.len() {
            let c = self.data[self.pos];
            if is_token_char(c) || c == b'.' {
                self.pos += 1;
                continue;
            }
            self.copy(out, start, self.pos);
            return self.skip_lwsp();
        }
        self.copy(out, start, self.pos);
        END
    }

    /// A quoted string (the current byte is '"'): escapes removed, folding
    /// line breaks removed (a '\\' before a line break is kept).
    pub(crate) fn parse_quoted_string(&mut self, out: &mut Vec<u8>) -> i32 {
        self.pos += 1;
        let mut start = self.pos;
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                b'"' => {
                    self.copy(out, start, self.pos);
                    self.pos += 1;
                    return self.skip_lwsp();
                }
                b'\n' => {
                    let mut end = self.pos;
                    if end > start && self.data[end - 1] == b'\r' {
                        end -= 1;
                    }
                    self.copy(out, start, end);
                    start = self.pos + 1;
                }
                b'\\' => {
                    self.pos += 1;
                    if self.pos >= self.data.len() {
                        return BROKEN;
                    }
                    if matches!(self.data[self.pos], b'\r' | b'\n' | 0) {
                        self.pos -= 1;
                    } else {
                        self.copy(out, start, self.pos - 1);
                        start = self.pos;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        BROKEN
    }

    fn parse_atom_or_dot(&mut self, out: &mut Vec<u8>) -> i32 {
        let start = self.pos;
        while self.pos < self.data.len() {
            let c = self.data[self.pos];
            if is_atext(c) || c == b'.' {
                self.pos += 1;
                continue;
            }
            self.copy(out, start, self.pos);
            return self.skip_lwsp();
        }
        self.copy(out, start, self.pos);
        END
    }

    /// A phrase: words joined by single spaces, quoted strings unquoted.
    pub(crate) fn parse_phrase(&mut self, out: &mut Vec<u8>) -> i32 {
        if self.at_end() {
            return END;
        }
        if self.cur() == b'.' {
            return BROKEN;
        }
        loop {
            let ret = if self.cur() == b'"' {
                self.parse_quoted_string(out)
            } else {
                self.parse_atom_or_dot(out)
            };
            if ret <= 0 {
                return ret;
            }
            let c = self.cur();
            if !is_atext(c) && c != b'"' && c != b'.' {
                break;
            }
            out.push(b' ');
        }
        self.skip_lwsp()
    }

    fn parse_domain_literal(&mut self, out: &mut Vec<u8>) -> i32 {
        let mut start = self.pos;
        self.pos += 1;
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                b'[' => return BROKEN,
                b']' => {
                    self.copy(out, start, self.pos + 1);
                    self.pos += 1;
                    return self.skip_lwsp();
                }
                b'\n' => {
                    let mut end = self.pos;
                    if end > start && self.data[end - 1] == b'\r' {
                        end -= 1;
                    }
                    self.copy(out, start, end);
                    start = self.pos + 1;
                }
                b'\\' => {
                    self.pos += 1;
                    if self.pos >= self.data.len() {
                        return BROKEN;
                    }
                    if matches!(self.data[self.pos], b'\r' | b'\n' | 0) {
                        self.copy(out, start, self.pos);
                        start = self.pos;
                        self.pos -= 1;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        BROKEN
    }

    /// A domain after '@' (the current byte).
    pub(crate) fn parse_domain(&mut self, out: &mut Vec<u8>) -> i32 {
        self.pos += 1;
        if self.skip_lwsp() <= 0 {
            return BROKEN;
        }
        if self.cur() == b'[' {
            self.parse_domain_literal(out)
        } else {
            self.parse_dot_atom(out)
        }
    }

    /// `type "/" subtype` into `out` as "type/subtype". When broken, `out`
    /// is left empty, except that a type without "/" is kept.
    pub(crate) fn parse_content_type(&mut self, out: &mut Vec<u8>) -> i32 {
        let start_len = out.len();
        if self.skip_lwsp() <= 0 {
            return BROKEN;
        }
        if self.parse_mime_token(out) <= 0 || out.len() == start_len {
            return BROKEN;
        }
        if self.cur() != b'/' {
            out.truncate(start_len);
            return BROKEN;
        }
        self.pos += 1;
        if self.skip_lwsp() <= 0 {
            out.truncate(start_len);
            return BROKEN;
        }
        out.push(b'/');
        let sub_start = out.len();
        let ret = self.parse_mime_token(out);
        if ret < 0 || out.len() == sub_start || (!self.at_end() && self.cur() != b';') {
            out.truncate(start_len);
            return BROKEN;
        }
        ret
    }

    /// One `; key=value` parameter: `END` when there are no more.
    pub(crate) fn parse_content_param(&mut self, key: &mut Vec<u8>, value: &mut Vec<u8>) -> i32 {
        key.clear();
        value.clear();
        if self.at_end() {
            return END;
        }
        if self.cur() != b';' {
            return BROKEN;
        }
        self.pos += 1;
        if self.skip_lwsp() <= 0 {
            return BROKEN;
        }
        if self.parse_mime_token(key) <= 0 {
            return BROKEN;
        }
        if self.cur() != b'=' {
            return BROKEN;
        }
        self.pos += 1;
        let mut ret = self.skip_lwsp();
        if ret <= 0 {
            // broken or no value
        } else if self.cur() == b'"' {
            ret = self.parse_quoted_string(value);
        } else if self.cur() == b'=' {
            // broken input: name==?utf-8?b?...?=
            while !self.at_end() && !matches!(self.cur(), b';' | b' ' | b'\t' | b'\r' | b'\n') {
                value.push(self.cur());
                self.pos += 1;
            }
        } else {
            ret = self.parse_mime_token(value);
        }
        if ret < 0 { BROKEN } else { MORE }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings_lose_escapes_and_folding() {
        let mut out = Vec::new();
        let mut lx = Lexer::new(b"\"foo\r\n bar \\\"x\\\"\" rest");
        assert_eq!(lx.parse_quoted_string(&mut out), MORE);
        assert_eq!(out, b"foo bar \"x\"");
        assert_eq!(lx.cur(), b'r');
    }

    #[test]
    fn comments_are_skipped_and_remembered() {
        let mut lx = Lexer::with_comments(b"  (a (nested) \\) c)x");
        assert_eq!(lx.skip_lwsp(), MORE);
        assert_eq!(lx.cur(), b'x');
        assert_eq!(lx.last_comment.as_deref(), Some(&b"a (nested) ) c"[..]));
    }
}
