//! Rules the types alone cannot express. Each problem names its key.

use std::net::SocketAddr;

use crate::model::{Config, Role};
use crate::policy::{PolicyAction, PolicyRule, PolicyStage, RateWhat};

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
            "must list at least one role (known: mx, submission, relay, lmtp, imap, pop3, managesieve, web)",
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
    let listeners: [(Role, &'static [&'static str], Vec<std::net::SocketAddr>); 6] = [
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
        (
            Role::ManageSieve,
            &["managesieve", "listen"],
            cfg.managesieve.listen.clone(),
        ),
    ];
    for (role, key, addrs) in &listeners {
        if cfg.listens_for(*role) && addrs.is_empty() {
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
        (
            &["managesieve", "max_connections"],
            cfg.managesieve.max_connections,
        ),
        (
            &["managesieve", "max_connections_per_ip"],
            cfg.managesieve.max_connections_per_ip,
        ),
    ] {
        if value == 0 {
            out.push(problem(key, "must be greater than 0"));
        }
    }
    if cfg.managesieve.max_script_size.0 == 0 {
        out.push(problem(
            &["managesieve", "max_script_size"],
            "must be greater than 0",
        ));
    } else if cfg.managesieve.max_script_size.0 > 1 << 20 {
        out.push(problem(
            &["managesieve", "max_script_size"],
            format!(
                "must be at most 1M (the largest script the Sieve interpreter compiles), found {}",
                cfg.managesieve.max_script_size
            ),
        ));
    }
    if cfg.managesieve.idle_timeout.0.is_zero() {
        out.push(problem(
            &["managesieve", "idle_timeout"],
            "must be longer than 0s",
        ));
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
    greylist_and_policy_problems(cfg, &mut out);
    guard_problems(&cfg.guard, &mut out);
    director_problems(cfg, &mut out);
    antivirus_problems(&cfg.antivirus, &mut out);
    attachments_problems(&cfg.attachments, &mut out);
    spam_problems(&cfg.spam, &mut out);
    if cfg.state.backend == crate::model::StateBackend::Redis && cfg.state.url.trim().is_empty() {
        out.push(problem(
            &["state", "url"],
            "must be set for state.backend = \"redis\" (redis://host:6379/0)",
        ));
    }
    if cfg.storage.backend == crate::model::StorageBackend::Postgres {
        let url = cfg.storage.url.trim();
        if url.is_empty() {
            out.push(problem(
                &["storage", "url"],
                "must be set for storage.backend = \"postgres\" (postgres://user@host:5432/havre)",
            ));
        } else if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            out.push(problem(
                &["storage", "url"],
                "must be a PostgreSQL URL: postgres://user@host:5432/havre",
            ));
        }
    }
    if cfg.report.seconds_after_midnight().is_none() {
        out.push(problem(
            &["report", "time"],
            format!("{:?} is not a time of day: write HH:MM (24-hour clock, local time), e.g. \"06:30\"", cfg.report.time),
        ));
    }
    if !cfg.report.mail_to.is_empty() && !cfg.events.enabled {
        out.push(problem(
            &["report", "mail_to"],
            "the report is made from the events: set events.enabled = true",
        ));
    }
    for address in &cfg.report.mail_to {
        let ok = address
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain_ok(domain));
        if !ok {
            out.push(problem(
                &["report", "mail_to"],
                format!("{address:?} is not a mail address"),
            ));
        }
    }
    out
}

