//! A bounded text buffer that keeps what a reader (or a tokenizer) wants:
//! invisible characters dropped, and for HTML, runs of white space
//! collapsed as a browser shows them.

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
    /// Characters pushed that are not white space.
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
        if !self.collapse && (s.is_ascii() || !s.chars().any(is_invisible)) {
            // The common case for plain text: one copy.
            let room = self.max.saturating_sub(self.out.len());
            if s.len() <= room {
                self.out.push_str(s);
                self.chars += s.chars().filter(|c| !c.is_whitespace()).count();
                return;
            }
        }
        for c in s.chars() {
            self.push(c);
            if self.full {
                return;
            }
        }
    }

    pub(crate) fn push(&mut self, c: char) {
        if is_invisible(c) || self.full {
            return;
        }
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
            self.full = true;
            return;
        }
        self.out.push(c);
    }
}
