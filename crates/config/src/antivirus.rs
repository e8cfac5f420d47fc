//! `[antivirus]`: messages scanned by clamd at the end of DATA.
//!
//! The file's shape only; the check itself (`havre-antivirus`) gets its
//! own settings, built by the binary from these.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::values::{Duration, Size, ValueError, quoted};

/// `[antivirus]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Antivirus {
    /// Where clamd listens; off by default.
    pub clamd: ClamdAddress,
    /// What a message gets when clamd does not answer.
    pub on_error: OnScanError,
    /// The longest a scan may take, connection included.
    pub timeout: Duration,
    /// Bytes of a message sent to clamd at most.
    pub max_size: Size,
}

impl Default for Antivirus {
    fn default() -> Self {
        Self {
            clamd: ClamdAddress::Off,
            on_error: OnScanError::Defer,
            timeout: Duration::from_secs(60),
            // clamd's own StreamMaxLength in Debian's clamd.conf, and our
            // smtp.message_size_limit.
            max_size: Size(25 << 20),
        }
    }
}

/// `antivirus.on_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnScanError {
    /// 451 4.7.0: the client tries again later.
    Defer,
    /// Accepted, marked `X-Virus-Scan: not scanned (...)`.
    Accept,
}

const CLAMD_EXPECTED: &str = r#""" (off), clamd's TCP "host:port" like "127.0.0.1:3310", or its unix socket like "/run/clamav/clamd.ctl""#;

/// `antivirus.clamd`: `""`, `host:port` or an absolute socket path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum ClamdAddress {
    /// No scanning.
    #[default]
    Off,
    /// `host:port`, the host a name, an IPv4 address or `[IPv6]`.
    Tcp(String),
    /// A unix socket (clamd's `LocalSocket`).
    Unix(PathBuf),
}

impl FromStr for ClamdAddress {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<ClamdAddress, ValueError> {
        let err = || ValueError {
            expected: CLAMD_EXPECTED,
            found: quoted(text),
        };
        let s = text.trim();
        if s.is_empty() {
            return Ok(ClamdAddress::Off);
        }
        if s.starts_with('/') {
            return Ok(ClamdAddress::Unix(PathBuf::from(s)));
        }
        let (host, port) = s.rsplit_once(':').ok_or_else(err)?;
        let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
        let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => {
                !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
            }
        };
        if port_ok && host_ok {
            Ok(ClamdAddress::Tcp(s.to_owned()))
        } else {
            Err(err())
        }
    }
}

impl fmt::Display for ClamdAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClamdAddress::Off => Ok(()),
            ClamdAddress::Tcp(address) => f.write_str(address),
            ClamdAddress::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

impl Serialize for ClamdAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ClamdAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ClamdAddress;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(CLAMD_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ClamdAddress, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_is_off_a_tcp_address_or_a_socket_path() {
        assert_eq!("".parse(), Ok(ClamdAddress::Off));
        assert_eq!(
            "127.0.0.1:3310".parse(),
            Ok(ClamdAddress::Tcp("127.0.0.1:3310".into()))
        );
        assert_eq!(
            " clamav.internal:3310 ".parse(),
            Ok(ClamdAddress::Tcp("clamav.internal:3310".into()))
        );
        assert_eq!(
            "[::1]:3310".parse(),
            Ok(ClamdAddress::Tcp("[::1]:3310".into()))
        );
        assert_eq!(
            "/run/clamav/clamd.ctl".parse(),
            Ok(ClamdAddress::Unix("/run/clamav/clamd.ctl".into()))
        );
        for text in ["", "127.0.0.1:3310", "[::1]:3310", "/run/clamav/clamd.ctl"] {
            let address: ClamdAddress = text.parse().unwrap();
            assert_eq!(address.to_string(), text);
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_expected() {
        for bad in [
            "127.0.0.1",
            "clamd.ctl",
            "127.0.0.1:0",
            "127.0.0.1:99999",
            ":3310",
            "::1:3310",
            "[nonsense]:3310",
            "clam d:3310",
        ] {
            let err = bad.parse::<ClamdAddress>().unwrap_err();
            assert!(err.to_string().contains("host:port"), "{bad}: {err}");
        }
    }
}