/// Two listeners of the enabled roles on one address (or a wildcard and an
/// address of the same family on one port): serve could bind only the first.
fn shared_address(cfg: &Config) -> Option<Problem> {
    type Key = &'static [&'static str];
    let sets: [(Role, Key, &[SocketAddr]); 9] = [
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
        (
            Role::ManageSieve,
            &["managesieve", "listen"],
            &cfg.managesieve.listen,
        ),
    ];
    let enabled = sets
        .into_iter()
        .filter(|(role, _, _)| cfg.listens_for(*role))
        .map(|(_, key, addrs)| (key, addrs))
        // The policy service has no role: it runs when it has an address.
        .chain([(&["policy", "listen"][..], &cfg.policy.listen[..])]);
    let mut seen: Vec<(Key, SocketAddr)> = Vec::new();
    for (key, addrs) in enabled {
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

/// `[greylist]` and `[[policy.rules]]`. A rule's problem names the rule (its
/// place from 1 and its name) and its field.
fn greylist_and_policy_problems(cfg: &Config, out: &mut Vec<Problem>) {
    let g = &cfg.greylist;
    if g.delay.0.is_zero() {
        out.push(problem(
            &["greylist", "delay"],
            "must be longer than 0s (greylist.enabled = false turns greylisting off)",
        ));
    }
    if g.retry_window <= g.delay {
        out.push(problem(
            &["greylist", "retry_window"],
            format!(
                "must be longer than greylist.delay ({}), or no retry could ever pass",
                g.delay
            ),
        ));
    }
    if g.max_age < g.retry_window {
        out.push(problem(
            &["greylist", "max_age"],
            format!(
                "must not be shorter than greylist.retry_window ({})",
                g.retry_window
            ),
        ));
    }
    for entry in &g.exempt {
        if !network_ok(entry) && !domain_ok(entry) {
            out.push(problem(
                &["greylist", "exempt"],
                format!(
                    "expected a network like \"192.0.2.0/24\" or a domain like \"example.org\", found {entry:?}"
                ),
            ));
        }
    }
    let p = &cfg.policy;
    if p.max_connections == 0 {
        out.push(problem(
            &["policy", "max_connections"],
            "must be greater than 0",
        ));
    }
    if p.idle_timeout.0.is_zero() {
        out.push(problem(
            &["policy", "idle_timeout"],
            "must be longer than 0s",
        ));
    }
    if p.request_timeout.0.is_zero() {
        out.push(problem(
            &["policy", "request_timeout"],
            "must be longer than 0s",
        ));
    }
    let rules = &cfg.policy.rules;
    for (i, rule) in rules.iter().enumerate() {
        let mut report = |field: &str, message: String| {
            out.push(problem(
                &["policy", "rules"],
                format!("{}, field {field}: {message}", rule.label(i)),
            ));
        };
        if rule.name.trim().is_empty() {
            report("name", "must not be empty".into());
        } else if let Some(j) = rules[..i].iter().position(|r| r.name == rule.name) {
            report(
                "name",
                format!("is also the name of rule {}; names must differ", j + 1),
            );
        }
        rule_problems(rule, &mut report);
    }
}

fn rule_problems(rule: &PolicyRule, report: &mut impl FnMut(&str, String)) {
    for net in &rule.client_address {
        if !network_ok(net) {
            report(
                "client_address",
                format!("expected networks like \"192.0.2.0/24\" or addresses, found {net:?}"),
            );
        }
    }
    let patterns = [
        ("client_name", &rule.client_name),
        ("helo", &rule.helo),
        ("sender", &rule.sender),
        ("recipient", &rule.recipient),
        ("sasl_login", &rule.sasl_login),
    ];
    for (field, values) in patterns {
        for value in values {
            if let Some(message) = regex_problem(value) {
                report(field, message);
            }
        }
    }
    if let (Some(min), Some(max)) = (rule.size_min, rule.size_max)
        && min > max
    {
        report("size_min", format!("{min} is above size_max {max}"));
    }
    if let (Some(min), Some(max)) = (rule.recipient_count_min, rule.recipient_count_max)
        && min > max
    {
        report(
            "recipient_count_min",
            format!("{min} is above recipient_count_max {max}"),
        );
    }
    let stage = rule.stage.unwrap_or(PolicyStage::Rcpt);
    let Some(action) = rule.action else {
        report(
            "action",
            "is missing (accept, reject, defer, greylist, add_header or rate)".into(),
        );
        return;
    };
    let only_for = |field: &str,
                    value: bool,
                    wanted: &[PolicyAction],
                    report: &mut dyn FnMut(&str, String)| {
        if value && !wanted.contains(&action) {
            let names: Vec<String> = wanted
                .iter()
                .map(|a| format!("{:?}", action_name(*a)))
                .collect();
            report(
                field,
                format!("only goes with action = {}", names.join(" or ")),
            );
        }
    };
    only_for(
        "text",
        rule.text.is_some(),
        &[
            PolicyAction::Reject,
            PolicyAction::Defer,
            PolicyAction::Rate,
        ],
        report,
    );
    only_for(
        "header",
        rule.header.is_some(),
        &[PolicyAction::AddHeader],
        report,
    );
    only_for(
        "rate_limit",
        rule.rate_limit.is_some(),
        &[PolicyAction::Rate],
        report,
    );
    match action {
        PolicyAction::Greylist if stage != PolicyStage::Rcpt => {
            report("stage", "greylisting works at stage \"rcpt\" only".into());
        }
        PolicyAction::AddHeader => match rule.header.as_deref() {
            None => report("header", "is missing (\"Name: value\")".into()),
            Some(h) => {
                if let Some(message) = header_problem(h) {
                    report("header", message);
                }
            }
        },
        PolicyAction::Rate => match &rule.rate_limit {
            None => report(
                "rate_limit",
                "is missing (like { count = 10, per = \"1m\", key = \"sasl_login\" })".into(),
            ),
            Some(limit) => {
                if limit.count == 0 {
                    report("rate_limit.count", "must be greater than 0".into());
                }
                if limit.per.0.is_zero() {
                    report("rate_limit.per", "must be longer than 0s".into());
                }
                if limit.burst == Some(0) {
                    report("rate_limit.burst", "must be greater than 0".into());
                }
                let stages: &[PolicyStage] = match limit.what {
                    RateWhat::Recipients => &[PolicyStage::Rcpt, PolicyStage::Data],
                    RateWhat::Messages | RateWhat::Bytes => {
                        &[PolicyStage::Mail, PolicyStage::Rcpt, PolicyStage::Data]
                    }
                };
                if !stages.contains(&stage) {
                    report(
                        "stage",
                        format!("{:?} cannot be counted at stage {:?}", limit.what, stage)
                            .to_lowercase(),
                    );
                }
            }
        },
        _ => {}
    }
}

/// The spelling of an action in havre.toml.
fn action_name(action: PolicyAction) -> &'static str {
    match action {
        PolicyAction::Accept => "accept",
        PolicyAction::Reject => "reject",
        PolicyAction::Defer => "defer",
        PolicyAction::Greylist => "greylist",
        PolicyAction::AddHeader => "add_header",
        PolicyAction::Rate => "rate",
    }
}

