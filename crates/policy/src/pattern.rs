//! What a rule compares names and addresses with: globs, `@domain`, or
//! `/regex/`, always case-insensitively.

use std::fmt;

/// One pattern of a rule's match field.
///
/// - `/regex/`: a regular expression (`regex-lite` syntax), searched in the
///   value (anchor it with `^...$` to match the whole);
/// - `@example.org`: an address in that domain (exactly that domain);
/// - otherwise a glob over the whole value: `*` any run of characters, `?`
///   one character; without wildcards, the value itself. The empty pattern
///   `""` matches the null sender.
#[derive(Clone)]
pub enum Pattern {
    Glob(String),
    Regex(regex_lite::Regex),
}

impl Pattern {
    /// Parses a pattern; the error says what is wrong with a regex.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if text.len() >= 2 && text.starts_with('/') && text.ends_with('/') {
            let body = &text[1..text.len() - 1];
            return regex_lite::Regex::new(&format!("(?i){body}"))
                .map(Pattern::Regex)
                .map_err(|e| format!("invalid regular expression {text:?}: {e}"));
        }
        let glob = match text.strip_prefix('@') {
            Some(domain) => format!("*@{domain}"),
            None => text.to_owned(),
        };
        Ok(Pattern::Glob(glob.to_lowercase()))
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Regex(re) => re.is_match(value),
            Pattern::Glob(glob) => glob_match(glob, &value.to_lowercase()),
        }
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Glob(g) => write!(f, "{g:?}"),
            Pattern::Regex(re) => write!(f, "/{}/", re.as_str().trim_start_matches("(?i)")),
        }
    }
}

/// Whether `glob` (`*`, `?`) matches the whole of `text`. Linear-time
/// backtracking on the last `*` only, so no pattern can be made slow.
fn glob_match(glob: &str, text: &str) -> bool {
    let p: Vec<char> = glob.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, value: &str) -> bool {
        Pattern::parse(pattern).unwrap().matches(value)
    }

    #[test]
    fn globs_match_whole_values_case_insensitively() {
        assert!(m("*.dynamic.example.net", "host-1.Dynamic.example.net"));
        assert!(!m("*.dynamic.example.net", "dynamic.example.net.evil"));
        assert!(m("mx?.example.org", "mx1.example.org"));
        assert!(m("Alice@Example.org", "alice@example.ORG"));
        assert!(!m("alice@example.org", "malice@example.org"));
        assert!(m("*", "anything"));
        assert!(m("a*b*c", "aXXbYYbc"));
    }

    #[test]
    fn at_domain_matches_addresses_of_that_domain_only() {
        assert!(m("@students.example.edu", "bob@Students.example.edu"));
        assert!(!m("@example.edu", "bob@students.example.edu"));
        assert!(m("*@*.example.edu", "bob@students.example.edu"));
    }

    #[test]
    fn the_empty_pattern_is_the_null_sender() {
        assert!(m("", ""));
        assert!(!m("", "a@b"));
    }

    #[test]
    fn slashes_make_a_regular_expression_searched_in_the_value() {
        assert!(m(r"/\bdsl\b/", "1-2-3-4.DSL.provider.net"));
        assert!(!m(r"/^mail\./", "smtp.mail.example"));
        assert!(Pattern::parse("/(unclosed/").is_err());
    }
}
