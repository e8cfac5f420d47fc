//! Rules the types alone cannot express. Each problem names its key.

use std::net::SocketAddr;

use crate::model::{Config, Role};

/// A value that parses but cannot work.
pub(crate) struct Problem {
    pub(crate) key: &'static [&'static str],
    pub(crate) message: String,
}

fn problem(key: &'static [&'static str], message: impl Into<String>) -> Problem {
    Problem {
        key,
        message: message.into(),
    }
}

const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// Every problem of `cfg`, in document order.
pub(crate) fn problems(cfg: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    let s = &cfg.server;
    if s.hostname.trim().is_empty() {
        out.push(problem(
            &["server", "hostname"],
            "must not be empty (use the FQDN of this node)",
        ));
    } else if s
        .hostname
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        out.push(problem(
            &["server", "hostname"],
            "must be a host name, without spaces",
        ));
    }
    if s.user != s.user.trim() {
        out.push(problem(
            &["server", "user"],
            "must not start or end with spaces",
        ));
    }
    if s.roles.is_empty() {
        out.push(problem(
            &["server", "roles"],
            "must list at least one role (known: mx, submission, relay, lmtp, imap, pop3)",
        ));
    }
    for (i, role) in s.roles.iter().enumerate() {
        if s.roles[..i].contains(role) {
            out.push(problem(
                &["server", "roles"],
                format!("role {role} is listed twice"),
            ));
        }
    }
    if let Some(message) = log_level_problem(&cfg.log.level) {
        out.push(problem(&["log", "level"], message));
    }
    if cfg.storage.sqlite_path.as_os_str().is_empty() {
        out.push(problem(&["storage", "sqlite_path"], "must not be empty"));
    }
    for (domain, route) in &cfg.relay.routes {
        if !(route.starts_with("smtp:") || route.starts_with("lmtp:")) {
            out.push(problem(
                &["relay", "routes"],
                format!(
                    "route of {domain:?}: expected \"smtp:[host]:port\", \"smtp:host\" or \"lmtp:[host]:port\", found {route:?}"
                ),
            ));
        }
    }
    for net in &cfg.relay.internal_networks {
        let (addr, bits) = net.split_once('/').unwrap_or((net.as_str(), ""));
        let ok = addr.parse::<std::net::IpAddr>().is_ok_and(|ip| {
            bits.is_empty()
                || bits
                    .parse::<u8>()
                    .is_ok_and(|b| b <= if ip.is_ipv4() { 32 } else { 128 })
        });
        if !ok {
            out.push(problem(
                &["relay", "internal_networks"],
                format!("expected networks like \"192.0.2.0/24\", found {net:?}"),
            ));
        }
    }
    let listeners: [(Role, &'static [&'static str], Vec<std::net::SocketAddr>); 5] = [
        (Role::Mx, &["mx", "listen"], cfg.mx.listen.clone()),
        (
            Role::Submission,
            &["submission", "listen"],
            [
                cfg.submission.listen.clone(),
                cfg.submission.tls_listen.clone(),
            ]
            .concat(),
        ),
        (Role::Lmtp, &["lmtp", "listen"], cfg.lmtp.listen.clone()),
        (
            Role::Imap,
            &["imap", "listen"],
            [cfg.imap.listen.clone(), cfg.imap.tls_listen.clone()].concat(),
        ),
        (
            Role::Pop3,
            &["pop3", "listen"],
            [cfg.pop3.listen.clone(), cfg.pop3.tls_listen.clone()].concat(),
        ),
    ];
    for (role, key, addrs) in &listeners {
        if cfg.has_role(*role) && addrs.is_empty() {
            out.push(problem(
                key,
                format!("the {role} role is enabled in server.roles but listens nowhere"),
            ));
        }
    }
    if let Some(p) = shared_address(cfg) {
        out.push(p);
    }
    let smtp = &cfg.smtp;
    if smtp.message_size_limit.0 == 0 {
        out.push(problem(
            &["smtp", "message_size_limit"],
            "must be greater than 0",
        ));
    }
    if smtp.line_length_limit < 512 {
        out.push(problem(
            &["smtp", "line_length_limit"],
            format!(
                "must be at least 512 (RFC 5321 4.5.3.1.4), found {}",
                smtp.line_length_limit
            ),
        ));
    }
    for (key, value) in [
        (&["smtp", "recipient_limit"][..], smtp.recipient_limit),
        (&["smtp", "hard_error_limit"], smtp.hard_error_limit),
        (&["smtp", "max_connections"], smtp.max_connections),
        (
            &["smtp", "max_connections_per_ip"],
            smtp.max_connections_per_ip,
        ),
        (&["imap", "max_connections"], cfg.imap.max_connections),
        (
            &["imap", "max_connections_per_ip"],
            cfg.imap.max_connections_per_ip,
        ),
        (&["pop3", "max_connections"], cfg.pop3.max_connections),
        (
            &["pop3", "max_connections_per_ip"],
            cfg.pop3.max_connections_per_ip,
        ),
    ] {
        if value == 0 {
            out.push(problem(key, "must be greater than 0"));
        }
    }
    if smtp.idle_timeout.0.is_zero() {
        out.push(problem(&["smtp", "idle_timeout"], "must be longer than 0s"));
    }
    if smtp.session_deadline.0.is_zero() {
        out.push(problem(
            &["smtp", "session_deadline"],
            "must be longer than 0s",
        ));
    }
    if let Some(message) = selector_problem(&cfg.dkim.selector) {
        out.push(problem(&["dkim", "selector"], message));
    }
    let q = &cfg.queue;
    if q.delivery_concurrency == 0 {
        out.push(problem(
            &["queue", "delivery_concurrency"],
            "must be greater than 0",
        ));
    }
    if q.retry_min.0.is_zero() {
        out.push(problem(&["queue", "retry_min"], "must be longer than 0s"));
    }
    if q.retry_min > q.retry_max {
        out.push(problem(
            &["queue", "retry_max"],
            format!(
                "must not be shorter than queue.retry_min ({} > {})",
                q.retry_min, q.retry_max
            ),
        ));
    }
    if q.max_lifetime.0.is_zero() {
        out.push(problem(
            &["queue", "max_lifetime"],
            "must be longer than 0s",
        ));
    }
    if let Some(message) = maildir_problem(&cfg.mailbox.maildir) {
        out.push(problem(&["mailbox", "maildir"], message));
    }
    sendmail_problems(&cfg.sendmail, &mut out);
    out
}

