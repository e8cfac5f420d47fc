//! `mx.dnsbl` and `mx.rhsbl` entries: a DNS list, the answers that count,
//! and their weight, in the syntax of Postfix's `postscreen_dnsbl_sites`.
//!
//! ```text
//! zen.spamhaus.org                      any answer, weight 1
//! zen.spamhaus.org*2                    any answer, weight 2
//! zen.spamhaus.org=127.0.0.[2..11]      only those answers
//! bl.example=127.0.0.[2;4;10..12]*3     a list of values and ranges, weight 3
//! list.dnswl.example=127.0.[0..255].[1..3]*-2    an allow list: a negative weight
//! ```
//!
//! Each of the four parts of an answer pattern is a number (0-255) or a
//! bracketed list of numbers and `low..high` ranges separated by `;`. A
//! zone may appear several times, with different patterns and weights.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::values::{ValueError, quoted};

const EXPECTED: &str = r#"a DNS list like "zen.example.org", "zen.example.org=127.0.0.[2..11]" or "zen.example.org*2" (Postfix's postscreen_dnsbl_sites syntax)"#;

/// One DNS list of `mx.dnsbl` or `mx.rhsbl`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DnsblSite {
    /// The list's zone, lower-case, without a trailing dot.
    pub zone: String,
    /// The answers that count (`None`: any listing answer).
    pub answers: Option<AnswerPattern>,
    /// Added to the client's score when it is listed (may be negative).
    pub weight: i32,
}

/// `127.0.0.[2..11]`: for each of the four bytes of an answer, the ranges
/// of values it may have.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnswerPattern {
    pub octets: [Vec<(u8, u8)>; 4],
}

impl AnswerPattern {
    pub fn matches(&self, answer: Ipv4Addr) -> bool {
        answer
            .octets()
            .iter()
            .zip(&self.octets)
            .all(|(byte, ranges)| ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(byte)))
    }
}

impl DnsblSite {
    /// Whether `answer` lists the name looked up. Without a pattern, any
    /// address of 127.0.0.0/8 (RFC 5782 2.3) counts except 127.255.255.0/24,
    /// where lists such as Spamhaus's say that they refused the query (a
    /// public resolver, over quota): counting those would refuse everyone.
    pub fn lists(&self, answer: Ipv4Addr) -> bool {
        match &self.answers {
            Some(pattern) => pattern.matches(answer),
            None => {
                let [a, b, c, _] = answer.octets();
                a == 127 && !(b == 255 && c == 255)
            }
        }
    }

    fn error(found: &str) -> ValueError {
        ValueError {
            expected: EXPECTED,
            found: quoted(found),
        }
    }
}

impl FromStr for DnsblSite {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<DnsblSite, ValueError> {
        let err = || DnsblSite::error(text);
        let s = text.trim();
        let (rest, weight) = match s.rsplit_once('*') {
            Some((rest, w)) => (rest, w.trim().parse::<i32>().map_err(|_| err())?),
            None => (s, 1),
        };
        let (zone, answers) = match rest.split_once('=') {
            Some((zone, pattern)) => (zone, Some(parse_pattern(pattern.trim()).ok_or_else(err)?)),
            None => (rest, None),
        };
        let zone = zone.trim().trim_end_matches('.').to_ascii_lowercase();
        if !zone_ok(&zone) {
            return Err(err());
        }
        Ok(DnsblSite {
            zone,
            answers,
            weight,
        })
    }
}

/// Letters, digits, `-` and `_` in labels of 1-63 bytes, 253 in all, at
/// least two labels.
fn zone_ok(zone: &str) -> bool {
    zone.len() <= 253
        && zone.split('.').count() >= 2
        && zone.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn parse_pattern(text: &str) -> Option<AnswerPattern> {
    // The dots of `..` inside brackets do not separate the parts.
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    if parts.len() != 4 {
        return None;
    }
    let mut octets: [Vec<(u8, u8)>; 4] = Default::default();
    for (slot, part) in octets.iter_mut().zip(parts) {
        *slot = parse_octet(part)?;
    }
    Some(AnswerPattern { octets })
}

/// `7`, or `[2..11]`, `[2;4;10..12]`.
fn parse_octet(part: &str) -> Option<Vec<(u8, u8)>> {
    let Some(list) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) else {
        let n = byte(part)?;
        return Some(vec![(n, n)]);
    };
    list.split(';')
        .map(|item| match item.split_once("..") {
            Some((lo, hi)) => {
                let (lo, hi) = (byte(lo)?, byte(hi)?);
                (lo <= hi).then_some((lo, hi))
            }
            None => byte(item).map(|n| (n, n)),
        })
        .collect()
}

fn byte(text: &str) -> Option<u8> {
    let text = text.trim();
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

impl fmt::Display for DnsblSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.zone)?;
        if let Some(pattern) = &self.answers {
            f.write_str("=")?;
            for (i, ranges) in pattern.octets.iter().enumerate() {
                if i > 0 {
                    f.write_str(".")?;
                }
                match ranges.as_slice() {
                    [(lo, hi)] if lo == hi => write!(f, "{lo}")?,
                    _ => {
                        let items: Vec<String> = ranges
                            .iter()
                            .map(|(lo, hi)| {
                                if lo == hi {
                                    lo.to_string()
                                } else {
                                    format!("{lo}..{hi}")
                                }
                            })
                            .collect();
                        write!(f, "[{}]", items.join(";"))?;
                    }
                }
            }
        }
        if self.weight != 1 {
            write!(f, "*{}", self.weight)?;
        }
        Ok(())
    }
}

impl Serialize for DnsblSite {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DnsblSite {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DnsblSite;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DnsblSite, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postscreen_dnsbl_sites_entries_parse_and_print_back() {
        for text in [
            "zen.spamhaus.org",
            "zen.spamhaus.org*2",
            "zen.spamhaus.org=127.0.0.[2..11]",
            "bl.example=127.0.0.[2;4;10..12]*3",
            "list.dnswl.example=127.0.[0..255].[1..3]*-2",
        ] {
            let site: DnsblSite = text.parse().unwrap();
            assert_eq!(site.to_string(), text);
        }
        let site: DnsblSite = " BL.Example. = 127.0.0.2 * 5 ".parse().unwrap();
        assert_eq!((site.zone.as_str(), site.weight), ("bl.example", 5));
    }

    #[test]
    fn answers_count_only_when_the_pattern_matches() {
        let site: DnsblSite = "bl.example=127.0.0.[2;4;10..12]".parse().unwrap();
        for (answer, listed) in [
            ("127.0.0.2", true),
            ("127.0.0.3", false),
            ("127.0.0.11", true),
            ("127.0.1.2", false),
        ] {
            assert_eq!(site.lists(answer.parse().unwrap()), listed, "{answer}");
        }
        let any: DnsblSite = "bl.example".parse().unwrap();
        assert!(any.lists("127.0.0.2".parse().unwrap()));
        assert!(
            !any.lists("127.255.255.254".parse().unwrap()),
            "a refused query"
        );
        assert!(!any.lists("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn malformed_entries_are_refused_with_the_syntax_expected() {
        for bad in [
            "",
            "localhost",
            "bl.example=127.0.0",
            "bl.example=127.0.0.256",
            "bl.example=127.0.0.[11..2]",
            "bl.example=127.0.0.[2..]",
            "bl.example*x",
            "bl example.org",
            "bl.example=127.0.0.2*",
        ] {
            let err = bad.parse::<DnsblSite>().unwrap_err();
            assert!(
                err.to_string().contains("postscreen_dnsbl_sites"),
                "{bad}: {err}"
            );
        }
    }
}