/// `192.0.2.0/24`, `2001:db8::/32` or a single address.
/// `[guard]`: windows that can hold a count, a ban that lasts, a warning
/// before the ban, exemptions that are networks.
fn guard_problems(g: &crate::guard::Guard, out: &mut Vec<Problem>) {
    if g.find_time.0.is_zero() {
        out.push(problem(
            &["guard", "find_time"],
            "must be longer than 0s (guard.enabled = false turns the guard off)",
        ));
    }
    if g.ban_time.0.is_zero() {
        out.push(problem(
            &["guard", "ban_time"],
            "must be longer than 0s (guard.enabled = false turns the guard off)",
        ));
    }
    if g.connections_warn > 0 && g.connections_ban > 0 && g.connections_warn >= g.connections_ban {
        out.push(problem(
            &["guard", "connections_warn"],
            format!(
                "must be below guard.connections_ban ({}), or the warning would come with the ban",
                g.connections_ban
            ),
        ));
    }
    for entry in &g.exempt {
        if entry.trim() != crate::guard::INTERNAL_NETWORKS && !network_ok(entry) {
            out.push(problem(
                &["guard", "exempt"],
                format!(
                    "expected a network like \"192.0.2.0/24\", an address, or \"{}\", found {entry:?}",
                    crate::guard::INTERNAL_NETWORKS
                ),
            ));
        }
    }
}

/// `[director]`: a director does not also serve mailboxes on the same
/// listeners, and signs its logins; the networks are networks.
fn director_problems(cfg: &Config, out: &mut Vec<Problem>) {
    let d = &cfg.director;
    if cfg.has_role(Role::Director) {
        let mailbox_roles: Vec<&str> = [Role::Lmtp, Role::Imap, Role::Pop3, Role::ManageSieve]
            .into_iter()
            .filter(|r| cfg.has_role(*r))
            .map(Role::as_str)
            .collect();
        if !mailbox_roles.is_empty() {
            out.push(problem(
                &["server", "roles"],
                format!(
                    "the director role proxies the imap, pop3, managesieve and lmtp listeners: it cannot run with {} on the same node",
                    mailbox_roles.join(", ")
                ),
            ));
        }
        // The directors' view (assignments, health, kicks) lives in the
        // shared state; the embedded one is a process's memory and file,
        // which `havre director move` could only overwrite behind it.
        if cfg.state.backend != crate::model::StateBackend::Redis {
            out.push(problem(
                &["state", "backend"],
                "must be \"redis\" on a director: assignments, backend health and kicks are shared through it (state.url)",
            ));
        }
    }
    let durations: [(&'static [&'static str], std::time::Duration); 3] = [
        (&["director", "user_expire"], d.user_expire.0),
        (&["director", "probe_interval"], d.probe_interval.0),
        (&["director", "connect_timeout"], d.connect_timeout.0),
    ];
    for (key, value) in durations {
        if value.is_zero() {
            out.push(problem(key, "must be longer than 0s"));
        }
    }
    for entry in &d.trusted_networks {
        if !network_ok(entry) {
            out.push(problem(
                &["director", "trusted_networks"],
                format!("expected a network like \"10.0.0.0/24\" or an address, found {entry:?}"),
            ));
        }
    }
}

