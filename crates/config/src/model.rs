//! The typed configuration: one struct per TOML table, defaults included.
//!
//! Every struct is `#[serde(default, deny_unknown_fields)]`: a missing key takes
//! its default, an unknown key is refused. The documentation of each key lives in
//! [`crate::docs`], the single source for `havre.toml` comments.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::values::{Duration, Size, quoted};

/// The whole of `havre.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub log: Log,
    pub tls: Tls,
    pub storage: Storage,
    pub mx: Mx,
    pub lmtp: Lmtp,
    pub imap: Imap,
    pub pop3: Pop3,
    pub managesieve: ManageSieve,
    pub http: Http,
    pub auth: Auth,
    pub directory: DirectorySource,
    pub ldap: Ldap,
    pub smtp: Smtp,
    pub relay: Relay,
    /// Postfix's transport maps: address, domain, `.parent` or `*` to a
    /// next hop (havre-outbound's `routing.rs`).
    pub routing: std::collections::BTreeMap<String, String>,
    pub submission: Submission,
    pub dns: Dns,
    pub dkim: Dkim,
    pub queue: Queue,
    pub mailbox: Mailbox,
    pub sieve: Sieve,
    pub sendmail: Sendmail,
    pub greylist: crate::policy::Greylist,
    pub policy: crate::policy::Policy,
    pub guard: crate::guard::Guard,
    pub antivirus: crate::antivirus::Antivirus,
    pub attachments: crate::attachments::Attachments,
    pub quarantine: crate::attachments::Quarantine,
    pub spam: crate::spam::Spam,
    pub events: Events,
    pub report: Report,
    pub state: StateConfig,
    pub director: crate::director::Director,
}

impl Config {
    /// Whether this node runs `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.server.roles.contains(&role)
    }

    /// Whether this node is a mailbox backend that takes directors' logins
    /// on users' behalf: no director role of its own, and a cluster secret
    /// (`director.secret_file`, or the shared state's in a cluster). Every
    /// session a director relays then comes from a director's address
    /// (`director.trusted_networks`).
    pub fn takes_director_logins(&self) -> bool {
        !self.has_role(Role::Director) && self.has_cluster_secret()
    }

    /// Whether this node has the cluster's secret, which directors' logins
    /// at backends are signed with: `director.secret_file`, or the one
    /// kept in the shared state (`state.backend = "redis"`).
    pub fn has_cluster_secret(&self) -> bool {
        !self.director.secret_file.as_os_str().is_empty()
            || self.state.backend == crate::StateBackend::Redis
    }

    /// Whether this node listens for `role`'s protocol: its own role, or
    /// the director's, which proxies IMAP, POP3, ManageSieve and LMTP to
    /// the mailbox backends on the same listeners.
    pub fn listens_for(&self, role: Role) -> bool {
        self.has_role(role)
            || (self.has_role(Role::Director)
                && matches!(
                    role,
                    Role::Imap | Role::Pop3 | Role::ManageSieve | Role::Lmtp
                ))
    }
}

/// `[events]`: the structured events that reports, graphs and traces
/// read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Events {
    pub enabled: bool,
    /// Events older than this are deleted.
    pub retention: Duration,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            enabled: true,
            retention: Duration::from_secs(31 * 86_400),
        }
    }
}

/// `[state]`: where the short-lived shared state lives (greylisting,
/// rate limits, counters, bans).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    pub backend: StateBackend,
    /// The Redis URL (`redis://host:6379/0`, `rediss://` for TLS).
    pub url: String,
    /// Put before every key, so sites or tests can share one Redis.
    pub prefix: String,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            backend: StateBackend::Embedded,
            url: String::new(),
            prefix: "havre:".into(),
        }
    }
}

/// `state.backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateBackend {
    /// In the node's memory and `state.db`: one node.
    Embedded,
    /// A Redis every node shares: a cluster.
    Redis,
}

