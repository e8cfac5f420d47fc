//! SPF records (RFC 7208 sections 4.5, 4.6, 5, 6): which TXT record is one,
//! and its terms, parsed whole before anything is evaluated, so a syntax
//! error anywhere is a permerror even after a mechanism that would match
//! (4.6: "syntax errors anywhere in the record MUST be detected").
//!
//! ```text
//! record    = version terms *SP            version = "v=spf1" (any case)
//! terms     = *( 1*SP ( directive / modifier ) )
//! directive = [ qualifier ] mechanism      qualifier = "+" / "-" / "?" / "~"
//! modifier  = redirect / explanation / unknown-modifier
//! unknown-modifier = name "=" macro-string
//! name      = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
//! ```
//!
//! Terms are separated by spaces only: a tab, CR or any other control or
//! non-ASCII byte inside a term is an error. A term is a modifier when `=`
//! follows its name before any `:` or `/` (4.6.1); names are case-insensitive.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::macros::{CharName, MacroError, MacroString, Place};

/// One SPF record, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub directives: Vec<Directive>,
    /// `redirect=`: evaluated when no mechanism matched.
    pub redirect: Option<MacroString>,
    /// `exp=`: where the explanation of a fail is found.
    pub explanation: Option<MacroString>,
}

/// A mechanism with its qualifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism,
    /// The term as the record wrote it (for logs and `Received-SPF`).
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    All,
    Include(MacroString),
    A {
        domain: Option<MacroString>,
        cidr: DualCidr,
    },
    Mx {
        domain: Option<MacroString>,
        cidr: DualCidr,
    },
    Ptr(Option<MacroString>),
    Ip4 {
        network: Ipv4Addr,
        prefix: u8,
    },
    Ip6 {
        network: Ipv6Addr,
        prefix: u8,
    },
    Exists(MacroString),
}

impl Mechanism {
    /// `include`, `a`, `mx`, `ptr` and `exists` query the DNS and count
    /// towards the limit of 10 (4.6.4).
    pub fn queries_dns(&self) -> bool {
        !matches!(
            self,
            Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. }
        )
    }
}

/// The prefix lengths of `a` and `mx`: `/24//64`; 32 and 128 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DualCidr {
    pub v4: u8,
    pub v6: u8,
}

impl Default for DualCidr {
    fn default() -> Self {
        DualCidr { v4: 32, v6: 128 }
    }
}

/// Why a record is a permerror.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the record does not start with \"v=spf1\"")]
    NotSpf,
    #[error("term \"{term}\": {error}")]
    Term { term: Escaped, error: TermError },
    #[error("the {0}= modifier appears more than once")]
    Duplicate(&'static str),
}

/// A term as text, its bytes outside visible ASCII escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escaped(pub String);

