//! Date: header values as Unix time (mail-parser's lenient RFC 5322 date
//! parser; a missing zone is taken as +0000).

use mail_parser::DateTime;

/// Seconds since the epoch (UTC) of a Date header value, if it parses.
pub(crate) fn parse_date(value: &[u8]) -> Option<i64> {
    Some(parse(value)?.to_timestamp())
}

/// The day the Date header value names, in its own zone, as days since the
/// epoch: SENTBEFORE/SENTON/SENTSINCE compare it "disregarding time and
/// timezone" (RFC 9051 6.4.4), so `23:30 -0500` on the 1st is the 1st.
pub(crate) fn parse_date_day(value: &[u8]) -> Option<i64> {
    let local = DateTime {
        hour: 0,
        minute: 0,
        second: 0,
        tz_before_gmt: false,
        tz_hour: 0,
        tz_minute: 0,
        ..parse(value)?
    };
    Some(local.to_timestamp().div_euclid(86_400))
}

fn parse(value: &[u8]) -> Option<DateTime> {
    let text: String = String::from_utf8_lossy(value)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    DateTime::parse_rfc822(&text)
        .filter(DateTime::is_valid)
        .or_else(|| DateTime::parse_rfc822(&format!("{text} +0000")).filter(DateTime::is_valid))
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

    #[test]
    fn the_sent_day_is_the_one_written_whatever_the_zone() {
        // 2024-01-01 is day 19723.
        assert_eq!(
            parse_date_day(b"Mon, 1 Jan 2024 23:30:00 -0500"),
            Some(19723)
        );
        assert_eq!(
            parse_date_day(b"Mon, 1 Jan 2024 00:30:00 +0900"),
            Some(19723)
        );
        assert_eq!(parse_date_day(b"1 Jan 2024 12:00:00"), Some(19723));
        assert_eq!(parse_date_day(b"never"), None);
    }
}
