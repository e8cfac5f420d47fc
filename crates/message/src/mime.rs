//! The MIME structure of a message, found the way Dovecot's
//! `message-parser.c` finds it, on the CRLF form:
//!
//! - Content-Type counts when the part is MIME: inside a multipart, or with
//!   a MIME-Version or Content-Type header. Without one, the part is
//!   text/plain (message/rfc822 inside a multipart/digest).
//! - A boundary line starts with "--" and *begins with* one of the open
//!   boundaries (any nesting level, the longest match winning), so a
//!   missing inner close delimiter is healed by the outer boundary.
//! - The line break before a boundary line belongs to the boundary.
//! - A message/rfc822 body is parsed as a message, whatever its encoding.
//! - A missing closing boundary ends the parts at the end of the input.
//!
//! Nesting stops at [`MAX_DEPTH`] levels and [`MAX_PARTS`] parts (Dovecot's
//! defaults): deeper multiparts and messages are kept as opaque leaves.

use crate::header::{Field, HeaderEnd, parse_header_block};
use crate::params::parse_params;
use crate::part::{Envelope, Kind, MimeData, Part};
use crate::part_data::{envelope, mime_data, parse_content_type};

pub(crate) const MAX_DEPTH: usize = 100;
pub(crate) const MAX_PARTS: usize = 10_000;
/// Boundaries longer than this are truncated (RFC 2046 allows 70).
const BOUNDARY_MAX: usize = 80;
const BOUNDARY_LINE_MAX: usize = BOUNDARY_MAX + 4;

const MULTIPART: u8 = 1;
const RFC822: u8 = 2;
const DIGEST: u8 = 4;
const IS_MIME: u8 = 8;

struct Node {
    parent: Option<usize>,
    children: Vec<usize>,
    depth: usize,
    flags: u8,
    header_start: usize,
    body_start: usize,
    end: usize,
    has_eoh: bool,
    data: MimeData,
    envelope: Option<Envelope>,
}

struct Boundary {
    part: usize,
    text: Vec<u8>,
}

enum State {
    Header,
    BodyToBoundary,
    Done,
}

struct Parser<'a> {
    data: &'a [u8],
    nodes: Vec<Node>,
    boundaries: Vec<Boundary>,
    cur: usize,
    pos: usize,
}

/// Parses the CRLF form of a message into its part tree.
pub(crate) fn parse(data: &[u8]) -> Part {
    let mut p = Parser {
        data,
        nodes: Vec::new(),
        boundaries: Vec::new(),
        cur: 0,
        pos: 0,
    };
    p.add_node(None, 0, 0);
    let mut state = State::Header;
    loop {
        state = match state {
            State::Header => p.header(),
            State::BodyToBoundary => p.body_to_boundary(),
            State::Done => break,
        };
    }
    p.finish_up_to(None, data.len());
    p.into_part(0)
}

/// Finds the open boundary `line` (at a line start) begins, if any:
/// (index in `boundaries`, whether it is the close delimiter).
fn find_boundary(boundaries: &[Boundary], line: &[u8]) -> Option<(usize, bool)> {
    if boundaries.is_empty() || !line.starts_with(b"--") {
        return None;
    }
    let rest = &line[2..];
    let find_len = match rest.iter().position(|&b| b == b'\n') {
        Some(mut n) => {
            if n > 0 && rest[n - 1] == b'\r' {
                n -= 1;
            }
            if n > 2 && rest[n - 1] == b'-' && rest[n - 2] == b'-' {
                n -= 2;
            }
            n
        }
        None => rest.len().min(BOUNDARY_LINE_MAX),
    };
    let mut best: Option<usize> = None;
    for (i, b) in boundaries.iter().enumerate().rev() {
        let len = b.text.len();
        if len <= find_len
            && rest[..len] == b.text[..]
            && best.is_none_or(|j| boundaries[j].text.len() < len)
        {
            best = Some(i);
            if len == find_len {
                break;
            }
        }
    }
    let i = best?;
    let len = boundaries[i].text.len();
    Some((i, rest.get(len..len + 2) == Some(&b"--"[..])))
}

fn first_field<'f>(fields: &'f [Field], name: &str) -> Option<&'f Field> {
    fields.iter().find(|f| f.is(name))
}