impl fmt::Display for Escaped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermError {
    #[error("character {0} is not allowed in a term")]
    InvalidChar(CharName),
    #[error("unknown mechanism")]
    UnknownMechanism,
    #[error("a modifier name starts with a letter and has only letters, digits, '-', '_' and '.'")]
    InvalidModifierName,
    #[error("a modifier takes no qualifier")]
    QualifiedModifier,
    #[error("a domain is required")]
    MissingDomain,
    #[error("this mechanism takes no {0:?}")]
    UnexpectedArgument(String),
    #[error("invalid CIDR length {text:?} (0 to {max}, no leading zero)")]
    InvalidCidr { text: String, max: u8 },
    #[error("{0:?} is not an IPv4 address in dotted-quad form")]
    InvalidIp4(String),
    #[error("{0:?} is not an IPv6 address")]
    InvalidIp6(String),
    #[error("a domain must end with a macro or with '.' and a top label that is not all digits")]
    NoDomainEnd,
    #[error("{0}")]
    Macro(#[from] MacroError),
}

/// Whether a TXT record is an SPF record: "v=spf1" in any case, then a
/// space or the end (4.5). Others (`v=spf10`, `spf2.0/pra`) are not.
pub fn is_spf(txt: &[u8]) -> bool {
    txt.len() >= 6
        && txt[..6].eq_ignore_ascii_case(b"v=spf1")
        && txt.get(6).is_none_or(|&b| b == b' ')
}

impl Record {
    /// Parses a whole record, `v=spf1` included.
    pub fn parse(txt: &[u8]) -> Result<Record, RecordError> {
        if !is_spf(txt) {
            return Err(RecordError::NotSpf);
        }
        let mut record = Record {
            directives: Vec::new(),
            redirect: None,
            explanation: None,
        };
        for term in txt[6..].split(|&b| b == b' ').filter(|t| !t.is_empty()) {
            let parsed = parse_term(term).map_err(|error| RecordError::Term {
                term: Escaped(term.escape_ascii().to_string()),
                error,
            })?;
            match parsed {
                Term::Directive(d) => record.directives.push(d),
                Term::Redirect(target) => {
                    if record.redirect.replace(target).is_some() {
                        return Err(RecordError::Duplicate("redirect"));
                    }
                }
                Term::Explanation(target) => {
                    if record.explanation.replace(target).is_some() {
                        return Err(RecordError::Duplicate("exp"));
                    }
                }
                Term::Unknown => {}
            }
        }
        Ok(record)
    }
}

enum Term {
    Directive(Directive),
    Redirect(MacroString),
    Explanation(MacroString),
    /// An unknown modifier: checked, then ignored (6).
    Unknown,
}

fn parse_term(term: &[u8]) -> Result<Term, TermError> {
    if let Some(&bad) = term.iter().find(|b| !(0x21..=0x7e).contains(*b)) {
        return Err(TermError::InvalidChar(CharName(bad)));
    }
    // Visible ASCII only from here.
    let text = std::str::from_utf8(term).expect("ASCII is UTF-8");
    let (qualifier, body) = match text.as_bytes()[0] {
        b'+' => (Some(Qualifier::Pass), &text[1..]),
        b'-' => (Some(Qualifier::Fail), &text[1..]),
        b'~' => (Some(Qualifier::SoftFail), &text[1..]),
        b'?' => (Some(Qualifier::Neutral), &text[1..]),
        _ => (None, text),
    };
    let name_len = body
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
        .count();
    let (name, rest) = body.split_at(name_len);
    let name = name.to_ascii_lowercase();

    if let Some(value) = rest.strip_prefix('=') {
        if qualifier.is_some() {
            return Err(TermError::QualifiedModifier);
        }
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(TermError::InvalidModifierName);
        }
        return Ok(match name.as_str() {
            "redirect" => Term::Redirect(domain_spec(value)?),
            "exp" => Term::Explanation(domain_spec(value)?),
            _ => {
                MacroString::parse(value.as_bytes(), Place::Record)?;
                Term::Unknown
            }
        });
    }

    let mechanism = match name.as_str() {
        "all" => {
            no_argument(rest)?;
            Mechanism::All
        }
        "include" => Mechanism::Include(required_domain(rest)?),
        "exists" => Mechanism::Exists(required_domain(rest)?),
        "a" | "mx" => {
            let (domain, cidr) = domain_and_cidr(rest)?;
            if name == "a" {
                Mechanism::A { domain, cidr }
            } else {
                Mechanism::Mx { domain, cidr }
            }
        }
        "ptr" => match rest.strip_prefix(':') {
            Some(domain) => Mechanism::Ptr(Some(domain_spec(domain)?)),
            None => {
                no_argument(rest)?;
                Mechanism::Ptr(None)
            }
        },
        "ip4" => {
            let (addr, prefix) = address_and_prefix(rest, 32)?;
            let network = addr
                .parse()
                .map_err(|_| TermError::InvalidIp4(addr.to_owned()))?;
            Mechanism::Ip4 { network, prefix }
        }
        "ip6" => {
            let (addr, prefix) = address_and_prefix(rest, 128)?;
            let network = addr
                .parse()
                .map_err(|_| TermError::InvalidIp6(addr.to_owned()))?;
            Mechanism::Ip6 { network, prefix }
        }
        _ => return Err(TermError::UnknownMechanism),
    };
    Ok(Term::Directive(Directive {
        qualifier: qualifier.unwrap_or(Qualifier::Pass),
        mechanism,
        text: text.to_owned(),
    }))
}

