//! Value types with an operator-friendly spelling: [`Size`] ("25M") and
//! [`Duration`] ("5m").
//!
//! Both accept a bare integer (bytes, seconds) or a string with a unit, and
//! print back the shortest exact form, so `show` never displays
//! `26214400` where the operator wrote `"25M"`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A value that could not be understood, with what was expected instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, found {found}")]
pub struct ValueError {
    /// What a valid value looks like, e.g. `a size like "25M" or a number of bytes`.
    pub expected: &'static str,
    /// The offending input, rendered as TOML (strings are quoted).
    pub found: String,
}

/// Render a string the way TOML would write it (quoted, escaped).
pub(crate) fn quoted(s: &str) -> String {
    toml_edit::Value::from(s).to_string()
}

/// Split `"25 M"` into `(25, "m")`: digits, then a lower-cased unit.
fn split_number(s: &str) -> Option<(u64, String)> {
    let s = s.trim();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(end);
    if digits.is_empty() {
        return None;
    }
    let n = digits.parse::<u64>().ok()?;
    Some((n, unit.trim().to_ascii_lowercase()))
}

/// An amount of bytes, written `"25M"`, `"512k"`, `"10MB"`, `"1G"` or as a bare
/// number of bytes. K, M, G and T are powers of 1024.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(pub u64);

const SIZE_EXPECTED: &str = r#"a size like "25M" or a number of bytes"#;
const SIZE_UNITS: [(u64, &str); 4] = [
    (1 << 40, "T"),
    (1 << 30, "G"),
    (1 << 20, "M"),
    (1 << 10, "K"),
];

impl Size {
    /// The number of bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }

    fn unit_multiplier(unit: &str) -> Option<u64> {
        Some(match unit {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            _ => return None,
        })
    }

    fn error(found: String) -> ValueError {
        ValueError {
            expected: SIZE_EXPECTED,
            found,
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 != 0 {
            for (mult, unit) in SIZE_UNITS {
                if self.0.is_multiple_of(mult) {
                    return write!(f, "{}{unit}", self.0 / mult);
                }
            }
        }
        write!(f, "{}", self.0)
    }
}

impl FromStr for Size {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || Self::error(quoted(s));
        let (n, unit) = split_number(s).ok_or_else(err)?;
        let mult = Self::unit_multiplier(&unit).ok_or_else(err)?;
        n.checked_mul(mult).map(Size).ok_or_else(err)
    }
}

impl From<u64> for Size {
    fn from(bytes: u64) -> Self {
        Self(bytes)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.to_string();
        // A bare byte count stays an integer when TOML can hold it.
        match text.parse::<i64>() {
            Ok(n) => serializer.serialize_i64(n),
            Err(_) => serializer.serialize_str(&text),
        }
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SIZE_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom(Size::error(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A length of time, written `"30s"`, `"5m"`, `"4h"`, `"5d"`, `"1w"` (also
/// `"ms"`, `"us"`, `"ns"`) or as a bare number of seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

const DURATION_EXPECTED: &str = r#"a duration like "30s", "5m", "4h", "5d" or a number of seconds"#;
const NANOS_PER_SEC: u128 = 1_000_000_000;
const DURATION_UNITS: [(u128, &str); 8] = [
    (604_800 * NANOS_PER_SEC, "w"),
    (86_400 * NANOS_PER_SEC, "d"),
    (3_600 * NANOS_PER_SEC, "h"),
    (60 * NANOS_PER_SEC, "m"),
    (NANOS_PER_SEC, "s"),
    (1_000_000, "ms"),
    (1_000, "us"),
    (1, "ns"),
];

impl Duration {
    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// The standard library duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }

    fn error(found: String) -> ValueError {
        ValueError {
            expected: DURATION_EXPECTED,
            found,
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        for (mult, unit) in DURATION_UNITS {
            if nanos.is_multiple_of(mult) {
                return write!(f, "{}{unit}", nanos / mult);
            }
        }
        write!(f, "{nanos}ns")
    }
}

impl FromStr for Duration {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use std::time::Duration as D;
        let err = || Self::error(quoted(s));
        let (n, unit) = split_number(s).ok_or_else(err)?;
        let secs = |mult: u64| n.checked_mul(mult).map(D::from_secs);
        let d = match unit.as_str() {
            "" | "s" | "sec" | "secs" => secs(1),
            "m" | "min" | "mins" => secs(60),
            "h" => secs(3_600),
            "d" => secs(86_400),
            "w" => secs(604_800),
            "ms" => Some(D::from_millis(n)),
            "us" => Some(D::from_micros(n)),
            "ns" => Some(D::from_nanos(n)),
            _ => None,
        };
        d.map(Duration).ok_or_else(err)
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Self(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DURATION_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_secs)
                    .map_err(|_| E::custom(Duration::error(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_the_usual_spellings() {
        for (text, bytes) in [
            ("25M", 25 << 20),
            ("512k", 512 << 10),
            ("10MB", 10 << 20),
            ("1G", 1 << 30),
            ("1048576", 1 << 20),
            ("2 GiB", 2 << 30),
            ("0", 0),
        ] {
            assert_eq!(text.parse::<Size>(), Ok(Size(bytes)), "{text}");
        }
    }

    #[test]
    fn sizes_round_trip_through_their_shortest_form() {
        for (bytes, text) in [
            (25 << 20, "25M"),
            (512 << 10, "512K"),
            (1 << 30, "1G"),
            (1000, "1000"),
            (1536 << 10, "1536K"),
            (0, "0"),
        ] {
            assert_eq!(Size(bytes).to_string(), text);
            assert_eq!(text.parse::<Size>(), Ok(Size(bytes)));
        }
    }

    #[test]
    fn a_size_that_makes_no_sense_says_what_was_expected() {
        for bad in [
            "lots",
            "",
            "M",
            "-1",
            "25X",
            "1.5M",
            "99999999999999999999",
            "18446744073709551615G",
        ] {
            let err = bad.parse::<Size>().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    r#"expected a size like "25M" or a number of bytes, found {}"#,
                    quoted(bad)
                )
            );
        }
    }

    #[test]
    fn durations_accept_the_usual_spellings() {
        for (text, secs) in [
            ("30s", 30),
            ("5m", 300),
            ("4h", 14_400),
            ("5d", 432_000),
            ("1w", 604_800),
            ("90", 90),
        ] {
            assert_eq!(
                text.parse::<Duration>(),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        assert_eq!("250ms".parse::<Duration>().unwrap().get().as_millis(), 250);
    }

    #[test]
    fn durations_round_trip_through_their_shortest_form() {
        for (secs, text) in [
            (300, "5m"),
            (3_600, "1h"),
            (432_000, "5d"),
            (90, "90s"),
            (0, "0s"),
            (1_209_600, "2w"),
        ] {
            assert_eq!(Duration::from_secs(secs).to_string(), text);
            assert_eq!(text.parse::<Duration>(), Ok(Duration::from_secs(secs)));
        }
        let d = Duration(std::time::Duration::from_millis(1500));
        assert_eq!(d.to_string(), "1500ms");
        assert_eq!(d.to_string().parse::<Duration>(), Ok(d));
    }

    #[test]
    fn a_duration_that_makes_no_sense_says_what_was_expected() {
        for bad in [
            "soon",
            "5y",
            "m5",
            "-3s",
            "99999999999999999999w",
            "30000000000000000w",
        ] {
            let err = bad.parse::<Duration>().unwrap_err();
            assert!(
                err.to_string().starts_with("expected a duration like"),
                "{bad}: {err}"
            );
        }
    }
}
