//! Comparators (RFC 4790: `i;octet`, `i;ascii-casemap`, `i;ascii-numeric`)
//! and match types (`:is`, `:contains`, `:matches`, `:regex`, `:value`).
//!
//! `:matches` is matched without backtracking over earlier wildcards: each
//! run of literal text between `*`s is found at its first place, which is
//! both correct and what RFC 5229 §3.2 wants of match variables (each `*`
//! as short as it can be, left to right). The work is at most the length
//! of the value times the length of the pattern.

use std::cmp::Ordering;

use regex_lite::Regex;

use crate::program::{Comparator, MatchKind};

/// Whether `value` matches `key`; for `:matches` and `:regex` the match
/// variables (`${0}` the whole value, then each wildcard or group) when
/// `captures` is asked for.
pub(crate) fn matches(
    comparator: Comparator,
    kind: MatchKind,
    value: &str,
    key: &str,
    regex: Option<&Regex>,
    captures: Option<&mut Vec<String>>,
) -> bool {
    match kind {
        MatchKind::Is => order(comparator, value, key) == Ordering::Equal,
        MatchKind::Contains => match comparator {
            Comparator::AsciiCasemap => value
                .to_ascii_lowercase()
                .contains(&key.to_ascii_lowercase()),
            _ => value.contains(key),
        },
        MatchKind::Value(relation) => relation.holds(order(comparator, value, key)),
        MatchKind::Matches => match glob(value, key, comparator == Comparator::AsciiCasemap) {
            Some(found) => {
                if let Some(captures) = captures {
                    *captures = found;
                }
                true
            }
            None => false,
        },
        MatchKind::Regex => {
            let Some(regex) = regex else { return false };
            match regex.captures(value) {
                Some(found) => {
                    if let Some(captures) = captures {
                        *captures = found
                            .iter()
                            .map(|m| m.map_or(String::new(), |m| m.as_str().to_string()))
                            .collect();
                    }
                    true
                }
                None => false,
            }
        }
        // Counting is done on the whole list of values, not here.
        MatchKind::Count(_) => false,
    }
}

/// How `value` compares to `key` under the comparator.
pub(crate) fn order(comparator: Comparator, value: &str, key: &str) -> Ordering {
    match comparator {
        Comparator::Octet => value.as_bytes().cmp(key.as_bytes()),
        Comparator::AsciiCasemap => value
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(key.bytes().map(|b| b.to_ascii_lowercase())),
        Comparator::AsciiNumeric => numeric_order(value, key),
    }
}

/// `i;ascii-numeric` (RFC 4790 §9.1): the number the string starts with;
/// a string that starts with no digit is greater than every number, and
/// equal to every other such string. Any number of digits.
fn numeric_order(a: &str, b: &str) -> Ordering {
    fn digits(s: &str) -> Option<&str> {
        let end = s
            .bytes()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(s.len());
        if end == 0 {
            return None;
        }
        let number = s[..end].trim_start_matches('0');
        Some(number)
    }
    match (digits(a), digits(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glob {
    Star,
    Any,
    Char(char),
}

fn glob_tokens(pattern: &str, casemap: bool) -> Vec<Glob> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Glob::Star,
            '?' => Glob::Any,
            '\\' => match chars.next() {
                Some(next) => Glob::Char(fold(next, casemap)),
                None => Glob::Char('\\'),
            },
            c => Glob::Char(fold(c, casemap)),
        });
    }
    out
}

fn fold(c: char, casemap: bool) -> char {
    if casemap { c.to_ascii_lowercase() } else { c }
}

/// Whether `segment` (no stars) matches `value` at `at`.
fn segment_at(segment: &[Glob], value: &[char], at: usize, casemap: bool) -> bool {
    value.len() - at >= segment.len()
        && segment.iter().zip(&value[at..]).all(|(g, &c)| match g {
            Glob::Any => true,
            Glob::Char(p) => *p == fold(c, casemap),
            Glob::Star => false,
        })
}

/// The captures of `?` in `segment` placed at `at`.
fn segment_captures(segment: &[Glob], value: &[char], at: usize, out: &mut Vec<String>) {
    for (i, g) in segment.iter().enumerate() {
        if *g == Glob::Any {
            out.push(value[at + i].to_string());
        }
    }
}

