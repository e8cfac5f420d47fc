//! What `havre config show` keeps out of its listing: the password of a
//! URL's user (`storage.url`, `state.url`), which a listing pasted into a
//! ticket or a mailing list would give away. `havre config get KEY` still
//! prints it: asking for the key by name is asking for it.

/// The keys whose value is a URL that may carry a password.
const URL_KEYS: &[&str] = &["storage.url", "state.url"];

/// `pairs` (from [`crate::show`]) with each URL's password as `***`.
pub fn hide_secrets(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(key, value)| {
            let value = if URL_KEYS.contains(&key.as_str()) {
                without_password(&value)
            } else {
                value
            };
            (key, value)
        })
        .collect()
}

/// `url` as it may be shown in a listing, a message or a log:
/// `scheme://user:password@host...` as `scheme://user:***@host...`.
pub fn without_password(url: &str) -> String {
    let Some(start) = url.find("://").map(|at| at + 3) else {
        return url.to_string();
    };
    let rest = &url[start..];
    // The user information ends at the last '@' before the path.
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) if colon + 1 < at => {
            format!("{}{}:***{}", &url[..start], &rest[..colon], &rest[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_password_is_hidden_and_the_rest_kept() {
        let shown = hide_secrets(vec![
            (
                "storage.url".into(),
                "\"postgres://havre:s3cr3t@db1:5432,db2:5432/havre?sslmode=require\"".into(),
            ),
            (
                "state.url".into(),
                "\"redis://:hunter2@127.0.0.1:6379/0\"".into(),
            ),
            ("server.hostname".into(), "\"mx:secret@example\"".into()),
        ]);
        assert_eq!(
            shown[0].1,
            "\"postgres://havre:***@db1:5432,db2:5432/havre?sslmode=require\""
        );
        assert_eq!(shown[1].1, "\"redis://:***@127.0.0.1:6379/0\"");
        assert_eq!(shown[2].1, "\"mx:secret@example\"");
        // Without a password, nothing to hide.
        assert_eq!(
            without_password("\"postgres://postgres@127.0.0.1:5432/test\""),
            "\"postgres://postgres@127.0.0.1:5432/test\""
        );
        assert_eq!(without_password("\"\""), "\"\"");
    }
}