impl StateBackend {
    /// The spelling in `havre.toml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Redis => "redis",
        }
    }
}

impl fmt::Display for StateBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StateBackend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "embedded" => Ok(Self::Embedded),
            "redis" => Ok(Self::Redis),
            _ => Err(format!(
                r#"state backend {} is not known; use "embedded" (one node) or "redis" (a cluster)"#,
                quoted(s)
            )),
        }
    }
}

impl Serialize for StateBackend {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StateBackend {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Self>::new(
            r#"a state backend ("embedded" or "redis")"#,
        ))
    }
}

/// `[report]`: the daily report mailed to the postmasters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Report {
    /// Who gets it; empty: nobody (none is sent).
    pub mail_to: Vec<String>,
    /// When, local time, `HH:MM` (or `HH:MM:SS`): the report covers the
    /// 24 hours up to then.
    pub time: String,
}

impl Default for Report {
    fn default() -> Self {
        Self {
            mail_to: Vec::new(),
            time: "00:00".into(),
        }
    }
}

impl Report {
    /// `time` as seconds after midnight, if it is a time of day.
    pub fn seconds_after_midnight(&self) -> Option<u32> {
        let mut parts = self.time.split(':');
        let mut next = |max: u32| -> Option<u32> {
            let part = parts.next()?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok().filter(|n| *n <= max)
        };
        let (hours, minutes) = (next(23)?, next(59)?);
        let seconds = match parts.next() {
            None => 0,
            Some(part) if part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()) => {
                part.parse::<u32>().ok().filter(|n| *n <= 59)?
            }
            Some(_) => return None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(hours * 3600 + minutes * 60 + seconds)
    }
}

/// `[server]`: identity of this node and where it keeps its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    pub hostname: String,
    pub data_dir: PathBuf,
    pub user: String,
    pub roles: Vec<Role>,
    /// Part of every queue id: nodes sharing a store must each have their own.
    pub node_id: u8,
    /// How long a stopping node lets transactions under way finish.
    pub shutdown_grace: Duration,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            data_dir: "/var/lib/havre".into(),
            user: "havre".into(),
            roles: vec![
                Role::Mx,
                Role::Submission,
                Role::Relay,
                Role::Lmtp,
                Role::Imap,
                Role::Pop3,
                Role::ManageSieve,
                Role::Web,
            ],
            node_id: 0,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    pub level: String,
    /// Empty: no file.
    pub file: PathBuf,
    /// Where the lines go besides `file`.
    pub output: LogOutput,
    /// The syslog or journald socket; empty: the system's.
    pub socket: PathBuf,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            level: "info".into(),
            file: PathBuf::new(),
            output: LogOutput::Stderr,
            socket: PathBuf::new(),
        }
    }
}

/// Where log lines go besides `log.file` (`log.output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogOutput {
    /// Standard error (under systemd, the journal as plain lines).
    Stderr,
    /// The local syslog daemon (`/dev/log`, RFC 3164, facility mail).
    Syslog,
    /// systemd-journald's native protocol, one program name per line.
    Journald,
}

impl LogOutput {
    pub const ALL: [Self; 3] = [Self::Stderr, Self::Syslog, Self::Journald];

    /// The spelling in `havre.toml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stderr => "stderr",
            Self::Syslog => "syslog",
            Self::Journald => "journald",
        }
    }

    /// The socket used when `log.socket` is empty.
    pub const fn default_socket(self) -> Option<&'static str> {
        match self {
            Self::Stderr => None,
            Self::Syslog => Some("/dev/log"),
            Self::Journald => Some("/run/systemd/journal/socket"),
        }
    }
}

impl fmt::Display for LogOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogOutput {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("expected stderr, syslog or journald, found {}", quoted(s)))
    }
}

impl Serialize for LogOutput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LogOutput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Self>::new(
            r#"a log output ("stderr", "syslog" or "journald")"#,
        ))
    }
}

