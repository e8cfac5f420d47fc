//! The line IMAP and POP3 log when a client leaves without having logged
//! in, in the words of Dovecot's login processes, which Fail2ban's stock
//! `dovecot` filter reads (one line per connection, with its count of
//! failed attempts):
//!
//! `Disconnected: Inactivity (auth failed, 2 attempts in 31 secs): user=<a@b>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2, TLS`
//!
//! `Aborted login (...)` when the client logged out itself, `Disconnected
//! (...)` when it closed the connection, `Disconnected: <Reason> (...)`
//! otherwise. The user name is client input: what could end the field early
//! (`>`) or break the line is replaced, so no name hides an address from the
//! filter.

use std::net::IpAddr;

/// What the client left behind when its connection ended before a login.
pub struct LoginEnd<'a> {
    /// The session's reason: `Logged out`, `Connection closed`,
    /// `Disconnected for inactivity`, `Disconnected: login timeout`...
    pub why: &'a str,
    pub failures: u32,
    pub secs: u64,
    /// The last name and method tried; named only after a failure (a
    /// name that was never refused is not an attacker's).
    pub last: Option<(&'a str, &'a str)>,
    pub remote: IpAddr,
    pub local: Option<IpAddr>,
    pub tls: bool,
}

impl LoginEnd<'_> {
    pub fn line(&self) -> String {
        let attempts = if self.failures == 0 {
            format!("no auth attempts in {} secs", self.secs)
        } else {
            format!(
                "auth failed, {} attempts in {} secs",
                self.failures, self.secs
            )
        };
        let user = match self.last.filter(|_| self.failures > 0) {
            Some((user, method)) => format!("user=<{}>, method={method}, ", shown_user(user)),
            None => String::new(),
        };
        let local = self
            .local
            .map(|ip| format!(", lip={ip}"))
            .unwrap_or_default();
        format!(
            "{} ({attempts}): {user}rip={}{local}{}",
            reason(self.why),
            self.remote,
            if self.tls { ", TLS" } else { "" }
        )
    }
}

/// Dovecot's reason words.
fn reason(why: &str) -> String {
    let why = why.trim();
    match why {
        "Logged out" => "Aborted login".into(),
        "Connection closed" | "Disconnected" => "Disconnected".into(),
        _ => {
            let rest = why
                .strip_prefix("Disconnected: ")
                .or_else(|| why.strip_prefix("Disconnected "))
                .unwrap_or(why);
            let rest = rest.strip_prefix("for ").unwrap_or(rest);
            let mut chars = rest.chars();
            let capital: String = chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
            // A parenthesis would end the reason early for the filter.
            format!("Disconnected: {}", capital.replace(['(', ')'], ""))
        }
    }
}

/// At most 100 characters, none that ends the field or the line.
pub fn shown_user(user: &str) -> String {
    user.chars()
        .take(100)
        .map(|c| {
            if c.is_control() || c == '>' || c == '<' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(why: &str, failures: u32, user: &str) -> String {
        LoginEnd {
            why,
            failures,
            secs: 3,
            last: Some((user, "PLAIN")),
            remote: "192.0.2.1".parse().unwrap(),
            local: Some("192.0.2.2".parse().unwrap()),
            tls: true,
        }
        .line()
    }

    #[test]
    fn a_name_that_was_never_refused_is_not_logged() {
        assert_eq!(
            end("Connection closed", 0, "alice@example.test"),
            "Disconnected (no auth attempts in 3 secs): rip=192.0.2.1, lip=192.0.2.2, TLS"
        );
    }

    #[test]
    fn each_way_of_leaving_gets_dovecot_s_words() {
        assert_eq!(
            end("Logged out", 1, "a@b"),
            "Aborted login (auth failed, 1 attempts in 3 secs): user=<a@b>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2, TLS"
        );
        assert!(
            end("Connection closed", 2, "a@b").starts_with("Disconnected (auth failed, 2 attempts")
        );
        assert!(
            end("Disconnected for inactivity", 1, "a@b")
                .starts_with("Disconnected: Inactivity (auth")
        );
        assert!(
            end("Disconnected: login timeout", 1, "a@b")
                .starts_with("Disconnected: Login timeout (auth")
        );
        assert!(
            end("Too many authentication failures", 3, "a@b").starts_with(
                "Disconnected: Too many authentication failures (auth failed, 3 attempts"
            )
        );
    }

    #[test]
    fn a_user_name_cannot_end_its_field_early() {
        assert!(
            end("Connection closed", 1, "x>, rip=10.0.0.1\r\n")
                .contains("user=<x?, rip=10.0.0.1??>, method=PLAIN, rip=192.0.2.1")
        );
    }
}