/// Two listeners of the enabled roles on one address (or a wildcard and an
/// address of the same family on one port): serve could bind only the first.
fn shared_address(cfg: &Config) -> Option<Problem> {
    type Key = &'static [&'static str];
    let sets: [(Role, Key, &[SocketAddr]); 8] = [
        (Role::Mx, &["mx", "listen"], &cfg.mx.listen),
        (
            Role::Submission,
            &["submission", "listen"],
            &cfg.submission.listen,
        ),
        (
            Role::Submission,
            &["submission", "tls_listen"],
            &cfg.submission.tls_listen,
        ),
        (Role::Lmtp, &["lmtp", "listen"], &cfg.lmtp.listen),
        (Role::Imap, &["imap", "listen"], &cfg.imap.listen),
        (Role::Imap, &["imap", "tls_listen"], &cfg.imap.tls_listen),
        (Role::Pop3, &["pop3", "listen"], &cfg.pop3.listen),
        (Role::Pop3, &["pop3", "tls_listen"], &cfg.pop3.tls_listen),
    ];
    let mut seen: Vec<(Key, SocketAddr)> = Vec::new();
    for (role, key, addrs) in sets {
        if !cfg.has_role(role) {
            continue;
        }
        for addr in addrs {
            if let Some((other, taken)) = seen.iter().find(|(_, a)| overlap(*a, *addr)) {
                let other = other.join(".");
                let what = if taken == addr {
                    format!("{addr} is also in {other}")
                } else {
                    format!("{addr} overlaps {taken} of {other}")
                };
                return Some(problem(
                    key,
                    format!("{what}: two listeners cannot share an address"),
                ));
            }
            seen.push((key, *addr));
        }
    }
    None
}

/// Whether binding `a` then `b` would fail: the same address, or the same
/// port with one of them the wildcard of the other's family.
fn overlap(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port()
        && (a.ip() == b.ip()
            || (a.is_ipv4() == b.is_ipv4() && (a.ip().is_unspecified() || b.ip().is_unspecified())))
}