/// `[tls]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            cert: "tls/cert.pem".into(),
            key: "tls/key.pem".into(),
        }
    }
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Storage {
    pub backend: StorageBackend,
    pub sqlite_path: PathBuf,
    /// The PostgreSQL URL for `backend = "postgres"` (libpq's form).
    pub url: String,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Sqlite,
            sqlite_path: "havre.db".into(),
            url: String::new(),
        }
    }
}

/// `[mx]`: the listeners and the checks of mail from the Internet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mx {
    #[serde(deserialize_with = "listen_addrs")]
    pub listen: Vec<SocketAddr>,
    /// DNS lists of client addresses (Postfix's postscreen_dnsbl_sites).
    pub dnsbl: Vec<crate::dnsbl::DnsblSite>,
    /// DNS lists of domains: sender, HELO and client name (reject_rhsbl_*).
    pub rhsbl: Vec<crate::dnsbl::DnsblSite>,
    /// The weight from which a client (or a domain) is refused.
    pub dnsbl_threshold: i32,
    /// SPF, DKIM, ARC and DMARC checks, their headers and DMARC's policy.
    pub sender_auth: bool,
    /// An SPF fail of the HELO or MAIL FROM identity is refused (policyd-spf's
    /// default).
    pub spf_reject_fail: bool,
}

impl Default for Mx {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 25))],
            dnsbl: Vec::new(),
            rhsbl: Vec::new(),
            dnsbl_threshold: 1,
            sender_auth: true,
            spf_reject_fail: true,
        }
    }
}

/// `[lmtp]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lmtp {
    #[serde(deserialize_with = "listen_addrs")]
    pub listen: Vec<SocketAddr>,
}

impl Default for Lmtp {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 24))],
        }
    }
}

/// `[imap]`: the IMAP server of the mailbox tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Imap {
    #[serde(deserialize_with = "listen_addrs")]
    pub listen: Vec<SocketAddr>,
    #[serde(deserialize_with = "listen_addrs")]
    pub tls_listen: Vec<SocketAddr>,
    pub idle_timeout: Duration,
    pub login_timeout: Duration,
    pub max_command_length: Size,
    pub max_connections: u32,
    pub max_connections_per_user: u32,
    pub max_connections_per_ip: u32,
}

impl Default for Imap {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 143))],
            tls_listen: vec![SocketAddr::from(([0, 0, 0, 0], 993))],
            idle_timeout: Duration::from_secs(30 * 60),
            login_timeout: Duration::from_secs(60),
            max_command_length: Size(64 * 1024),
            max_connections: 1000,
            max_connections_per_user: 10,
            max_connections_per_ip: 50,
        }
    }
}

/// `[pop3]`: the POP3 server of the mailbox tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pop3 {
    #[serde(deserialize_with = "listen_addrs")]
    pub listen: Vec<SocketAddr>,
    #[serde(deserialize_with = "listen_addrs")]
    pub tls_listen: Vec<SocketAddr>,
    pub idle_timeout: Duration,
    pub max_connections: u32,
    pub max_connections_per_ip: u32,
}

impl Default for Pop3 {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 110))],
            tls_listen: vec![SocketAddr::from(([0, 0, 0, 0], 995))],
            idle_timeout: Duration::from_secs(10 * 60),
            max_connections: 1000,
            max_connections_per_ip: 50,
        }
    }
}

/// `[http]`: the web role's listeners and who may read the metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http {
    #[serde(deserialize_with = "listen_addrs")]
    pub listen: Vec<SocketAddr>,
    /// Networks (CIDR) answered at `/metrics`, `/health/...` and `/stats`.
    pub metrics_networks: Vec<String>,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 8080))],
            metrics_networks: vec!["127.0.0.0/8".into(), "::1/128".into()],
        }
    }
}

