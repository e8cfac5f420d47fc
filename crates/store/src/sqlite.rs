//! The embedded store: SQLite in WAL mode, `synchronous=NORMAL` and a
//! group fsync of the WAL after each write that answers someone (see
//! `durable.rs`).
//!
//! One writer connection (SQLite has a single writer anyway, and a lone writer
//! never hits `SQLITE_BUSY_SNAPSHOT`) and a small pool of readers. Other
//! processes (the CLI while `havre serve` runs) wait on `busy_timeout`.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteQueryResult, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::durable::WalSync;
use crate::mail::Indexed;
use crate::migrations::pending;
use crate::readers::{Reader, Readers};
use crate::rows::{entries_from_rows, node_from_row, summaries_by_node, user_from_row};
use crate::script::Script;
use crate::sqlite_mail::index_message;
use crate::*;

pub struct SqliteStore {
    /// Reached only through `begin`/`commit`, `write` and `run`, which make
    /// what they commit durable before returning.
    pub(crate) writer: SqlitePool,
    reader: Readers,
    /// `None` in memory: nothing to sync.
    pub(crate) wal: Option<Arc<WalSync>>,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Commits do not wait for the disk; `commit`/`write`/`run` sync the WAL.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let writer = pool_options(1)
            .after_release(|conn, _| Box::pin(writer_is_reusable(conn)))
            .connect_with(options.clone())
            .await?;
        let reader = Readers::open(&options, 4).await?;
        // SQLite names the WAL after the database's real path (symbolic
        // links resolved): syncing a `-wal` beside a link would sync nothing.
        let real = std::fs::canonicalize(path).map_err(|source| StoreError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let wal = Arc::new(WalSync::new(&real));
        let store = SqliteStore {
            writer,
            reader,
            wal: Some(wal.clone()),
        };
        store.migrate().await?;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.writer)
            .await?;
        // The pools hold connections open, so a WAL database has its `-wal`
        // now; a sync that found none would take it for checkpointed.
        if mode.eq_ignore_ascii_case("wal") && !wal.path().exists() {
            return Err(StoreError::Io {
                path: wal.path().display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the database is in WAL mode but its -wal file is not where it was expected",
                ),
            });
        }
        Ok(store)
    }

    /// An in-memory store for unit tests of the layers above.
    pub async fn memory() -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection serves both roles: each in-memory connection is its own database.
        let pool = pool_options(1).connect_with(options).await?;
        let store = SqliteStore {
            writer: pool.clone(),
            reader: Readers::Shared(pool),
            wal: None,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .execute(&self.writer)
        .await?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&self.writer)
                .await?;
        for migration in pending(current)? {
            let mut tx = self.begin().await?;
            sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            self.commit(tx).await?;
            tracing::info!(target: "store", "applied schema migration {} ({})", migration.version, migration.name);
        }
        Ok(())
    }

    /// A write transaction on the single writer connection; end it with
    /// [`SqliteStore::commit`] (dropping it rolls back).
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin().await?)
    }

    /// Commits and returns once the commit is on disk: the only way a
    /// write transaction ends in success.
    pub(crate) async fn commit(&self, tx: Transaction<'static, Sqlite>) -> Result<()> {
        tx.commit().await?;
        self.synced().await
    }

    /// One statement in its own transaction, on disk when this returns.
    pub(crate) async fn write(
        &self,
        query: sqlx::query::Query<'_, Sqlite, SqliteArguments>,
    ) -> sqlx::Result<SqliteQueryResult> {
        let done = query.execute(&self.writer).await?;
        self.synced().await.map_err(|err| match err {
            StoreError::Io { source, .. } => sqlx::Error::Io(source),
            other => sqlx::Error::Protocol(other.to_string()),
        })?;
        Ok(done)
    }

    /// One statement whose loss costs only its recomputation (a cache): it
    /// becomes durable with the next synced commit or checkpoint.
    pub(crate) async fn write_derived(
        &self,
        query: sqlx::query::Query<'_, Sqlite, SqliteArguments>,
    ) -> sqlx::Result<SqliteQueryResult> {
        query.execute(&self.writer).await
    }

    /// Waits until every commit made so far is on disk (a group fsync of
    /// the WAL, shared with concurrent writers).
    pub(crate) async fn synced(&self) -> Result<()> {
        let Some(wal) = &self.wal else {
            return Ok(());
        };
        wal.synced().await.map_err(|source| StoreError::Io {
            path: wal.path().display().to_string(),
            source,
        })
    }

    /// A read connection, lent until dropped: use it for one statement
    /// (`&mut *self.read().await?`), never hold it across another read.
    pub(crate) async fn read(&self) -> Result<Reader> {
        Ok(self.reader.get().await?)
    }

    pub async fn schema_version(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&mut *self.read().await?)
                .await?,
        )
    }

    async fn require_domain(&self, tx: &mut Transaction<'_, Sqlite>, domain: &str) -> Result<()> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM domains WHERE name = ?")
            .bind(domain)
            .fetch_optional(&mut **tx)
            .await?;
        match exists {
            Some(_) => Ok(()),
            None => Err(StoreError::NoSuchDomain(domain.to_string())),
        }
    }
}

