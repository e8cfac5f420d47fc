//! [`SieveStore`] on PostgreSQL: one row per script; the user's `changed`
//! counter lives in `sieve_users` and goes up with every write.
//!
//! Nodes write at once. Every write of a user's scripts starts with that
//! bump, which locks her `sieve_users` row (made by her first write): her
//! writes run one after another whichever node makes them, so what a write
//! checked (the script exists, is inactive, the new name is free) still
//! holds when it commits. A write that finds nothing to do rolls back, its
//! bump with it.

use async_trait::async_trait;
use sqlx::{Postgres, Transaction};

use crate::sieve::{info_from_row, script_from_row};
use crate::{
    PostgresStore, Result, SieveDeleted, SieveRenamed, SieveScript, SieveScriptInfo, SieveStore,
};

/// A write transaction on `user`'s scripts, her row locked and bumped.
async fn begin_write(store: &PostgresStore, user: &str) -> Result<Transaction<'static, Postgres>> {
    let mut tx = store.begin().await?;
    sqlx::query(
        r#"INSERT INTO sieve_users ("user", changed) VALUES ($1, 1)
           ON CONFLICT ("user") DO UPDATE SET changed = sieve_users.changed + 1"#,
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

/// Commits a write of scripts: the user's entry, which says whether
/// she has an active script and its counter, changed.
async fn commit(store: &PostgresStore, tx: Transaction<'static, Postgres>) -> Result<()> {
    tx.commit().await?;
    store.directory_changed();
    Ok(())
}

#[async_trait]
impl SieveStore for PostgresStore {
    async fn sieve_put(&self, user: &str, name: &str, source: &str) -> Result<()> {
        let mut tx = begin_write(self, user).await?;
        sqlx::query(
            r#"INSERT INTO sieve_scripts ("user", name, source, active) VALUES ($1, $2, $3, 0)
               ON CONFLICT ("user", name) DO UPDATE SET source = excluded.source"#,
        )
        .bind(user)
        .bind(name)
        .bind(source)
        .execute(&mut *tx)
        .await?;
        commit(self, tx).await?;
        Ok(())
    }

    async fn sieve_get(&self, user: &str, name: &str) -> Result<Option<SieveScript>> {
        let row = sqlx::query(
            r#"SELECT s.name, s.source, COALESCE(u.changed, 0) AS changed
               FROM sieve_scripts s LEFT JOIN sieve_users u ON u."user" = s."user"
               WHERE s."user" = $1 AND s.name = $2"#,
        )
        .bind(user)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| script_from_row(&r)).transpose()?)
    }

    async fn sieve_list(&self, user: &str) -> Result<Vec<SieveScriptInfo>> {
        // Byte order, as SQLite sorts, whatever the database's collation.
        let rows = sqlx::query(
            r#"SELECT name, active, CAST(octet_length(source) AS BIGINT) AS size
               FROM sieve_scripts WHERE "user" = $1 ORDER BY name COLLATE "C""#,
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(info_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn sieve_activate(&self, user: &str, name: Option<&str>) -> Result<bool> {
        let mut tx = begin_write(self, user).await?;
        // `sieve_one_active` is checked row by row, not at the commit: the
        // old active script goes first.
        sqlx::query(r#"UPDATE sieve_scripts SET active = 0 WHERE "user" = $1 AND active = 1"#)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        if let Some(name) = name {
            let done = sqlx::query(
                r#"UPDATE sieve_scripts SET active = 1 WHERE "user" = $1 AND name = $2"#,
            )
            .bind(user)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        commit(self, tx).await?;
        Ok(true)
    }

    async fn sieve_delete(&self, user: &str, name: &str) -> Result<SieveDeleted> {
        let mut tx = begin_write(self, user).await?;
        let active: Option<i64> = sqlx::query_scalar(
            r#"SELECT active FROM sieve_scripts WHERE "user" = $1 AND name = $2"#,
        )
        .bind(user)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match active {
            None => SieveDeleted::NoSuchScript,
            Some(1) => SieveDeleted::Active,
            Some(_) => SieveDeleted::Deleted,
        };
        if outcome != SieveDeleted::Deleted {
            tx.rollback().await?;
            return Ok(outcome);
        }
        sqlx::query(r#"DELETE FROM sieve_scripts WHERE "user" = $1 AND name = $2"#)
            .bind(user)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        commit(self, tx).await?;
        Ok(outcome)
    }

    async fn sieve_rename(&self, user: &str, from: &str, to: &str) -> Result<SieveRenamed> {
        let mut tx = begin_write(self, user).await?;
        let names: Vec<String> = sqlx::query_scalar(
            r#"SELECT name FROM sieve_scripts WHERE "user" = $1 AND name IN ($2, $3)"#,
        )
        .bind(user)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        let outcome = if !names.iter().any(|n| n == from) {
            SieveRenamed::NoSuchScript
        } else if from != to && names.iter().any(|n| n == to) {
            SieveRenamed::NameTaken
        } else {
            SieveRenamed::Renamed
        };
        if outcome != SieveRenamed::Renamed {
            tx.rollback().await?;
            return Ok(outcome);
        }
        sqlx::query(r#"UPDATE sieve_scripts SET name = $1 WHERE "user" = $2 AND name = $3"#)
            .bind(to)
            .bind(user)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        commit(self, tx).await?;
        Ok(outcome)
    }

    async fn sieve_active(&self, user: &str) -> Result<Option<SieveScript>> {
        let row = sqlx::query(
            r#"SELECT s.name, s.source, COALESCE(u.changed, 0) AS changed
               FROM sieve_scripts s LEFT JOIN sieve_users u ON u."user" = s."user"
               WHERE s."user" = $1 AND s.active = 1"#,
        )
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| script_from_row(&r)).transpose()?)
    }

    async fn sieve_used(&self, user: &str) -> Result<u64> {
        let used: i64 = sqlx::query_scalar(
            r#"SELECT CAST(COALESCE(SUM(octet_length(source)), 0) AS BIGINT)
               FROM sieve_scripts WHERE "user" = $1"#,
        )
        .bind(user)
        .fetch_one(&self.pool)
        .await?;
        Ok(used as u64)
    }
}