/// `[managesieve]`: users' Sieve scripts over ManageSieve (RFC 5804).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManageSieve {
    #[serde(deserialize_with = "listen_addrs")]
    pub listen: Vec<SocketAddr>,
    pub idle_timeout: Duration,
    /// Largest script (Dovecot's `sieve_max_script_size`).
    pub max_script_size: Size,
    /// Scripts per user; 0: no limit (`sieve_quota_max_scripts`).
    pub max_scripts: u32,
    /// All of a user's scripts together; 0: no limit
    /// (`sieve_quota_max_storage`).
    pub quota: Size,
    pub max_connections: u32,
    pub max_connections_per_ip: u32,
}

impl Default for ManageSieve {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 4190))],
            idle_timeout: Duration::from_secs(10 * 60),
            max_script_size: Size(1 << 20),
            max_scripts: 100,
            quota: Size(10 << 20),
            max_connections: 1000,
            max_connections_per_ip: 20,
        }
    }
}

/// `[auth]`: password verification of IMAP, POP3 and submission logins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    /// How long a successful login is remembered (Dovecot's
    /// `auth_cache_ttl`); zero: never.
    pub cache_ttl: Duration,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(60),
        }
    }
}

/// `[directory]`: where accounts, addresses and passwords come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectorySource {
    /// `"internal"`, `"ldap"`, or a chain asked in order
    /// (`["ldap", "internal"]`: LDAP first, then the local exceptions).
    pub backend: Backends,
    /// Local domains besides the database's (`havre domain add`).
    pub domains: Vec<String>,
    /// Domain aliases: `"old.example" = "example"`.
    pub domain_aliases: std::collections::BTreeMap<String, String>,
}

impl Default for DirectorySource {
    fn default() -> Self {
        Self {
            backend: Backends::One(Backend::Internal),
            domains: Vec::new(),
            domain_aliases: std::collections::BTreeMap::new(),
        }
    }
}

/// One directory backend, or several in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Backends {
    One(Backend),
    Chain(Vec<Backend>),
}

impl Backends {
    /// The backends in the order they are asked.
    pub fn list(&self) -> Vec<Backend> {
        match self {
            Backends::One(one) => vec![*one],
            Backends::Chain(chain) => chain.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// havre's own users and aliases (`havre user`, `havre alias`).
    Internal,
    /// The `[ldap]` directory.
    Ldap,
}

/// `[ldap]`: the institution's LDAP directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ldap {
    pub urls: Vec<String>,
    pub starttls: bool,
    pub ca_file: PathBuf,
    pub auth: LdapAuth,
    pub bind_dn: String,
    pub bind_password_file: PathBuf,
    pub base: String,
    pub user_filter: String,
    pub address_filter: String,
    pub group_filter: String,
    /// Finds the entry that makes a domain local (`%s`); empty: none.
    pub domain_filter: String,
    pub max_group_members: u32,
    /// Empty: [`Ldap::EDUPERSON_CLASSES`].
    pub class_map: std::collections::BTreeMap<String, String>,
    pub default_class: String,
    pub disabled_values: Vec<String>,
    pub disabled_mail: DisabledMail,
    pub timeout: Duration,
    pub cache_ttl: Duration,
    pub attributes: LdapAttributes,
}

impl Default for Ldap {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            starttls: true,
            ca_file: PathBuf::new(),
            auth: LdapAuth::Bind,
            bind_dn: String::new(),
            bind_password_file: PathBuf::new(),
            base: String::new(),
            user_filter: "(&(objectClass=inetOrgPerson)(|(uid=%u)(mail=%u)))".into(),
            address_filter: "(&(objectClass=inetOrgPerson)(|(mail=%s)(mailAlternateAddress=%s)))"
                .into(),
            group_filter: "(&(objectClass=groupOfNames)(mail=%s))".into(),
            domain_filter: String::new(),
            max_group_members: 5000,
            class_map: std::collections::BTreeMap::new(),
            default_class: "default".into(),
            disabled_values: vec!["disabled".into(), "inactive".into()],
            disabled_mail: DisabledMail::Unknown,
            timeout: Duration::from_secs(5),
            cache_ttl: Duration::from_secs(60),
            attributes: LdapAttributes::default(),
        }
    }
}

