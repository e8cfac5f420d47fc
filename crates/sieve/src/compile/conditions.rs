//! Tests: RFC 5228 §5 and the extensions' tests.

use super::Compiler;
use super::args::Args;
use super::spec::{IndexSpec, MatchSpec, PartSpec};
use crate::ast::TestNode;
use crate::error::CompileError;
use crate::extensions::Ext;
use crate::program::{BodyTransform, Comparator, DatePart, DuplicateId, Str, Test, TestKind, Zone};

impl Compiler<'_> {
    pub(super) fn test(&mut self, node: &TestNode) -> Result<Test, CompileError> {
        self.nodes += 1;
        let name = node.name.as_str();
        let mut args = Args::new(&node.args, format!("test '{name}'"), node.pos);
        let kind = match name {
            "true" => TestKind::True,
            "false" => TestKind::False,
            "not" => {
                if node.tests.len() != 1 || node.test_list {
                    return Err(CompileError::new(node.pos, "'not' needs exactly one test"));
                }
                TestKind::Not(Box::new(self.test(&node.tests[0])?))
            }
            "allof" | "anyof" => {
                if !node.test_list {
                    return Err(CompileError::new(
                        node.pos,
                        format!("'{name}' needs a list of tests in parentheses"),
                    ));
                }
                let tests = node
                    .tests
                    .iter()
                    .map(|t| self.test(t))
                    .collect::<Result<Vec<_>, _>>()?;
                if name == "allof" {
                    TestKind::AllOf(tests)
                } else {
                    TestKind::AnyOf(tests)
                }
            }
            "header" => {
                let (spec, index) = self.match_tags(&mut args, true)?;
                let names = self.header_names(&mut args)?;
                let matcher = self.keys(&mut args, spec, Comparator::AsciiCasemap)?;
                TestKind::Header {
                    names,
                    matcher,
                    index: index.finish()?,
                }
            }
            "address" | "envelope" => {
                if name == "envelope" {
                    self.need(Ext::Envelope, node.pos, "test 'envelope'")?;
                }
                let mut spec = MatchSpec::default();
                let mut index = IndexSpec::default();
                let mut part = PartSpec::default();
                while let Some((tag, pos)) = args.tag() {
                    let taken = spec.take(self, tag, pos, &mut args)?
                        || part.take(self, tag, pos)?
                        || (name == "address" && index.take(self, tag, pos, &mut args, true)?);
                    if !taken {
                        return Err(args.unknown_tag(tag, pos));
                    }
                }
                let names = if name == "envelope" {
                    self.envelope_parts(&mut args)?
                } else {
                    self.header_names(&mut args)?
                };
                let matcher = self.keys(&mut args, spec, Comparator::AsciiCasemap)?;
                let part = part.finish();
                if name == "envelope" {
                    TestKind::Envelope {
                        part,
                        names,
                        matcher,
                    }
                } else {
                    TestKind::Address {
                        part,
                        names,
                        matcher,
                        index: index.finish()?,
                    }
                }
            }
            "exists" => {
                self.no_tags(&mut args)?;
                TestKind::Exists(self.header_names(&mut args)?)
            }
            "size" => {
                let mut over = None;
                while let Some((tag, pos)) = args.tag() {
                    match tag {
                        "over" | "under" if over.is_none() => over = Some(tag == "over"),
                        "over" | "under" => {
                            return Err(CompileError::new(pos, "only one of :over and :under"));
                        }
                        _ => return Err(args.unknown_tag(tag, pos)),
                    }
                }
                let Some(over) = over else {
                    return Err(CompileError::new(
                        node.pos,
                        "test 'size' needs :over or :under",
                    ));
                };
                let (limit, _) = args.number("a size")?;
                TestKind::Size { over, limit }
            }
            "body" => {
                self.need(Ext::Body, node.pos, "test 'body'")?;
                self.body(&mut args)?
            }
            "date" | "currentdate" => {
                self.need(Ext::Date, node.pos, &format!("test '{name}'"))?;
                self.date(name, &mut args)?
            }
            "string" => {
                self.need(Ext::Variables, node.pos, "test 'string'")?;
                let (spec, _) = self.match_tags(&mut args, false)?;
                let (sources, pos) = args.string_list("a list of source strings")?;
                let sources = self.strs(sources, pos)?;
                let matcher = self.keys(&mut args, spec, Comparator::AsciiCasemap)?;
                TestKind::String { sources, matcher }
            }
            "hasflag" => {
                self.need(Ext::Imap4Flags, node.pos, "test 'hasflag'")?;
                let (spec, _) = self.match_tags(&mut args, false)?;
                let variables = if args.remaining() >= 2 {
                    let (names, pos) = args.string_list("a list of variable names")?;
                    self.need(Ext::Variables, pos, "a flag variable")?;
                    names
                        .into_iter()
                        .map(|n| self.variable_name(n, pos))
                        .collect::<Result<Vec<_>, _>>()?
                } else {
                    Vec::new()
                };
                let matcher = self.keys(&mut args, spec, Comparator::AsciiCasemap)?;
                TestKind::HasFlag { variables, matcher }
            }
            "duplicate" => {
                self.need(Ext::Duplicate, node.pos, "test 'duplicate'")?;
                self.duplicate(&mut args)?
            }
            "spamtest" | "virustest" => {
                let ext = if name == "spamtest" {
                    Ext::SpamTest
                } else {
                    Ext::VirusTest
                };
                self.need(ext, node.pos, &format!("test '{name}'"))?;
                let mut spec = MatchSpec::default();
                let mut percent = false;
                while let Some((tag, pos)) = args.tag() {
                    if name == "spamtest" && tag == "percent" {
                        self.need(Ext::SpamTestPlus, pos, "tag ':percent'")?;
                        percent = true;
                    } else if !spec.take(self, tag, pos, &mut args)? {
                        return Err(args.unknown_tag(tag, pos));
                    }
                }
                let (value, pos) = args.string("a value")?;
                let keys = vec![self.str(value, pos)?];
                let matcher = spec.finish(self, keys, Comparator::AsciiNumeric)?;
                if name == "spamtest" {
                    TestKind::SpamTest { percent, matcher }
                } else {
                    TestKind::VirusTest { matcher }
                }
            }
            "mailboxexists" => {
                self.need(Ext::Mailbox, node.pos, "test 'mailboxexists'")?;
                self.no_tags(&mut args)?;
                let (names, pos) = args.string_list("a list of mailbox names")?;
                self.tests_mailboxes = true;
                TestKind::MailboxExists(self.strs(names, pos)?)
            }
            "environment" => {
                self.need(Ext::Environment, node.pos, "test 'environment'")?;
                let (spec, _) = self.match_tags(&mut args, false)?;
                let (item, pos) = args.string("an item name")?;
                let item = self.str(item, pos)?;
                let matcher = self.keys(&mut args, spec, Comparator::AsciiCasemap)?;
                TestKind::Environment {
                    name: item,
                    matcher,
                }
            }
            _ => {
                return Err(CompileError::new(
                    node.pos,
                    format!("unknown test '{name}'"),
                ));
            }
        };
        if !matches!(name, "not" | "allof" | "anyof")
            && let Some(inner) = node.tests.first()
        {
            return Err(CompileError::new(
                inner.pos,
                format!("test '{name}' takes no test"),
            ));
        }
        args.end()?;
        Ok(Test {
            line: node.pos.line,
            kind,
        })
    }

    fn no_tags(&self, args: &mut Args) -> Result<(), CompileError> {
        match args.tag() {
            Some((tag, pos)) => Err(args.unknown_tag(tag, pos)),
            None => Ok(()),
        }
    }

    /// Comparator and match type tags, and `:index`/`:last` when `index`.
    fn match_tags(
        &self,
        args: &mut Args,
        index: bool,
    ) -> Result<(MatchSpec, IndexSpec), CompileError> {
        let mut spec = MatchSpec::default();
        let mut index_spec = IndexSpec::default();
        while let Some((tag, pos)) = args.tag() {
            let taken = spec.take(self, tag, pos, args)?
                || (index && index_spec.take(self, tag, pos, args, true)?);
            if !taken {
                return Err(args.unknown_tag(tag, pos));
            }
        }
        Ok((spec, index_spec))
    }

    /// The key list closing a test, matched as `spec` says.
    fn keys(
        &self,
        args: &mut Args,
        spec: MatchSpec,
        default: Comparator,
    ) -> Result<crate::program::Matcher, CompileError> {
        let (keys, pos) = args.string_list("a key list")?;
        let keys = self.strs(keys, pos)?;
        spec.finish(self, keys, default)
    }

    fn header_names(&self, args: &mut Args) -> Result<Vec<Str>, CompileError> {
        let (names, pos) = args.string_list("a list of header names")?;
        let names = self.strs(names, pos)?;
        for name in &names {
            if let Some(text) = name.as_const()
                && !is_header_name(text)
            {
                return Err(CompileError::new(
                    pos,
                    format!("invalid header name '{}'", text.escape_default()),
                ));
            }
        }
        Ok(names)
    }

    fn envelope_parts(&self, args: &mut Args) -> Result<Vec<Str>, CompileError> {
        let (names, pos) = args.string_list("a list of envelope parts")?;
        let names = self.strs(names, pos)?;
        for name in &names {
            if let Some(text) = name.as_const()
                && !matches!(
                    text.to_ascii_lowercase().as_str(),
                    "from" | "to" | "auth" | "orig_to"
                )
            {
                return Err(CompileError::new(
                    pos,
                    format!("unknown envelope part '{text}'"),
                ));
            }
        }
        Ok(names)
    }

    fn body(&self, args: &mut Args) -> Result<TestKind, CompileError> {
        let mut spec = MatchSpec::default();
        let mut transform = None;
        while let Some((tag, pos)) = args.tag() {
            let this = match tag {
                "raw" => BodyTransform::Raw,
                "text" => BodyTransform::Text,
                "content" => {
                    let (types, pos) = args.string_list("a list of content types")?;
                    BodyTransform::Content(self.strs(types, pos)?)
                }
                _ if spec.take(self, tag, pos, args)? => continue,
                _ => return Err(args.unknown_tag(tag, pos)),
            };
            if transform.is_some() {
                return Err(CompileError::new(pos, "more than one body transform"));
            }
            transform = Some(this);
        }
        let matcher = self.keys(args, spec, Comparator::AsciiCasemap)?;
        Ok(TestKind::Body {
            transform: transform.unwrap_or(BodyTransform::Text),
            matcher,
        })
    }

    fn date(&self, name: &str, args: &mut Args) -> Result<TestKind, CompileError> {
        let mut spec = MatchSpec::default();
        let mut index = IndexSpec::default();
        let mut zone = None;
        while let Some((tag, pos)) = args.tag() {
            let this = match tag {
                "zone" => {
                    let (text, zone_pos) = args.string("a time zone")?;
                    let text = self.constant(text, zone_pos)?;
                    Zone::Fixed(parse_zone(&text).ok_or_else(|| {
                        CompileError::new(zone_pos, format!("invalid time zone '{text}'"))
                    })?)
                }
                "originalzone" if name == "date" => Zone::Original,
                _ if spec.take(self, tag, pos, args)? => continue,
                _ if name == "date" && index.take(self, tag, pos, args, true)? => continue,
                _ => return Err(args.unknown_tag(tag, pos)),
            };
            if zone.is_some() {
                return Err(CompileError::new(pos, "more than one time zone"));
            }
            zone = Some(this);
        }
        let header = if name == "date" {
            let (header, pos) = args.string("a header name")?;
            Some(self.str(header, pos)?)
        } else {
            None
        };
        let (part, pos) = args.string("a date part")?;
        let part = self.constant(part, pos)?;
        let part = DatePart::by_name(&part)
            .ok_or_else(|| CompileError::new(pos, format!("unknown date part '{part}'")))?;
        let matcher = self.keys(args, spec, Comparator::AsciiCasemap)?;
        let zone = zone.unwrap_or(Zone::Local);
        Ok(match header {
            Some(header) => TestKind::Date {
                zone,
                header,
                part,
                matcher,
                index: index.finish()?,
            },
            None => TestKind::CurrentDate {
                zone,
                part,
                matcher,
            },
        })
    }

    fn duplicate(&self, args: &mut Args) -> Result<TestKind, CompileError> {
        let (mut handle, mut id, mut seconds, mut last) =
            (None, DuplicateId::MessageId, None, false);
        while let Some((tag, pos)) = args.tag() {
            match tag {
                "handle" => {
                    let (s, pos) = args.string("a handle")?;
                    handle = Some(self.str(s, pos)?);
                }
                "header" | "uniqueid" => {
                    if !matches!(id, DuplicateId::MessageId) {
                        return Err(CompileError::new(
                            pos,
                            ":header and :uniqueid exclude each other",
                        ));
                    }
                    let (s, s_pos) = args.string("a value")?;
                    let s = self.str(s, s_pos)?;
                    id = if tag == "header" {
                        DuplicateId::Header(s)
                    } else {
                        DuplicateId::UniqueId(s)
                    };
                }
                "seconds" => seconds = Some(args.number("a number of seconds")?.0),
                "last" => last = true,
                _ => return Err(args.unknown_tag(tag, pos)),
            }
        }
        Ok(TestKind::Duplicate {
            handle,
            id,
            seconds,
            last,
        })
    }
}

/// `+hhmm` or `-hhmm`, in minutes east of UTC.
pub(crate) fn parse_zone(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || !bytes[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sign = match bytes[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i32 = text[1..3].parse().ok()?;
    let minutes: i32 = text[3..5].parse().ok()?;
    if minutes >= 60 || hours > 23 {
        return None;
    }
    Some(sign * (hours * 60 + minutes))
}

/// A header field name (RFC 5322 §3.6.8: printable ASCII but the colon).
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}
