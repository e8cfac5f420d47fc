//! [`BayesStore`] on SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{Row, Sqlite, Transaction};

use crate::bayes::{
    BayesBatch, CHANGES_PER_PAGE, count_from_row, next_changes_page, totals_from_row,
};
use crate::{
    BayesClass, BayesLearn, BayesLearnReport, BayesStore, BayesTokenCount, BayesTotals, Result,
    SqliteStore,
};

/// Rows per multi-row statement (5 parameters each, well under SQLite's
/// limit of 32,766).
const ROWS_PER_STATEMENT: usize = 400;

/// Tokens per `IN (...)` list when reading counts.
const TOKENS_PER_QUERY: usize = 900;

async fn totals_in(tx: &mut Transaction<'_, Sqlite>, owner: &str) -> Result<BayesTotals> {
    let row = sqlx::query("SELECT spam, ham, generation FROM bayes_totals WHERE owner = ?")
        .bind(owner)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(row) => totals_from_row(&row)?,
        None => BayesTotals::default(),
    })
}

/// Adds `deltas` (token, spam, ham) to the owner's rows, creating the
/// missing ones, and marks them with `generation`.
async fn apply_deltas(
    tx: &mut Transaction<'_, Sqlite>,
    owner: &str,
    deltas: &[(i64, i64, i64)],
    generation: i64,
) -> Result<()> {
    for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::with_capacity(64 + chunk.len() * 16);
        sql.push_str("INSERT INTO bayes_tokens (owner, token, spam, ham, generation) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str("(?,?,?,?,?)");
        }
        // A new row holds the delta itself (negative only when moving a
        // message whose tokens were never counted: clamped below).
        sql.push_str(
            " ON CONFLICT (owner, token) DO UPDATE SET
                 spam = MAX(0, spam + excluded.spam),
                 ham = MAX(0, ham + excluded.ham),
                 generation = excluded.generation",
        );
        // Only placeholders are built into the text.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (token, spam, ham) in chunk {
            query = query
                .bind(owner)
                .bind(*token)
                .bind(*spam)
                .bind(*ham)
                .bind(generation);
        }
        query.execute(&mut **tx).await?;
    }
    sqlx::query(
        "UPDATE bayes_tokens SET spam = MAX(0, spam), ham = MAX(0, ham)
         WHERE owner = ? AND generation = ? AND (spam < 0 OR ham < 0)",
    )
    .bind(owner)
    .bind(generation)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl BayesStore for SqliteStore {
    async fn bayes_learn(&self, owner: &str, messages: &[BayesLearn]) -> Result<BayesLearnReport> {
        let mut tx = self.begin().await?;
        let before = totals_in(&mut tx, owner).await?;
        let mut stored = HashMap::new();
        for digest in BayesBatch::digests(messages) {
            let class = sqlx::query_scalar::<_, i64>(
                "SELECT class FROM bayes_learned WHERE owner = ? AND digest = ?",
            )
            .bind(owner)
            .bind(&digest[..])
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(class) = class {
                stored.insert(digest, BayesClass::from_i64(class));
            }
        }
        let batch = BayesBatch::new(messages, &stored);
        if batch.changes() {
            let now = crate::sqlite::now();
            for (digest, class) in &batch.learned {
                sqlx::query(
                    "INSERT INTO bayes_learned (owner, digest, class, learned_at)
                     VALUES (?, ?, ?, ?)
                     ON CONFLICT (owner, digest) DO UPDATE SET
                         class = excluded.class, learned_at = excluded.learned_at",
                )
                .bind(owner)
                .bind(&digest[..])
                .bind(class.to_i64())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            let after = batch.totals_after(before, before.generation + 1);
            apply_deltas(&mut tx, owner, &batch.tokens, after.generation as i64).await?;
            sqlx::query(
                "INSERT INTO bayes_totals (owner, spam, ham, generation) VALUES (?, ?, ?, ?)
                 ON CONFLICT (owner) DO UPDATE SET
                     spam = excluded.spam, ham = excluded.ham, generation = excluded.generation",
            )
            .bind(owner)
            .bind(after.spam as i64)
            .bind(after.ham as i64)
            .bind(after.generation as i64)
            .execute(&mut *tx)
            .await?;
        }
        self.commit(tx).await?;
        Ok(batch.report)
    }

    async fn bayes_totals(&self, owner: &str) -> Result<BayesTotals> {
        let row = sqlx::query("SELECT spam, ham, generation FROM bayes_totals WHERE owner = ?")
            .bind(owner)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(match row {
            Some(row) => totals_from_row(&row)?,
            None => BayesTotals::default(),
        })
    }

    async fn bayes_counts(&self, owner: &str, tokens: &[u64]) -> Result<Vec<BayesTokenCount>> {
        let mut out = Vec::new();
        for chunk in tokens.chunks(TOKENS_PER_QUERY) {
            let mut sql = String::with_capacity(80 + chunk.len() * 2);
            sql.push_str(
                "SELECT token, spam, ham FROM bayes_tokens WHERE owner = ? AND token IN (",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('?');
            }
            sql.push(')');
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner);
            for token in chunk {
                query = query.bind(*token as i64);
            }
            for row in query.fetch_all(&mut *self.read().await?).await? {
                let count = count_from_row(&row)?;
                if count.spam > 0 || count.ham > 0 {
                    out.push(count);
                }
            }
        }
        Ok(out)
    }

    async fn bayes_changes(
        &self,
        owner: &str,
        since: u64,
    ) -> Result<(BayesTotals, Vec<BayesTokenCount>)> {
        // One read transaction: the totals and the rows of the same instant,
        // read a page at a time in token order.
        let mut reader = self.read().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let totals = totals_in(&mut tx, owner).await?;
        let mut changes = Vec::new();
        // `None` once the last page was read (or nothing changed).
        let mut from = (totals.generation > since).then_some(i64::MIN);
        while let Some(start) = from {
            let rows = sqlx::query(
                "SELECT token, spam, ham FROM bayes_tokens
                 WHERE owner = ? AND token >= ? AND generation > ?
                 ORDER BY token LIMIT ?",
            )
            .bind(owner)
            .bind(start)
            .bind(since as i64)
            .bind(CHANGES_PER_PAGE)
            .fetch_all(&mut *tx)
            .await?;
            let page = rows
                .iter()
                .map(count_from_row)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            from = next_changes_page(&page);
            changes.extend(page);
        }
        // A read transaction: nothing to make durable.
        tx.commit().await?;
        Ok((totals, changes))
    }

    async fn bayes_learned_as(&self, owner: &str, digest: &[u8; 16]) -> Result<Option<BayesClass>> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT class FROM bayes_learned WHERE owner = ? AND digest = ?",
        )
        .bind(owner)
        .bind(&digest[..])
        .fetch_optional(&mut *self.read().await?)
        .await?
        .map(BayesClass::from_i64))
    }

    async fn bayes_owners(&self) -> Result<Vec<(String, BayesTotals)>> {
        let rows =
            sqlx::query("SELECT owner, spam, ham, generation FROM bayes_totals ORDER BY owner")
                .fetch_all(&mut *self.read().await?)
                .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("owner")?, totals_from_row(row)?)))
            .collect()
    }
}
