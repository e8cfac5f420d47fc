//! Date: header values as Unix time (mail-parser's lenient RFC 5322 date
//! parser; a missing zone is taken as +0000).

use mail_parser::DateTime;

/// Seconds since the epoch (UTC) of a Date header value, if it parses.
pub(crate) fn parse_date(value: &[u8]) -> Option<i64> {
    let text: String = String::from_utf8_lossy(value)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let parsed = DateTime::parse_rfc822(&text)
        .filter(DateTime::is_valid)
        .or_else(|| DateTime::parse_rfc822(&format!("{text} +0000")).filter(DateTime::is_valid))?;
    Some(parsed.to_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_with_zones_comments_and_without_zone() {
        assert_eq!(
            parse_date(b"Sat, 24 Mar 2017 23:00:00 +0200"),
            Some(1490389200)
        );
        assert_eq!(
            parse_date(b"24 Mar 2017 21:00:00 GMT (UTC)"),
            Some(1490389200)
        );
        assert_eq!(parse_date(b"Sat, 24 Mar 2017 21:00:00"), Some(1490389200));
        assert_eq!(parse_date(b"yesterday"), None);
    }
}
