//! Header blocks, line by line as Dovecot's `message-header-parser.c` reads
//! them (with its IMAP flags "skip initial whitespace" and "drop CR"):
//! a field's value starts after the colon and the whitespace following it,
//! continuation lines are joined with "\n" keeping their leading
//! whitespace, a line without a colon is a field whose name is the whole
//! line, and the block ends at an empty line, at the end of the input, or
//! where the caller says a MIME boundary starts.

/// One header field.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// The name before the colon, trailing whitespace removed.
    pub name: Vec<u8>,
    /// The full value (see the module doc).
    pub value: Vec<u8>,
    /// False for a line without a colon: Dovecot keeps such a line in the
    /// header (HEADER, HEADER.FIELDS.NOT) but never takes it for a field.
    pub has_colon: bool,
    /// Byte range of the field's lines, line breaks included.
    pub start: usize,
    pub end: usize,
}

impl Field {
    /// Whether this is a `name` field (any case).
    pub(crate) fn is(&self, name: &str) -> bool {
        self.has_colon && self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderEnd {
    /// An empty line ended the block (it belongs to the header).
    Blank,
    /// The input ended.
    Eof,
    /// A boundary line started; the line break before it is not the header's.
    Boundary,
}

#[derive(Debug)]
pub(crate) struct HeaderBlock {
    pub fields: Vec<Field>,
    /// Where the body starts (end of the header block).
    pub end: usize,
    /// Where reading stopped: `end`, or the start of the boundary line.
    pub resume: usize,
    pub how: HeaderEnd,
}

/// Reads the header block of `data` starting at `start`. Before each line,
/// `is_boundary(&data[line_start..])` may stop the block there.
pub(crate) fn parse_header_block(
    data: &[u8],
    start: usize,
    mut is_boundary: impl FnMut(&[u8]) -> bool,
) -> HeaderBlock {
    let mut fields: Vec<Field> = Vec::new();
    let mut pos = start;
    let mut prev_newline = 0;
    loop {
        if pos >= data.len() {
            return HeaderBlock {
                fields,
                end: data.len(),
                resume: data.len(),
                how: HeaderEnd::Eof,
            };
        }
        if is_boundary(&data[pos..]) {
            return HeaderBlock {
                fields,
                end: pos - prev_newline,
                resume: pos,
                how: HeaderEnd::Boundary,
            };
        }
        let line_end = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| pos + i + 1);
        let line = &data[pos..line_end];
        let (content, newline) = split_newline(line);
        prev_newline = newline;
        if content.is_empty() && newline > 0 {
            return HeaderBlock {
                fields,
                end: line_end,
                resume: line_end,
                how: HeaderEnd::Blank,
            };
        }
        let continued = matches!(content.first(), Some(b' ' | b'\t')) && !fields.is_empty();
        if continued {
            let field = fields.last_mut().expect("not empty");
            field.value.push(b'\n');
            field.value.extend_from_slice(content);
            field.end = line_end;
        } else {
            let (name, value, has_colon) = split_field(content);
            fields.push(Field {
                name,
                value,
                has_colon,
                start: pos,
                end: line_end,
            });
        }
        pos = line_end;
    }
}

/// A line without its line break, and the break's length (0, 1 or 2).
fn split_newline(line: &[u8]) -> (&[u8], usize) {
    match line {
        [rest @ .., b'\r', b'\n'] => (rest, 2),
        [rest @ .., b'\n'] => (rest, 1),
        _ => (line, 0),
    }
}

fn is_lwsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn split_field(content: &[u8]) -> (Vec<u8>, Vec<u8>, bool) {
    let Some(colon) = content.iter().position(|&b| b == b':') else {
        return (content.to_vec(), Vec::new(), false);
    };
    let mut name_end = colon;
    while name_end > 0 && is_lwsp(content[name_end - 1]) {
        name_end -= 1;
    }
    let value = &content[colon + 1..];
    let mut skip = value.iter().take_while(|&&b| is_lwsp(b)).count();
    if skip == value.len() && !value.is_empty() {
        // only whitespace: Dovecot skips just the first one
        skip = 1;
    }
    (content[..name_end].to_vec(), value[skip..].to_vec(), true)
}

/// The top-level header block of a message (LF or CRLF).
pub(crate) fn message_header(raw: &[u8]) -> HeaderBlock {
    parse_header_block(raw, 0, |_| false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_values_keep_newlines_and_indentation() {
        let h = message_header(b"Subject:  a\r\n\tb\r\nX-No-Colon\nTo : x\n\nbody");
        let f: Vec<_> = h
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.value.clone()))
            .collect();
        assert_eq!(
            f,
            [
                (b"Subject".to_vec(), b"a\n\tb".to_vec()),
                (b"X-No-Colon".to_vec(), Vec::new()),
                (b"To".to_vec(), b"x".to_vec()),
            ]
        );
        assert_eq!(h.how, HeaderEnd::Blank);
        assert_eq!(h.end, 36);
        assert_eq!(h.fields[0].end, 17);
    }

    #[test]
    fn header_can_end_at_eof_or_at_a_boundary() {
        let h = message_header(b"A: b");
        assert_eq!((h.how, h.end, h.fields.len()), (HeaderEnd::Eof, 4, 1));
        let h = parse_header_block(b"A: b\r\n--x\r\n", 0, |l| l.starts_with(b"--x"));
        assert_eq!((h.how, h.end), (HeaderEnd::Boundary, 4));
    }
}
