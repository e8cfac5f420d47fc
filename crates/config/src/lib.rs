//! Configuration of havre: the typed model of `havre.toml`, its loader, and
//! the `postconf`-like operations behind `havre config`.
//!
//! One TOML file describes a node. Each table (`[server]`, `[smtp]`, ...) maps
//! to a struct of [`Config`]; every key has a default and a one-line
//! documentation ([`KEY_DOCS`]), so a missing key is never an error and
//! [`defaults_commented`] can print the whole file, commented, from the code.
//!
//! What this crate promises:
//! - [`load`] either returns a configuration that passed every check, or an
//!   error naming the file, the line and the dotted key, and saying what was
//!   expected (`havre.toml:14: smtp.message_size_limit: expected a size like
//!   "25M" or a number of bytes, found "lots"`). It never panics, whatever the
//!   input.
//! - Relative paths are resolved by [`LoadedConfig`]: against the directory of
//!   `havre.toml` for `server.data_dir`, `tls.*` and `log.file`, against the
//!   data directory for `storage.sqlite_path` and `mailbox.maildir`.
//! - [`show`], [`show_defaults`], [`show_non_default`] and [`get`] list keys as
//!   `dotted.key = value` in document order, like `postconf`, `postconf -d`
//!   and `postconf -n`. Keys are TOML key paths: `relay.routes."remote.test"`
//!   has three segments.
//! - [`set`] edits the file in place, keeping comments and layout, checks the
//!   whole result with the same loader, and replaces the file atomically; an
//!   invalid change leaves the file untouched. [`unset`] removes a key the
//!   same way, so that it takes its default again (`postconf -X`).
//!
//! What it refuses: unknown keys (with the list of the known ones, so a typo
//! never silently falls back to a default), values of the wrong type or out of
//! range, storage backends this version does not have, an enabled role with
//! no listener, two listeners on one address, a log level that is no level
//! (`"verbose"`, which the logger would take for a target and so log
//! nothing), `queue.retry_min` above `queue.retry_max`, and a Maildir
//! template that would put every user in the same mailbox. What needs the
//! files the configuration names (certificates, keys, the data directory)
//! is checked by the binary, which reports it through
//! [`LoadedConfig::invalid`] with the same file:line:key form.

#![forbid(unsafe_code)]

mod antivirus;
mod attachments;
mod director;
mod dnsbl;
mod docs;
mod edit;
mod error;
mod flatten;
mod guard;
mod keys;
mod load;
mod locate;
mod model;
mod policy;
mod secrets;
mod spam;
mod validate;
mod values;

pub use antivirus::{Antivirus, ClamdAddress, OnScanError};
pub use attachments::{
    AttachmentAction, Attachments, DEFAULT_REFUSED_EXTENSIONS, DEFAULT_REFUSED_TYPES, Quarantine,
};
pub use director::{BackendPorts, Director};
pub use dnsbl::{AnswerPattern, DnsblSite};
pub use docs::{KEY_DOCS, defaults_commented, doc, init_text};
pub use edit::{parse_value, set, unset};
pub use error::{ConfigError, Location};
pub use flatten::{changed_keys, get, get_pairs, show, show_defaults, show_non_default};
pub use guard::{Guard, INTERNAL_NETWORKS};
pub use keys::{format_key, parse_key};
pub use load::{LoadedConfig, check, load, parse};
pub use model::{
    Auth, Backend, Backends, Config, DirectorySource, DisabledMail, Dkim, Imap, Ldap,
    LdapAttributes, LdapAuth, Lmtp, Log, LogOutput, Mailbox, ManageSieve, Mx, Pop3, Queue, Relay,
    Role, Sendmail, Server, Sieve, Smtp, StateBackend, StateConfig, Storage, StorageBackend, Tls,
};
pub use policy::{
    Greylist, Policy, PolicyAction, PolicyRule, PolicyStage, RateKey, RateLimitSpec, RateWhat,
};
pub use secrets::{hide_secrets, without_password};
pub use spam::{Points, Spam};
pub use values::{Duration, Size, ValueError};

/// Re-exported so callers of [`init_text`] can build values.
pub use toml_edit;
