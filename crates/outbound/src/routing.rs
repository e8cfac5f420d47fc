//! The routing table: Postfix's transport maps, sendmail's mailertable.
//!
//! ```text
//! [routing]
//! "lab.example.edu"        = "smtp:[10.1.2.3]:25"    # a lab's own server
//! ".lab.example.edu"       = "smtp:[10.1.2.3]:25"    # and its subdomains
//! "old.example.edu"        = "error:5.1.1 This domain no longer receives mail"
//! "alice@example.edu"      = "lmtp:[10.0.0.7]:24"    # one user elsewhere
//! "noreply@example.edu"    = "discard"
//! "*"                      = "smtp:[smarthost.example.net]:587"
//! ```
//!
//! A recipient's next hop is its address's entry, then its domain's, then
//! the closest `.parent`'s, then `*`. Only an address entry or the exact
//! domain's entry applies to a domain this node serves (its mailboxes):
//! a `*` smarthost or a `.parent` written for other domains never takes
//! the node's own mail away.
//!
//! Next hops: a transport ([`Route`]: `smtp:`, `lmtp:`, `relay:`),
//! `local` (this node's mailboxes), `discard[:text]` (accepted, logged as
//! sent, dropped) and `error:[X.Y.Z ]text` (bounced with that status, or
//! deferred for a 4.X.X one; 5.0.0 without).

use std::collections::BTreeMap;
use std::fmt;

use crate::route::{Route, RouteError, is_host_name, parse_route};

/// Where a recipient goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nexthop {
    /// SMTP or LMTP to a host, or the MX hosts of the recipient's domain.
    Transport(Route),
    /// This node's mailboxes.
    Local,
    /// Dropped, logged as sent with this text.
    Discard(String),
    /// Refused: `status` (`5.1.1`; a `4.X.X` one defers) and the text.
    Error { status: String, text: String },
}

impl fmt::Display for Nexthop {
    /// The next hop in the table's syntax (parses back to itself).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Nexthop::Transport(route) => route.fmt(f),
            Nexthop::Local => f.write_str("local"),
            Nexthop::Discard(text) if text.is_empty() => f.write_str("discard"),
            Nexthop::Discard(text) => write!(f, "discard:{text}"),
            Nexthop::Error { status, text } => write!(f, "error:{status} {text}"),
        }
    }
}

/// Parses one next hop (surrounding white space ignored).
pub fn parse_nexthop(text: &str) -> Result<Nexthop, RouteError> {
    let trimmed = text.trim();
    let (name, rest) = trimmed.split_once(':').unwrap_or((trimmed, ""));
    match name.to_ascii_lowercase().as_str() {
        "local" if rest.trim().is_empty() => Ok(Nexthop::Local),
        "local" => Err(RouteError {
            table: None,
            key: None,
            reason: format!("\"local\" takes nothing after it, got {text:?}"),
        }),
        "discard" => Ok(Nexthop::Discard(rest.trim().to_string())),
        "error" => {
            let rest = rest.trim();
            let (status, text) = match rest.split_once(' ') {
                Some((status, text)) if is_status(status) => (status, text.trim()),
                _ if is_status(rest) => (rest, ""),
                _ => ("5.0.0", rest),
            };
            let text = if text.is_empty() {
                "mail for this address is refused"
            } else {
                text
            };
            Ok(Nexthop::Error {
                status: status.to_string(),
                text: text.to_string(),
            })
        }
        _ => parse_route(text)
            .map(Nexthop::Transport)
            .map_err(|e| RouteError {
                table: None,
                key: None,
                reason: format!("{} (or local, discard[:text], error:X.Y.Z text)", e.reason),
            }),
    }
}

/// An enhanced status code (RFC 3463) whose class is 4 or 5.
fn is_status(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The routing table, from one or more configuration tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    table: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    nexthop: Nexthop,
    /// Where it was written: `routing."lab.example.edu"`.
    source: String,
}

/// A recipient's next hop and the entry that gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed<'r> {
    pub nexthop: &'r Nexthop,
    /// The entry, as the configuration names it: `routing.".example.edu"`.
    pub source: &'r str,
}

impl Routes {
    /// One table, as `relay.routes` was: errors name `relay.routes.KEY`.
    pub fn new(map: &BTreeMap<String, String>) -> Result<Routes, RouteError> {
        Routes::from_tables(&[("relay.routes", map)])
    }

    /// Every `(name, table)`'s entries; a key in two tables is an error.
    /// Keys are compared in lower case, without a trailing dot.
    pub fn from_tables(tables: &[(&str, &BTreeMap<String, String>)]) -> Result<Routes, RouteError> {
        let mut table: BTreeMap<String, Entry> = BTreeMap::new();
        for (name, map) in tables {
            for (key, value) in *map {
                let with_key = |reason: String| RouteError {
                    table: Some(name.to_string()),
                    key: Some(key.clone()),
                    reason,
                };
                let normal = normalize(key);
                if !valid_key(&normal) {
                    return Err(with_key(
                        "expected an address, a domain, \".parent.domain\" or \"*\" as the key"
                            .to_owned(),
                    ));
                }
                let nexthop = parse_nexthop(value).map_err(|e| with_key(e.reason))?;
                let source = format!("{name}.{key:?}");
                if let Some(before) = table.insert(normal, Entry { nexthop, source }) {
                    return Err(with_key(format!(
                        "the same key as {} (keys ignore case and a trailing dot)",
                        before.source
                    )));
                }
            }
        }
        Ok(Routes { table })
    }

