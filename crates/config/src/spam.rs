//! `[spam]`: the scoring filter of the mx role (Rspamd's job): its
//! thresholds, the marking of accepted mail, the URI lists and the weights
//! that replace the defaults of its symbols.
//!
//! The file's shape only; the filter (`havre-filter`) knows the symbols and
//! refuses a weight for a symbol it does not have.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::dnsbl::DnsblSite;
use crate::values::{Duration, Size};

/// A score (points of the filter): a finite number, written as a TOML
/// float or integer (`15`, `5.5`, `-0.2`).
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub struct Points(pub f64);

/// Scores are compared as numbers; the loader refuses NaN and infinities,
/// so equality is an equivalence on every value a configuration holds.
impl Eq for Points {}

impl Points {
    pub const fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Points {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

const POINTS_EXPECTED: &str = "a number of points like 5 or 5.5";

impl<'de> Deserialize<'de> for Points {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Points;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(POINTS_EXPECTED)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Points, E> {
                if v.is_finite() {
                    Ok(Points(v))
                } else {
                    Err(E::custom(format!("expected {POINTS_EXPECTED}, found {v}")))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Points, E> {
                Ok(Points(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Points, E> {
                Ok(Points(v as f64))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `[spam]`. The defaults are Rspamd's actions (reject 15, add header 6,
/// greylist 4) and the seeds' marking (above 5 `[SPAM] ` before the
/// subject and `X-Spam-Status: HIGH`, 4 to 5 MEDIUM, 3 to 4 LOW).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spam {
    /// Score mail at the end of DATA on the mx role.
    pub enabled: bool,
    /// Also score mail of authenticated users on the submission role.
    pub scan_submission: bool,
    /// Bigger messages are not scored (a symbol says so).
    pub max_size: Size,
    /// From this score the message is refused (554 5.7.1).
    pub reject: Points,
    /// From this score the message gets `X-Spam: Yes`.
    pub add_header: Points,
    /// From this score (below add_header) the message is deferred once
    /// (451 4.7.1), then accepted when the same message comes back.
    pub greylist: Points,
    /// Above this score the message goes into the recipient's Junk folder.
    pub junk_above: Points,
    /// Above this score `subject_tag` is put before the subject and the
    /// level is HIGH.
    pub level_high: Points,
    /// From this score (up to level_high) the level is MEDIUM.
    pub level_medium: Points,
    /// From this score (below level_medium) the level is LOW.
    pub level_low: Points,
    /// Put before the subject of mail above level_high ("" = none).
    pub subject_tag: String,
    /// DNS lists of domains for the hosts of the URLs of a message.
    pub uribl: Vec<DnsblSite>,
    /// At most this many URL hosts are looked up per message.
    pub uribl_max_hosts: u32,
    /// The DNS lookups of one message (lists, URI lists) stop after this.
    pub dns_time_limit: Duration,
    /// Symbol name -> weight, replacing the default weight.
    pub weights: BTreeMap<String, Points>,
    /// Learn spam from what users move into their Junk folder over IMAP,
    /// ham from what they move out of it (Dovecot's imapsieve convention).
    pub learn_from_junk: bool,
}

impl Default for Spam {
    fn default() -> Self {
        Self {
            enabled: true,
            scan_submission: false,
            max_size: Size(10 << 20),
            reject: Points(15.0),
            add_header: Points(6.0),
            greylist: Points(4.0),
            junk_above: Points(5.0),
            level_high: Points(5.0),
            level_medium: Points(4.0),
            level_low: Points(3.0),
            subject_tag: "[SPAM] ".into(),
            uribl: Vec::new(),
            uribl_max_hosts: 20,
            dns_time_limit: Duration::from_secs(5),
            weights: BTreeMap::new(),
            learn_from_junk: true,
        }
    }
}
