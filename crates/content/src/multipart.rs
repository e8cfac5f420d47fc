//! The body parts of a multipart (RFC 2046 5.1.1), found by their
//! delimiter lines: `--boundary` at the start of a line, matched by prefix
//! as Dovecot and mail-parser match it. The line break before a delimiter
//! belongs to the delimiter. A missing close delimiter ends the last part
//! at the end of the body; preamble and epilogue are not parts.

use memchr::memmem::Finder;

/// The body parts of `body`, yielded one at a time (nothing is collected,
/// so a message of 100,000 parts costs only what the caller takes).
pub(crate) struct Parts<'a> {
    body: &'a [u8],
    finder: Finder<'a>,
    /// Where the next part starts, once the first delimiter was seen.
    next_start: Option<usize>,
    /// Where to look for the next delimiter.
    pos: usize,
    done: bool,
}

impl<'a> Parts<'a> {
    pub(crate) fn new(body: &'a [u8], delimiter: &'a [u8]) -> Self {
        Parts {
            body,
            finder: Finder::new(delimiter),
            next_start: None,
            pos: 0,
            done: false,
        }
    }

    /// Whether a delimiter line was found (after the first [`Iterator::next`]).
    pub(crate) fn found_any(&self) -> bool {
        self.next_start.is_some()
    }

    /// The next delimiter at a line start: (line start, after the line,
    /// whether it closes the multipart).
    fn next_delimiter(&mut self) -> Option<(usize, usize, bool)> {
        let needle = self.finder.needle().len();
        while let Some(found) = self.finder.find(&self.body[self.pos..]) {
            let at = self.pos + found;
            self.pos = at + needle;
            if at == 0 || self.body[at - 1] == b'\n' {
                let after = &self.body[at + needle..];
                let close = after.starts_with(b"--");
                let line_end = after
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.body.len(), |p| at + needle + p + 1);
                self.pos = line_end;
                return Some((at, line_end, close));
            }
        }
        None
    }
}

impl<'a> Iterator for Parts<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        loop {
            let Some((line, after, close)) = self.next_delimiter() else {
                self.done = true;
                // No close delimiter: the last part runs to the end.
                return self
                    .next_start
                    .map(|start| &self.body[start.min(self.body.len())..]);
            };
            match self.next_start {
                None => {
                    // The first delimiter: what came before is the preamble.
                    if close {
                        self.done = true;
                        self.next_start = Some(after);
                        return None;
                    }
                    self.next_start = Some(after);
                }
                Some(start) => {
                    let mut end = line;
                    if end > 0 && self.body[end - 1] == b'\n' {
                        end -= 1;
                        if end > 0 && self.body[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                    let part = &self.body[start.min(end)..end];
                    if close {
                        self.done = true;
                    } else {
                        self.next_start = Some(after);
                    }
                    return Some(part);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(body: &[u8], boundary: &str) -> Vec<String> {
        let delimiter = format!("--{boundary}");
        Parts::new(body, delimiter.as_bytes())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }

    #[test]
    fn parts_are_between_delimiter_lines() {
        let body =
            b"preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b  \r\n\r\ntwo\r\n--b--\r\nepilogue --b\r\n";
        assert_eq!(parts(body, "b"), ["A: 1\r\n\r\none", "\r\ntwo"]);
    }

    #[test]
    fn a_missing_close_delimiter_ends_the_last_part_at_the_end() {
        assert_eq!(parts(b"--b\nx\n--b\ny\n", "b"), ["x", "y\n"]);
        assert_eq!(parts(b"--b", "b"), [""]);
        assert!(parts(b"no delimiter here", "b").is_empty());
        assert!(parts(b"text --b inside a line", "b").is_empty());
    }
}
