//! Routes as Postfix transport maps write them, and the route table.
//!
//! ```text
//! smtp:[mx.example.org]:2525   SMTP to that host and port, no MX lookup
//! smtp:[192.0.2.1]             SMTP to that address, port 25
//! smtp:relay.example.org       MX lookup of relay.example.org, port 25
//! smtp:relay.example.org:587   MX lookup of relay.example.org, port 587
//! smtp:  (or nothing)          MX lookup of the recipient's domain
//! lmtp:[127.0.0.1]:24          LMTP to that host and port (port 24 if absent)
//! lmtp:unix:/run/havre/lmtp    LMTP over a Unix socket
//! ```
//!
//! `relay:` is accepted as a synonym of `smtp:` (Postfix's default
//! `relay_transport` is the smtp client under another name).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

/// Where mail for a domain goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// SMTP to `host`; with `mx`, to the MX hosts of `host` instead. `host`
    /// is a name or an IP address (without brackets).
    Smtp { host: String, port: u16, mx: bool },
    /// LMTP over TCP to `host` (never an MX lookup).
    Lmtp { host: String, port: u16 },
    /// LMTP over a Unix-domain socket.
    LmtpUnix { path: PathBuf },
    /// SMTP to the MX hosts of the recipient's domain, on
    /// [`ClientSettings::smtp_port`](crate::ClientSettings::smtp_port).
    Mx,
}

impl Route {
    /// Whether the route speaks LMTP.
    pub fn is_lmtp(&self) -> bool {
        matches!(self, Route::Lmtp { .. } | Route::LmtpUnix { .. })
    }
}

impl fmt::Display for Route {
    /// The route in transport-map syntax (parses back to itself).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Smtp {
                host,
                port,
                mx: true,
            } if *port == 25 => write!(f, "smtp:{host}"),
            Route::Smtp {
                host,
                port,
                mx: true,
            } => write!(f, "smtp:{host}:{port}"),
            Route::Smtp {
                host,
                port,
                mx: false,
            } => write!(f, "smtp:[{host}]:{port}"),
            Route::Lmtp { host, port } => write!(f, "lmtp:[{host}]:{port}"),
            Route::LmtpUnix { path } => write!(f, "lmtp:unix:{}", path.display()),
            Route::Mx => f.write_str("smtp:"),
        }
    }
}

/// A route that does not parse, or a route table key that is not a domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", key.as_ref().map(|k| format!("{}.{k:?}: ", table.as_deref().unwrap_or("routing"))).unwrap_or_default())]
pub struct RouteError {
    /// The table (`routing`) and the key, when the error comes from a
    /// table ([`Routes::from_tables`](crate::Routes::from_tables)).
    pub table: Option<String>,
    pub key: Option<String>,
    /// What is wrong, with the text that was given.
    pub reason: String,
}

const EXPECTED: &str =
    "expected smtp:[host]:port, smtp:host[:port], smtp:, lmtp:[host]:port or lmtp:unix:/path";

fn error(text: &str, detail: impl fmt::Display) -> RouteError {
    RouteError {
        table: None,
        key: None,
        reason: format!("{EXPECTED}, got {text:?} ({detail})"),
    }
}

/// Parses one route. Surrounding white space is ignored; an empty text is
/// [`Route::Mx`].
pub fn parse_route(text: &str) -> Result<Route, RouteError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Route::Mx);
    }
    let Some((transport, rest)) = trimmed.split_once(':') else {
        return Err(error(text, "no transport name before ':'"));
    };
    let lmtp = match transport.to_ascii_lowercase().as_str() {
        "smtp" | "relay" => false,
        "lmtp" => true,
        other => return Err(error(text, format!("unknown transport {other:?}"))),
    };
    if rest.is_empty() {
        return if lmtp {
            Err(error(text, "lmtp needs a host or a socket path"))
        } else {
            Ok(Route::Mx)
        };
    }
    if lmtp && let Some(path) = rest.strip_prefix("unix:") {
        if !path.starts_with('/') {
            return Err(error(text, "the socket path must be absolute"));
        }
        return Ok(Route::LmtpUnix {
            path: PathBuf::from(path),
        });
    }
    let default_port = if lmtp { 24 } else { 25 };
    let (host, port, literal) = if let Some(inner) = rest.strip_prefix('[') {
        let Some((host, after)) = inner.split_once(']') else {
            return Err(error(text, "missing ']'"));
        };
        let port = match after {
            "" => default_port,
            _ => match after.strip_prefix(':') {
                Some(port) => parse_port(text, port)?,
                None => return Err(error(text, "expected ':port' after ']'")),
            },
        };
        // Postfix writes IPv6 literals as [ipv6:2001:db8::1].
        let host = match host.get(..5) {
            Some(prefix) if prefix.eq_ignore_ascii_case("ipv6:") => &host[5..],
            _ => host,
        };
        (host, port, true)
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, parse_port(text, port)?, false),
            None => (rest, default_port, false),
        }
    };
    if host.is_empty() {
        return Err(error(text, "empty host"));
    }
    let is_ip = host.parse::<IpAddr>().is_ok();
    if !is_ip && !is_host_name(host) {
        return Err(error(text, format!("{host:?} is not a host name")));
    }
    if is_ip && !literal {
        return Err(error(text, "an IP address must be written in brackets"));
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    Ok(if lmtp {
        Route::Lmtp { host, port }
    } else {
        Route::Smtp {
            host,
            port,
            mx: !literal,
        }
    })
}

