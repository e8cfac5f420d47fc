//! What the guard counts and where it draws the lines.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

/// The protocol an offence happened on, for the log's breakdown
/// (`10 failed logins in 10m (smtp 4, imap 6)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// mx and submission (AUTH).
    Smtp,
    Imap,
    Pop3,
    ManageSieve,
}

impl Service {
    pub const ALL: [Service; 4] = [
        Service::Smtp,
        Service::Imap,
        Service::Pop3,
        Service::ManageSieve,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Smtp => "smtp",
            Service::Imap => "imap",
            Service::Pop3 => "pop3",
            Service::ManageSieve => "managesieve",
        }
    }
}

/// Something a client did that the guard counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence {
    /// A wrong user or password (SMTP AUTH 535, IMAP NO
    /// [AUTHENTICATIONFAILED], POP3 -ERR [AUTH], ManageSieve NO).
    FailedLogin(Service),
    /// A RCPT answered 550 5.1.1: no such user.
    UnknownRecipient,
    /// A command the server could not take (SMTP 500-504, IMAP BAD, POP3
    /// unknown command or too long a line).
    ProtocolError(Service),
    /// A connection admitted past the ban check.
    Connection,
}

/// The guard's limits (`[guard]` of havre.toml). A limit of 0 counts
/// nothing of that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardSettings {
    pub enabled: bool,
    pub max_failures: u32,
    pub find_time: Duration,
    pub ban_time: Duration,
    pub max_unknown_recipients: u32,
    pub max_protocol_errors: u32,
    /// Connections in an hour that log a warning.
    pub connections_warn: u32,
    /// Connections in an hour that ban.
    pub connections_ban: u32,
    /// Never counted nor refused.
    pub exempt: Vec<IpNet>,
}

/// The window connections are counted in (the seeds' hourly rule).
pub(crate) const CONNECTION_WINDOW: Duration = Duration::from_secs(3600);

impl GuardSettings {
    /// A guard that counts nothing and refuses no one.
    pub fn off() -> GuardSettings {
        GuardSettings {
            enabled: false,
            ..GuardSettings::default()
        }
    }

    /// Whether `ip` is never counted nor refused.
    pub fn is_exempt(&self, ip: IpAddr) -> bool {
        self.exempt.iter().any(|n| n.contains(&ip))
    }

    /// The limit that bans for `offence`, and the window it is counted in.
    pub(crate) fn limit(&self, offence: Offence) -> (u32, Duration) {
        match offence {
            Offence::FailedLogin(_) => (self.max_failures, self.find_time),
            Offence::UnknownRecipient => (self.max_unknown_recipients, self.find_time),
            Offence::ProtocolError(_) => (self.max_protocol_errors, self.find_time),
            Offence::Connection => (self.connections_ban, CONNECTION_WINDOW),
        }
    }
}

impl Default for GuardSettings {
    /// Fail2ban's defaults and the seeds' connection rule; loopback exempt.
    fn default() -> GuardSettings {
        GuardSettings {
            enabled: true,
            max_failures: 10,
            find_time: Duration::from_secs(600),
            ban_time: Duration::from_secs(3600),
            max_unknown_recipients: 20,
            max_protocol_errors: 50,
            connections_warn: 500,
            connections_ban: 2500,
            exempt: vec![
                "127.0.0.0/8".parse().expect("a network"),
                "::1/128".parse().expect("a network"),
            ],
        }
    }
}