/// `:matches`: `*` is any run of characters, `?` one character, `\`
/// quotes the next one. The captures: the whole value, then each
/// wildcard's text in order.
pub(crate) fn glob(value: &str, pattern: &str, casemap: bool) -> Option<Vec<String>> {
    let tokens = glob_tokens(pattern, casemap);
    let segments: Vec<&[Glob]> = tokens.split(|g| *g == Glob::Star).collect();
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let text = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    let mut captures = vec![value.to_string()];
    let first = segments[0];
    if segments.len() == 1 {
        if n != first.len() || !segment_at(first, &chars, 0, casemap) {
            return None;
        }
        segment_captures(first, &chars, 0, &mut captures);
        return Some(captures);
    }
    let last = segments[segments.len() - 1];
    if first.len() + last.len() > n {
        return None;
    }
    let end = n - last.len();
    if !segment_at(first, &chars, 0, casemap) || !segment_at(last, &chars, end, casemap) {
        return None;
    }
    segment_captures(first, &chars, 0, &mut captures);
    let mut at = first.len();
    for segment in &segments[1..segments.len() - 1] {
        if segment.is_empty() {
            // Two stars in a row: the first matches nothing.
            captures.push(String::new());
            continue;
        }
        let found = (at..=end.checked_sub(segment.len())?)
            .find(|&p| segment_at(segment, &chars, p, casemap))?;
        captures.push(text(at, found));
        segment_captures(segment, &chars, found, &mut captures);
        at = found + segment.len();
    }
    captures.push(text(at, end));
    segment_captures(last, &chars, end, &mut captures);
    Some(captures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::Relation;

    fn glob_ok(value: &str, pattern: &str) -> Option<Vec<String>> {
        glob(value, pattern, true)
    }

    #[test]
    fn wildcards() {
        assert!(glob_ok("hello", "h*o").is_some());
        assert!(glob_ok("hello", "h?llo").is_some());
        assert!(glob_ok("HELLO", "h*").is_some());
        assert!(glob("HELLO", "h*", false).is_none());
        assert!(glob_ok("", "*").is_some());
        assert!(glob_ok("", "?").is_none());
        assert!(glob_ok("abc", "a*b*c").is_some());
        assert!(glob_ok("ac", "a*b*c").is_none());
        assert!(glob_ok("aXbYbZc", "a*b*c").is_some());
        assert!(glob_ok("a*b", "a\\*b").is_some());
        assert!(glob_ok("axb", "a\\*b").is_none());
        assert!(glob_ok("abab", "*ab").is_some());
        assert!(glob_ok("ab", "*ab*ab").is_none());
    }

    #[test]
    fn captures_are_shortest_from_the_left() {
        // RFC 5229 §3.2's example.
        assert_eq!(
            glob_ok("[acme-users] [fwd] version 1.0 is out", "[*] *").unwrap(),
            [
                "[acme-users] [fwd] version 1.0 is out",
                "acme-users",
                "[fwd] version 1.0 is out"
            ]
        );
        assert_eq!(
            glob_ok("coyote@example.com", "*@*.*").unwrap(),
            ["coyote@example.com", "coyote", "example", "com"]
        );
        assert_eq!(glob_ok("abc", "?*?").unwrap(), ["abc", "a", "b", "c"]);
        assert_eq!(glob_ok("ab", "a**b").unwrap(), ["ab", "", ""]);
    }

    #[test]
    fn a_long_value_and_many_stars_stay_quick() {
        let value = "a".repeat(100_000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(glob_ok(&value, &pattern).is_none());
    }

    #[test]
    fn comparators_order_values() {
        assert_eq!(
            order(Comparator::AsciiCasemap, "ABC", "abc"),
            Ordering::Equal
        );
        assert_eq!(order(Comparator::Octet, "ABC", "abc"), Ordering::Less);
        assert_eq!(
            order(Comparator::AsciiNumeric, "10", "9"),
            Ordering::Greater
        );
        assert_eq!(order(Comparator::AsciiNumeric, "007", "7"), Ordering::Equal);
        assert_eq!(
            order(Comparator::AsciiNumeric, "12abc", "12"),
            Ordering::Equal
        );
        assert_eq!(
            order(Comparator::AsciiNumeric, "abc", "99999999999999999999999"),
            Ordering::Greater
        );
        assert_eq!(order(Comparator::AsciiNumeric, "x", "y"), Ordering::Equal);
    }

    #[test]
    fn match_types() {
        let m = |kind, value, key| matches(Comparator::AsciiCasemap, kind, value, key, None, None);
        assert!(m(MatchKind::Is, "Frobnicate", "frobnicate"));
        assert!(m(MatchKind::Contains, "Hello World", "o w"));
        assert!(!m(MatchKind::Contains, "Hello", "xyz"));
        assert!(m(MatchKind::Value(Relation::Gt), "b", "A"));
        assert!(!matches(
            Comparator::Octet,
            MatchKind::Is,
            "A",
            "a",
            None,
            None
        ));
    }

    #[test]
    fn regex_captures_groups() {
        let regex = Regex::new("^(\\w+)@(.+)$").unwrap();
        let mut captures = Vec::new();
        assert!(matches(
            Comparator::Octet,
            MatchKind::Regex,
            "joe@example.com",
            "",
            Some(&regex),
            Some(&mut captures)
        ));
        assert_eq!(captures, ["joe@example.com", "joe", "example.com"]);
    }
}
