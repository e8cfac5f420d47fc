//! `date` (`1-Feb-1994`, used by SEARCH) and `date-time`
//! (`"01-Feb-1994 12:00:00 +0100"`, INTERNALDATE and APPEND), with the small
//! civil-calendar arithmetic to and from Unix time (proleptic Gregorian).

use std::fmt;

use crate::error::ParseError;
use crate::lexer::{Cursor, PResult};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A calendar day, as SEARCH BEFORE/ON/SINCE use it (no time, no zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    /// 1 ..= 12
    pub month: u8,
    /// 1 ..= 31
    pub day: u8,
}

/// A moment with the zone it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    pub date: Date,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Offset from UTC in minutes (`+0100` is 60).
    pub zone_minutes: i16,
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u8, d as u8)
}

impl Date {
    /// A valid calendar date, or `None`.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        (day >= 1 && day <= days_in_month(i64::from(year), month)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(&self) -> i64 {
        days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        )
    }

    /// The date of a day number from [`Date::days_since_epoch`]; `None`
    /// outside the years 0 ..= 9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        if !(-719_528..=2_932_896).contains(&days) {
            return None;
        }
        let (y, m, d) = civil_from_days(days);
        Some(Date {
            year: u16::try_from(y).ok()?,
            month: m,
            day: d,
        })
    }

    /// Midnight UTC of this day, as a Unix timestamp.
    pub fn to_unix(&self) -> i64 {
        self.days_since_epoch() * 86_400
    }

    /// The calendar day of a Unix timestamp seen from a zone `zone_minutes`
    /// east of UTC.
    pub fn from_unix(ts: i64, zone_minutes: i16) -> Option<Date> {
        let local = ts.checked_add(i64::from(zone_minutes) * 60)?;
        Date::from_days_since_epoch(local.div_euclid(86_400))
    }

    /// `date`: `date-text` or `"date-text"`.
    pub(crate) fn parse(c: &mut Cursor<'_>) -> PResult<Date> {
        let quoted = c.eat(b'"');
        let date = date_text(c, false)?;
        if quoted {
            c.expect(b'"', "unterminated date")?;
        }
        Ok(date)
    }

    /// Parses `1-Feb-1994` (optionally quoted).
    pub fn parse_str(s: &str) -> Result<Date, ParseError> {
        let mut c = Cursor::new(s.as_bytes());
        let d = Date::parse(&mut c)?;
        if !c.rest().is_empty() {
            return Err(ParseError::syntax("bad date"));
        }
        Ok(d)
    }
}

fn digits_value(c: &mut Cursor<'_>, min: usize, max: usize) -> PResult<u32> {
    let mut n = 0u32;
    let mut count = 0;
    while count < max {
        match c.peek() {
            Some(b) if b.is_ascii_digit() => {
                n = n * 10 + u32::from(b - b'0');
                c.eat(b);
                count += 1;
            }
            _ => break,
        }
    }
    if count < min {
        return Err(ParseError::syntax("bad date"));
    }
    Ok(n)
}

/// `date-day "-" date-month "-" date-year`; with `fixed`, a leading space
/// may stand for a tens digit (`date-day-fixed`).
fn date_text(c: &mut Cursor<'_>, fixed: bool) -> PResult<Date> {
    if fixed {
        c.eat(b' ');
    }
    let day = digits_value(c, 1, 2)?;
    c.expect(b'-', "bad date")?;
    let rest = c.rest();
    let month = MONTHS
        .iter()
        .position(|m| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(m.as_bytes()))
        .ok_or_else(|| ParseError::syntax("bad month in date"))?;
    c.eat_ci(MONTHS[month]);
    c.expect(b'-', "bad date")?;
    let year = digits_value(c, 4, 4)?;
    Date::new(year as u16, month as u8 + 1, day as u8)
        .ok_or_else(|| ParseError::syntax("no such date"))
}

impl DateTime {
    /// Seconds since the Unix epoch.
    pub fn to_unix(&self) -> i64 {
        self.date.to_unix()
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.zone_minutes) * 60
    }

    /// The moment `ts` written in the zone `zone_minutes` east of UTC;
    /// `None` outside the years 0 ..= 9999.
    pub fn from_unix(ts: i64, zone_minutes: i16) -> Option<DateTime> {
        let local = ts.checked_add(i64::from(zone_minutes) * 60)?;
        let date = Date::from_days_since_epoch(local.div_euclid(86_400))?;
        let secs = local.rem_euclid(86_400);
        Some(DateTime {
            date,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
            zone_minutes,
        })
    }

    /// `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"` (quotes required).
    pub(crate) fn parse(c: &mut Cursor<'_>) -> PResult<DateTime> {
        c.expect(b'"', "expected a quoted date-time")?;
        let date = date_text(c, true)?;
        c.expect(b' ', "bad date-time")?;
        let hour = digits_value(c, 2, 2)?;
        c.expect(b':', "bad date-time")?;
        let minute = digits_value(c, 2, 2)?;
        c.expect(b':', "bad date-time")?;
        let second = digits_value(c, 2, 2)?;
        c.expect(b' ', "bad date-time")?;
        let sign: i16 = if c.eat(b'+') {
            1
        } else if c.eat(b'-') {
            -1
        } else {
            return Err(ParseError::syntax("bad zone in date-time"));
        };
        let zh = digits_value(c, 2, 2)?;
        let zm = digits_value(c, 2, 2)?;
        c.expect(b'"', "bad date-time")?;
        // 60 seconds: a leap second, accepted as RFC 5322 does.
        if hour > 23 || minute > 59 || second > 60 || zh > 23 || zm > 59 {
            return Err(ParseError::syntax("bad time in date-time"));
        }
        Ok(DateTime {
            date,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            zone_minutes: sign * (zh * 60 + zm) as i16,
        })
    }

    /// Parses `"01-Feb-1994 12:00:00 +0100"` (with its quotes).
    pub fn parse_str(s: &str) -> Result<DateTime, ParseError> {
        let mut c = Cursor::new(s.as_bytes());
        let d = DateTime::parse(&mut c)?;
        if !c.rest().is_empty() {
            return Err(ParseError::syntax("bad date-time"));
        }
        Ok(d)
    }
}

impl fmt::Display for Date {
    /// `1-Feb-1994`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let month = MONTHS
            .get(usize::from(self.month).wrapping_sub(1))
            .unwrap_or(&"Jan");
        write!(f, "{}-{}-{:04}", self.day, month, self.year)
    }
}

impl fmt::Display for DateTime {
    /// `01-Feb-1994 12:00:00 +0100`, without quotes (the response writer
    /// adds them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let month = MONTHS
            .get(usize::from(self.date.month).wrapping_sub(1))
            .unwrap_or(&"Jan");
        let sign = if self.zone_minutes < 0 { '-' } else { '+' };
        let zone = self.zone_minutes.unsigned_abs();
        write!(
            f,
            "{:02}-{}-{:04} {:02}:{:02}:{:02} {}{:02}{:02}",
            self.date.day,
            month,
            self.date.year,
            self.hour,
            self.minute,
            self.second,
            sign,
            zone / 60,
            zone % 60
        )
    }
}
