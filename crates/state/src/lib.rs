//! Short-lived shared state: counters with expiry, rate limits, greylist
//! entries, bans.
//!
//! Checks and the guard remember things between connections through the
//! [`State`] trait: string values with a time to live, counters, a GCRA rate
//! limit ([`Rate`]), and a listing by key prefix. Keys are namespaced by
//! their users (`grey:...`, `awl:...`, `ban:...`, `rate:...`).
//!
//! Every operation is atomic on its key and maps to one Redis command or Lua
//! script, so the cluster's Redis implementation will satisfy the same
//! trait: `get` GET, `set` SET PX, `claim` and `extend` scripts over GET,
//! SET PX and PEXPIRE, `delete` DEL, `incr` INCRBY + PEXPIRE NX
//! (a script), `rate` a GCRA script over GET/SET PX, `list` SCAN MATCH with
//! GET and PTTL. A sequence of operations (read an entry, then write it) is
//! not atomic: callers that do so accept that two concurrent requests may
//! both read the old value.
//!
//! [`RedisState`] is that implementation (`state.backend = "redis"`): every
//! node of a cluster sees the same counters, limits, greylist and bans.
//!
//! [`EmbeddedState`] is the one-node implementation: a map in memory, and
//! for what a caller marks [`Persist::Durable`] (greylist entries, bans,
//! whitelist counters) a write-through copy in a SQLite file of its own
//! (`<data_dir>/state.db`), read back at start. Rate-limit cells and
//! ordinary counters stay in memory only: losing them at a restart forgives
//! a few messages.

#![forbid(unsafe_code)]

mod channels;
mod clock;
mod disk;
mod embedded;
mod gcra;
mod redis;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

pub use clock::{Clock, ManualClock, SystemClock};
pub use embedded::EmbeddedState;
pub use gcra::{Rate, RateAnswer};
pub use redis::RedisState;

/// Whether a value must survive a restart of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// Lost at a restart (rate counters, connection counts).
    Memory,
    /// Kept across restarts until it expires (greylist entries, bans,
    /// auto-whitelist counters). Redis persists everything alike.
    Durable,
}

/// One key, for listings (`havre ban list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// `None`: kept until deleted.
    pub expires_at: Option<SystemTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {path}: {source}")]
    Database { path: String, source: sqlx::Error },
    #[error(
        "state database {path}: schema version {found} is newer than this havre ({known}); upgrade havre"
    )]
    SchemaTooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("state key {0} does not hold a number")]
    NotANumber(String),
    #[error("the state's writer has stopped; the change was not saved")]
    WriterGone,
    /// Redis refused or could not be reached (`state.url`).
    #[error("redis: {0}")]
    Redis(String),
}

pub type Result<T> = std::result::Result<T, StateError>;

/// Short-lived state shared by the checks, the guard and (in a cluster) every
/// node. See the crate documentation for the Redis mapping of each method.
#[async_trait]
pub trait State: Send + Sync + 'static {
    /// The value of `key`, if it exists and has not expired.
    async fn get(&self, key: &str) -> Result<Option<String>>;

    /// Sets `key` to `value`, expiring after `ttl` (`None`: never).
    async fn set(
        &self,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
        persist: Persist,
    ) -> Result<()>;

    /// Sets `key` to `value` unless it holds a live value already (other
    /// than `replacing`, which may be overwritten), and returns the value
    /// it holds afterwards: ours, or the one another node set first. Two
    /// nodes claiming at once agree on one value; claiming the value a key
    /// holds renews its expiry.
    async fn claim(
        &self,
        key: &str,
        value: &str,
        replacing: Option<&str>,
        ttl: Option<Duration>,
        persist: Persist,
    ) -> Result<String>;

    /// Renews `key`'s expiry to `ttl` from now if it holds `value`, and
    /// returns what it holds (`None`: nothing). Unlike [`State::claim`], it
    /// never sets a key that is gone: what another node removed (a user's
    /// assignment dropped by a flush) stays removed.
    async fn extend(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>>;

    /// `key` with its value and expiry, as [`State::list`] shows it, if it
    /// is there (Redis: GET and PTTL, no scan of the keyspace).
    async fn entry(&self, key: &str) -> Result<Option<Entry>> {
        Ok(self.list(key).await?.into_iter().find(|e| e.key == key))
    }

    /// Removes `key`; whether it existed.
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Adds `by` to the counter at `key` (a missing key counts from 0) and
    /// returns the new value. The `ttl` is set when the key is created and
    /// not moved by later increments: the counter covers a fixed period from
    /// its first increment.
    async fn incr(&self, key: &str, by: i64, ttl: Duration, persist: Persist) -> Result<i64>;

    /// One request of `cost` units against the rate limit at `key` (GCRA:
    /// see [`Rate`]). A refused request costs nothing. Never persisted.
    async fn rate(&self, key: &str, rate: &Rate, cost: u64) -> Result<RateAnswer>;

    /// Every live key that starts with `prefix`, sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<Entry>>;

    /// Sends `message` to every node's subscribers of `channel` (this
    /// node's too): change notifications, at most once, not kept for a
    /// node that is not listening. One node alone has nobody else to tell:
    /// the embedded state sends nothing.
    async fn publish(&self, channel: &str, message: &str) -> Result<()>;

    /// The messages published on `channel` from now on, by any node. The
    /// subscription outlives a restart of the server it rides on (messages
    /// sent meanwhile are lost: listeners look at the data itself when they
    /// wake, and now and then anyway). Ends when the receiver is dropped.
    fn subscribe(&self, channel: &str) -> tokio::sync::mpsc::Receiver<String>;
}
