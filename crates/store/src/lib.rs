//! The store: every piece of state havre keeps outside message bodies.
//!
//! Domains, users, aliases and the queue's records live behind the [`Store`]
//! trait. The embedded implementation ([`SqliteStore`]) is SQLite in WAL mode with
//! `synchronous=NORMAL` and a group fsync of the WAL after each commit, so a
//! successful call that writes has reached the disk (concurrent writers share
//! the fsync: see `durable.rs` for why that is sound). A
//! PostgreSQL implementation for clusters will satisfy the same trait; the layers
//! above (directory, queue, relay, CLI) only ever see `Arc<dyn Store>`.
//!
//! What the store promises:
//! - addresses and domain names are stored lower-case: callers normalise before
//!   asking, the store never guesses;
//! - a queue record is either fully written (message row and all its recipients)
//!   or not at all;
//! - the schema is versioned; opening a store applies the missing migrations in
//!   order, each in its own transaction, and refuses a database newer than the code.
//!
//! What it refuses: duplicate domains, users or alias targets
//! ([`StoreError::AlreadyExists`]), and users or aliases in a domain that does not
//! exist ([`StoreError::NoSuchDomain`]).

#[macro_use]
mod rows;
mod bayes;
mod durable;
mod flags;
mod liveness;
mod mail;
pub mod migrate;
mod migrations;
mod model;
mod postgres;
mod postgres_batch;
mod postgres_bayes;
mod postgres_entries;
mod postgres_flush;
mod postgres_hosts;
mod postgres_mail;
mod postgres_search;
mod postgres_sieve;
mod postgres_write;
mod readers;
mod script;
mod search;
mod sieve;
mod sqlite;
mod sqlite_bayes;
mod sqlite_mail;
mod sqlite_search;
mod sqlite_sieve;

pub use bayes::*;
pub use flags::*;
pub use mail::*;
pub use model::*;
pub use postgres::PostgresStore;
pub use search::*;
pub use sieve::*;
pub use sqlite::SqliteStore;

/// The schema version this code writes (the last migration).
pub const SCHEMA_VERSION: i64 = migrations::MIGRATIONS[migrations::MIGRATIONS.len() - 1].version;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("domain {0} does not exist (add it first with `havre domain add {0}`)")]
    NoSuchDomain(String),
    #[error("domain {domain} still has {users} user(s) and {aliases} alias(es); remove them first")]
    DomainNotEmpty {
        domain: String,
        users: i64,
        aliases: i64,
    },
    #[error(
        "the database schema is version {found}, newer than this havre ({known}); upgrade havre"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("mailbox {0} does not exist")]
    NoSuchMailbox(String),
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The commit said yes but another connection cannot see the row: the
    /// write must not be acknowledged.
    #[error("{0} was not found after its commit; the write did not happen")]
    NotCommitted(String),
    /// What this engine leaves to its own tools (a copy of PostgreSQL).
    #[error("not with this storage backend: {0}")]
    NotOnThisEngine(&'static str),
}

/// SQLite's primary result code for "database or disk is full".
const SQLITE_FULL: i64 = 13;

/// PostgreSQL's SQLSTATE for a full disk (class 53, insufficient resources).
const POSTGRES_DISK_FULL: &str = "53100";

impl StoreError {
    /// The disk (or the database's size limit) is full: a temporary condition
    /// that clears when space is freed, answered 452 4.3.1 by SMTP.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
                code == POSTGRES_DISK_FULL
                    || (db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                        && code
                            .parse::<i64>()
                            .is_ok_and(|code| code & 0xff == SQLITE_FULL))
            }),
            StoreError::Database(sqlx::Error::Io(err)) | StoreError::Io { source: err, .. } => {
                err.kind() == std::io::ErrorKind::StorageFull
            }
            _ => false,
        }
    }
}