impl Ldap {
    /// eduPerson's affiliations as havre's classes, when `class_map` is empty.
    pub const EDUPERSON_CLASSES: &[(&str, &str)] = &[
        ("student", "student"),
        ("staff", "staff"),
        ("faculty", "staff"),
        ("employee", "staff"),
    ];
}

/// What mail to a disabled LDAP account gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisabledMail {
    /// 550 5.1.1, as for an address nobody has.
    Unknown,
    /// 550 5.2.1, the mailbox disabled.
    Refuse,
}

/// How an LDAP account's password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LdapAuth {
    /// A bind as the user (Dovecot's `auth_bind = yes`).
    Bind,
    /// Her `userPassword` hash, read by the service account and verified
    /// here (`{SSHA}`, `{CRYPT}`, ...).
    Password,
}

/// `[ldap.attributes]`: which attribute holds what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapAttributes {
    pub login: String,
    pub mail: String,
    pub alternate: String,
    pub forward: String,
    pub class: String,
    pub quota: String,
    pub state: String,
    pub mail_host: String,
    pub member: String,
    pub password: String,
}

impl Default for LdapAttributes {
    fn default() -> Self {
        Self {
            login: "uid".into(),
            mail: "mail".into(),
            alternate: "mailAlternateAddress".into(),
            forward: "mailForwardingAddress".into(),
            class: "eduPersonAffiliation".into(),
            quota: "mailQuota".into(),
            state: "mailAccountStatus".into(),
            mail_host: "mailHost".into(),
            member: "member".into(),
            password: "userPassword".into(),
        }
    }
}

/// `[smtp]`: limits of SMTP sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Smtp {
    pub banner: String,
    pub message_size_limit: Size,
    pub line_length_limit: u32,
    pub recipient_limit: u32,
    pub hard_error_limit: u32,
    pub idle_timeout: Duration,
    pub session_deadline: Duration,
    pub max_connections: u32,
    pub max_connections_per_ip: u32,
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            banner: "ESMTP havre".into(),
            message_size_limit: Size(25 << 20),
            line_length_limit: 2048,
            recipient_limit: 1000,
            hard_error_limit: 20,
            idle_timeout: Duration::from_secs(5 * 60),
            session_deadline: Duration::from_secs(3600),
            max_connections: 100,
            max_connections_per_ip: 50,
        }
    }
}

/// `[relay]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Relay {
    /// Empty: no sub-addressing.
    pub recipient_delimiter: String,
    /// Networks (CIDR) whose clients may relay without authenticating, like
    /// Postfix's mynetworks.
    pub internal_networks: Vec<String>,
    /// Destination domain (or `.parent`, or `*`) to a Postfix-style transport:
    /// `smtp:[host]:port`, `smtp:host`, `lmtp:[host]:port`.
    pub routes: std::collections::BTreeMap<String, String>,
    /// Postfix's relay_domains: domains (or `.parent`) this node is not the
    /// final destination of, whose mail it accepts from anyone and passes
    /// on (backup MX, the labs' own servers), by `routing` or their MX.
    pub domains: Vec<String>,
    /// Postfix's relay_recipient_maps: the addresses (or `@domain` for a
    /// whole domain) accepted for the relay domains; empty: any, unless
    /// `recipients_from_ldap`.
    pub recipients: Vec<String>,
    /// The relay domains' recipients are also those LDAP knows (an
    /// account's address or a group's, by `ldap.address_filter` and
    /// `ldap.group_filter`): relay_recipient_maps = ldap:...
    pub recipients_from_ldap: bool,
}

impl Default for Relay {
    fn default() -> Self {
        Self {
            recipient_delimiter: "+".into(),
            internal_networks: vec!["127.0.0.0/8".into(), "::1/128".into()],
            routes: std::collections::BTreeMap::new(),
            domains: Vec::new(),
            recipients: Vec::new(),
            recipients_from_ldap: false,
        }
    }
}

