//! The lowest layer of the parser: a cursor over one assembled command with the
//! RFC 9051 lexical items (atoms, numbers, quoted strings, literals).

use std::borrow::Cow;

use crate::error::{ParseError, ParseErrorKind};

/// Deepest nesting of parentheses, `NOT` and `OR` accepted in a command.
pub const MAX_DEPTH: usize = 64;

pub(crate) type PResult<T> = Result<T, ParseError>;

/// `ATOM-CHAR`: any 7-bit printable except the atom-specials
/// `( ) { SP % * " \ ]`.
pub(crate) fn is_atom_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR` (atom chars and `]`); 8-bit bytes are tolerated so that raw
/// UTF-8 names sent unquoted still parse.
pub(crate) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']' || b >= 0x80
}

/// `list-char`: astring chars plus the wildcards `%` and `*`.
pub(crate) fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// `tag`: astring chars except `+`, 7-bit only.
pub(crate) fn is_tag_char(b: u8) -> bool {
    (is_atom_char(b) || b == b']') && b != b'+'
}

pub(crate) struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Cursor<'a> {
        Cursor {
            input,
            pos: 0,
            depth: 0,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub(crate) fn peek_at(&self, offset: usize) -> Option<u8> {
        self.input.get(self.pos + offset).copied()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.input[self.pos.min(self.input.len())..]
    }

    /// At the end of the command: nothing left but an optional line ending.
    pub(crate) fn at_end(&self) -> bool {
        matches!(self.rest(), b"" | b"\r\n" | b"\n")
    }

    /// Nothing but the line ending may follow (trailing spaces are forgiven:
    /// some clients send them).
    pub(crate) fn end(&mut self) -> PResult<()> {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        if self.at_end() {
            self.pos = self.input.len();
            Ok(())
        } else {
            Err(ParseError::syntax(
                "unexpected characters after the command",
            ))
        }
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.input.len());
    }

    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, b: u8, message: &'static str) -> PResult<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(ParseError::syntax(message))
        }
    }

    pub(crate) fn sp(&mut self) -> PResult<()> {
        self.expect(b' ', "missing space between arguments")
    }

    /// Consumes `word` (ASCII, compared case-insensitively) when the input
    /// continues with it.
    pub(crate) fn eat_ci(&mut self, word: &str) -> bool {
        let rest = self.rest();
        if rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word.as_bytes()) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Whether the next atom is exactly `word` (case-insensitive), without
    /// consuming it.
    pub(crate) fn peek_atom_is(&self, word: &str) -> bool {
        let rest = self.rest();
        let len = rest.iter().take_while(|&&b| is_atom_char(b)).count();
        rest[..len].eq_ignore_ascii_case(word.as_bytes())
    }

    /// Enters one more level of nesting; fails past [`MAX_DEPTH`].
    pub(crate) fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(
                ParseErrorKind::TooDeep,
                "too deeply nested",
            ));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    pub(crate) fn tag(&mut self) -> Option<&'a str> {
        let tag = self.take_while(is_tag_char);
        if tag.is_empty() {
            return None;
        }
        // Only 7-bit characters pass `is_tag_char`.
        std::str::from_utf8(tag).ok()
    }

    /// `atom`: one or more ATOM-CHARs.
    pub(crate) fn atom(&mut self) -> PResult<&'a str> {
        let atom = self.take_while(is_atom_char);
        if atom.is_empty() {
            return Err(ParseError::syntax("expected an atom"));
        }
        std::str::from_utf8(atom).map_err(|_| ParseError::syntax("expected an atom"))
    }

    /// An atom, upper-cased (command names, keywords).
    pub(crate) fn keyword(&mut self) -> PResult<String> {
        Ok(self.atom()?.to_ascii_uppercase())
    }

    fn digits(&mut self) -> PResult<&'a [u8]> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(ParseError::syntax("expected a number"));
        }
        Ok(digits)
    }

    /// `number64`: 0 ..= 2^63-1.
    pub(crate) fn number64(&mut self) -> PResult<u64> {
        let digits = self.digits()?;
        let mut n: u64 = 0;
        for &d in digits {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .filter(|&n| n <= i64::MAX as u64)
                .ok_or_else(|| ParseError::syntax("number out of range"))?;
        }
        Ok(n)
    }

    /// `number`: 0 ..= 2^32-1.
    pub(crate) fn number(&mut self) -> PResult<u32> {
        let n = self.number64()?;
        u32::try_from(n).map_err(|_| ParseError::syntax("number out of range"))
    }

    /// `nz-number`: 1 ..= 2^32-1.
    pub(crate) fn nz_number(&mut self) -> PResult<u32> {
        match self.number()? {
            0 => Err(ParseError::syntax("zero is not allowed here")),
            n => Ok(n),
        }
    }

    /// `mod-sequence-value`: 1 ..= 2^63-1.
    pub(crate) fn modseq(&mut self) -> PResult<u64> {
        match self.number64()? {
            0 => Err(ParseError::syntax("a mod-sequence is never zero")),
            n => Ok(n),
        }
    }

    /// `quoted`, without its quotes and escapes.
    pub(crate) fn quoted(&mut self) -> PResult<Vec<u8>> {
        self.expect(b'"', "expected a quoted string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r' | b'\n' | 0) => {
                    return Err(ParseError::syntax("unterminated quoted string"));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => match self.peek_at(1) {
                    Some(b @ (b'"' | b'\\')) => {
                        out.push(b);
                        self.pos += 2;
                    }
                    _ => return Err(ParseError::syntax("bad escape in quoted string")),
                },
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// `literal` (`{N}` or `{N+}`), or with `binary` also `literal8`
    /// (`~{N}`); returns the content and whether it was a literal8. NUL is
    /// refused in a plain literal unless `allow_nul`.
    pub(crate) fn literal(&mut self, binary: bool, allow_nul: bool) -> PResult<(&'a [u8], bool)> {
        let is8 = self.peek() == Some(b'~');
        if is8 {
            if !binary {
                return Err(ParseError::syntax("literal8 is not allowed here"));
            }
            self.pos += 1;
        }
        self.expect(b'{', "expected a literal")?;
        let size = self.number64()?;
        self.eat(b'+');
        self.expect(b'}', "bad literal announcement")?;
        if !(self.eat_ci("\r\n") || self.eat(b'\n')) {
            return Err(ParseError::syntax(
                "a literal announcement must end the line",
            ));
        }
        let available = self.input.len() - self.pos;
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s <= available)
            .ok_or_else(|| ParseError::syntax("literal is shorter than announced"))?;
        let data = &self.input[self.pos..self.pos + size];
        self.pos += size;
        if !is8 && !allow_nul && data.contains(&0) {
            return Err(ParseError::syntax("NUL in a literal"));
        }
        Ok((data, is8))
    }

    /// `string`: quoted or literal.
    pub(crate) fn string(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => Ok(Cow::Owned(self.quoted()?)),
            Some(b'{') => Ok(Cow::Borrowed(self.literal(false, false)?.0)),
            _ => Err(ParseError::syntax("expected a string")),
        }
    }

    /// `astring`: 1*ASTRING-CHAR or a string.
    pub(crate) fn astring(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let atom = self.take_while(is_astring_char);
                if atom.is_empty() {
                    Err(ParseError::syntax("expected an atom or a string"))
                } else {
                    Ok(Cow::Borrowed(atom))
                }
            }
        }
    }

    /// `nstring`: NIL or a string.
    pub(crate) fn nstring(&mut self) -> PResult<Option<Cow<'a, [u8]>>> {
        if self.peek_atom_is("NIL") {
            self.pos += 3;
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    /// `list-mailbox`: 1*list-char or a string.
    pub(crate) fn list_mailbox(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let atom = self.take_while(is_list_char);
                if atom.is_empty() {
                    Err(ParseError::syntax("expected a mailbox pattern"))
                } else {
                    Ok(Cow::Borrowed(atom))
                }
            }
        }
    }

    /// An astring that must be UTF-8.
    pub(crate) fn astring_utf8(&mut self, what: &'static str) -> PResult<String> {
        let bytes = self.astring()?;
        String::from_utf8(bytes.into_owned()).map_err(|_| ParseError::syntax(what))
    }

    /// Runs `item` for each element of a parenthesised, space-separated list
    /// (`allow_empty`: whether `()` is accepted).
    pub(crate) fn paren_list(
        &mut self,
        allow_empty: bool,
        mut item: impl FnMut(&mut Cursor<'a>) -> PResult<()>,
    ) -> PResult<()> {
        self.expect(b'(', "expected '('")?;
        self.enter()?;
        if self.eat(b')') {
            self.leave();
            return if allow_empty {
                Ok(())
            } else {
                Err(ParseError::syntax("empty list"))
            };
        }
        loop {
            item(self)?;
            if self.eat(b')') {
                break;
            }
            self.sp()?;
        }
        self.leave();
        Ok(())
    }
}
