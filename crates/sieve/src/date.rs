//! Dates for the `date` and `currentdate` tests (RFC 5260): a point in
//! time with the zone it is seen in, and its date parts.

use mail_parser::DateTime as Rfc5322Date;

/// A point in time (seconds since 1970 UTC) seen in a zone (minutes east of UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zoned {
    pub unix: i64,
    pub offset_minutes: i32,
}

impl Zoned {
    /// The same point seen in another zone.
    pub(crate) fn in_zone(self, offset_minutes: i32) -> Zoned {
        Zoned {
            unix: self.unix,
            offset_minutes,
        }
    }

    /// Parses a date as RFC 5322 writes them (a `Date:` field), in its own zone.
    pub(crate) fn parse(text: &str) -> Option<Zoned> {
        let date = Rfc5322Date::parse_rfc822(text.trim())?;
        if !(1..=12).contains(&date.month)
            || !(1..=31).contains(&date.day)
            || date.hour > 23
            || date.minute > 59
            || date.second > 60
        {
            return None;
        }
        let offset = i32::from(date.tz_hour) * 60 + i32::from(date.tz_minute);
        let offset = if date.tz_before_gmt { -offset } else { offset };
        let days = days_from_civil(
            i64::from(date.year),
            i64::from(date.month),
            i64::from(date.day),
        );
        let local = days * 86_400
            + i64::from(date.hour) * 3_600
            + i64::from(date.minute) * 60
            + i64::from(date.second);
        Some(Zoned {
            unix: local - i64::from(offset) * 60,
            offset_minutes: offset,
        })
    }

    fn fields(self) -> Fields {
        let local = self.unix + i64::from(self.offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let seconds = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Fields {
            days,
            year,
            month,
            day,
            hour: seconds / 3_600,
            minute: seconds % 3_600 / 60,
            second: seconds % 60,
        }
    }

    /// One date part (RFC 5260 §4.2).
    pub(crate) fn part(self, part: crate::program::DatePart) -> String {
        use crate::program::DatePart as P;
        let f = self.fields();
        match part {
            P::Year => format!("{:04}", f.year),
            P::Month => format!("{:02}", f.month),
            P::Day => format!("{:02}", f.day),
            P::Date => format!("{:04}-{:02}-{:02}", f.year, f.month, f.day),
            // Modified Julian Day: days since 1858-11-17.
            P::Julian => (f.days + 40_587).to_string(),
            P::Hour => format!("{:02}", f.hour),
            P::Minute => format!("{:02}", f.minute),
            P::Second => format!("{:02}", f.second),
            P::Time => format!("{:02}:{:02}:{:02}", f.hour, f.minute, f.second),
            P::Iso8601 => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
                f.year,
                f.month,
                f.day,
                f.hour,
                f.minute,
                f.second,
                self.zone(true)
            ),
            P::Std11 => format!(
                "{}, {:02} {} {:04} {:02}:{:02}:{:02} {}",
                WEEKDAYS[f.weekday()],
                f.day,
                MONTHS[(f.month - 1) as usize],
                f.year,
                f.hour,
                f.minute,
                f.second,
                self.zone(false)
            ),
            P::Zone => self.zone(false),
            P::Weekday => f.weekday().to_string(),
        }
    }

    /// `+hhmm`, or `+hh:mm` for ISO 8601.
    fn zone(self, colon: bool) -> String {
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let minutes = self.offset_minutes.unsigned_abs();
        let separator = if colon { ":" } else { "" };
        format!("{sign}{:02}{separator}{:02}", minutes / 60, minutes % 60)
    }
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

struct Fields {
    days: i64,
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

impl Fields {
    /// 0 for Sunday; 1970-01-01 was a Thursday.
    fn weekday(&self) -> usize {
        (self.days + 4).rem_euclid(7) as usize
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::DatePart;

    #[test]
    fn parts_of_a_date_header() {
        let date = Zoned::parse("Tue, 1 Apr 1997 09:06:31 -0800 (PST)").unwrap();
        assert_eq!(date.offset_minutes, -480);
        assert_eq!(date.part(DatePart::Date), "1997-04-01");
        assert_eq!(date.part(DatePart::Time), "09:06:31");
        assert_eq!(date.part(DatePart::Zone), "-0800");
        assert_eq!(date.part(DatePart::Weekday), "2");
        assert_eq!(date.part(DatePart::Iso8601), "1997-04-01T09:06:31-08:00");
        assert_eq!(
            date.part(DatePart::Std11),
            "Tue, 01 Apr 1997 09:06:31 -0800"
        );
        let utc = date.in_zone(0);
        assert_eq!(utc.part(DatePart::Time), "17:06:31");
        assert_eq!(utc.part(DatePart::Year), "1997");
        let east = date.in_zone(13 * 60);
        assert_eq!(east.part(DatePart::Date), "1997-04-02");
        assert_eq!(east.part(DatePart::Hour), "06");
    }

    #[test]
    fn julian_days_are_modified_julian_days() {
        // RFC 5260's example: 2008-11-17 is MJD 54787.
        let date = Zoned::parse("Mon, 17 Nov 2008 12:00:00 +0000").unwrap();
        assert_eq!(date.part(DatePart::Julian), "54787");
        assert_eq!(
            Zoned {
                unix: 0,
                offset_minutes: 0
            }
            .part(DatePart::Julian),
            "40587"
        );
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 59, 60, 365, 11_016, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn garbage_is_no_date() {
        assert_eq!(Zoned::parse("not a date"), None);
        assert_eq!(Zoned::parse(""), None);
    }
}
