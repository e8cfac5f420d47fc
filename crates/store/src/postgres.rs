//! The cluster store: PostgreSQL, shared by every node of a cluster.
//!
//! The same tables as SQLite (see `migrations.rs`, where each version has
//! both forms) and the same promises: a call that writes returns once its
//! transaction committed, and PostgreSQL's commit is durable
//! (`synchronous_commit` left on). What changes is that several nodes
//! write at once, where SQLite had one writer: a transaction that reads
//! a row and then writes from what it read locks that row first (an
//! `UPDATE … RETURNING` or `SELECT … FOR UPDATE`), so two nodes never hand
//! out the same UID or modseq.
//!
//! The pool tests a connection before lending it, so connections that a
//! restarted server closed are replaced by themselves; a server that does
//! not answer fails a call after `ACQUIRE_TIMEOUT` (SMTP answers 451 then),
//! never a wait without end.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Row, Transaction};

use crate::migrations::pending;
use crate::postgres_batch::Deliveries;
use crate::postgres_entries::Entries;
use crate::postgres_flush::Flushes;
use crate::postgres_hosts::Hosts;
use crate::postgres_write::{LockingWrite, finish_delivery};
use crate::rows::{entries_from_rows, node_from_row, summaries_by_node, user_from_row};
use crate::sqlite::{already_exists, domain_of, now};
use crate::*;

/// How long a call waits for a connection (the server down, or every
/// connection busy) before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections per node: writers no longer queue on one connection, and
/// PostgreSQL's default of 100 connections serves a few nodes.
const CONNECTIONS: u32 = 16;

/// Migrations of two nodes starting at once run one after the other:
/// the key of the advisory lock they take (any constant of ours).
const MIGRATION_LOCK: i64 = 0x6861_7672_6500;

pub struct PostgresStore {
    pub(crate) pool: PgPool,
    /// This node (`server.node_id`): the queue it sees is its own.
    node: i64,
    /// Deliveries waiting to be indexed, mailbox by mailbox.
    pub(crate) deliveries: Arc<Deliveries>,
    /// The synchronous commits that carry asynchronous ones to disk.
    flushes: Arc<Flushes>,
    /// Recipients' entries read recently, while they are current.
    entries: Arc<Entries>,
}

impl PostgresStore {
    /// Connects to `url` (a libpq URL: `postgres://user@host:port/db`,
    /// several hosts and `target_session_attrs=read-write` for a failover
    /// pair) and applies pending migrations.
    pub async fn open(url: &str) -> Result<PostgresStore> {
        let hosts = Hosts::parse(url)?;
        let options = hosts.choose().await?;
        let flushes = Arc::new(Flushes::default());
        let connected = flushes.clone();
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .after_connect(move |_conn, _meta| {
                connected.connected();
                Box::pin(async { Ok(()) })
            })
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if crate::liveness::must_check(meta.idle_for) {
                        use sqlx::Connection;
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await?;
        if hosts.several() {
            hosts.watch(pool.clone());
        }
        let store = PostgresStore {
            deliveries: Arc::new(Deliveries::new(pool.clone(), flushes.clone())),
            entries: Arc::new(Entries::new(pool.clone())),
            flushes,
            pool,
            node: 0,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Whether the store's connections to the server are encrypted (TLS:
    /// `sslmode` in `storage.url`), as the server sees one of them.
    pub async fn connection_encrypted(&self) -> Result<bool> {
        let ssl: Option<bool> =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_optional(&self.pool)
                .await?;
        Ok(ssl.unwrap_or(false))
    }

    /// How many WAL flushes this store ran for writes it committed
    /// asynchronously; the others were carried to disk by a record's
    /// insert or by each other's (`postgres_flush.rs`).
    pub fn flushes_run(&self) -> u64 {
        self.flushes.led()
    }

    /// How many recipients' lookups were answered from memory
    /// (`postgres_entries.rs`).
    pub fn entries_served_from_memory(&self) -> u64 {
        self.entries.served()
    }

    /// A change to the directory this process committed: forgotten now,
    /// not when the server's notification comes back.
    pub(crate) fn directory_changed(&self) {
        self.entries.forget_all();
    }

    /// The store as node `node` sees it: its own queue records.
    pub fn for_node(self, node: u8) -> PostgresStore {
        PostgresStore {
            node: i64::from(node),
            ..self
        }
    }

    async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
        let applied = self.apply_migrations(&mut conn).await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await;
        applied?;
        unlocked?;
        Ok(())
    }

    async fn apply_migrations(&self, conn: &mut sqlx::PgConnection) -> Result<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&mut *conn)
                .await?;
        for migration in pending(current)? {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            sqlx::raw_sql(migration.postgres).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(target: "store", "applied schema migration {} ({}) to PostgreSQL", migration.version, migration.name);
        }
        Ok(())
    }