fn parse_port(text: &str, port: &str) -> Result<u16, RouteError> {
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(error(text, format!("{port:?} is not a port number"))),
    }
}

/// Letters, digits, '-', '_' and dots between non-empty labels (a final dot
/// is allowed).
pub(crate) fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Routes;
    use std::collections::BTreeMap;

    fn smtp(host: &str, port: u16, mx: bool) -> Route {
        Route::Smtp {
            host: host.into(),
            port,
            mx,
        }
    }

    #[test]
    fn route_parsing_smtp_brackets_port_and_mx_forms() {
        assert_eq!(
            parse_route("smtp:[mx.example.org]:2525"),
            Ok(smtp("mx.example.org", 2525, false))
        );
        assert_eq!(
            parse_route("smtp:[192.0.2.1]"),
            Ok(smtp("192.0.2.1", 25, false))
        );
        assert_eq!(
            parse_route("smtp:[ipv6:2001:db8::1]:26"),
            Ok(smtp("2001:db8::1", 26, false))
        );
        assert_eq!(
            parse_route("smtp:[2001:db8::1]"),
            Ok(smtp("2001:db8::1", 25, false))
        );
        assert_eq!(
            parse_route("smtp:Relay.Example.org"),
            Ok(smtp("relay.example.org", 25, true))
        );
        assert_eq!(
            parse_route(" smtp:relay.example.org:587 "),
            Ok(smtp("relay.example.org", 587, true))
        );
        assert_eq!(
            parse_route("relay:relay.example.org"),
            Ok(smtp("relay.example.org", 25, true))
        );
        assert_eq!(parse_route("smtp:"), Ok(Route::Mx));
        assert_eq!(parse_route(""), Ok(Route::Mx));
    }

    #[test]
    fn route_parsing_lmtp_tcp_and_unix() {
        assert_eq!(
            parse_route("lmtp:[127.0.0.1]:24"),
            Ok(Route::Lmtp {
                host: "127.0.0.1".into(),
                port: 24
            })
        );
        assert_eq!(
            parse_route("lmtp:mailstore.internal"),
            Ok(Route::Lmtp {
                host: "mailstore.internal".into(),
                port: 24
            })
        );
        assert_eq!(
            parse_route("lmtp:unix:/run/havre/lmtp"),
            Ok(Route::LmtpUnix {
                path: "/run/havre/lmtp".into()
            })
        );
    }

    #[test]
    fn route_parsing_errors_say_what_was_expected() {
        for bad in [
            "smtp:[mx.example.org",
            "smtp:[mx.example.org]x",
            "smtp:[mx.example.org]:0",
            "smtp:[mx.example.org]:99999",
            "smtp:mx.example.org:smtp",
            "smtp:192.0.2.1",
            "smtp:bad host",
            "smtp:a..b",
            "esmtp:[x]:25",
            "mx.example.org",
            "lmtp:",
            "lmtp:unix:relative/path",
        ] {
            let err = parse_route(bad).expect_err(bad);
            let text = err.to_string();
            assert!(text.starts_with("expected smtp:[host]:port"), "{text}");
            assert!(text.contains(&format!("{bad:?}")), "{text}");
        }
    }

    #[test]
    fn route_display_parses_back() {
        for text in [
            "smtp:[mx.example.org]:2525",
            "smtp:relay.example.org",
            "smtp:relay.example.org:587",
            "smtp:",
            "lmtp:[127.0.0.1]:24",
            "lmtp:unix:/run/lmtp",
        ] {
            let route = parse_route(text).unwrap();
            assert_eq!(route.to_string(), text);
            assert_eq!(parse_route(&route.to_string()), Ok(route));
        }
    }

    fn table(entries: &[(&str, &str)]) -> Result<Routes, RouteError> {
        let map: BTreeMap<String, String> = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Routes::new(&map)
    }

    #[test]
    fn route_table_exact_then_parents_then_star() {
        let routes = table(&[
            ("example.org", "smtp:[exact.test]:25"),
            (".example.org", "smtp:[parent.test]:25"),
            (".b.example.org", "smtp:[closer.test]:25"),
            ("*", "smtp:[star.test]:25"),
        ])
        .unwrap();
        let host = |domain: &str| match routes.route_for(domain) {
            Route::Smtp { host, .. } => host,
            other => panic!("{other:?}"),
        };
        assert_eq!(host("example.org"), "exact.test");
        assert_eq!(host("EXAMPLE.ORG."), "exact.test");
        assert_eq!(host("a.example.org"), "parent.test");
        assert_eq!(host("x.a.example.org"), "parent.test");
        assert_eq!(host("x.b.example.org"), "closer.test");
        assert_eq!(host("b.example.org"), "parent.test");
        assert_eq!(host("other.test"), "star.test");

        let no_star = table(&[(".example.org", "lmtp:[127.0.0.1]:24")]).unwrap();
        assert_eq!(no_star.route_for("example.org"), Route::Mx);
        assert_eq!(no_star.route_for("elsewhere.test"), Route::Mx);
    }

    #[test]
    fn route_table_errors_name_the_key() {
        let err = table(&[("x", "smtp:[a")]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "relay.routes.\"x\": expected smtp:[host]:port, smtp:host[:port], smtp:,"
            ),
            "{err}"
        );
        let err = table(&[("bad key", "smtp:")]).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("bad key"));
        assert_eq!(err.table.as_deref(), Some("relay.routes"));
        let err = table(&[("Example.org", "smtp:"), ("example.org.", "smtp:")]).unwrap_err();
        assert!(err.to_string().contains("the same key as"), "{err}");
    }
}