/// The origin is a domain; each canonical address is `local@domain`.
fn sendmail_problems(cfg: &crate::model::Sendmail, out: &mut Vec<Problem>) {
    let origin = &cfg.origin;
    if origin.starts_with('.')
        || origin.contains('@')
        || origin.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        out.push(problem(
            &["sendmail", "origin"],
            format!("expected a domain like \"example.org\", found {origin:?}"),
        ));
    }
    for (account, address) in &cfg.canonical {
        let valid = address
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !address.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            out.push(problem(
                &["sendmail", "canonical"],
                format!(
                    "{account:?}: expected a mail address like \"{account}@example.org\", found {address:?}"
                ),
            ));
        }
    }
}

/// A tracing filter: comma-separated `level` or `target=level` directives
/// (span filters in `[...]` are left to the logger). A bare word that is not
/// a level is refused: the logger would take it for a target and silence
/// every other line (`"verbose"` would log nothing at all).
fn log_level_problem(level: &str) -> Option<String> {
    const EXPECTED: &str = "expected error, warn, info, debug, trace or off, or target=level";
    if level.trim().is_empty() {
        return Some("must not be empty (error, warn, info, debug or trace)".to_owned());
    }
    let is_level = |word: &str| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(word.trim()));
    for directive in level.split(',').map(str::trim) {
        if directive.is_empty() {
            return Some(format!("empty directive in {level:?}"));
        }
        if directive.contains('[') {
            continue;
        }
        match directive.rsplit_once('=') {
            Some((target, lvl)) => {
                if !is_level(lvl) {
                    return Some(format!(
                        "unknown level {lvl:?} in {directive:?} ({EXPECTED})"
                    ));
                }
                let target_ok = !target.trim().is_empty()
                    && target
                        .trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'));
                if !target_ok {
                    return Some(format!(
                        "{target:?} in {directive:?} is not a log target (a name like havre_smtp)"
                    ));
                }
            }
            None if !is_level(directive) => {
                return Some(format!("unknown level {directive:?} ({EXPECTED})"));
            }
            None => {}
        }
    }
    None
}

/// A DKIM selector is a DNS name under `_domainkey` (RFC 6376 3.1) and the
/// name of the key file.
fn selector_problem(selector: &str) -> Option<String> {
    if selector.is_empty() {
        return Some("must not be empty (e.g. \"havre\")".to_owned());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    (!selector.split('.').all(label_ok)).then(|| {
        format!("{selector:?} is not a DNS name: letters, digits and '-', in dot-separated labels")
    })
}

/// A per-user Maildir template: `%n` or `%u` must appear, or every user would
/// share one mailbox.
fn maildir_problem(template: &str) -> Option<String> {
    let mut per_user = false;
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.next() {
            Some('n' | 'u') => per_user = true,
            Some('d' | '%') => {}
            Some(other) => {
                return Some(format!("unknown variable %{other} (known: %d, %n, %u, %%)"));
            }
            None => return Some("ends with a lone %".to_owned()),
        }
    }
    (!per_user).then(|| "must contain %n or %u, or every user would share one Maildir".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_operators_write_are_accepted() {
        for ok in [
            "info",
            "WARN",
            "off",
            "info,havre_smtp=debug",
            "warn, relay=trace",
            "havre_net::gate=debug",
            "info,[session]=debug",
        ] {
            assert_eq!(log_level_problem(ok), None, "{ok}");
        }
        for bad in [
            "verbose",
            "info,loud",
            "havre_smtp",
            "info,=debug",
            "x y=info",
        ] {
            assert!(log_level_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn listeners_overlap_on_one_port_of_one_family() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(overlap(a("0.0.0.0:25"), a("127.0.0.1:25")));
        assert!(overlap(a("[::]:25"), a("[::1]:25")));
        assert!(overlap(a("127.0.0.1:25"), a("127.0.0.1:25")));
        assert!(!overlap(a("127.0.0.1:25"), a("127.0.0.2:25")));
        assert!(!overlap(a("0.0.0.0:25"), a("0.0.0.0:26")));
        // IPv6-only sockets are a separate matter; [::] beside 0.0.0.0 is
        // a common and working configuration where bindv6only is set.
        assert!(!overlap(a("0.0.0.0:25"), a("[::]:25")));
    }
}
