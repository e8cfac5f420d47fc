//! The tag groups several tests share: comparator and match type (RFC 5228
//! §2.7, RFC 5231, the regex draft), address part (§2.7.4, RFC 5233) and
//! index (RFC 5260 §6).

use regex_lite::{Regex, RegexBuilder};

use super::Compiler;
use super::args::Args;
use crate::error::{CompileError, Pos};
use crate::extensions::Ext;
use crate::program::{AddressPart, Comparator, Index, MatchKind, Matcher, Relation, Str};

#[derive(Default)]
pub(crate) struct MatchSpec {
    comparator: Option<(Comparator, Pos)>,
    kind: Option<(MatchKind, Pos)>,
}

impl MatchSpec {
    /// Takes `tag` if it is a comparator or a match type.
    pub(crate) fn take(
        &mut self,
        c: &Compiler,
        tag: &str,
        pos: Pos,
        args: &mut Args,
    ) -> Result<bool, CompileError> {
        let kind = match tag {
            "comparator" => {
                if self.comparator.is_some() {
                    return Err(CompileError::new(pos, "more than one comparator"));
                }
                let (name, name_pos) = args.string("a comparator name")?;
                let comparator = Comparator::by_name(&name).ok_or_else(|| {
                    CompileError::new(name_pos, format!("unknown comparator '{name}'"))
                })?;
                if comparator == Comparator::AsciiNumeric {
                    c.need(Ext::AsciiNumeric, name_pos, "comparator 'i;ascii-numeric'")?;
                }
                self.comparator = Some((comparator, name_pos));
                return Ok(true);
            }
            "is" => MatchKind::Is,
            "contains" => MatchKind::Contains,
            "matches" => MatchKind::Matches,
            "regex" => {
                c.need(Ext::Regex, pos, "match type ':regex'")?;
                MatchKind::Regex
            }
            "value" | "count" => {
                c.need(Ext::Relational, pos, &format!("match type ':{tag}'"))?;
                let (name, name_pos) = args.string("a relational operator")?;
                let relation = Relation::by_name(&name).ok_or_else(|| {
                    CompileError::new(name_pos, format!("unknown relational operator '{name}'"))
                })?;
                if tag == "value" {
                    MatchKind::Value(relation)
                } else {
                    MatchKind::Count(relation)
                }
            }
            _ => return Ok(false),
        };
        if self.kind.is_some() {
            return Err(CompileError::new(pos, "more than one match type"));
        }
        self.kind = Some((kind, pos));
        Ok(true)
    }

    /// The matcher for `keys`, checked against comparator and match type.
    pub(crate) fn finish(
        self,
        c: &Compiler,
        keys: Vec<Str>,
        default: Comparator,
    ) -> Result<Matcher, CompileError> {
        let comparator = self.comparator.map_or(default, |(c, _)| c);
        let (kind, kind_pos) = self.kind.unwrap_or((MatchKind::Is, Pos::START));
        if comparator == Comparator::AsciiNumeric
            && matches!(
                kind,
                MatchKind::Contains | MatchKind::Matches | MatchKind::Regex
            )
        {
            return Err(CompileError::new(
                kind_pos,
                "comparator 'i;ascii-numeric' only compares whole values (:is, :value, :count)",
            ));
        }
        let mut regexes = Vec::new();
        if kind == MatchKind::Regex {
            for key in &keys {
                regexes.push(match key.as_const() {
                    Some(pattern) => Some(
                        compile_regex(pattern, comparator, c.limits.max_regex_size)
                            .map_err(|e| CompileError::new(kind_pos, e))?,
                    ),
                    None => None,
                });
            }
        }
        Ok(Matcher {
            comparator,
            kind,
            keys,
            regexes,
        })
    }
}

/// A `:regex` key compiled, at most `size` bytes of program. regex-lite
/// matches in time linear in the text, so no pattern can be made slow.
pub(crate) fn compile_regex(
    pattern: &str,
    comparator: Comparator,
    size: usize,
) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(comparator == Comparator::AsciiCasemap)
        .size_limit(size)
        .nest_limit(64)
        .build()
        .map_err(|e| {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or("").to_string();
            format!("invalid regular expression '{pattern}': {first}")
        })
}

#[derive(Default)]
pub(crate) struct PartSpec(Option<AddressPart>);

impl PartSpec {
    pub(crate) fn take(&mut self, c: &Compiler, tag: &str, pos: Pos) -> Result<bool, CompileError> {
        let part = match tag {
            "all" => AddressPart::All,
            "localpart" => AddressPart::LocalPart,
            "domain" => AddressPart::Domain,
            "user" | "detail" => {
                c.need(Ext::Subaddress, pos, &format!("address part ':{tag}'"))?;
                if tag == "user" {
                    AddressPart::User
                } else {
                    AddressPart::Detail
                }
            }
            _ => return Ok(false),
        };
        if self.0.is_some() {
            return Err(CompileError::new(pos, "more than one address part"));
        }
        self.0 = Some(part);
        Ok(true)
    }

    pub(crate) fn finish(self) -> AddressPart {
        self.0.unwrap_or(AddressPart::All)
    }
}

#[derive(Default)]
pub(crate) struct IndexSpec {
    n: Option<u64>,
    last: Option<Pos>,
}

impl IndexSpec {
    /// Takes `:index` and `:last`; `extension`: only when "index" was required.
    pub(crate) fn take(
        &mut self,
        c: &Compiler,
        tag: &str,
        pos: Pos,
        args: &mut Args,
        extension: bool,
    ) -> Result<bool, CompileError> {
        match tag {
            "index" => {
                if extension {
                    c.need(Ext::Index, pos, "tag ':index'")?;
                }
                let (n, n_pos) = args.number("a field number")?;
                if n == 0 {
                    return Err(CompileError::new(n_pos, ":index counts from 1"));
                }
                self.n = Some(n);
                Ok(true)
            }
            "last" if !extension || c.has(Ext::Index) => {
                self.last = Some(pos);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub(crate) fn finish(self) -> Result<Option<Index>, CompileError> {
        match (self.n, self.last) {
            (Some(n), last) => Ok(Some(Index {
                n,
                last: last.is_some(),
            })),
            (None, Some(pos)) => Err(CompileError::new(pos, ":last needs :index")),
            (None, None) => Ok(None),
        }
    }
}