/// `[attachments]`: extensions that are extensions, types that are types.
fn attachments_problems(a: &crate::attachments::Attachments, out: &mut Vec<Problem>) {
    for ext in &a.refused_extensions {
        let bare = ext.strip_prefix('.').unwrap_or(ext);
        if bare.is_empty()
            || !bare
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            out.push(problem(
                &["attachments", "refused_extensions"],
                format!("expected an extension like \"exe\", found {ext:?}"),
            ));
        }
    }
    for t in &a.refused_types {
        let token = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
        };
        let ok = t
            .split_once('/')
            .is_some_and(|(ty, sub)| token(ty) && token(sub));
        if !ok {
            out.push(problem(
                &["attachments", "refused_types"],
                format!("expected a MIME type like \"application/x-msdownload\", found {t:?}"),
            ));
        }
    }
}

/// `[spam]`: thresholds in the order of their actions, levels in the order
/// of their names, a time for the lookups.
fn spam_problems(s: &crate::spam::Spam, out: &mut Vec<Problem>) {
    if s.greylist > s.add_header {
        out.push(problem(
            &["spam", "greylist"],
            format!(
                "must not be above spam.add_header ({} > {})",
                s.greylist, s.add_header
            ),
        ));
    }
    if s.add_header > s.reject {
        out.push(problem(
            &["spam", "add_header"],
            format!(
                "must not be above spam.reject ({} > {})",
                s.add_header, s.reject
            ),
        ));
    }
    if s.level_low > s.level_medium {
        out.push(problem(
            &["spam", "level_low"],
            format!(
                "must not be above spam.level_medium ({} > {})",
                s.level_low, s.level_medium
            ),
        ));
    }
    if s.level_medium > s.level_high {
        out.push(problem(
            &["spam", "level_medium"],
            format!(
                "must not be above spam.level_high ({} > {})",
                s.level_medium, s.level_high
            ),
        ));
    }
    if s.subject_tag.chars().any(char::is_control) {
        out.push(problem(
            &["spam", "subject_tag"],
            "must be one line without control characters",
        ));
    }
    if s.uribl_max_hosts > 1000 {
        out.push(problem(
            &["spam", "uribl_max_hosts"],
            "must be at most 1000 (each host is one lookup per list)",
        ));
    }
    if s.dns_time_limit.0.is_zero() {
        out.push(problem(
            &["spam", "dns_time_limit"],
            "must be longer than 0s",
        ));
    }
}

fn network_ok(text: &str) -> bool {
    let (addr, bits) = text.trim().split_once('/').unwrap_or((text.trim(), ""));
    addr.parse::<std::net::IpAddr>().is_ok_and(|ip| {
        bits.is_empty()
            || bits
                .parse::<u8>()
                .is_ok_and(|b| b <= if ip.is_ipv4() { 32 } else { 128 })
    })
}

fn domain_ok(text: &str) -> bool {
    let text = text.trim().trim_end_matches('.');
    !text.is_empty()
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A `/regex/` pattern that does not compile.
fn regex_problem(pattern: &str) -> Option<String> {
    let body = pattern
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix('/'))
        .filter(|_| pattern.len() >= 2)?;
    regex_lite::Regex::new(body)
        .err()
        .map(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// `Name: value`, with a field name of printable ASCII (RFC 5322 2.2).
fn header_problem(header: &str) -> Option<String> {
    let Some((name, value)) = header.split_once(':') else {
        return Some(format!("expected \"Name: value\", found {header:?}"));
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Some(format!("{name:?} is not a header field name"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Some("the value must be one line".into());
    }
    None
}

/// `[antivirus]`: a scan that can happen. The address was checked when the
/// file was read.
fn antivirus_problems(a: &crate::antivirus::Antivirus, out: &mut Vec<Problem>) {
    if a.timeout.0.is_zero() {
        out.push(problem(
            &["antivirus", "timeout"],
            "must be longer than 0s (antivirus.clamd = \"\" turns scanning off)",
        ));
    }
    if a.max_size.bytes() == 0 {
        out.push(problem(
            &["antivirus", "max_size"],
            "must be more than 0 bytes (antivirus.clamd = \"\" turns scanning off)",
        ));
    }
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
