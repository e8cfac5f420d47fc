//! LIST patterns (RFC 9051 6.3.9): `*` matches anything, `%` anything but the
//! hierarchy delimiter.

pub(crate) const DELIMITER: char = '/';

/// Whether `name` matches `pattern` (both UTF-8, delimiter `/`).
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking over the last wildcard, bounded
    // by the lengths (no recursion, no blow-up on `*%*%*` patterns).
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize, bool)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '*' || p[pi] == '%') {
            star = Some((pi, ni, p[pi] == '%'));
            pi += 1;
        } else if pi < p.len() && chars_equal(p[pi], n[ni], &p, &n) {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn, percent)) = star {
            if percent && n[sn] == DELIMITER {
                return false;
            }
            star = Some((sp, sn + 1, percent));
            pi = sp + 1;
            ni = sn + 1;
        } else {
            return false;
        }
    }
    while pi < p.len() && (p[pi] == '*' || p[pi] == '%') {
        pi += 1;
    }
    pi == p.len()
}

fn chars_equal(a: char, b: char, _p: &[char], _n: &[char]) -> bool {
    a == b
}

/// The reference joined to the pattern as RFC 9051 6.3.9 describes for the
/// common case (a reference is a prefix).
pub(crate) fn full_pattern(reference: &str, pattern: &str) -> String {
    if reference.is_empty() || pattern.starts_with(DELIMITER) {
        pattern.to_string()
    } else if reference.ends_with(DELIMITER) {
        format!("{reference}{pattern}")
    } else {
        format!("{reference}{DELIMITER}{pattern}")
    }
}

/// `INBOX` matched case-insensitively, like the name itself.
pub(crate) fn matches_name(pattern: &str, name: &str) -> bool {
    if name == "INBOX" {
        let upper = pattern.to_ascii_uppercase();
        return matches(&upper, "INBOX");
    }
    matches(pattern, name)
}

/// One name a LIST or LSUB answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub name: String,
    /// The name is one of the candidates (an existing mailbox, or a
    /// subscribed name); otherwise it is only a superior level of some.
    pub candidate: bool,
    /// RECURSIVEMATCH: a candidate below it is not matched by the patterns
    /// (RFC 5258 3.5, `CHILDINFO`).
    pub child_info: bool,
}

/// How superior levels of the candidates are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parents {
    /// Never on their own.
    Never,
    /// When a pattern ending in `%` matches them (RFC 3501 6.3.8/6.3.9: "if
    /// the `%` wildcard is the last character ... matching levels of
    /// hierarchy are also returned").
    PercentLevels,
    /// When they match and a candidate below them does not: RECURSIVEMATCH.
    RecursiveMatch,
}

/// The names to list, sorted: the candidates the patterns match, and the
/// superior levels `parents` asks for.
pub(crate) fn select<'a>(
    candidates: impl IntoIterator<Item = &'a str>,
    patterns: &[String],
    parents: Parents,
) -> Vec<Listed> {
    let matched = |name: &str| patterns.iter().any(|p| matches_name(p, name));
    let level_matched = |name: &str| {
        patterns
            .iter()
            .any(|p| p.ends_with('%') && matches_name(p, name))
    };
    let mut found: std::collections::BTreeMap<String, Listed> = Default::default();
    fn entry<'m>(
        found: &'m mut std::collections::BTreeMap<String, Listed>,
        name: &str,
    ) -> &'m mut Listed {
        found.entry(name.to_string()).or_insert_with(|| Listed {
            name: name.to_string(),
            candidate: false,
            child_info: false,
        })
    }
    for name in candidates {
        let is_matched = matched(name);
        if is_matched {
            entry(&mut found, name).candidate = true;
        }
        for (i, _) in name.match_indices(DELIMITER) {
            let parent = &name[..i];
            match parents {
                Parents::Never => {}
                Parents::PercentLevels => {
                    if level_matched(parent) {
                        entry(&mut found, parent);
                    }
                }
                Parents::RecursiveMatch => {
                    if !is_matched && matched(parent) {
                        entry(&mut found, parent).child_info = true;
                    }
                }
            }
        }
    }
    found.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(listed: &[Listed]) -> Vec<(&str, bool, bool)> {
        listed
            .iter()
            .map(|l| (l.name.as_str(), l.candidate, l.child_info))
            .collect()
    }

    #[test]
    fn a_percent_pattern_lists_the_levels_above_a_subscribed_name() {
        let listed = select(
            ["Lists/rust", "INBOX"],
            &["%".into()],
            Parents::PercentLevels,
        );
        assert_eq!(
            names(&listed),
            [("INBOX", true, false), ("Lists", false, false)]
        );
        let listed = select(["Lists/rust"], &["*".into()], Parents::PercentLevels);
        assert_eq!(names(&listed), [("Lists/rust", true, false)]);
        let listed = select(["Lists/rust"], &["%".into()], Parents::Never);
        assert!(listed.is_empty());
    }

    #[test]
    fn recursivematch_marks_the_matched_parent_of_an_unmatched_candidate() {
        let listed = select(
            ["Lists", "Lists/rust", "Work/2024/q1"],
            &["%".into()],
            Parents::RecursiveMatch,
        );
        assert_eq!(
            names(&listed),
            [("Lists", true, true), ("Work", false, true)]
        );
        // With `*` the child is listed itself: no CHILDINFO.
        let listed = select(
            ["Lists", "Lists/rust"],
            &["*".into()],
            Parents::RecursiveMatch,
        );
        assert_eq!(
            names(&listed),
            [("Lists", true, false), ("Lists/rust", true, false)]
        );
    }

    #[test]
    fn star_crosses_levels_and_percent_does_not() {
        assert!(matches("*", "Lists/rust/announce"));
        assert!(matches("%", "Sent"));
        assert!(!matches("%", "Lists/rust"));
        assert!(matches("Lists/%", "Lists/rust"));
        assert!(!matches("Lists/%", "Lists/rust/announce"));
        assert!(matches("Lists/*", "Lists/rust/announce"));
        assert!(matches("*st*", "Lists/rust"));
        assert!(!matches("Sent", "Sent/2024"));
        assert!(matches_name("inbox", "INBOX"));
        assert!(matches_name("%", "INBOX"));
    }

    #[test]
    fn a_reference_is_a_prefix() {
        assert_eq!(full_pattern("Lists", "%"), "Lists/%");
        assert_eq!(full_pattern("", "*"), "*");
        assert_eq!(full_pattern("Lists/", "r*"), "Lists/r*");
    }
}
