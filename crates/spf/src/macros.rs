//! Macro strings (RFC 7208 section 7): parsing and expansion.
//!
//! ```text
//! macro-string = *( macro-expand / macro-literal )
//! macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
//!                / "%%" / "%_" / "%-"
//! macro-literal = %x21-24 / %x26-7E      ; visible characters but "%"
//! macro-letter = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
//! transformers = *DIGIT [ "r" ]
//! delimiter    = "." / "-" / "+" / "," / "/" / "_" / "="
//! ```
//!
//! Letters are case-insensitive; an upper-case letter URL-escapes its value.
//! `c`, `r` and `t` are allowed only in explanation text (7.1), which may
//! also hold spaces. Parsing is separate from expansion so that a record is
//! checked whole before anything is evaluated (4.6).

use std::fmt;
use std::net::IpAddr;

use crate::dns::nibbles;

/// Where a macro string appears, which decides the letters it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// A domain-spec or an unknown modifier's value.
    Record,
    /// The TXT record an `exp=` points at: `c`, `r`, `t` and spaces too.
    Explanation,
}

/// A macro string that parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// `%%`, `%_`, `%-`: a macro-expand for the domain-end rule.
    Escape(&'static str),
    Macro(Macro),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Macro {
    letter: Letter,
    url_escape: bool,
    /// How many right-hand parts to keep (never 0).
    keep: Option<usize>,
    reverse: bool,
    /// Characters to split on; empty means ".".
    delimiters: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Letter {
    Sender,
    Local,
    SenderDomain,
    Domain,
    Ip,
    Validated,
    Helo,
    ClientIp,
    Receiver,
    Time,
    Version,
}

impl Letter {
    fn from_byte(b: u8) -> Option<Letter> {
        Some(match b.to_ascii_lowercase() {
            b's' => Letter::Sender,
            b'l' => Letter::Local,
            b'o' => Letter::SenderDomain,
            b'd' => Letter::Domain,
            b'i' => Letter::Ip,
            b'p' => Letter::Validated,
            b'h' => Letter::Helo,
            b'c' => Letter::ClientIp,
            b'r' => Letter::Receiver,
            b't' => Letter::Time,
            b'v' => Letter::Version,
            _ => return None,
        })
    }

    fn explanation_only(self) -> bool {
        matches!(self, Letter::ClientIp | Letter::Receiver | Letter::Time)
    }
}

/// Why a macro string does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacroError {
    #[error("character {0} is not allowed (visible ASCII only)")]
    InvalidChar(CharName),
    #[error("'%' must be followed by '{{', '%', '_' or '-'")]
    BadPercent,
    #[error("macro '%{{' is not closed by '}}'")]
    Unterminated,
    #[error("unknown macro letter {0}")]
    UnknownLetter(CharName),
    #[error("macro letter {0} is allowed only in explanation text")]
    ExplanationOnly(CharName),
    #[error("a macro cannot keep 0 parts")]
    ZeroParts,
    #[error("character {0} is not a macro delimiter")]
    BadDelimiter(CharName),
}

/// A byte shown in an error: the character when visible, else its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharName(pub u8);

impl fmt::Display for CharName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", self.0 as char)
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

const DELIMITERS: &[u8] = b".-+,/_=";

impl MacroString {
    pub(crate) fn parse(text: &[u8], place: Place) -> Result<MacroString, MacroError> {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < text.len() {
            let b = text[i];
            if b != b'%' {
                let allowed =
                    (0x21..=0x7e).contains(&b) || (b == b' ' && place == Place::Explanation);
                if !allowed {
                    return Err(MacroError::InvalidChar(CharName(b)));
                }
                literal.push(b as char);
                i += 1;
                continue;
            }
            if !literal.is_empty() {
                tokens.push(Token::Literal(std::mem::take(&mut literal)));
            }
            match text.get(i + 1) {
                Some(b'%') => tokens.push(Token::Escape("%")),
                Some(b'_') => tokens.push(Token::Escape(" ")),
                Some(b'-') => tokens.push(Token::Escape("%20")),
                Some(b'{') => {
                    let end = text[i..]
                        .iter()
                        .position(|&b| b == b'}')
                        .ok_or(MacroError::Unterminated)?;
                    tokens.push(Token::Macro(Macro::parse(&text[i + 2..i + end], place)?));
                    i += end + 1;
                    continue;
                }
                _ => return Err(MacroError::BadPercent),
            }
            i += 2;
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(MacroString { tokens })
    }

    /// RFC 7208 7.1 `domain-end`: a domain-spec ends with a macro or with
    /// "." and a top label (not all digits), and an optional final dot.
    pub(crate) fn has_domain_end(&self) -> bool {
        match self.tokens.last() {
            None => false,
            Some(Token::Macro(_) | Token::Escape(_)) => true,
            Some(Token::Literal(text)) => {
                let text = text.strip_suffix('.').unwrap_or(text);
                match text.rsplit_once('.') {
                    Some((_, top)) => is_toplabel(top),
                    None => false,
                }
            }
        }
    }

    /// Whether expanding needs the validated name of the client (`%{p}`),
    /// which costs DNS lookups.
    pub(crate) fn uses_validated_name(&self) -> bool {
        self.tokens.iter().any(|t| {
            matches!(
                t,
                Token::Macro(Macro {
                    letter: Letter::Validated,
                    ..
                })
            )
        })
    }

    pub(crate) fn expand(&self, vars: &Vars<'_>) -> String {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Escape(text) => out.push_str(text),
                Token::Macro(m) => m.expand(vars, &mut out),
            }
        }
        out
    }
}