/// `[submission]`: authenticated users sending mail (587 STARTTLS, 465 TLS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Submission {
    #[serde(deserialize_with = "listen_addrs")]
    pub listen: Vec<SocketAddr>,
    #[serde(deserialize_with = "listen_addrs")]
    pub tls_listen: Vec<SocketAddr>,
    /// Classes whose users may send with any envelope sender and From.
    pub any_sender_classes: Vec<String>,
}

impl Default for Submission {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 587))],
            tls_listen: vec![SocketAddr::from(([0, 0, 0, 0], 465))],
            any_sender_classes: Vec::new(),
        }
    }
}

/// `[dns]`: the resolver used for MX lookups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dns {
    /// Empty: the system's resolvers (/etc/resolv.conf).
    pub nameservers: Vec<SocketAddr>,
}

/// `[dkim]`: DKIM signing of outbound mail (keys in `<data_dir>/dkim`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dkim {
    /// Selector of the keys `havre init` and `havre dkim generate` create.
    pub selector: String,
    /// Whether mail of local domains that have a key is signed.
    pub sign: bool,
}

impl Default for Dkim {
    fn default() -> Self {
        Self {
            selector: "havre".into(),
            sign: true,
        }
    }
}

/// `[queue]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Queue {
    pub delivery_concurrency: u32,
    /// Deliveries at once to one remote domain.
    pub destination_concurrency: u32,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub max_lifetime: Duration,
    /// Tell the sender after this long without delivery (0 = never).
    pub delay_warning: Duration,
    /// Postfix's queue_minfree.
    pub min_free_space: Size,
}

impl Default for Queue {
    fn default() -> Self {
        Self {
            delivery_concurrency: 20,
            destination_concurrency: 20,
            retry_min: Duration::from_secs(5 * 60),
            retry_max: Duration::from_secs(3600),
            max_lifetime: Duration::from_secs(5 * 86_400),
            delay_warning: Duration::from_secs(4 * 3600),
            min_free_space: Size(0),
        }
    }
}

/// `[mailbox]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mailbox {
    /// Template with `%d` (domain), `%n` (local part), `%u` (full address).
    pub maildir: String,
    /// Over quota: 452 4.2.2 (retry later) rather than 552 5.2.2.
    pub quota_full_tempfail: bool,
    /// The quota of a user without one of her own, by class.
    pub class_quotas: std::collections::BTreeMap<String, Size>,
}

impl Default for Mailbox {
    fn default() -> Self {
        Self {
            maildir: "mail/%d/%n/Maildir".into(),
            quota_full_tempfail: false,
            class_quotas: std::collections::BTreeMap::new(),
        }
    }
}

/// `[sieve]`: the site's Sieve scripts, run at every local delivery
/// around the user's own (Dovecot's `sieve_before`/`sieve_after`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sieve {
    /// Scripts run before the user's, in order; relative to havre.toml.
    pub before: Vec<PathBuf>,
    /// Scripts run after the user's, in order.
    pub after: Vec<PathBuf>,
    /// Directory of the scripts `include :global "NAME"` finds (NAME.sieve);
    /// empty: only those of before and after.
    pub global_dir: PathBuf,
}

/// `[sendmail]`: mail that local programs submit with `sendmail` (cron,
/// PHP's `mail()`, scripts), through the Unix socket `havre serve` opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sendmail {
    /// Empty: no local submission.
    pub socket: PathBuf,
    /// Domain of unqualified addresses (Postfix's myorigin); empty: the local
    /// domain `server.hostname` is in.
    pub origin: String,
    /// Unix account to mail address (Postfix's canonical_maps for local
    /// users), for the caller and unqualified recipients.
    pub canonical: std::collections::BTreeMap<String, String>,
}

impl Default for Sendmail {
    fn default() -> Self {
        Self {
            socket: "/run/havre/sendmail.sock".into(),
            origin: String::new(),
            canonical: std::collections::BTreeMap::new(),
        }
    }
}

