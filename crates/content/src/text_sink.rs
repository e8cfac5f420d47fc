//! A bounded text buffer that keeps what a reader (or a tokenizer) wants:
//! invisible characters dropped, line ends as `\n` (CRLF and a lone CR
//! alike), and for HTML, runs of white space collapsed as a browser shows
//! them.

/// Characters that render as nothing: zero-width spaces and joiners, the
/// word joiner, the BOM, the soft hyphen. Spam puts them inside words to
/// break filters ("V\u{ad}iagra").
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) out: String,
    max: usize,
    /// More text came than `max` allows.
    pub(crate) full: bool,
    /// Fold white space runs (HTML rendering).
    pub(crate) collapse: bool,
    last_space: bool,
    /// The last character was a CR (turned into `\n`): an LF after it is
    /// the same line end.
    after_cr: bool,
    /// Characters pushed that are not white space, counted while
    /// collapsing (rendering HTML), where they are needed.
    pub(crate) chars: usize,
}

impl Sink {
    /// A sink of at most `max` bytes; `collapse` folds white space runs
    /// into one space (HTML rendering).
    pub(crate) fn new(max: usize, collapse: bool) -> Self {
        Sink {
            max,
            collapse,
            last_space: true,
            ..Sink::default()
        }
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        if self.full {
            return;
        }
        if self.collapse || (!s.is_ascii() && s.chars().any(is_invisible)) {
            for c in s.chars() {
                self.push(c);
                if self.full {
                    return;
                }
            }
            return;
        }
        // The common case for plain text: the runs between CRs copied.
        let room = self.max.saturating_sub(self.out.len());
        let mut end = s.len().min(room);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut rest = &s[..end];
        if std::mem::take(&mut self.after_cr) {
            rest = rest.strip_prefix('\n').unwrap_or(rest);
        }
        while let Some(cr) = memchr::memchr(b'\r', rest.as_bytes()) {
            self.out.push_str(&rest[..cr]);
            self.out.push('\n');
            rest = &rest[cr + 1..];
            match rest.strip_prefix('\n') {
                Some(after) => rest = after,
                None => self.after_cr = rest.is_empty(),
            }
        }
        self.out.push_str(rest);
        if end < s.len() {
            self.overflow();
        }
    }

    pub(crate) fn push(&mut self, c: char) {
        if is_invisible(c) || self.full {
            return;
        }
        let after_cr = std::mem::replace(&mut self.after_cr, c == '\r');
        let c = match c {
            '\n' if after_cr => return,
            '\r' => '\n',
            c => c,
        };
        let space = c.is_whitespace();
        if self.collapse && space {
            if self.last_space {
                return;
            }
            self.last_space = true;
            return self.raw(' ');
        }
        self.last_space = space;
        if !space {
            self.chars += 1;
        }
        self.raw(c);
    }

    /// A break between blocks (paragraph, cell, line break): a newline
    /// unless one is already there.
    pub(crate) fn block_break(&mut self) {
        if self.full || self.out.is_empty() || self.out.ends_with('\n') {
            return;
        }
        if self.out.ends_with(' ') {
            self.out.pop();
        }
        self.last_space = true;
        self.raw('\n');
    }

    fn raw(&mut self, c: char) {
        if self.out.len() + c.len_utf8() > self.max {
            return self.overflow();
        }
        self.out.push(c);
    }

    /// The text is cut here: no more is taken, and a word cut in two is
    /// dropped (half a URL would name another host).
    fn overflow(&mut self) {
        self.full = true;
        let tail_start = self.out.len().saturating_sub(256);
        let tail_start = (tail_start..=self.out.len())
            .find(|&i| self.out.is_char_boundary(i))
            .unwrap_or(self.out.len());
        if let Some((at, space)) = self.out[tail_start..]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
        {
            self.out.truncate(tail_start + at + space.len_utf8());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(chunks: &[&str]) -> String {
        let mut sink = Sink::new(1000, false);
        for chunk in chunks {
            sink.push_str(chunk);
        }
        sink.out
    }

    #[test]
    fn line_ends_become_lf_and_invisible_characters_go() {
        assert_eq!(plain(&["a\r\nb\rc\n\r\nd"]), "a\nb\nc\n\nd");
        assert_eq!(plain(&["a\r", "\nb\r", "c"]), "a\nb\nc");
        assert_eq!(plain(&["V\u{ad}ia\u{200b}gra\r\n"]), "Viagra\n");
        let mut html = Sink::new(1000, true);
        html.push_str("  a \r\n\t b  ");
        assert_eq!(html.out, "a b ");
    }

    #[test]
    fn the_sink_stops_at_its_size() {
        let mut sink = Sink::new(5, false);
        sink.push_str("abc");
        sink.push_str("défg");
        assert!(sink.full);
        assert_eq!(sink.out, "abcd");
        let mut sink = Sink::new(12, false);
        sink.push_str("see http://example.com/");
        sink.push_str("more");
        assert_eq!(sink.out, "see ");
        let mut sink = Sink::new(12, true);
        sink.push_str("see http://example.com/");
        assert_eq!(sink.out, "see ");
        // A cut after a multi-byte space (found by the fuzzer).
        let mut sink = Sink::new(8, false);
        sink.push_str("ab\u{3000}cdefgh");
        assert_eq!(sink.out, "ab\u{3000}");
    }
}