/// A pool of connections that are not pinged before each use: the ping is a
/// round trip to the connection's worker thread, made for servers across a
/// network. A worker that died answers the next statement with an error,
/// and the pool's own ping at release closes its connection.
fn pool_options(connections: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(connections)
        .test_before_acquire(false)
}

/// Whether the writer connection may serve the next caller.
///
/// When a COMMIT fails with SQLITE_FULL, SQLite rolls the transaction back
/// itself; sqlx's own ROLLBACK then fails ("no transaction is active") and its
/// transaction depth stays at 1, so every later `begin` would open a SAVEPOINT
/// inside a transaction that never commits — acknowledged writes that vanish,
/// and other processes locked out. Such a connection is closed and the pool
/// opens a fresh one. The ping makes sure the rollback that a dropped
/// transaction queued has run before the depth is read; with no transaction
/// counted there is none queued, and the round trip is saved.
async fn writer_is_reusable(conn: &mut sqlx::SqliteConnection) -> sqlx::Result<bool> {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!(target: "store", "a transaction could neither commit nor roll back (disk full?); reopening the database connection");
        return Ok(false);
    }
    Ok(true)
}

/// A unique-key violation is the caller's duplicate (`what` names it); any
/// other error is the database's.
pub(crate) fn already_exists(err: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists(what()),
        _ => err.into(),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn add_domain(&self, name: &str) -> Result<()> {
        self.write(
            sqlx::query("INSERT INTO domains (name, created_at) VALUES (?, ?)")
                .bind(name)
                .bind(now()),
        )
        .await
        .map_err(|e| already_exists(e, || format!("domain {name}")))?;
        Ok(())
    }

    async fn remove_domain(&self, name: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE domain = ?")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        let aliases: i64 =
            sqlx::query_scalar("SELECT COUNT(DISTINCT address) FROM aliases WHERE domain = ?")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        if users > 0 || aliases > 0 {
            return Err(StoreError::DomainNotEmpty {
                domain: name.to_string(),
                users,
                aliases,
            });
        }
        let done = sqlx::query("DELETE FROM domains WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_domains(&self) -> Result<Vec<Domain>> {
        let rows = sqlx::query("SELECT name, created_at FROM domains ORDER BY name")
            .fetch_all(&mut *self.read().await?)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Domain {
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn domain_exists(&self, name: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM domains WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(found.is_some())
    }

    async fn add_user(&self, user: &NewUser) -> Result<()> {
        let mut tx = self.begin().await?;
        self.require_domain(&mut tx, domain_of(&user.email)).await?;
        sqlx::query(
            "INSERT INTO users (email, domain, password_hash, class, quota, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.email)
        .bind(domain_of(&user.email))
        .bind(&user.password_hash)
        .bind(&user.class)
        .bind(user.quota.map(|q| q as i64))
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(|e| already_exists(e, || format!("user {}", user.email)))?;
        self.commit(tx).await?;
        Ok(())
    }

    async fn get_user(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT email, password_hash, class, ",
            effective_quota!(),
            ", created_at, disabled FROM users WHERE email = ?"
        ))
        .bind(email)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn list_users(&self, domain: Option<&str>) -> Result<Vec<User>> {
        let rows = match domain {
            Some(d) => {
                sqlx::query(concat!(
                    "SELECT email, password_hash, class, ",
                    effective_quota!(),
                    ", created_at, disabled FROM users WHERE domain = ? ORDER BY email"
                ))
                .bind(d)
                .fetch_all(&mut *self.read().await?)
                .await?
            }
            None => {
                sqlx::query(concat!(
                    "SELECT email, password_hash, class, ",
                    effective_quota!(),
                    ", created_at, disabled FROM users ORDER BY domain, email"
                ))
                .fetch_all(&mut *self.read().await?)
                .await?
            }
        };
        Ok(rows
            .iter()
            .map(user_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn set_password(&self, email: &str, password_hash: Option<&str>) -> Result<bool> {
        let done = self
            .write(
                sqlx::query("UPDATE users SET password_hash = ? WHERE email = ?")
                    .bind(password_hash)
                    .bind(email),
            )
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn modify_user(&self, email: &str, changes: &UserChanges) -> Result<bool> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(false);
        }
        if let Some(class) = &changes.class {
            sqlx::query("UPDATE users SET class = ? WHERE email = ?")
                .bind(class)
                .bind(email)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(quota) = changes.quota {
            sqlx::query("UPDATE users SET quota = ? WHERE email = ?")
                .bind(quota.map(|q| q as i64))
                .bind(email)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(hash) = &changes.password_hash {
            sqlx::query("UPDATE users SET password_hash = ? WHERE email = ?")
                .bind(hash)
                .bind(email)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(disabled) = changes.disabled {
            sqlx::query("UPDATE users SET disabled = ? WHERE email = ?")
                .bind(i64::from(disabled))
                .bind(email)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(true)
    }

    async fn set_class_quotas(&self, quotas: &[(String, u64)]) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM class_quotas")
            .execute(&mut *tx)
            .await?;
        for (class, quota) in quotas {
            sqlx::query("INSERT INTO class_quotas (class, quota) VALUES (?, ?)")
                .bind(class)
                .bind(*quota as i64)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await
    }

    async fn remove_user(&self, email: &str) -> Result<bool> {
        // The mailbox index goes with the user (messages cascade): a user added
        // again later must not find stale UIDs pointing at files.
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM users WHERE email = ?")
            .bind(email)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            sqlx::query("DELETE FROM mailboxes WHERE user = ?")
                .bind(email)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM subscriptions WHERE user = ?")
                .bind(email)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM metadata WHERE user = ?")
                .bind(email)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM sieve_scripts WHERE user = ?")
                .bind(email)
                .execute(&mut *tx)
                .await?;
            // Her Bayes counts too: an address given to someone else later
            // starts with none.
            for delete in [
                "DELETE FROM bayes_tokens WHERE owner = ?",
                "DELETE FROM bayes_totals WHERE owner = ?",
                "DELETE FROM bayes_learned WHERE owner = ?",
            ] {
                sqlx::query(delete).bind(email).execute(&mut *tx).await?;
            }
        }
        self.commit(tx).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_alias(&self, address: &str, targets: &[String]) -> Result<()> {
        let mut tx = self.begin().await?;
        self.require_domain(&mut tx, domain_of(address)).await?;
        let mut position: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM aliases WHERE address = ?",
        )
        .bind(address)
        .fetch_one(&mut *tx)
        .await?;
        for target in targets {
            sqlx::query(
                "INSERT INTO aliases (address, domain, target, position) VALUES (?, ?, ?, ?)",
            )
            .bind(address)
            .bind(domain_of(address))
            .bind(target)
            .bind(position)
            .execute(&mut *tx)
            .await
            .map_err(|e| already_exists(e, || format!("alias {address} -> {target}")))?;
            position += 1;
        }
        self.commit(tx).await?;
        Ok(())
    }

    async fn alias_targets(&self, address: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT target FROM aliases WHERE address = ? ORDER BY position")
                .bind(address)
                .fetch_all(&mut *self.read().await?)
                .await?,
        )
    }

    async fn address_entry(&self, address: &str, domain: &str) -> Result<AddressEntry> {
        // A user's row carries her quota and its use (NULL: no quota; the
        // use is summed only for a user who has one) and, when she has an
        // active Sieve script, her scripts' change counter.
        let rows: Vec<AddressRow> = sqlx::query_as(concat!(
            "SELECT kind, value, quota, used, sieve FROM (
                 SELECT 0 AS kind, target AS value, position, NULL AS quota, NULL AS used,
                     NULL AS sieve
                     FROM aliases WHERE address = ?1
                 UNION ALL SELECT 1, email, 0, quota, CASE WHEN quota IS NULL THEN NULL ELSE
                     (SELECT COALESCE(SUM(bytes), 0) FROM mailboxes WHERE user = ?1) END,
                     (SELECT changed FROM sieve_users WHERE user = ?1 AND EXISTS
                         (SELECT 1 FROM sieve_scripts WHERE user = ?1 AND active = 1))
                     FROM (SELECT email, ",
            effective_quota!(),
            " FROM users WHERE email = ?1)
                 UNION ALL SELECT 2, name, 0, NULL, NULL, NULL FROM domains WHERE name = ?2)
             ORDER BY kind, position"
        ))
        .bind(address)
        .bind(domain)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(AddressEntry::from_rows(rows))
    }

    async fn list_aliases(&self) -> Result<Vec<Alias>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT address, target FROM aliases ORDER BY domain, address, position",
        )
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(Alias::group(rows))
    }

    async fn remove_alias(&self, address: &str, target: Option<&str>) -> Result<u64> {
        let done = match target {
            Some(t) => {
                self.write(
                    sqlx::query("DELETE FROM aliases WHERE address = ? AND target = ?")
                        .bind(address)
                        .bind(t),
                )
                .await?
            }
            None => {
                self.write(sqlx::query("DELETE FROM aliases WHERE address = ?").bind(address))
                    .await?
            }
        };
        Ok(done.rows_affected())
    }

    async fn queue_insert(&self, entry: &QueueEntry, body: Option<&[u8]>) -> Result<()> {
        let mut script = Script::new();
        insert_queue_record(&mut script, entry, body);
        let inserted = self.run(script).await?;
        if inserted.is_empty() {
            return Err(StoreError::AlreadyExists(format!(
                "queue record {}",
                entry.id
            )));
        }
        // The record is what makes a 250 true: read it back through another
        // connection, which only sees what really committed.
        let committed: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM queue_messages WHERE id = ?")
                .bind(&entry.id)
                .fetch_optional(&mut *self.read().await?)
                .await?;
        if committed.is_none() {
            return Err(StoreError::NotCommitted(format!(
                "queue record {}",
                entry.id
            )));
        }
        Ok(())
    }

    async fn queue_get(&self, id: &str) -> Result<Option<QueueEntry>> {
        let rows = sqlx::query(select_entries!("WHERE id = ?", "m.id"))
            .bind(id)
            .fetch_all(&mut *self.read().await?)
            .await?;
        Ok(entries_from_rows(&rows)?.into_iter().next())
    }

    async fn queue_body(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT body FROM queue_bodies WHERE queue_id = ?")
                .bind(id)
                .fetch_optional(&mut *self.read().await?)
                .await?,
        )
    }

    async fn queue_list(&self) -> Result<Vec<QueueEntry>> {
        let rows = sqlx::query(select_entries!("", "m.arrival"))
            .fetch_all(&mut *self.read().await?)
            .await?;
        Ok(entries_from_rows(&rows)?)
    }

    async fn snapshot_to(&self, path: &Path) -> Result<()> {
        let Some(text) = path.to_str() else {
            return Err(StoreError::Io {
                path: path.display().to_string(),
                source: std::io::Error::other("a snapshot path must be UTF-8"),
            });
        };
        sqlx::query("VACUUM INTO ?")
            .bind(text)
            .execute(&mut *self.read().await?)
            .await?;
        Ok(())
    }

    async fn queue_summary(&self) -> Result<QueueSummary> {
        let rows: Vec<(bool, bool, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT hold, attempts > 0, COUNT(*), COALESCE(SUM(size), 0), MIN(arrival) \
             FROM queue_messages GROUP BY 1, 2",
        )
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(QueueSummary::from_groups(rows))
    }

    async fn queue_due(&self, now: i64, limit: i64) -> Result<Vec<QueueEntry>> {
        let rows = sqlx::query(select_entries!(
            "WHERE hold = 0 AND next_attempt <= ? ORDER BY next_attempt, arrival LIMIT ?",
            "m.next_attempt, m.arrival"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(entries_from_rows(&rows)?)
    }

    async fn queue_record_attempt(&self, attempt: &AttemptOutcome) -> Result<()> {
        let mut script = Script::new();
        record_attempt(&mut script, attempt);
        self.run(script).await?;
        Ok(())
    }

    async fn queue_finish_attempt(
        &self,
        attempt: &AttemptOutcome,
        delivered: &[DeliveredRow],
    ) -> Result<FinishedAttempt> {
        let mut script = Script::new();
        for row in delivered {
            index_message(&mut script, row.mailbox_id, &row.message);
        }
        record_attempt(&mut script, attempt);
        remove_when_final(&mut script, &attempt.id);
        let rows = self.run(script).await?;
        if rows.len() < delivered.len() {
            return Err(sqlx::Error::RowNotFound.into());
        }
        // One row per delivered message, then one if the record went.
        let (indexed, removal) = rows.split_at(delivered.len());
        let uids = indexed
            .iter()
            .map(|row| Ok(Indexed::from_row(row)?.delivered_uid()))
            .collect::<Result<Vec<u32>>>()?;
        Ok(FinishedAttempt {
            removed: !removal.is_empty(),
            uids,
        })
    }

    async fn queue_mark_warned(&self, id: &str) -> Result<()> {
        self.write(sqlx::query("UPDATE queue_messages SET warned = 1 WHERE id = ?").bind(id))
            .await?;
        Ok(())
    }

    async fn queue_hold(&self, id: &str, hold: bool) -> Result<bool> {
        let done = self
            .write(
                sqlx::query(
                    "UPDATE queue_messages SET hold = ?,
             hold_reason = CASE WHEN ? THEN hold_reason END WHERE id = ?",
                )
                .bind(hold as i64)
                .bind(hold)
                .bind(id),
            )
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn queue_quarantined(&self, arrived_before: Option<i64>) -> Result<Vec<QueueEntry>> {
        let rows = sqlx::query(select_entries!(
            "WHERE hold = 1 AND hold_reason IS NOT NULL AND arrival < ?",
            "m.arrival"
        ))
        .bind(arrived_before.unwrap_or(i64::MAX))
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(entries_from_rows(&rows)?)
    }

    async fn queue_reschedule(
        &self,
        id: Option<&str>,
        now: i64,
        reset_attempts: bool,
    ) -> Result<u64> {
        let done = match id {
            Some(id) => {
                self.write(
                    sqlx::query(
                        "UPDATE queue_messages SET next_attempt = ?,
                     attempts = CASE WHEN ? THEN 0 ELSE attempts END WHERE id = ?",
                    )
                    .bind(now)
                    .bind(reset_attempts)
                    .bind(id),
                )
                .await?
            }
            None => {
                self.write(
                    sqlx::query(
                        "UPDATE queue_messages SET next_attempt = ?,
                     attempts = CASE WHEN ? THEN 0 ELSE attempts END WHERE hold = 0",
                    )
                    .bind(now)
                    .bind(reset_attempts),
                )
                .await?
            }
        };
        Ok(done.rows_affected())
    }

    async fn queue_remove(&self, id: &str) -> Result<bool> {
        let done = self
            .write(sqlx::query("DELETE FROM queue_messages WHERE id = ?").bind(id))
            .await?;
        Ok(done.rows_affected() > 0)
    }
    async fn queue_list_all_nodes(&self) -> Result<Vec<QueueEntry>> {
        self.queue_list().await
    }

    async fn queue_summary_by_node(&self) -> Result<Vec<(u8, QueueSummary)>> {
        let rows: Vec<(i64, bool, bool, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT node, hold, attempts > 0, COUNT(*), COALESCE(SUM(size), 0), MIN(arrival) \
             FROM queue_messages GROUP BY 1, 2, 3",
        )
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(summaries_by_node(rows))
    }

    async fn node_heartbeat(&self, node: &NodeStatus) -> Result<()> {
        self.write(
            sqlx::query(
                "INSERT INTO nodes (id, hostname, roles, address, version, started_at, heartbeat)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET hostname = ?2, roles = ?3, address = ?4,
                     version = ?5, started_at = ?6, heartbeat = ?7",
            )
            .bind(i64::from(node.id))
            .bind(&node.hostname)
            .bind(node.roles.join(" "))
            .bind(&node.address)
            .bind(&node.version)
            .bind(node.started_at)
            .bind(node.heartbeat),
        )
        .await?;
        Ok(())
    }

    async fn nodes(&self) -> Result<Vec<NodeStatus>> {
        let rows = sqlx::query(select_nodes!("ORDER BY id"))
            .fetch_all(&mut *self.read().await?)
            .await?;
        Ok(rows
            .iter()
            .map(node_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }
}

/// The statements of a script that insert a queue record with its
/// recipients, and return one row when they did: a record of that id
/// already there is left alone, its recipients too.
fn insert_queue_record(script: &mut Script, entry: &QueueEntry, body: Option<&[u8]>) {
    let mut unit = script.unit();
    let id = unit.bind(&entry.id);
    let sender = unit.bind(&entry.sender);
    let size = unit.bind(entry.size as i64);
    let arrival = unit.bind(entry.arrival);
    let client = unit.bind(&entry.client);
    let protocol = unit.bind(&entry.protocol);
    let attempts = unit.bind(entry.attempts);
    let next_attempt = unit.bind(entry.next_attempt);
    let hold = unit.bind(entry.hold as i64);
    let hold_reason = unit.bind(entry.hold_reason.as_deref());
    let node = unit.bind(i64::from(entry.node));
    unit.statement(format_args!(
        "INSERT INTO queue_messages
         (id, sender, size, arrival, client, protocol, attempts, next_attempt, hold, hold_reason,
          node)
         VALUES ({id}, {sender}, {size}, {arrival}, {client}, {protocol}, {attempts},
                 {next_attempt}, {hold}, {hold_reason}, {node})
         ON CONFLICT (id) DO NOTHING RETURNING 1"
    ));
    if let Some(body) = body {
        let mut unit = script.unit();
        let id = unit.bind(&entry.id);
        let body = unit.bind(body);
        // Only with its own record (changes(), as for the recipients below,
        // which then count this row).
        unit.statement(format_args!(
            "INSERT INTO queue_bodies (queue_id, body) SELECT {id}, {body} WHERE changes() > 0"
        ));
    }
    for rcpt in &entry.recipients {
        let mut unit = script.unit();
        let id = unit.bind(&entry.id);
        let idx = unit.bind(rcpt.idx);
        let address = unit.bind(&rcpt.address);
        let orig = unit.bind(rcpt.orig.as_deref());
        let status = unit.bind(rcpt.status.as_i64());
        let last_reply = unit.bind(rcpt.last_reply.as_deref());
        // changes(): the rows of the statement before, the record's or the
        // previous recipient's; none when the record was another's.
        unit.statement(format_args!(
            "INSERT INTO queue_recipients (queue_id, idx, address, orig, status, last_reply)
             SELECT {id}, {idx}, {address}, {orig}, {status}, {last_reply} WHERE changes() > 0"
        ));
    }
}

/// The statements of one attempt's outcome: recipient statuses, attempt
/// count and next attempt.
fn record_attempt(script: &mut Script, attempt: &AttemptOutcome) {
    for update in &attempt.updates {
        let mut unit = script.unit();
        let status = unit.bind(update.status.as_i64());
        let reply = unit.bind(&update.reply);
        let id = unit.bind(&attempt.id);
        let idx = unit.bind(update.idx);
        unit.statement(format_args!(
            "UPDATE queue_recipients SET status = {status}, last_reply = {reply}
             WHERE queue_id = {id} AND idx = {idx}"
        ));
    }
    let mut unit = script.unit();
    let next_attempt = unit.bind(attempt.next_attempt);
    let id = unit.bind(&attempt.id);
    unit.statement(format_args!(
        "UPDATE queue_messages SET attempts = attempts + 1, next_attempt = {next_attempt}
         WHERE id = {id}"
    ));
}

/// The statement that removes the record once no recipient is pending: it
/// returns one row when it did.
fn remove_when_final(script: &mut Script, id: &str) {
    let mut unit = script.unit();
    let id = unit.bind(id);
    let sent = unit.bind(RecipientStatus::Sent.as_i64());
    let failed = unit.bind(RecipientStatus::Failed.as_i64());
    unit.statement(format_args!(
        "DELETE FROM queue_messages WHERE id = {id} AND NOT EXISTS
         (SELECT 1 FROM queue_recipients WHERE queue_id = {id} AND status NOT IN ({sent}, {failed}))
         RETURNING 1"
    ));
}
