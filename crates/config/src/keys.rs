//! Dotted key paths, as operators type them: `smtp.message_size_limit`,
//! `relay.routes."remote.test"`.

use toml_edit::Key;

use crate::error::ConfigError;

/// Split a dotted key into its segments, honouring TOML quoting:
/// `relay.routes."remote.test"` is `["relay", "routes", "remote.test"]`.
pub fn parse_key(key: &str) -> Result<Vec<String>, ConfigError> {
    let bad = |message: String| ConfigError::BadKey {
        key: key.to_owned(),
        message,
    };
    if key.trim().is_empty() {
        return Err(bad("the key is empty".to_owned()));
    }
    let parsed = Key::parse(key).map_err(|e| bad(e.message().to_owned()))?;
    Ok(parsed.iter().map(|k| k.get().to_owned()).collect())
}

/// Join segments into a dotted key, quoting those that need it.
pub fn format_key<S: AsRef<str>>(segments: &[S]) -> String {
    segments
        .iter()
        .map(|s| Key::new(s.as_ref()).to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// The candidates closest to `key`, best first: small edit distance, or the
/// same last segment in another table (`hostname` -> `server.hostname`).
pub(crate) fn close_matches(key: &str, candidates: &[String]) -> Vec<String> {
    let last = key.rsplit('.').next().unwrap_or(key);
    let limit = (key.chars().count() / 4).max(2);
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .filter_map(|c| {
            let d = distance(key, c);
            let c_last = c.rsplit('.').next().unwrap_or(c);
            if d <= limit {
                Some((d, c))
            } else if c_last == last || distance(last, c_last) <= 1 {
                Some((limit + 1, c))
            } else {
                None
            }
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, c)| c.clone()).collect()
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_key_segment_with_a_dot_is_one_segment() {
        assert_eq!(
            parse_key(r#"relay.routes."remote.test""#).unwrap(),
            ["relay", "routes", "remote.test"]
        );
        assert_eq!(
            format_key(&["relay", "routes", "remote.test"]),
            r#"relay.routes."remote.test""#
        );
    }

    #[test]
    fn keys_that_are_not_dotted_paths_are_refused() {
        for bad in ["", "  ", "server..hostname", "server.", "a b", "[x]"] {
            assert!(
                matches!(parse_key(bad), Err(ConfigError::BadKey { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn close_matches_find_typos_and_misplaced_keys() {
        let keys = vec![
            "server.hostname".to_owned(),
            "server.user".to_owned(),
            "smtp.banner".to_owned(),
        ];
        assert_eq!(close_matches("server.hostnmae", &keys), ["server.hostname"]);
        assert_eq!(close_matches("hostname", &keys), ["server.hostname"]);
        assert!(close_matches("zzz.qqq", &keys).is_empty());
    }
}