fn no_argument(rest: &str) -> Result<(), TermError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(TermError::UnexpectedArgument(rest.to_owned()))
    }
}

/// `":" domain-spec`, required.
fn required_domain(rest: &str) -> Result<MacroString, TermError> {
    match rest.strip_prefix(':') {
        Some(domain) => domain_spec(domain),
        None if rest.is_empty() => Err(TermError::MissingDomain),
        None => Err(TermError::UnexpectedArgument(rest.to_owned())),
    }
}

/// `domain-spec = macro-string domain-end` (7.1), not empty.
fn domain_spec(text: &str) -> Result<MacroString, TermError> {
    if text.is_empty() {
        return Err(TermError::MissingDomain);
    }
    let spec = MacroString::parse(text.as_bytes(), Place::Record)?;
    if !spec.has_domain_end() {
        return Err(TermError::NoDomainEnd);
    }
    Ok(spec)
}

/// `[ ":" domain-spec ] [ dual-cidr-length ]` of `a` and `mx`. A domain may
/// itself hold '/' (any visible character is a macro-literal), so only a
/// well-formed length at the very end is taken as one.
fn domain_and_cidr(rest: &str) -> Result<(Option<MacroString>, DualCidr), TermError> {
    if rest.is_empty() {
        return Ok((None, DualCidr::default()));
    }
    if rest.starts_with('/') {
        return Ok((None, dual_cidr(rest)?));
    }
    let Some(spec) = rest.strip_prefix(':') else {
        return Err(TermError::UnexpectedArgument(rest.to_owned()));
    };
    let split = cidr_suffix_start(spec);
    let (domain, cidr) = spec.split_at(split);
    let cidr = if cidr.is_empty() {
        DualCidr::default()
    } else {
        dual_cidr(cidr)?
    };
    Ok((Some(domain_spec(domain)?), cidr))
}

/// Where a trailing `/digits`, `//digits` or `/digits//digits` starts in
/// `text` (its length when there is none).
fn cidr_suffix_start(text: &str) -> usize {
    fn digits_after_last_slash(text: &str) -> Option<usize> {
        let slash = text.rfind('/')?;
        let digits = &text[slash + 1..];
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(slash)
    }
    let mut end = text.len();
    if let Some(slash) = digits_after_last_slash(text)
        && slash > 0
        && text.as_bytes()[slash - 1] == b'/'
    {
        end = slash - 1;
    }
    match digits_after_last_slash(&text[..end]) {
        Some(slash) if text.as_bytes().get(slash.wrapping_sub(1)) != Some(&b'/') => slash,
        _ => end,
    }
}

/// `dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]`, whole.
fn dual_cidr(text: &str) -> Result<DualCidr, TermError> {
    let bad = || TermError::InvalidCidr {
        text: text.to_owned(),
        max: 32,
    };
    let mut cidr = DualCidr::default();
    let v6 = if let Some(v6) = text.strip_prefix("//") {
        Some(v6)
    } else {
        let after = text.strip_prefix('/').ok_or_else(bad)?;
        let (v4, v6) = match after.find('/') {
            Some(i) => (
                &after[..i],
                Some(after[i..].strip_prefix("//").ok_or_else(bad)?),
            ),
            None => (after, None),
        };
        cidr.v4 = prefix_length(v4, 32)?;
        v6
    };
    if let Some(v6) = v6 {
        cidr.v6 = prefix_length(v6, 128)?;
    }
    Ok(cidr)
}

/// `":" network [ "/" length ]` of `ip4`/`ip6`.
fn address_and_prefix(rest: &str, max: u8) -> Result<(&str, u8), TermError> {
    let Some(value) = rest.strip_prefix(':') else {
        return if rest.is_empty() {
            Err(TermError::MissingDomain)
        } else {
            Err(TermError::UnexpectedArgument(rest.to_owned()))
        };
    };
    match value.split_once('/') {
        None => Ok((value, max)),
        Some((addr, length)) => Ok((addr, prefix_length(length, max)?)),
    }
}

