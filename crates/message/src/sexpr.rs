//! A tiny S-expression text format for the cache: numbers, `N` (none),
//! "strings" and (lists). Strings escape `"` and `\` with a backslash and
//! control characters as `\xHH`, so the text is one line.

/// Nesting deeper than this is refused when reading.
const MAX_NESTING: usize = 1024;

pub(crate) enum V {
    Nil,
    Num(i64),
    Str(String),
    List(Vec<V>),
}

/// Appends `v` to `out`.
pub(crate) fn write(out: &mut String, v: &V) {
    match v {
        V::Nil => out.push('N'),
        V::Num(n) => out.push_str(&n.to_string()),
        V::Str(text) => {
            out.push('"');
            for c in text.chars() {
                match c {
                    '"' | '\\' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c if (c as u32) < 0x20 || c == '\u{7f}' => {
                        out.push_str(&format!("\\x{:02x}", c as u32));
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        V::List(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write(out, item);
            }
            out.push(')');
        }
    }
}

/// Reads one value that must fill `text` exactly.
pub(crate) fn parse(text: &str) -> Option<V> {
    let mut r = Reader { s: text, pos: 0 };
    let v = r.value(0)?;
    (r.pos == text.len()).then_some(v)
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn value(&mut self, depth: usize) -> Option<V> {
        if depth > MAX_NESTING {
            return None;
        }
        match self.peek()? {
            'N' => {
                self.pos += 1;
                Some(V::Nil)
            }
            '(' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    match self.peek()? {
                        ')' => {
                            self.pos += 1;
                            return Some(V::List(items));
                        }
                        ' ' if !items.is_empty() => self.pos += 1,
                        _ => {}
                    }
                    items.push(self.value(depth + 1)?);
                }
            }
            '"' => {
                self.pos += 1;
                let mut text = String::new();
                loop {
                    let c = self.peek()?;
                    self.pos += c.len_utf8();
                    match c {
                        '"' => return Some(V::Str(text)),
                        '\\' => {
                            let e = self.peek()?;
                            self.pos += e.len_utf8();
                            if e == 'x' {
                                let hex = self.s.get(self.pos..self.pos + 2)?;
                                self.pos += 2;
                                text.push(char::from(u8::from_str_radix(hex, 16).ok()?));
                            } else {
                                text.push(e);
                            }
                        }
                        c => text.push(c),
                    }
                }
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                self.pos += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                self.s[start..self.pos].parse().ok().map(V::Num)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_on_one_line() {
        let v = V::List(vec![
            V::Nil,
            V::Num(-42),
            V::Str("a \"q\" \\ \n\u{1} caf\u{e9}".into()),
            V::List(vec![]),
        ]);
        let mut text = String::new();
        write(&mut text, &v);
        assert_eq!(text, "(N -42 \"a \\\"q\\\" \\\\ \\x0a\\x01 caf\u{e9}\" ())");
        let mut again = String::new();
        write(&mut again, &parse(&text).unwrap());
        assert_eq!(again, text);
        assert!(parse("(1 2").is_none());
        assert!(parse("(1) ").is_none());
        assert!(parse("\"\\x4\"").is_none());
    }
}