impl Macro {
    /// The inside of `%{...}`: a letter, digits, an optional `r`, delimiters.
    fn parse(inside: &[u8], place: Place) -> Result<Macro, MacroError> {
        let (&first, mut rest) = inside
            .split_first()
            .ok_or(MacroError::UnknownLetter(CharName(b'}')))?;
        let letter = Letter::from_byte(first).ok_or(MacroError::UnknownLetter(CharName(first)))?;
        if letter.explanation_only() && place != Place::Explanation {
            return Err(MacroError::ExplanationOnly(CharName(first)));
        }
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let keep = if digits == 0 {
            None
        } else {
            // Any count above the number of parts keeps them all.
            let n = rest[..digits].iter().fold(0usize, |n, d| {
                n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
            });
            if n == 0 {
                return Err(MacroError::ZeroParts);
            }
            Some(n)
        };
        rest = &rest[digits..];
        let reverse = matches!(rest.first(), Some(b'r' | b'R'));
        if reverse {
            rest = &rest[1..];
        }
        if let Some(&bad) = rest.iter().find(|b| !DELIMITERS.contains(b)) {
            return Err(MacroError::BadDelimiter(CharName(bad)));
        }
        Ok(Macro {
            letter,
            url_escape: first.is_ascii_uppercase(),
            keep,
            reverse,
            delimiters: rest.iter().map(|&b| b as char).collect(),
        })
    }

    fn expand(&self, vars: &Vars<'_>, out: &mut String) {
        let value = vars.value(self.letter);
        let delimiters: &[char] = &if self.delimiters.is_empty() {
            vec!['.']
        } else {
            self.delimiters.chars().collect::<Vec<_>>()
        };
        let mut parts: Vec<&str> = value.split(delimiters).collect();
        if self.reverse {
            parts.reverse();
        }
        if let Some(keep) = self.keep {
            let drop = parts.len().saturating_sub(keep);
            parts.drain(..drop);
        }
        let joined = parts.join(".");
        if self.url_escape {
            url_escape(&joined, out);
        } else {
            out.push_str(&joined);
        }
    }
}

