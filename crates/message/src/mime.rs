//! The MIME structure of a message, found the way Dovecot's
//! `message-parser.c` finds it, on the CRLF form:
//!
//! - Content-Type counts when the part is MIME: inside a multipart, or with
//!   a MIME-Version or Content-Type header. Without one, the part is
//!   text/plain (message/rfc822 inside a multipart/digest).
//! - Boundary lines are matched as in [`crate::boundary`]: a missing inner
//!   close delimiter is healed by the outer boundary.
//! - The line break before a boundary line belongs to the boundary, except
//!   where Dovecot had already counted it: right after a header's empty
//!   line, or after a header cut short by the boundary, it belongs to the
//!   enclosing part.
//! - A message/rfc822 body is parsed as a message, whatever its encoding.
//! - A missing closing boundary ends the parts at the end of the input.
//!
//! Nesting stops at [`MAX_DEPTH`] levels and [`MAX_PARTS`] parts (Dovecot's
//! defaults): deeper multiparts and messages are kept as opaque leaves.

use crate::boundary::{BOUNDARY_MAX, Boundary, find_boundary};
use crate::header::{Field, HeaderBlock, HeaderEnd, parse_header_block};
use crate::params::parse_params;
use crate::part::{Envelope, Kind, MimeData, Part};
use crate::part_data::{envelope, mime_data, parse_content_type};

pub(crate) const MAX_DEPTH: usize = 100;
pub(crate) const MAX_PARTS: usize = 10_000;

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
    data: MimeData,
    envelope: Option<Envelope>,
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
    /// The part whose bytes include the last line break read before a
    /// boundary found on the first line of a body (see `body_to_boundary`).
    nl_owner: usize,
}

/// Parses the CRLF form of a message into its part tree.
pub(crate) fn parse(data: &[u8]) -> Part {
    let mut p = Parser {
        data,
        nodes: Vec::new(),
        boundaries: Vec::new(),
        cur: 0,
        pos: 0,
        nl_owner: 0,
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
    p.finish_all();
    let line_feeds: Vec<usize> = data
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| (b == b'\n').then_some(i))
        .collect();
    p.build_part(0, &line_feeds)
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
        let data = if is_mime {
            mime_data(fields)
        } else {
            MimeData::default()
        };
        let env = wants_envelope.then(|| envelope(fields));

        let (how, end) = self.recheck_after_blank(&block, id, flags, boundary.as_deref());
        let node = &mut self.nodes[id];
        node.flags |= flags;
        node.body_start = end;
        node.data = data;
        node.envelope = env;
        match how {
            HeaderEnd::Blank => self.nl_owner = id,
            // the line break before the boundary goes to the parent
            HeaderEnd::Boundary if end < block.resume => {
                self.nl_owner = node.parent.unwrap_or(id);
            }
            _ => {}
        }
        self.pos = block.resume;

        match boundary {
            Some(text) if flags & MULTIPART != 0 && how == HeaderEnd::Blank => {
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

    /// Dovecot looks for a boundary once more after the empty line ending a
    /// header: when an enclosing part's boundary follows at once, the empty
    /// line is not the header's but the line break before the boundary.
    fn recheck_after_blank(
        &mut self,
        block: &HeaderBlock,
        id: usize,
        flags: u8,
        own: Option<&[u8]>,
    ) -> (HeaderEnd, usize) {
        if block.how != HeaderEnd::Blank || self.boundaries.is_empty() {
            return (block.how, block.end);
        }
        let own = own.filter(|_| flags & MULTIPART != 0);
        if let Some(text) = own {
            self.boundaries.push(Boundary {
                part: id,
                text: text.to_vec(),
            });
        }
        let hit = find_boundary(&self.boundaries, &self.data[block.end..]);
        if own.is_some() {
            self.boundaries.pop();
        }
        match hit {
            Some((bi, _)) if self.boundaries.get(bi).is_some_and(|b| b.part != id) => {
                let mut end = block.end - 1;
                if end > 0 && self.data[end - 1] == b'\r' {
                    end -= 1;
                }
                (HeaderEnd::Boundary, end)
            }
            _ => (block.how, block.end),
        }
    }

    fn line_end(&self, start: usize) -> usize {
        self.data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.data.len(), |i| start + i + 1)
    }

    fn body_to_boundary(&mut self) -> State {
        let first_line = self.pos;
        let mut line = self.pos;
        while line < self.data.len() {
            if let Some((bi, close)) = find_boundary(&self.boundaries, &self.data[line..]) {
                let mut before_nl = line;
                if before_nl > 0 && self.data[before_nl - 1] == b'\n' {
                    before_nl -= 1;
                    if before_nl > 0 && self.data[before_nl - 1] == b'\r' {
                        before_nl -= 1;
                    }
                }
                // Normally the line break before a boundary is the
                // boundary's. On the first line of a body it was read
                // earlier, and the part it went to (and its ancestors)
                // end after it.
                let nl_owner = (line == first_line).then_some(self.nl_owner);
                let owner = self.boundaries[bi].part;
                self.finish_up_to(owner, before_nl, line, nl_owner);
                self.boundaries.truncate(if close { bi } else { bi + 1 });
                self.pos = self.line_end(line);
                self.nl_owner = owner;
                if self.data[self.pos - 1] != b'\n' {
                    // a boundary line cut by the end of the message starts
                    // no part
                    return State::Done;
                }
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
    /// `owner` at `end`, or at `after_nl` from `nl_owner` up.
    fn finish_up_to(&mut self, owner: usize, end: usize, after_nl: usize, nl_owner: Option<usize>) {
        let mut id = Some(self.cur);
        let mut past_nl_owner = false;
        while let Some(i) = id {
            if i == owner {
                self.cur = i;
                return;
            }
            past_nl_owner |= nl_owner == Some(i);
            let node = &mut self.nodes[i];
            let at = if past_nl_owner { after_nl } else { end };
            node.end = at.max(node.body_start);
            id = node.parent;
        }
    }

    /// Ends all open parts at the end of the message.
    fn finish_all(&mut self) {
        let end = self.data.len();
        let mut id = Some(self.cur);
        while let Some(i) = id {
            self.nodes[i].end = end.max(self.nodes[i].body_start);
            id = self.nodes[i].parent;
        }
    }

    /// The tree under `id`; `line_feeds` are the positions of all LFs.
    fn build_part(&mut self, id: usize, line_feeds: &[usize]) -> Part {
        let children = std::mem::take(&mut self.nodes[id].children);
        let flags = self.nodes[id].flags;
        let kind = if flags & MULTIPART != 0 {
            Kind::Multipart(
                children
                    .into_iter()
                    .map(|c| self.build_part(c, line_feeds))
                    .collect(),
            )
        } else if flags & RFC822 != 0 && !children.is_empty() {
            Kind::Message(Box::new(self.build_part(children[0], line_feeds)))
        } else {
            Kind::Leaf
        };
        let node = &mut self.nodes[id];
        let lines = line_feeds.partition_point(|&p| p < node.end)
            - line_feeds.partition_point(|&p| p < node.body_start);
        Part {
            header_start: node.header_start,
            body_start: node.body_start,
            end: node.end,
            lines: lines as u64,
            data: std::mem::take(&mut node.data),
            envelope: node.envelope.take(),
            kind,
        }
    }
}
