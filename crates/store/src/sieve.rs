//! Users' Sieve scripts (RFC 5804's model, as ManageSieve and `havre sieve`
//! see it): per user, scripts by name, at most one active. The source is
//! kept as uploaded; whoever runs it compiles it (havre-sieve) and may keep
//! the compiled form keyed by [`SieveScript::changed`].

use async_trait::async_trait;

use crate::Result;
use crate::rows::StoreRow;

/// One script of a user, without its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SieveScriptInfo {
    pub name: String,
    pub active: bool,
    /// Bytes of the source.
    pub size: u64,
}

/// A script with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SieveScript {
    pub name: String,
    pub source: String,
    /// Counts up each time any script of the user is written, renamed or
    /// (de)activated: a compiled copy kept with an older value is stale.
    pub changed: i64,
}

/// What [`SieveStore::sieve_delete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SieveDeleted {
    Deleted,
    NoSuchScript,
    /// The active script is never deleted (RFC 5804 2.10: `NO (ACTIVE)`).
    Active,
}

/// What [`SieveStore::sieve_rename`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SieveRenamed {
    Renamed,
    NoSuchScript,
    /// Another script has the new name (`NO (ALREADYEXISTS)`).
    NameTaken,
}

#[async_trait]
pub trait SieveStore: Send + Sync {
    /// Creates or replaces `name`; an active script stays active.
    async fn sieve_put(&self, user: &str, name: &str, source: &str) -> Result<()>;
    async fn sieve_get(&self, user: &str, name: &str) -> Result<Option<SieveScript>>;
    /// By name.
    async fn sieve_list(&self, user: &str) -> Result<Vec<SieveScriptInfo>>;
    /// Makes `name` the active script (the others inactive); `None`
    /// deactivates all. False when there is no script `name`.
    async fn sieve_activate(&self, user: &str, name: Option<&str>) -> Result<bool>;
    async fn sieve_delete(&self, user: &str, name: &str) -> Result<SieveDeleted>;
    async fn sieve_rename(&self, user: &str, from: &str, to: &str) -> Result<SieveRenamed>;
    /// The active script, what delivery runs; one read.
    async fn sieve_active(&self, user: &str) -> Result<Option<SieveScript>>;
    /// Bytes of all the user's scripts (ManageSieve's HAVESPACE and quota).
    async fn sieve_used(&self, user: &str) -> Result<u64>;
}

/// A row of `name`, `source` and the user's `changed`.
pub(crate) fn script_from_row(
    row: &impl StoreRow,
) -> std::result::Result<SieveScript, sqlx::Error> {
    Ok(SieveScript {
        name: row.text("name")?,
        source: row.text("source")?,
        changed: row.int("changed")?,
    })
}

/// A row of `name`, `active` and `size` (the source's bytes).
pub(crate) fn info_from_row(
    row: &impl StoreRow,
) -> std::result::Result<SieveScriptInfo, sqlx::Error> {
    Ok(SieveScriptInfo {
        name: row.text("name")?,
        active: row.int("active")? != 0,
        size: row.int("size")? as u64,
    })
}
