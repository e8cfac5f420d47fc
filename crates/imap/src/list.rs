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

#[cfg(test)]
mod tests {
    use super::*;

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