    pub async fn schema_version(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// A write transaction; `commit` it (dropping it rolls back).
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// A transaction that locks mailbox rows, committed with
    /// [`LockingWrite::commit`].
    pub(crate) async fn begin_locking(&self) -> Result<LockingWrite> {
        LockingWrite::begin(&self.pool).await
    }
}

async fn require_domain(conn: &mut PgConnection, domain: &str) -> Result<()> {
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM domains WHERE name = $1")
        .bind(domain)
        .fetch_optional(&mut *conn)
        .await?;
    match exists {
        Some(_) => Ok(()),
        None => Err(StoreError::NoSuchDomain(domain.to_string())),
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn add_domain(&self, name: &str) -> Result<()> {
        sqlx::query("INSERT INTO domains (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(now())
            .execute(&self.pool)
            .await
            .map_err(|e| already_exists(e, || format!("domain {name}")))?;
        self.directory_changed();
        Ok(())
    }

    async fn remove_domain(&self, name: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        // Held until the commit: a user added meanwhile waits, then fails
        // on the domain gone, rather than being left without one.
        sqlx::query("SELECT 1 FROM domains WHERE name = $1 FOR UPDATE")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let (users, aliases): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users WHERE domain = $1),
                    (SELECT COUNT(DISTINCT address) FROM aliases WHERE domain = $1)",
        )
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
        let done = sqlx::query("DELETE FROM domains WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.directory_changed();
        Ok(done.rows_affected() > 0)
    }

    async fn list_domains(&self) -> Result<Vec<Domain>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as(r#"SELECT name, created_at FROM domains ORDER BY name COLLATE "C""#)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(name, created_at)| Domain { name, created_at })
            .collect())
    }

    async fn domain_exists(&self, name: &str) -> Result<bool> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM domains WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn add_user(&self, user: &NewUser) -> Result<()> {
        let mut tx = self.begin().await?;
        require_domain(&mut tx, domain_of(&user.email)).await?;
        sqlx::query(
            "INSERT INTO users (email, domain, password_hash, class, quota, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
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
        tx.commit().await?;
        self.directory_changed();
        Ok(())
    }

    async fn get_user(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT email, password_hash, class, ",
            effective_quota!(),
            ", created_at, disabled FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn list_users(&self, domain: Option<&str>) -> Result<Vec<User>> {
        // NULL: every domain.
        let rows = sqlx::query(concat!(
            "SELECT email, password_hash, class, ",
            effective_quota!(),
            ", created_at, disabled FROM users WHERE $1::TEXT IS NULL OR domain = $1
             ORDER BY domain COLLATE \"C\", email COLLATE \"C\""
        ))
        .bind(domain)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(user_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn set_password(&self, email: &str, password_hash: Option<&str>) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2")
            .bind(password_hash)
            .bind(email)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn modify_user(&self, email: &str, changes: &UserChanges) -> Result<bool> {
        // One statement: a change not asked for keeps the column as it is.
        let done = sqlx::query(
            "UPDATE users SET
                 class = CASE WHEN $2 THEN $3 ELSE class END,
                 quota = CASE WHEN $4 THEN $5 ELSE quota END,
                 password_hash = CASE WHEN $6 THEN $7 ELSE password_hash END,
                 disabled = COALESCE($8, disabled)
             WHERE email = $1",
        )
        .bind(email)
        .bind(changes.class.is_some())
        .bind(changes.class.as_deref())
        .bind(changes.quota.is_some())
        .bind(changes.quota.flatten().map(|q| q as i64))
        .bind(changes.password_hash.is_some())
        .bind(changes.password_hash.as_deref())
        .bind(changes.disabled.map(i64::from))
        .execute(&self.pool)
        .await?;
        self.directory_changed();
        Ok(done.rows_affected() > 0)
    }

    async fn set_class_quotas(&self, quotas: &[(String, u64)]) -> Result<()> {
        let (classes, limits): (Vec<&str>, Vec<i64>) = quotas
            .iter()
            .map(|(class, quota)| (class.as_str(), *quota as i64))
            .unzip();
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM class_quotas")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO class_quotas (class, quota) SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[])")
            .bind(classes)
            .bind(limits)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.directory_changed();
        Ok(())
    }

    async fn remove_user(&self, email: &str) -> Result<bool> {
        // Her mailboxes (their messages cascade), subscriptions, metadata,
        // scripts and Bayes counts go with her: an address given to someone
        // else later starts with none of it.
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM users WHERE email = $1")
            .bind(email)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            for delete in [
                r#"DELETE FROM mailboxes WHERE "user" = $1"#,
                r#"DELETE FROM subscriptions WHERE "user" = $1"#,
                r#"DELETE FROM metadata WHERE "user" = $1"#,
                r#"DELETE FROM sieve_scripts WHERE "user" = $1"#,
                // Totals first: a learner locks them before the tokens.
                "DELETE FROM bayes_totals WHERE owner = $1",
                "DELETE FROM bayes_tokens WHERE owner = $1",
                "DELETE FROM bayes_learned WHERE owner = $1",
            ] {
                sqlx::query(delete).bind(email).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        self.directory_changed();
        Ok(done.rows_affected() > 0)
    }

    async fn add_alias(&self, address: &str, targets: &[String]) -> Result<()> {
        let mut tx = self.begin().await?;
        require_domain(&mut tx, domain_of(address)).await?;
        // Two nodes adding targets to one alias at once: the second waits
        // for the first's positions.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(address)
            .execute(&mut *tx)
            .await?;
        let mut position: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM aliases WHERE address = $1",
        )
        .bind(address)
        .fetch_one(&mut *tx)
        .await?;
        for target in targets {
            sqlx::query(
                "INSERT INTO aliases (address, domain, target, position) VALUES ($1, $2, $3, $4)",
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
        tx.commit().await?;
        self.directory_changed();
        Ok(())
    }

    async fn alias_targets(&self, address: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT target FROM aliases WHERE address = $1 ORDER BY position")
                .bind(address)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn address_entry(&self, address: &str, domain: &str) -> Result<AddressEntry> {
        if let Some(entry) = self.entries.get(address, domain) {
            return Ok(entry);
        }
        let ticket = self.entries.ticket();
        // As SQLite's: a user's row carries her quota and its use (summed
        // only when she has a quota) and her scripts' change counter when
        // one is active.
        let rows: Vec<AddressRow> = sqlx::query_as(concat!(
            r#"SELECT kind, value, quota, used, sieve FROM (
                 SELECT 0::BIGINT AS kind, target AS value, position, NULL::BIGINT AS quota,
                     NULL::BIGINT AS used, NULL::BIGINT AS sieve
                     FROM aliases WHERE address = $1
                 UNION ALL SELECT 1, email, 0, quota, CASE WHEN quota IS NULL THEN NULL ELSE
                     (SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM mailboxes
                      WHERE "user" = $1) END,
                     (SELECT changed FROM sieve_users WHERE "user" = $1 AND EXISTS
                         (SELECT 1 FROM sieve_scripts WHERE "user" = $1 AND active = 1))
                     FROM (SELECT email, "#,
            effective_quota!(),
            " FROM users WHERE email = $1) u
                 UNION ALL SELECT 2, name, 0, NULL, NULL, NULL FROM domains WHERE name = $2) e
             ORDER BY kind, position"
        ))
        .bind(address)
        .bind(domain)
        .fetch_all(&self.pool)
        .await?;
        let entry = AddressEntry::from_rows(rows);
        if let Some(ticket) = ticket {
            self.entries.keep(ticket, address, domain, &entry);
        }
        Ok(entry)
    }

    async fn list_aliases(&self) -> Result<Vec<Alias>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            r#"SELECT address, target FROM aliases
             ORDER BY domain COLLATE "C", address COLLATE "C", position"#,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(Alias::group(rows))
    }

    async fn remove_alias(&self, address: &str, target: Option<&str>) -> Result<u64> {
        // NULL: every target.
        let done = sqlx::query(
            "DELETE FROM aliases WHERE address = $1 AND ($2::TEXT IS NULL OR target = $2)",
        )
        .bind(address)
        .bind(target)
        .execute(&self.pool)
        .await?;
        self.directory_changed();
        Ok(done.rows_affected())
    }

    async fn queue_insert(&self, entry: &QueueEntry, body: Option<&[u8]>) -> Result<()> {
        // A synchronous commit that wrote (an error otherwise): it carries
        // the asynchronous commits before it to disk (`postgres_flush.rs`).
        let mut conn = self.pool.acquire().await?;
        let run = self.flushes.writer_commit();
        insert_record(&mut conn, entry, body).await?;
        run.succeeded();
        Ok(())
    }

    async fn queue_body(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT body FROM queue_bodies WHERE queue_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn queue_get(&self, id: &str) -> Result<Option<QueueEntry>> {
        let rows = sqlx::query(select_entries!("WHERE id = $1", "m.id"))
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(entries_from_rows(&rows)?.into_iter().next())
    }

    async fn queue_get_with_body(&self, id: &str) -> Result<Option<(QueueEntry, Option<Vec<u8>>)>> {
        // The body on the first row only: a record's rows are one per
        // recipient, and a list's message would travel once per member.
        let rows = sqlx::query(concat!(
            "SELECT m.*, r.idx, r.address, r.orig, r.status, r.last_reply,
                 CASE WHEN r.idx IS NOT DISTINCT FROM MIN(r.idx) OVER ()
                      THEN (SELECT body FROM queue_bodies WHERE queue_id = m.id) END AS body
             FROM (",
            select_queue!("WHERE id = $1"),
            ") m LEFT JOIN queue_recipients r ON r.queue_id = m.id ORDER BY r.idx"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let body: Option<Vec<u8>> = match rows.first() {
            Some(row) => row.try_get("body")?,
            None => None,
        };
        Ok(entries_from_rows(&rows)?
            .into_iter()
            .next()
            .map(|entry| (entry, body)))
    }

    async fn queue_list(&self) -> Result<Vec<QueueEntry>> {
        let rows = sqlx::query(select_entries!("WHERE node = $1", "m.arrival"))
            .bind(self.node)
            .fetch_all(&self.pool)
            .await?;
        Ok(entries_from_rows(&rows)?)
    }

    async fn queue_summary(&self) -> Result<QueueSummary> {
        let rows: Vec<(bool, bool, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT hold <> 0, attempts > 0, COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT),
                    MIN(arrival)
             FROM queue_messages WHERE node = $1 GROUP BY 1, 2",
        )
        .bind(self.node)
        .fetch_all(&self.pool)
        .await?;
        Ok(QueueSummary::from_groups(rows))
    }

    async fn snapshot_to(&self, _path: &Path) -> Result<()> {
        Err(StoreError::NotOnThisEngine(
            "a copy of a PostgreSQL store is PostgreSQL's to make: pg_dump (or a base backup)",
        ))
    }

    async fn queue_due(&self, now: i64, limit: i64) -> Result<Vec<QueueEntry>> {
        let rows = sqlx::query(select_entries!(
            "WHERE node = $3 AND hold = 0 AND next_attempt <= $1
             ORDER BY next_attempt, arrival LIMIT $2",
            "m.next_attempt, m.arrival"
        ))
        .bind(now)
        .bind(limit)
        .bind(self.node)
        .fetch_all(&self.pool)
        .await?;
        Ok(entries_from_rows(&rows)?)
    }

    async fn queue_record_attempt(&self, attempt: &AttemptOutcome) -> Result<()> {
        let mut tx = self.begin().await?;
        record_attempt(&mut tx, attempt).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn queue_finish_attempt(
        &self,
        attempt: &AttemptOutcome,
        delivered: &[DeliveredRow],
    ) -> Result<FinishedAttempt> {
        finish_delivery(&self.pool, &self.flushes, attempt, delivered).await
    }

    async fn queue_list_all_nodes(&self) -> Result<Vec<QueueEntry>> {
        let rows = sqlx::query(select_entries!("", "m.arrival"))
            .fetch_all(&self.pool)
            .await?;
        Ok(entries_from_rows(&rows)?)
    }

    async fn queue_summary_by_node(&self) -> Result<Vec<(u8, QueueSummary)>> {
        let rows: Vec<(i64, bool, bool, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT node, hold <> 0, attempts > 0, COUNT(*),
                    CAST(COALESCE(SUM(size), 0) AS BIGINT), MIN(arrival)
             FROM queue_messages GROUP BY 1, 2, 3",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(summaries_by_node(rows))
    }

    async fn node_heartbeat(&self, node: &NodeStatus) -> Result<()> {
        sqlx::query(
            "INSERT INTO nodes (id, hostname, roles, address, version, started_at, heartbeat)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET hostname = $2, roles = $3, address = $4,
                 version = $5, started_at = $6, heartbeat = $7",
        )
        .bind(i64::from(node.id))
        .bind(&node.hostname)
        .bind(node.roles.join(" "))
        .bind(&node.address)
        .bind(&node.version)
        .bind(node.started_at)
        .bind(node.heartbeat)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn nodes(&self) -> Result<Vec<NodeStatus>> {
        let rows = sqlx::query(select_nodes!("ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(node_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn queue_remove(&self, id: &str) -> Result<bool> {
        // The record's rows go with it: nothing references it (migration 22).
        let removed: bool = sqlx::query_scalar(
            "WITH gone AS (DELETE FROM queue_messages WHERE id = $1 RETURNING id),
                  recipients AS (DELETE FROM queue_recipients WHERE queue_id = $1),
                  body AS (DELETE FROM queue_bodies WHERE queue_id = $1)
             SELECT EXISTS (SELECT 1 FROM gone)",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        Ok(removed)
    }

    async fn queue_mark_warned(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE queue_messages SET warned = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn queue_hold(&self, id: &str, hold: bool) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE queue_messages SET hold = $1,
             hold_reason = CASE WHEN $2 THEN hold_reason END WHERE id = $3",
        )
        .bind(hold as i64)
        .bind(hold)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn queue_quarantined(&self, arrived_before: Option<i64>) -> Result<Vec<QueueEntry>> {
        let rows = sqlx::query(select_entries!(
            "WHERE node = $2 AND hold = 1 AND hold_reason IS NOT NULL AND arrival < $1",
            "m.arrival"
        ))
        .bind(arrived_before.unwrap_or(i64::MAX))
        .bind(self.node)
        .fetch_all(&self.pool)
        .await?;
        Ok(entries_from_rows(&rows)?)
    }

    async fn queue_reschedule(
        &self,
        id: Option<&str>,
        now: i64,
        reset_attempts: bool,
    ) -> Result<u64> {
        // No id: every message of this node not on hold.
        let done = sqlx::query(
            "UPDATE queue_messages SET next_attempt = $1,
             attempts = CASE WHEN $2 THEN 0 ELSE attempts END
             WHERE CASE WHEN $3::TEXT IS NULL THEN node = $4 AND hold = 0 ELSE id = $3 END",
        )
        .bind(now)
        .bind(reset_attempts)
        .bind(id)
        .bind(self.node)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

/// An attempt's recipient updates as three columns (index, status, last
/// reply), for `UNNEST`.
pub(crate) fn update_columns(attempt: &AttemptOutcome) -> (Vec<i64>, Vec<i64>, Vec<&str>) {
    let updates = &attempt.updates;
    (
        updates.iter().map(|u| u.idx).collect(),
        updates.iter().map(|u| u.status.as_i64()).collect(),
        updates.iter().map(|u| u.reply.as_str()).collect(),
    )
}

/// One attempt's outcome: each recipient's status and last reply, the
/// attempt counted and the next one scheduled.
async fn record_attempt(conn: &mut PgConnection, attempt: &AttemptOutcome) -> Result<()> {
    let (idx, status, reply) = update_columns(attempt);
    sqlx::query(
        "UPDATE queue_recipients r SET status = u.status, last_reply = u.reply
         FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::TEXT[]) AS u(idx, status, reply)
         WHERE r.queue_id = $1 AND r.idx = u.idx",
    )
    .bind(&attempt.id)
    .bind(idx)
    .bind(status)
    .bind(reply)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE queue_messages SET attempts = attempts + 1, next_attempt = $1 WHERE id = $2",
    )
    .bind(attempt.next_attempt)
    .bind(&attempt.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The record, its body and its recipients in one statement, so one
/// round trip and one commit, or nothing when a record of that id is
/// there (the body and recipients are inserted from the record's row).
async fn insert_record(
    conn: &mut PgConnection,
    entry: &QueueEntry,
    body: Option<&[u8]>,
) -> Result<()> {
    let recipients = &entry.recipients;
    let inserted: Option<i32> = sqlx::query_scalar(
        "WITH record AS (
             INSERT INTO queue_messages
             (id, sender, size, arrival, client, protocol, attempts, next_attempt, hold,
              hold_reason, node)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO NOTHING RETURNING id),
         body AS (
             INSERT INTO queue_bodies (queue_id, body)
             SELECT id, $12 FROM record WHERE $12::BYTEA IS NOT NULL),
         recipients AS (
             INSERT INTO queue_recipients (queue_id, idx, address, orig, status, last_reply)
             SELECT record.id, r.* FROM record, UNNEST($13::BIGINT[], $14::TEXT[],
                 $15::TEXT[], $16::BIGINT[], $17::TEXT[]) AS r)
         SELECT 1 FROM record",
    )
    .bind(&entry.id)
    .bind(&entry.sender)
    .bind(entry.size as i64)
    .bind(entry.arrival)
    .bind(&entry.client)
    .bind(&entry.protocol)
    .bind(entry.attempts)
    .bind(entry.next_attempt)
    .bind(entry.hold as i64)
    .bind(entry.hold_reason.as_deref())
    .bind(i64::from(entry.node))
    .bind(body)
    .bind(column(recipients, |r| r.idx))
    .bind(column(recipients, |r| r.address.as_str()))
    .bind(column(recipients, |r| r.orig.as_deref()))
    .bind(column(recipients, |r| r.status.as_i64()))
    .bind(column(recipients, |r| r.last_reply.as_deref()))
    .fetch_optional(conn)
    .await?;
    if inserted.is_none() {
        return Err(StoreError::AlreadyExists(format!(
            "queue record {}",
            entry.id
        )));
    }
    Ok(())
}

/// One column of a record's recipients, bound as an array.
fn column<'r, T>(
    recipients: &'r [QueueRecipient],
    get: impl Fn(&'r QueueRecipient) -> T,
) -> Vec<T> {
    recipients.iter().map(get).collect()
}