/// A decimal length from 0 to `max`, without leading zeros (the grammar's
/// `"0" / %x31-39 0*1DIGIT`).
fn prefix_length(text: &str, max: u8) -> Result<u8, TermError> {
    let bad = || TermError::InvalidCidr {
        text: text.to_owned(),
        max,
    };
    if text.is_empty()
        || text.len() > 3
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return Err(bad());
    }
    match text.parse::<u8>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Record, RecordError> {
        Record::parse(text.as_bytes())
    }

    fn term_error(text: &str) -> TermError {
        match parse(text) {
            Err(RecordError::Term { error, .. }) => error,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn spf_records_are_told_from_other_txt_records() {
        assert!(is_spf(b"v=spf1"));
        assert!(is_spf(b"V=SpF1 -all"));
        assert!(!is_spf(b"v=spf10"));
        assert!(!is_spf(b"v=spf1mx"));
        assert!(!is_spf(b"spf2.0/pra ip4:192.0.2.1 -all"));
        assert!(!is_spf(b"v=spf1\t-all"));
        assert!(!is_spf(b""));
    }

    #[test]
    fn a_record_with_every_kind_of_term() {
        let r = parse(
            "v=spf1  +a -A:%{d}.example.com/24//64 ~mx:mail.example.com//0 ?ptr \
             ip4:192.0.2.0/24 ip6:2001:DB8::/32 include:_spf.example.net exists:%{ir}.bl.example.org \
             Redirect=_spf.%{d2} exp=why.%{d} foo-bar.baz=%{l} all ",
        )
        .unwrap();
        let kinds: Vec<(Qualifier, &str)> = r
            .directives
            .iter()
            .map(|d| (d.qualifier, d.text.as_str()))
            .collect();
        assert_eq!(kinds.len(), 9, "{kinds:?}");
        assert_eq!(kinds[1], (Qualifier::Fail, "-A:%{d}.example.com/24//64"));
        assert_eq!(kinds[2].0, Qualifier::SoftFail);
        assert_eq!(kinds[3].0, Qualifier::Neutral);
        assert_eq!(
            r.directives[1].mechanism,
            Mechanism::A {
                domain: Some(MacroString::parse(b"%{d}.example.com", Place::Record).unwrap()),
                cidr: DualCidr { v4: 24, v6: 64 }
            }
        );
        assert!(matches!(
            r.directives[2].mechanism,
            Mechanism::Mx {
                cidr: DualCidr { v4: 32, v6: 0 },
                ..
            }
        ));
        assert_eq!(
            r.directives[4].mechanism,
            Mechanism::Ip4 {
                network: Ipv4Addr::new(192, 0, 2, 0),
                prefix: 24
            }
        );
        assert!(r.redirect.is_some() && r.explanation.is_some());
    }

    #[test]
    fn a_slash_inside_a_domain_is_part_of_it() {
        let r = parse("v=spf1 a:foo:bar/baz.example.com mx:example.com/24 a/0").unwrap();
        assert!(matches!(
            &r.directives[0].mechanism,
            Mechanism::A { domain: Some(_), cidr } if *cidr == DualCidr::default()
        ));
        assert!(matches!(
            r.directives[1].mechanism,
            Mechanism::Mx {
                cidr: DualCidr { v4: 24, v6: 128 },
                ..
            }
        ));
        assert!(matches!(
            r.directives[2].mechanism,
            Mechanism::A {
                domain: None,
                cidr: DualCidr { v4: 0, v6: 128 }
            }
        ));
    }

    #[test]
    fn invalid_lengths_and_addresses_are_errors() {
        for (text, want) in [
            ("v=spf1 ip4:1.2.3.4/33", "\"33\""),
            ("v=spf1 ip4:1.2.3.4/032", "\"032\""),
            ("v=spf1 ip4:1.2.3.4//32", "\"/32\""),
            ("v=spf1 ip6:::1/129", "\"129\""),
            ("v=spf1 ip6:::1//33", "\"/33\""),
            ("v=spf1 a/33", "\"33\""),
            ("v=spf1 a//129", "\"129\""),
            ("v=spf1 a/24/64", "\"/24/64\""),
            ("v=spf1 mx/", "\"\""),
        ] {
            let err = term_error(text);
            assert!(
                matches!(err, TermError::InvalidCidr { .. }),
                "{text}: {err:?}"
            );
            assert!(err.to_string().contains(want), "{text}: {err}");
        }
        assert_eq!(
            term_error("v=spf1 ip4:1.2.3"),
            TermError::InvalidIp4("1.2.3".into())
        );
        assert_eq!(
            term_error("v=spf1 ip4:01.2.3.4"),
            TermError::InvalidIp4("01.2.3.4".into())
        );
        assert_eq!(
            term_error("v=spf1 ip4:1.2.3.4:8080"),
            TermError::InvalidIp4("1.2.3.4:8080".into())
        );
        assert_eq!(
            term_error("v=spf1 ip6::CAFE::BABE"),
            TermError::InvalidIp6(":CAFE::BABE".into())
        );
        assert_eq!(term_error("v=spf1 ip4"), TermError::MissingDomain);
    }

    #[test]
    fn syntax_errors_name_the_term_and_the_reason() {
        for (text, want) in [
            ("v=spf1 -all.", TermError::UnknownMechanism),
            (
                "v=spf1 -all:foobar",
                TermError::UnexpectedArgument(":foobar".into()),
            ),
            ("v=spf1 -all/8", TermError::UnexpectedArgument("/8".into())),
            ("v=spf1 ptr/0", TermError::UnexpectedArgument("/0".into())),
            ("v=spf1 include", TermError::MissingDomain),
            ("v=spf1 include:", TermError::MissingDomain),
            ("v=spf1 exists:mail.example.com/24", TermError::NoDomainEnd),
            ("v=spf1 a:museum", TermError::NoDomainEnd),
            ("v=spf1 a:111.222.33.44", TermError::NoDomainEnd),
            (
                "v=spf1 redirect:t2.example.com",
                TermError::UnknownMechanism,
            ),
            (
                "v=spf1 moo.cow/far_out=man:dog/cat",
                TermError::UnknownMechanism,
            ),
            ("v=spf1 1up=foo", TermError::InvalidModifierName),
            ("v=spf1 =all", TermError::InvalidModifierName),
            (
                "v=spf1 -redirect=x.example.com",
                TermError::QualifiedModifier,
            ),
            ("v=spf1 exp=", TermError::MissingDomain),
            ("v=spf1 redirect=-all", TermError::NoDomainEnd),
            (
                "v=spf1 -all foo=%abc",
                TermError::Macro(MacroError::BadPercent),
            ),
            (
                "v=spf1 a:ctrl.example.com\rptr",
                TermError::InvalidChar(CharName(b'\r')),
            ),
        ] {
            assert_eq!(term_error(text), want, "{text}");
        }
        let err = Record::parse(b"v=spf1 a:\xef\xbb\xbfgarbage.example.net -all").unwrap_err();
        assert_eq!(
            err.to_string(),
            "term \"a:\\xef\\xbb\\xbfgarbage.example.net\": character 0xef is not allowed in a term"
        );
        assert_eq!(
            parse("v=spf1 exp=a.example.com exp=b.example.com"),
            Err(RecordError::Duplicate("exp"))
        );
        assert_eq!(
            parse("v=spf1 redirect=a.example.com -all redirect=a.example.com"),
            Err(RecordError::Duplicate("redirect"))
        );
    }

    #[test]
    fn unknown_modifiers_are_checked_then_ignored() {
        let r = parse("v=spf1 moo.cow-far_out=man:dog/cat default=+ x= -all").unwrap();
        assert_eq!(r.directives.len(), 1);
        assert_eq!(parse("v=spf1").unwrap().directives, vec![]);
    }
}
