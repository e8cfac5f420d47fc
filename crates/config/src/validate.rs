//! Rules the types alone cannot express. Each problem names its key.

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
    for (role, key, addrs) in listeners {
        if cfg.has_role(role) && addrs.is_empty() {
            out.push(problem(
                key,
                format!("the {role} role is enabled in server.roles but listens nowhere"),
            ));
        }
    }
    if cfg.has_role(Role::Mx)
        && cfg.has_role(Role::Lmtp)
        && let Some(addr) = cfg.lmtp.listen.iter().find(|a| cfg.mx.listen.contains(a))
    {
        out.push(problem(
            &["lmtp", "listen"],
            format!("{addr} is also in mx.listen"),
        ));
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

/// A tracing filter: comma-separated `level` or `target[=level]` directives.
/// Only what is certainly wrong is refused; the logger has the last word.
fn log_level_problem(level: &str) -> Option<String> {
    if level.trim().is_empty() {
        return Some("must not be empty (error, warn, info, debug or trace)".to_owned());
    }
    for directive in level.split(',').map(str::trim) {
        if directive.is_empty() {
            return Some(format!("empty directive in {level:?}"));
        }
        if directive.contains('[') {
            continue;
        }
        if let Some((_, lvl)) = directive.rsplit_once('=')
            && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(lvl.trim()))
        {
            return Some(format!(
                "unknown level {lvl:?} in {directive:?} (expected error, warn, info, debug, trace or off)"
            ));
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
