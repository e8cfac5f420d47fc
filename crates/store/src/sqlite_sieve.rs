//! [`SieveStore`] on SQLite: one row per script; the user's `changed`
//! counter lives in `sieve_users` and goes up with every write.

use async_trait::async_trait;

use crate::sieve::{info_from_row, script_from_row};
use crate::{
    Result, SieveDeleted, SieveRenamed, SieveScript, SieveScriptInfo, SieveStore, SqliteStore,
};

const BUMP: &str = "INSERT INTO sieve_users (user, changed) VALUES (?, 1)
     ON CONFLICT (user) DO UPDATE SET changed = changed + 1";

#[async_trait]
impl SieveStore for SqliteStore {
    async fn sieve_put(&self, user: &str, name: &str, source: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO sieve_scripts (user, name, source, active) VALUES (?, ?, ?, 0)
             ON CONFLICT (user, name) DO UPDATE SET source = excluded.source",
        )
        .bind(user)
        .bind(name)
        .bind(source)
        .execute(&mut *tx)
        .await?;
        sqlx::query(BUMP).bind(user).execute(&mut *tx).await?;
        self.commit(tx).await
    }

    async fn sieve_get(&self, user: &str, name: &str) -> Result<Option<SieveScript>> {
        let row = sqlx::query(
            "SELECT s.name, s.source, COALESCE(u.changed, 0) AS changed
             FROM sieve_scripts s LEFT JOIN sieve_users u ON u.user = s.user
             WHERE s.user = ? AND s.name = ?",
        )
        .bind(user)
        .bind(name)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        Ok(row.map(|r| script_from_row(&r)).transpose()?)
    }

    async fn sieve_list(&self, user: &str) -> Result<Vec<SieveScriptInfo>> {
        let rows = sqlx::query(
            "SELECT name, active, length(CAST(source AS BLOB)) AS size FROM sieve_scripts
             WHERE user = ? ORDER BY name",
        )
        .bind(user)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(rows
            .iter()
            .map(info_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn sieve_activate(&self, user: &str, name: Option<&str>) -> Result<bool> {
        let mut tx = self.begin().await?;
        if let Some(name) = name {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM sieve_scripts WHERE user = ? AND name = ?")
                    .bind(user)
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Ok(false);
            }
        }
        sqlx::query("UPDATE sieve_scripts SET active = (name IS ?) WHERE user = ?")
            .bind(name)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        sqlx::query(BUMP).bind(user).execute(&mut *tx).await?;
        self.commit(tx).await?;
        Ok(true)
    }

    async fn sieve_delete(&self, user: &str, name: &str) -> Result<SieveDeleted> {
        let mut tx = self.begin().await?;
        let active: Option<i64> =
            sqlx::query_scalar("SELECT active FROM sieve_scripts WHERE user = ? AND name = ?")
                .bind(user)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let outcome = match active {
            None => return Ok(SieveDeleted::NoSuchScript),
            Some(1) => return Ok(SieveDeleted::Active),
            Some(_) => SieveDeleted::Deleted,
        };
        sqlx::query("DELETE FROM sieve_scripts WHERE user = ? AND name = ?")
            .bind(user)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(BUMP).bind(user).execute(&mut *tx).await?;
        self.commit(tx).await?;
        Ok(outcome)
    }

    async fn sieve_rename(&self, user: &str, from: &str, to: &str) -> Result<SieveRenamed> {
        let mut tx = self.begin().await?;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sieve_scripts WHERE user = ? AND name IN (?, ?)")
                .bind(user)
                .bind(from)
                .bind(to)
                .fetch_all(&mut *tx)
                .await?;
        if !names.iter().any(|n| n == from) {
            return Ok(SieveRenamed::NoSuchScript);
        }
        if from != to && names.iter().any(|n| n == to) {
            return Ok(SieveRenamed::NameTaken);
        }
        sqlx::query("UPDATE sieve_scripts SET name = ? WHERE user = ? AND name = ?")
            .bind(to)
            .bind(user)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        sqlx::query(BUMP).bind(user).execute(&mut *tx).await?;
        self.commit(tx).await?;
        Ok(SieveRenamed::Renamed)
    }

    async fn sieve_active(&self, user: &str) -> Result<Option<SieveScript>> {
        let row = sqlx::query(
            "SELECT s.name, s.source, COALESCE(u.changed, 0) AS changed
             FROM sieve_scripts s LEFT JOIN sieve_users u ON u.user = s.user
             WHERE s.user = ? AND s.active = 1",
        )
        .bind(user)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        Ok(row.map(|r| script_from_row(&r)).transpose()?)
    }

    async fn sieve_used(&self, user: &str) -> Result<u64> {
        let used: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(length(CAST(source AS BLOB))), 0) FROM sieve_scripts WHERE user = ?",
        )
        .bind(user)
        .fetch_one(&mut *self.read().await?)
        .await?;
        Ok(used as u64)
    }
}