impl Parser<'_> {
    fn add_node(&mut self, parent: Option<usize>, start: usize, flags: u8) -> usize {
        let depth = parent.map_or(0, |p| self.nodes[p].depth + 1);
        let id = self.nodes.len();
        self.nodes.push(Node {
            parent,
            children: Vec::new(),
            depth,
            flags,
            header_start: start,
            body_start: start,
            end: start,
            has_eoh: false,
            data: MimeData::default(),
            envelope: None,
        });
        if let Some(p) = parent {
            self.nodes[p].children.push(id);
        }
        self.cur = id;
        id
    }

    fn header(&mut self) -> State {
        let id = self.cur;
        let boundaries = &self.boundaries;
        let block = parse_header_block(self.data, self.pos, |line| {
            find_boundary(boundaries, line).is_some()
        });
        let fields = &block.fields;
        let content_type = first_field(fields, "Content-Type");
        let is_mime = self.nodes[id].flags & IS_MIME != 0
            || content_type.is_some()
            || first_field(fields, "Mime-Version").is_some();
        let mut flags = 0;
        let mut boundary = None;
        if let (Some(ct), true) = (content_type, is_mime) {
            let (ty, ok, mut lx) = parse_content_type(&ct.value);
            if ty.eq_ignore_ascii_case(b"message/rfc822") {
                flags |= RFC822;
            } else if ty.len() >= 10 && ty[..10].eq_ignore_ascii_case(b"multipart/") {
                flags |= MULTIPART;
                if ty[10..].eq_ignore_ascii_case(b"digest") {
                    flags |= DIGEST;
                }
                if ok {
                    boundary = parse_params(&mut lx)
                        .into_iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(b"boundary"))
                        .map(|(_, mut v)| {
                            v.truncate(BOUNDARY_MAX);
                            v
                        });
                }
            }
        } else {
            let parent = self.nodes[id].parent;
            if parent.is_some_and(|p| self.nodes[p].flags & DIGEST != 0) {
                flags |= RFC822;
            }
        }
        let node = &self.nodes[id];
        if node.depth >= MAX_DEPTH || self.nodes.len() >= MAX_PARTS {
            flags &= !(MULTIPART | RFC822 | DIGEST);
        }
        let wants_envelope = node
            .parent
            .is_none_or(|p| self.nodes[p].flags & RFC822 != 0);
        let data = if is_mime { mime_data(fields) } else { MimeData::default() };
        let env = wants_envelope.then(|| envelope(fields));

        let node = &mut self.nodes[id];
        node.flags |= flags;
        node.body_start = block.end;
        node.has_eoh = block.how == HeaderEnd::Blank;
        node.data = data;
        node.envelope = env;
        self.pos = block.resume;

        match boundary {
            Some(text) if flags & MULTIPART != 0 && block.how == HeaderEnd::Blank => {
                self.boundaries.push(Boundary { part: id, text });
                State::BodyToBoundary
            }
            _ if flags & RFC822 != 0 => {
                self.add_node(Some(id), self.pos, 0);
                State::Header
            }
            _ if !self.boundaries.is_empty() => State::BodyToBoundary,
            _ => State::Done,
        }
    }

    fn line_end(&self, start: usize) -> usize {
        self.data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.data.len(), |i| start + i + 1)
    }

    fn body_to_boundary(&mut self) -> State {
        let mut line = self.pos;
        while line < self.data.len() {
            if let Some((bi, close)) = find_boundary(&self.boundaries, &self.data[line..]) {
                let mut end = line;
                if end > 0 && self.data[end - 1] == b'\n' {
                    end -= 1;
                    if end > 0 && self.data[end - 1] == b'\r' {
                        end -= 1;
                    }
                }
                let owner = self.boundaries[bi].part;
                self.finish_up_to(Some(owner), end);
                self.boundaries.truncate(if close { bi } else { bi + 1 });
                self.pos = self.line_end(line);
                if self.boundaries.last().map(|b| b.part) != Some(owner) {
                    // epilogue
                    return if self.boundaries.is_empty() {
                        State::Done
                    } else {
                        State::BodyToBoundary
                    };
                }
                if self.nodes.len() >= MAX_PARTS {
                    // too many parts: the rest is the multipart's epilogue
                    self.boundaries.clear();
                    return State::Done;
                }
                self.add_node(Some(owner), self.pos, IS_MIME);
                return State::Header;
            }
            line = self.line_end(line);
        }
        self.pos = self.data.len();
        State::Done
    }

    /// Ends the current part and its ancestors up to (not including)
    /// `owner` (all of them when `None`) at `end`.
    fn finish_up_to(&mut self, owner: Option<usize>, end: usize) {
        let mut id = Some(self.cur);
        while let Some(i) = id {
            if Some(i) == owner {
                self.cur = i;
                return;
            }
            let node = &mut self.nodes[i];
            node.end = end.max(node.body_start);
            id = node.parent;
        }
    }

    fn into_part(&mut self, id: usize) -> Part {
        let children = std::mem::take(&mut self.nodes[id].children);
        let flags = self.nodes[id].flags;
        let kind = if flags & MULTIPART != 0 {
            Kind::Multipart(children.into_iter().map(|c| self.into_part(c)).collect())
        } else if flags & RFC822 != 0 && !children.is_empty() {
            Kind::Message(Box::new(self.into_part(children[0])))
        } else {
            Kind::Leaf
        };
        let node = &mut self.nodes[id];
        let body = &self.data[node.body_start..node.end];
        Part {
            header_start: node.header_start,
            body_start: node.body_start,
            end: node.end,
            lines: body.iter().filter(|&&b| b == b'\n').count() as u64,
            has_eoh: node.has_eoh,
            data: std::mem::take(&mut node.data),
            envelope: node.envelope.take(),
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(text: &str) -> Boundary {
        Boundary {
            part: 0,
            text: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn boundaries_match_by_prefix_longest_first() {
        let bs = [b("abc"), b("abcdef")];
        assert_eq!(find_boundary(&bs, b"--abcdef\r\n"), Some((1, false)));
        assert_eq!(find_boundary(&bs, b"--abcxyz--\r\n"), Some((0, false)));
        assert_eq!(find_boundary(&bs, b"--abc--\r\n"), Some((0, true)));
        assert_eq!(find_boundary(&bs, b"- -abc\r\n"), None);
        assert_eq!(find_boundary(&bs, b"--ab\r\n"), None);
    }
}