/// RFC 3986 escaping of everything but the unreserved characters.
fn url_escape(text: &str, out: &mut String) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`
fn is_toplabel(label: &str) -> bool {
    let b = label.as_bytes();
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return false;
    };
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return false;
    }
    if b.contains(&b'-') {
        first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()
    } else {
        b.iter().any(u8::is_ascii_alphabetic)
    }
}

/// The values macros expand to during one evaluation.
pub(crate) struct Vars<'a> {
    /// `<sender>`: `local@domain`, `postmaster@` added when it had no local part.
    pub sender: &'a str,
    pub local: &'a str,
    pub sender_domain: &'a str,
    /// `<domain>`: the domain whose record is being evaluated.
    pub domain: &'a str,
    pub ip: IpAddr,
    pub helo: &'a str,
    pub receiver: &'a str,
    /// `%{p}`, looked up beforehand when the string uses it.
    pub validated: &'a str,
    /// Seconds since the epoch, for `%{t}`.
    pub now: u64,
}

impl Vars<'_> {
    fn value(&self, letter: Letter) -> String {
        match letter {
            Letter::Sender => self.sender.to_owned(),
            Letter::Local => self.local.to_owned(),
            Letter::SenderDomain => self.sender_domain.to_owned(),
            Letter::Domain => self.domain.to_owned(),
            Letter::Ip => match self.ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => {
                    let n = nibbles(v6);
                    let mut s = String::with_capacity(63);
                    for (i, c) in n.iter().enumerate() {
                        if i > 0 {
                            s.push('.');
                        }
                        s.push(*c);
                    }
                    s
                }
            },
            Letter::Validated => self.validated.to_owned(),
            Letter::Helo => self.helo.to_owned(),
            Letter::ClientIp => self.ip.to_string(),
            Letter::Receiver => self.receiver.to_owned(),
            Letter::Time => self.now.to_string(),
            Letter::Version => match self.ip {
                IpAddr::V4(_) => "in-addr".to_owned(),
                IpAddr::V6(_) => "ip6".to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(ip: &str) -> Vars<'static> {
        Vars {
            sender: "strong-bad@email.example.com",
            local: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: ip.parse().unwrap(),
            helo: "mx.example.org",
            receiver: "mx.havre.test",
            validated: "mx.example.org",
            now: 1_700_000_000,
        }
    }

    fn expand(text: &str, ip: &str) -> String {
        MacroString::parse(text.as_bytes(), Place::Explanation)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .expand(&vars(ip))
    }

    /// The examples of RFC 7208 section 7.4.
    #[test]
    fn the_rfc_examples_expand_as_written() {
        let v4 = "192.0.2.3";
        for (text, want) in [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
            ),
            (
                "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
                "3.2.0.192.in-addr.strong.lp._spf.example.com",
            ),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
        ] {
            assert_eq!(expand(text, v4), want, "{text}");
        }
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn escapes_upper_case_and_explanation_letters() {
        assert_eq!(expand("a%%b%_c%-d", "192.0.2.3"), "a%b c%20d");
        assert_eq!(expand("%{L}", "192.0.2.3"), "strong-bad");
        assert_eq!(
            expand("%{S}", "192.0.2.3"),
            "strong-bad%40email.example.com"
        );
        assert_eq!(
            expand("%{c} %{r} %{t}", "2001:DB8::1"),
            "2001:db8::1 mx.havre.test 1700000000"
        );
        assert_eq!(
            expand("%{p} %{h} %{v}", "2001:db8::1"),
            "mx.example.org mx.example.org ip6"
        );
        assert_eq!(expand("%{d1000}", "192.0.2.3"), "email.example.com");
        assert_eq!(expand("%{l+-=}", "192.0.2.3"), "strong.bad");
    }

    #[test]
    fn malformed_macros_are_refused_with_their_reason() {
        let err = |text: &str, place| MacroString::parse(text.as_bytes(), place).unwrap_err();
        assert_eq!(err("%(ir).x", Place::Record), MacroError::BadPercent);
        assert_eq!(err("foo%", Place::Record), MacroError::BadPercent);
        assert_eq!(err("%{d", Place::Record), MacroError::Unterminated);
        assert_eq!(
            err("%{a}", Place::Record),
            MacroError::UnknownLetter(CharName(b'a'))
        );
        assert_eq!(
            err("%{}", Place::Record),
            MacroError::UnknownLetter(CharName(b'}'))
        );
        assert_eq!(
            err("%{r}", Place::Record),
            MacroError::ExplanationOnly(CharName(b'r'))
        );
        assert_eq!(
            err("%{C}", Place::Record),
            MacroError::ExplanationOnly(CharName(b'C'))
        );
        assert_eq!(err("%{d0}", Place::Record), MacroError::ZeroParts);
        assert_eq!(
            err("%{d2x}", Place::Record),
            MacroError::BadDelimiter(CharName(b'x'))
        );
        assert_eq!(
            err("a b", Place::Record),
            MacroError::InvalidChar(CharName(b' '))
        );
        assert_eq!(
            err("a\rb", Place::Explanation),
            MacroError::InvalidChar(CharName(b'\r'))
        );
        assert_eq!(
            MacroString::parse(b"caf\xc3\xa9", Place::Record).unwrap_err(),
            MacroError::InvalidChar(CharName(0xc3))
        );
    }

    #[test]
    fn domain_end_needs_a_macro_or_a_top_label() {
        let end = |text: &str| {
            MacroString::parse(text.as_bytes(), Place::Record)
                .unwrap()
                .has_domain_end()
        };
        for good in [
            "example.com",
            "example.com.",
            "%{d}",
            "x.%{d}",
            "a.b%%",
            "foo.example.xn--zckzah",
            "a.1-2",
        ] {
            assert!(end(good), "{good}");
        }
        for bad in [
            "museum",
            "museum.",
            "foo-bar",
            "abc.123",
            "example.-com",
            "example.com:8080",
            "%{d}com",
            ".",
        ] {
            assert!(!end(bad), "{bad}");
        }
    }
}
