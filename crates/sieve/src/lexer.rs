//! Tokens of a Sieve script (RFC 5228 §2 and §8.1), each with its position.
//!
//! Identifiers are case-insensitive and come out in lower case; `:tag`s
//! likewise, without their colon. Numbers take a `K`, `M` or `G` quantifier
//! and must fit in 63 bits. Quoted strings keep what they hold with `\\`
//! and `\"` undone (any other backslash is dropped, as §2.4.2 says);
//! `text:` strings end at a line holding a lone `.`, with dot-stuffing
//! undone, and come out with CRLF line ends whatever the script used.
//! Comments (`#` to the end of the line, `/* ... */`) and white space
//! separate tokens and are otherwise dropped.

use crate::error::{CompileError, Pos};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Ident(String),
    Tag(String),
    Number(u64),
    Str(String),
    LBracket,
    RBracket,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Semicolon,
    Eof,
}

impl Tok {
    /// How an error message names this token.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("identifier '{name}'"),
            Tok::Tag(name) => format!("tag ':{name}'"),
            Tok::Number(n) => format!("number {n}"),
            Tok::Str(_) => "string".to_string(),
            Tok::LBracket => "'['".to_string(),
            Tok::RBracket => "']'".to_string(),
            Tok::LParen => "'('".to_string(),
            Tok::RParen => "')'".to_string(),
            Tok::LBrace => "'{'".to_string(),
            Tok::RBrace => "'}'".to_string(),
            Tok::Comma => "','".to_string(),
            Tok::Semicolon => "';'".to_string(),
            Tok::Eof => "end of script".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

/// Every token of `source`, ending with [`Tok::Eof`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, CompileError> {
    let mut lexer = Lexer {
        src: source.as_bytes(),
        at: 0,
        line: 1,
        column: 1,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next()?;
        let end = token.tok == Tok::Eof;
        tokens.push(token);
        if end {
            return Ok(tokens);
        }
    }
}

struct Lexer<'a> {
    src: &'a [u8],
    at: usize,
    line: u32,
    column: u32,
}