/// A role a node can run (`server.roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Receives Internet mail on port 25.
    Mx,
    /// Authenticated users' outgoing mail (587, 465).
    Submission,
    /// Routes accepted mail to mailboxes or onwards.
    Relay,
    /// The mailbox tier: LMTP listener and Maildir delivery.
    Lmtp,
    /// The mailbox tier: IMAP (143 STARTTLS, 993 TLS).
    Imap,
    /// The mailbox tier: POP3 (110 STLS, 995 TLS).
    Pop3,
    /// The mailbox tier: users' Sieve scripts over ManageSieve (4190 STARTTLS).
    ManageSieve,
    /// Metrics, health probes and the operators' pages over HTTP
    /// (`http.listen`).
    Web,
    /// Proxies in front of the mailbox backends, each user always to the
    /// same one, on the IMAP, POP3, ManageSieve and LMTP listeners.
    Director,
}

impl Role {
    /// Every known role, in documentation order.
    pub const ALL: [Self; 9] = [
        Self::Mx,
        Self::Submission,
        Self::Relay,
        Self::Lmtp,
        Self::Imap,
        Self::Pop3,
        Self::ManageSieve,
        Self::Web,
        Self::Director,
    ];

    /// The spelling in `havre.toml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mx => "mx",
            Self::Submission => "submission",
            Self::Relay => "relay",
            Self::Lmtp => "lmtp",
            Self::Imap => "imap",
            Self::Pop3 => "pop3",
            Self::ManageSieve => "managesieve",
            Self::Web => "web",
            Self::Director => "director",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|r| r.as_str()).collect();
                format!(
                    "expected a role ({}), found {}",
                    known.join(", "),
                    quoted(s)
                )
            })
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Self>::new(
            "a role (mx, submission, relay, lmtp, imap, pop3, managesieve, web, director)",
        ))
    }
}

/// Where the database lives (`storage.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageBackend {
    /// Embedded SQLite, for a single node.
    Sqlite,
    /// One PostgreSQL every node of a cluster shares (`storage.url`).
    Postgres,
}

impl StorageBackend {
    /// The spelling in `havre.toml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl fmt::Display for StorageBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StorageBackend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(format!(
                r#"storage backend {} is not supported by this version of havre; the backends are "sqlite" and "postgres""#,
                quoted(s)
            )),
        }
    }
}

impl Serialize for StorageBackend {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StorageBackend {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Self>::new(
            r#"a storage backend ("sqlite" or "postgres")"#,
        ))
    }
}

/// Deserialises a string through `FromStr`, whose error is the whole message.
struct FromStrVisitor<T> {
    expecting: &'static str,
    _t: std::marker::PhantomData<T>,
}

impl<T> FromStrVisitor<T> {
    fn new(expecting: &'static str) -> Self {
        Self {
            expecting,
            _t: std::marker::PhantomData,
        }
    }
}

impl<T: FromStr<Err = String>> Visitor<'_> for FromStrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

/// A listening address; the error names the expected form.
struct ListenAddr(SocketAddr);

const ADDR_EXPECTED: &str = r#"an address and port like "0.0.0.0:25" or "[::1]:25""#;

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ListenAddr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(ADDR_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListenAddr, E> {
                v.trim().parse().map(ListenAddr).map_err(|_| {
                    E::custom(format!("expected {ADDR_EXPECTED}, found {}", quoted(v)))
                })
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A list of listening addresses; a single string is accepted as a list of one.
pub(crate) fn listen_addrs<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SocketAddr>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<SocketAddr>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of addresses like [\"0.0.0.0:25\"]")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let one = ListenAddr::deserialize(de::value::StrDeserializer::<E>::new(v))?;
            Ok(vec![one.0])
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(ListenAddr(addr)) = seq.next_element()? {
                out.push(addr);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(V)
}