impl StoreError {
    /// The database cannot be reached (down, restarting, every connection
    /// busy past the wait): a temporary condition that clears by itself,
    /// answered 451 4.3.0 by SMTP and `NO [UNAVAILABLE]` by IMAP.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(err) => liveness::is_connection_lost(err),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    /// Every database error passes here: a lost connection is noted, so
    /// the pool checks the connections that were idle meanwhile.
    fn from(err: sqlx::Error) -> StoreError {
        liveness::note(&err);
        StoreError::Database(err)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything a node keeps: the directory and the queue here, mailboxes in
/// [`MailStore`] (their search index in [`SearchStore`]), the Bayes
/// classifier's counts in [`BayesStore`].
#[async_trait]
pub trait Store: MailStore + BayesStore + SearchStore + SieveStore + Send + Sync + 'static {
    // Domains.
    async fn add_domain(&self, name: &str) -> Result<()>;
    /// Refuses a domain that still has users or aliases.
    async fn remove_domain(&self, name: &str) -> Result<bool>;
    async fn list_domains(&self) -> Result<Vec<Domain>>;
    async fn domain_exists(&self, name: &str) -> Result<bool>;

    // Users.
    async fn add_user(&self, user: &NewUser) -> Result<()>;
    async fn get_user(&self, email: &str) -> Result<Option<User>>;
    async fn list_users(&self, domain: Option<&str>) -> Result<Vec<User>>;
    async fn set_password(&self, email: &str, password_hash: Option<&str>) -> Result<bool>;
    /// Changes what `changes` names (class, quota, disabled, password), all or none;
    /// false when there is no such user.
    async fn modify_user(&self, email: &str, changes: &UserChanges) -> Result<bool>;
    async fn remove_user(&self, email: &str) -> Result<bool>;
    /// Replaces the default quota of each class (bytes): a user whose own
    /// quota is `None` has her class's; `Some(0)` is unlimited.
    async fn set_class_quotas(&self, quotas: &[(String, u64)]) -> Result<()>;

    // Aliases: one address (or `@domain` for a catch-all) to many targets.
    async fn add_alias(&self, address: &str, targets: &[String]) -> Result<()>;
    async fn alias_targets(&self, address: &str) -> Result<Vec<String>>;
    /// Whether `domain` is ours, a user has `address` and what alias it is,
    /// in one read: resolving a recipient asks all three.
    async fn address_entry(&self, address: &str, domain: &str) -> Result<AddressEntry>;
    async fn list_aliases(&self) -> Result<Vec<Alias>>;
    /// Removes one target, or the whole alias when `target` is `None`; returns how
    /// many targets went.
    async fn remove_alias(&self, address: &str, target: Option<&str>) -> Result<u64>;

    // Queue records. A body is kept with its record (`body`), or is a
    // spool file (`None`, see the queue crate).
    /// Commits the message, all its recipients and its body in one
    /// transaction.
    async fn queue_insert(&self, entry: &QueueEntry, body: Option<&[u8]>) -> Result<()>;
    /// The body kept with a record; `None` when it has none (its body is a
    /// spool file) or there is no such record.
    async fn queue_body(&self, id: &str) -> Result<Option<Vec<u8>>>;
    async fn queue_get(&self, id: &str) -> Result<Option<QueueEntry>>;
    /// [`Store::queue_get`] and [`Store::queue_body`] at once: what a
    /// delivery attempt starts from (one round trip on PostgreSQL).
    async fn queue_get_with_body(&self, id: &str) -> Result<Option<(QueueEntry, Option<Vec<u8>>)>> {
        let Some(entry) = self.queue_get(id).await? else {
            return Ok(None);
        };
        let body = self.queue_body(id).await?;
        Ok(Some((entry, body)))
    }
    /// Every message, in arrival order (for `havre queue list`).
    async fn queue_list(&self) -> Result<Vec<QueueEntry>>;
    /// How many messages by state, their bytes and the oldest arrival, in
    /// one read (metrics, health).
    async fn queue_summary(&self) -> Result<QueueSummary>;
    /// Writes a consistent copy of the whole store into the new file
    /// `path` while the store serves (`havre backup snapshot`): SQLite's
    /// `VACUUM INTO`, one read transaction, so writers go on meanwhile.
    async fn snapshot_to(&self, path: &std::path::Path) -> Result<()>;
    /// Messages not on hold whose next attempt is due at `now` (unix seconds).
    async fn queue_due(&self, now: i64, limit: i64) -> Result<Vec<QueueEntry>>;
    /// Records the outcome of one delivery attempt: recipient statuses, attempt
    /// count and the time of the next attempt, in one transaction.
    async fn queue_record_attempt(&self, attempt: &AttemptOutcome) -> Result<()>;
    /// [`Store::queue_record_attempt`], and in the same transaction the
    /// index rows of the messages the attempt delivered and the removal of
    /// the record when every recipient is now final: one commit, one sync
    /// per attempt.
    async fn queue_finish_attempt(
        &self,
        attempt: &AttemptOutcome,
        delivered: &[DeliveredRow],
    ) -> Result<FinishedAttempt>;
    async fn queue_remove(&self, id: &str) -> Result<bool>;
    /// Records that the sender was warned of the delay (once per message).
    async fn queue_mark_warned(&self, id: &str) -> Result<()>;
    /// Puts a message on hold (no delivery attempts) or releases it; a
    /// release also clears its quarantine reason.
    async fn queue_hold(&self, id: &str, hold: bool) -> Result<bool>;
    /// Messages on hold with a reason (quarantined by a check), in arrival
    /// order; with `arrived_before`, only those that arrived before then.
    async fn queue_quarantined(&self, arrived_before: Option<i64>) -> Result<Vec<QueueEntry>>;
    /// Makes messages due now (`id` or, with `None`, every message not on
    /// hold); with `reset_attempts` the retry schedule starts over (requeue).
    async fn queue_reschedule(
        &self,
        id: Option<&str>,
        now: i64,
        reset_attempts: bool,
    ) -> Result<u64>;

    // The cluster. On PostgreSQL `queue_list`, `queue_due`,
    // `queue_summary`, `queue_quarantined` and a reschedule of every
    // message see this node's records only (`QueueEntry::node`), as each
    // Postfix host has its own queue; SQLite's store is one node's.
    /// Every node's records (`havre queue list --all-nodes`), in arrival order.
    async fn queue_list_all_nodes(&self) -> Result<Vec<QueueEntry>>;
    /// Each node's queue in numbers (`havre cluster status`), by node.
    async fn queue_summary_by_node(&self) -> Result<Vec<(u8, QueueSummary)>>;
    /// Records that a node is alive and what it is: at its start, then at
    /// each heartbeat.
    async fn node_heartbeat(&self, node: &NodeStatus) -> Result<()>;
    /// The nodes that ever told the store they run, by id.
    async fn nodes(&self) -> Result<Vec<NodeStatus>>;
}
