//! [`BayesStore`] on PostgreSQL.
//!
//! Nodes learn at once. A batch first locks its owner's totals row (an
//! upsert that also takes the next generation), so the batches of one owner
//! run one after another: two nodes learning the same message never both
//! count it, and no two batches share a generation. A batch that changes
//! nothing is rolled back, leaving the generation as it was (and a new
//! owner's row unmade). Its tokens are written by one statement over bound
//! arrays, in token order.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::postgres::PgExecutor;
use sqlx::{Postgres, Row, Transaction};

use crate::bayes::{
    BayesBatch, CHANGES_PER_PAGE, count_from_row, next_changes_page, totals_from_row,
};
use crate::{
    BayesClass, BayesLearn, BayesLearnReport, BayesStore, BayesTokenCount, BayesTotals,
    PostgresStore, Result,
};

async fn totals_in<'e>(db: impl PgExecutor<'e>, owner: &str) -> Result<BayesTotals> {
    let row = sqlx::query("SELECT spam, ham, generation FROM bayes_totals WHERE owner = $1")
        .bind(owner)
        .fetch_optional(db)
        .await?;
    Ok(match row {
        Some(row) => totals_from_row(&row)?,
        None => BayesTotals::default(),
    })
}

/// Adds the batch's token deltas to the owner's rows, creating the missing
/// ones, and marks them with `generation`.
async fn apply_deltas(
    tx: &mut Transaction<'_, Postgres>,
    owner: &str,
    batch: &BayesBatch,
    generation: i64,
) -> Result<()> {
    let tokens: Vec<i64> = batch.tokens.iter().map(|d| d.0).collect();
    let spam: Vec<i64> = batch.tokens.iter().map(|d| d.1).collect();
    let ham: Vec<i64> = batch.tokens.iter().map(|d| d.2).collect();
    // A new row holds the delta itself (negative only when moving a message
    // whose tokens were never counted: clamped below).
    sqlx::query(
        "INSERT INTO bayes_tokens (owner, token, spam, ham, generation)
         SELECT $1, d.token, d.spam, d.ham, $5
         FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::BIGINT[]) AS d(token, spam, ham)
         ORDER BY d.token
         ON CONFLICT (owner, token) DO UPDATE SET
             spam = GREATEST(0, bayes_tokens.spam + excluded.spam),
             ham = GREATEST(0, bayes_tokens.ham + excluded.ham),
             generation = excluded.generation",
    )
    .bind(owner)
    .bind(tokens)
    .bind(spam)
    .bind(ham)
    .bind(generation)
    .execute(&mut **tx)
    .await?;
    if batch
        .tokens
        .iter()
        .any(|&(_, spam, ham)| spam < 0 || ham < 0)
    {
        sqlx::query(
            "UPDATE bayes_tokens SET spam = GREATEST(0, spam), ham = GREATEST(0, ham)
             WHERE owner = $1 AND generation = $2 AND (spam < 0 OR ham < 0)",
        )
        .bind(owner)
        .bind(generation)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl BayesStore for PostgresStore {
    async fn bayes_learn(&self, owner: &str, messages: &[BayesLearn]) -> Result<BayesLearnReport> {
        let mut tx = self.begin().await?;
        let locked = sqlx::query(
            "INSERT INTO bayes_totals (owner, spam, ham, generation) VALUES ($1, 0, 0, 1)
             ON CONFLICT (owner) DO UPDATE SET generation = bayes_totals.generation + 1
             RETURNING spam, ham, generation",
        )
        .bind(owner)
        .fetch_one(&mut *tx)
        .await?;
        // The counts before the batch, with the generation it takes.
        let before = totals_from_row(&locked)?;
        let stored: HashMap<[u8; 16], BayesClass> = sqlx::query_as::<_, ([u8; 16], i64)>(
            "SELECT digest, class FROM bayes_learned WHERE owner = $1 AND digest = ANY($2)",
        )
        .bind(owner)
        .bind(BayesBatch::digests(messages))
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(digest, class)| (digest, BayesClass::from_i64(class)))
        .collect();
        let batch = BayesBatch::new(messages, &stored);
        if !batch.changes() {
            tx.rollback().await?;
            return Ok(batch.report);
        }
        let (learned, classes): (Vec<[u8; 16]>, Vec<i64>) = batch
            .learned
            .iter()
            .map(|(digest, class)| (*digest, class.to_i64()))
            .unzip();
        sqlx::query(
            "INSERT INTO bayes_learned (owner, digest, class, learned_at)
             SELECT $1, l.digest, l.class, $4
             FROM UNNEST($2::BYTEA[], $3::BIGINT[]) AS l(digest, class)
             ON CONFLICT (owner, digest) DO UPDATE SET
                 class = excluded.class, learned_at = excluded.learned_at",
        )
        .bind(owner)
        .bind(learned)
        .bind(classes)
        .bind(crate::sqlite::now())
        .execute(&mut *tx)
        .await?;
        let after = batch.totals_after(before, before.generation);
        apply_deltas(&mut tx, owner, &batch, after.generation as i64).await?;
        sqlx::query("UPDATE bayes_totals SET spam = $2, ham = $3 WHERE owner = $1")
            .bind(owner)
            .bind(after.spam as i64)
            .bind(after.ham as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(batch.report)
    }

    async fn bayes_totals(&self, owner: &str) -> Result<BayesTotals> {
        totals_in(&self.pool, owner).await
    }

    async fn bayes_counts(&self, owner: &str, tokens: &[u64]) -> Result<Vec<BayesTokenCount>> {
        let rows = sqlx::query(
            "SELECT token, spam, ham FROM bayes_tokens
             WHERE owner = $1 AND token = ANY($2) AND (spam > 0 OR ham > 0)",
        )
        .bind(owner)
        .bind(tokens.iter().map(|&t| t as i64).collect::<Vec<_>>())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(count_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn bayes_changes(
        &self,
        owner: &str,
        since: u64,
    ) -> Result<(BayesTotals, Vec<BayesTokenCount>)> {
        // One snapshot for the totals and all the pages of rows.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let totals = totals_in(&mut *tx, owner).await?;
        let mut changes = Vec::new();
        // `None` once the last page was read (or nothing changed).
        let mut from = (totals.generation > since).then_some(i64::MIN);
        while let Some(start) = from {
            let rows = sqlx::query(
                "SELECT token, spam, ham FROM bayes_tokens
                 WHERE owner = $1 AND token >= $2 AND generation > $3
                 ORDER BY token LIMIT $4",
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
        tx.commit().await?;
        Ok((totals, changes))
    }

    async fn bayes_learned_as(&self, owner: &str, digest: &[u8; 16]) -> Result<Option<BayesClass>> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT class FROM bayes_learned WHERE owner = $1 AND digest = $2",
        )
        .bind(owner)
        .bind(&digest[..])
        .fetch_optional(&self.pool)
        .await?
        .map(BayesClass::from_i64))
    }

    async fn bayes_owners(&self) -> Result<Vec<(String, BayesTotals)>> {
        // Byte order, as SQLite sorts, whatever the database's collation.
        let rows = sqlx::query(
            r#"SELECT owner, spam, ham, generation FROM bayes_totals ORDER BY owner COLLATE "C""#,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("owner")?, totals_from_row(row)?)))
            .collect()
    }
}