    /// The entry for `address` (`local@domain`, any case); `local_domain`
    /// says whether this node serves its domain (then only the address's
    /// entry and the exact domain's apply). `None`: no entry, the default
    /// (this node's mailboxes for its domains, the MX hosts for others).
    pub fn lookup(&self, address: &str, local_domain: bool) -> Option<Routed<'_>> {
        let address = normalize(address);
        let domain = address
            .rsplit_once('@')
            .map_or(address.as_str(), |(_, d)| d);
        let found = self
            .table
            .get(&address)
            .filter(|_| address.contains('@'))
            .or_else(|| self.table.get(domain))
            .or_else(|| {
                if local_domain {
                    return None;
                }
                let mut rest = domain;
                while let Some(dot) = rest.find('.') {
                    let parent = &rest[dot..];
                    if let Some(entry) = self.table.get(parent) {
                        return Some(entry);
                    }
                    rest = &parent[1..];
                }
                self.table.get("*")
            })?;
        Some(Routed {
            nexthop: &found.nexthop,
            source: &found.source,
        })
    }

    /// The transport for mail to `address` at a domain this node does not
    /// serve: its entry's when that is a transport, else the MX hosts.
    pub fn transport_for(&self, address: &str) -> Route {
        match self.lookup(address, false).map(|r| r.nexthop) {
            Some(Nexthop::Transport(route)) => route.clone(),
            _ => Route::Mx,
        }
    }

    /// The route for a recipient domain (no address entries).
    pub fn route_for(&self, domain: &str) -> Route {
        self.transport_for(domain)
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

fn normalize(key: &str) -> String {
    key.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn valid_key(key: &str) -> bool {
    if key == "*" {
        return true;
    }
    if let Some((local, domain)) = key.rsplit_once('@') {
        return !local.is_empty()
            && !local.chars().any(|c| c.is_whitespace() || c.is_control())
            && is_host_name(domain);
    }
    match key.strip_prefix('.') {
        Some(parent) => is_host_name(parent),
        None => is_host_name(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, &str)]) -> Result<Routes, RouteError> {
        let map = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Routes::from_tables(&[("routing", &map)])
    }

    fn hop(routes: &Routes, address: &str, local: bool) -> Option<(String, String)> {
        routes
            .lookup(address, local)
            .map(|r| (r.nexthop.to_string(), r.source.to_string()))
    }

    #[test]
    fn next_hops_parse_and_print_back() {
        for text in [
            "local",
            "discard",
            "discard:no more mail here",
            "error:5.1.1 This domain no longer receives mail",
            "error:4.3.2 try later",
            "smtp:[10.1.2.3]:25",
            "lmtp:[127.0.0.1]:24",
            "smtp:",
        ] {
            let parsed = parse_nexthop(text).unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(
            parse_nexthop("error:gone"),
            Ok(Nexthop::Error {
                status: "5.0.0".into(),
                text: "gone".into()
            })
        );
        assert_eq!(
            parse_nexthop("error:5.7.1"),
            Ok(Nexthop::Error {
                status: "5.7.1".into(),
                text: "mail for this address is refused".into()
            })
        );
        let err = parse_nexthop("esmtp:[x]").unwrap_err();
        assert!(err.reason.contains("or local, discard"), "{}", err.reason);
        assert!(parse_nexthop("local:x").is_err());
    }

    #[test]
    fn an_address_then_its_domain_then_parents_then_star() {
        let routes = table(&[
            ("alice@lab.example.edu", "lmtp:[10.0.0.7]:24"),
            ("lab.example.edu", "smtp:[10.1.2.3]:25"),
            (".example.edu", "smtp:[10.9.9.9]:25"),
            ("*", "smtp:[smarthost.example.net]:587"),
        ])
        .unwrap();
        assert_eq!(
            hop(&routes, "Alice@Lab.Example.edu", false),
            Some((
                "lmtp:[10.0.0.7]:24".into(),
                "routing.\"alice@lab.example.edu\"".into()
            ))
        );
        assert_eq!(
            hop(&routes, "bob@lab.example.edu", false).unwrap().0,
            "smtp:[10.1.2.3]:25"
        );
        assert_eq!(
            hop(&routes, "bob@chem.example.edu", false).unwrap().1,
            "routing.\".example.edu\""
        );
        assert_eq!(
            hop(&routes, "x@gmail.example", false).unwrap().0,
            "smtp:[smarthost.example.net]:587"
        );
    }

    #[test]
    fn a_smarthost_or_a_parent_never_takes_the_nodes_own_domains() {
        let routes = table(&[
            (".example.edu", "smtp:[10.9.9.9]:25"),
            ("*", "smtp:[smarthost.example.net]:587"),
            ("moved@mail.example.edu", "smtp:[10.0.0.8]:25"),
        ])
        .unwrap();
        assert_eq!(hop(&routes, "carol@mail.example.edu", true), None);
        assert_eq!(
            hop(&routes, "moved@mail.example.edu", true).unwrap().0,
            "smtp:[10.0.0.8]:25"
        );
        // The exact domain's entry is written for it: it applies.
        let exact = table(&[("mail.example.edu", "error:5.1.1 gone")]).unwrap();
        assert_eq!(
            hop(&exact, "carol@mail.example.edu", true).unwrap().0,
            "error:5.1.1 gone"
        );
    }

    #[test]
    fn errors_name_the_table_and_the_key() {
        let err = table(&[("bad key", "smtp:")]).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("bad key"));
        assert!(
            err.to_string()
                .starts_with("routing.\"bad key\": expected an address")
        );
        let a = BTreeMap::from([("Example.org".to_string(), "smtp:".to_string())]);
        let b = BTreeMap::from([("example.org.".to_string(), "local".to_string())]);
        let err = Routes::from_tables(&[("routing", &a), ("relay.routes", &b)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("the same key as routing.\"Example.org\""),
            "{err}"
        );
    }
}