impl Lexer<'_> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.at + ahead).copied()
    }

    /// Moves over one byte, keeping line and column (in characters).
    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        if byte == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if byte & 0xC0 != 0x80 {
            self.column += 1;
        }
        Some(byte)
    }

    fn next(&mut self) -> Result<Token, CompileError> {
        self.skip_blanks()?;
        let pos = self.pos();
        let Some(byte) = self.peek() else {
            return Ok(Token { tok: Tok::Eof, pos });
        };
        let tok = match byte {
            b'[' | b']' | b'(' | b')' | b'{' | b'}' | b',' | b';' => {
                self.bump();
                match byte {
                    b'[' => Tok::LBracket,
                    b']' => Tok::RBracket,
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b'{' => Tok::LBrace,
                    b'}' => Tok::RBrace,
                    b',' => Tok::Comma,
                    _ => Tok::Semicolon,
                }
            }
            b'"' => Tok::Str(self.quoted(pos)?),
            b':' => {
                self.bump();
                match self.peek() {
                    Some(b) if is_ident_start(b) => Tok::Tag(self.identifier()),
                    _ => return Err(CompileError::new(pos, "expected a tag name after ':'")),
                }
            }
            b'0'..=b'9' => Tok::Number(self.number(pos)?),
            b if is_ident_start(b) => {
                let name = self.identifier();
                if name == "text" && self.peek() == Some(b':') {
                    self.bump();
                    Tok::Str(self.multiline(pos)?)
                } else {
                    Tok::Ident(name)
                }
            }
            _ => {
                let rest = std::str::from_utf8(&self.src[self.at..]).unwrap_or("");
                let shown = rest.chars().next().unwrap_or('?');
                return Err(CompileError::new(
                    pos,
                    format!("unexpected character '{}'", shown.escape_default()),
                ));
            }
        };
        Ok(Token { tok, pos })
    }

    /// White space and comments.
    fn skip_blanks(&mut self) -> Result<(), CompileError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.bump();
                }
                Some(b'#') => {
                    while let Some(b) = self.bump() {
                        if b == b'\n' {
                            break;
                        }
                    }
                }
                Some(b'/') if self.peek_at(1) == Some(b'*') => {
                    let pos = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        match self.bump() {
                            Some(b'*') if self.peek() == Some(b'/') => {
                                self.bump();
                                break;
                            }
                            Some(_) => {}
                            None => {
                                return Err(CompileError::new(pos, "unterminated comment"));
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn identifier(&mut self) -> String {
        let start = self.at;
        while self.peek().is_some_and(is_ident_char) {
            self.bump();
        }
        String::from_utf8_lossy(&self.src[start..self.at]).to_ascii_lowercase()
    }

    fn number(&mut self, pos: Pos) -> Result<u64, CompileError> {
        let too_large = || CompileError::new(pos, "number too large");
        let mut value: u64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            self.bump();
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit - b'0')))
                .ok_or_else(too_large)?;
        }
        let scale: u64 = match self.peek() {
            Some(b'k' | b'K') => 1 << 10,
            Some(b'm' | b'M') => 1 << 20,
            Some(b'g' | b'G') => 1 << 30,
            _ => 1,
        };
        if scale != 1 {
            self.bump();
        }
        if self.peek().is_some_and(is_ident_char) {
            return Err(CompileError::new(pos, "invalid number"));
        }
        value
            .checked_mul(scale)
            .filter(|v| *v <= i64::MAX as u64)
            .ok_or_else(too_large)
    }

    fn quoted(&mut self, pos: Pos) -> Result<String, CompileError> {
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.bump() {
                Some(b'"') => break,
                Some(b'\\') => match self.bump() {
                    Some(b) => out.push(b),
                    None => return Err(CompileError::new(pos, "unterminated string")),
                },
                Some(b) => out.push(b),
                None => return Err(CompileError::new(pos, "unterminated string")),
            }
        }
        // The source is a str and escapes only remove ASCII backslashes, so
        // the bytes are still UTF-8.
        Ok(String::from_utf8(out).unwrap_or_default())
    }

    /// A `text:` string; the lexer stands after the colon.
    fn multiline(&mut self, pos: Pos) -> Result<String, CompileError> {
        while let Some(b' ' | b'\t') = self.peek() {
            self.bump();
        }
        if self.peek() == Some(b'#') {
            while let Some(b) = self.peek() {
                if b == b'\n' {
                    break;
                }
                self.bump();
            }
        }
        if self.peek() == Some(b'\r') {
            self.bump();
        }
        if self.bump() != Some(b'\n') {
            return Err(CompileError::new(
                pos,
                "expected a line break after 'text:'",
            ));
        }
        let mut out = String::new();
        loop {
            if self.at >= self.src.len() {
                return Err(CompileError::new(pos, "unterminated multi-line string"));
            }
            let start = self.at;
            while let Some(b) = self.peek() {
                if b == b'\n' {
                    break;
                }
                self.bump();
            }
            let mut line = &self.src[start..self.at];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let ended = self.bump().is_some();
            if line == b"." {
                return Ok(out);
            }
            if !ended {
                return Err(CompileError::new(pos, "unterminated multi-line string"));
            }
            if line.starts_with(b"..") {
                line = &line[1..];
            }
            out.push_str(&String::from_utf8_lossy(line));
            out.push_str("\r\n");
        }
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(source: &str) -> Vec<Tok> {
        tokenize(source)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    fn error(source: &str) -> String {
        tokenize(source).unwrap_err().to_string()
    }

    #[test]
    fn a_command_with_its_arguments() {
        assert_eq!(
            toks("FileInto :Copy [\"a\", \"b\"] 10K;"),
            vec![
                Tok::Ident("fileinto".into()),
                Tok::Tag("copy".into()),
                Tok::LBracket,
                Tok::Str("a".into()),
                Tok::Comma,
                Tok::Str("b".into()),
                Tok::RBracket,
                Tok::Number(10 * 1024),
                Tok::Semicolon,
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn quantifiers_scale_numbers() {
        assert_eq!(
            toks("1k 2M 3g 0")[..4],
            [
                Tok::Number(1024),
                Tok::Number(2 << 20),
                Tok::Number(3 << 30),
                Tok::Number(0)
            ]
        );
        assert_eq!(
            error("99999999999999999999"),
            "line 1, column 1: number too large"
        );
        assert_eq!(
            error("size :over 9999999999G"),
            "line 1, column 12: number too large"
        );
        assert_eq!(error("12abc"), "line 1, column 1: invalid number");
    }

    #[test]
    fn quoted_strings_undo_escapes() {
        assert_eq!(toks(r#""a\"b\\c\d""#)[0], Tok::Str("a\"b\\cd".into()));
        assert_eq!(toks("\"two\r\nlines\"")[0], Tok::Str("two\r\nlines".into()));
        assert_eq!(
            error("keep;\n  \"open"),
            "line 2, column 3: unterminated string"
        );
    }

    #[test]
    fn multi_line_strings_undo_dot_stuffing() {
        let source = "text: # comment\r\nfirst\r\n..dotted\r\n.\r\n;";
        assert_eq!(toks(source)[0], Tok::Str("first\r\n.dotted\r\n".into()));
        // Bare LF is accepted and comes out as CRLF.
        assert_eq!(toks("text:\na\n.\n")[0], Tok::Str("a\r\n".into()));
        assert_eq!(
            error("text:\nno end\n"),
            "line 1, column 1: unterminated multi-line string"
        );
        assert_eq!(
            error("text: x\n.\n"),
            "line 1, column 1: expected a line break after 'text:'"
        );
    }

    #[test]
    fn comments_are_skipped_and_positions_kept() {
        let tokens = tokenize("# one\n/* two\nlines */ keep ;").unwrap();
        assert_eq!(tokens[0].tok, Tok::Ident("keep".into()));
        assert_eq!(
            tokens[0].pos,
            Pos {
                line: 3,
                column: 10
            }
        );
        assert_eq!(
            tokens[1].pos,
            Pos {
                line: 3,
                column: 15
            }
        );
        assert_eq!(
            error("keep; /* never closed"),
            "line 1, column 7: unterminated comment"
        );
    }

    #[test]
    fn columns_count_characters() {
        let tokens = tokenize("\"é\" keep").unwrap();
        assert_eq!(tokens[1].pos, Pos { line: 1, column: 5 });
    }

    #[test]
    fn stray_characters_are_named() {
        assert_eq!(
            error("keep;\n  @"),
            "line 2, column 3: unexpected character '@'"
        );
        assert_eq!(
            error(": x"),
            "line 1, column 1: expected a tag name after ':'"
        );
    }
}
