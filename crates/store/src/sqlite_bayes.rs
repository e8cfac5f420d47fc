//! [`BayesStore`] on SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{Row, Sqlite, Transaction};

use crate::{
    BayesClass, BayesLearn, BayesLearnReport, BayesStore, BayesTokenCount, BayesTotals, Result,
    SqliteStore,
};

/// Rows per multi-row statement (5 parameters each, well under SQLite's
/// limit of 32,766).
const ROWS_PER_STATEMENT: usize = 400;

/// Rows per page when reading the changes of an owner.
const ROWS_PER_PAGE: i64 = 20_000;

/// Tokens per `IN (...)` list when reading counts.
const TOKENS_PER_QUERY: usize = 900;

fn totals_from_row(row: &sqlx::sqlite::SqliteRow) -> std::result::Result<BayesTotals, sqlx::Error> {
    Ok(BayesTotals {
        spam: row.try_get::<i64, _>("spam")?.max(0) as u64,
        ham: row.try_get::<i64, _>("ham")?.max(0) as u64,
        generation: row.try_get::<i64, _>("generation")?.max(0) as u64,
    })
}

fn count_from_row(
    row: &sqlx::sqlite::SqliteRow,
) -> std::result::Result<BayesTokenCount, sqlx::Error> {
    Ok(BayesTokenCount {
        // Tokens are u64 hashes stored in SQLite's signed integers.
        token: row.try_get::<i64, _>("token")? as u64,
        spam: row.try_get::<i64, _>("spam")?.clamp(0, u32::MAX.into()) as u32,
        ham: row.try_get::<i64, _>("ham")?.clamp(0, u32::MAX.into()) as u32,
    })
}

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

/// Adds `deltas` (token -> spam, ham) to the owner's rows, creating the
/// missing ones, and marks them with `generation`.
async fn apply_deltas(
    tx: &mut Transaction<'_, Sqlite>,
    owner: &str,
    deltas: &HashMap<u64, (i64, i64)>,
    generation: i64,
) -> Result<()> {
    let rows: Vec<(&u64, &(i64, i64))> = deltas.iter().filter(|(_, d)| **d != (0, 0)).collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
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
        for (token, (spam, ham)) in chunk {
            query = query
                .bind(owner)
                .bind(**token as i64)
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
        let mut report = BayesLearnReport::default();
        let mut tx = self.begin().await?;
        let before = totals_in(&mut tx, owner).await?;
        let generation = before.generation as i64 + 1;
        let (mut spam, mut ham) = (before.spam as i64, before.ham as i64);
        let mut deltas: HashMap<u64, (i64, i64)> = HashMap::new();
        // Messages of this batch, so that a message twice in it counts once.
        let mut in_batch: HashMap<[u8; 16], BayesClass> = HashMap::new();
        for message in messages {
            let known = match in_batch.get(&message.digest) {
                Some(class) => Some(*class),
                None => sqlx::query_scalar::<_, i64>(
                    "SELECT class FROM bayes_learned WHERE owner = ? AND digest = ?",
                )
                .bind(owner)
                .bind(&message.digest[..])
                .fetch_optional(&mut *tx)
                .await?
                .map(BayesClass::from_i64),
            };
            let sign_of = |class: BayesClass| match class {
                BayesClass::Spam => (1, 0),
                BayesClass::Ham => (0, 1),
            };
            let (add_spam, add_ham) = match known {
                Some(class) if class == message.class => {
                    report.already += 1;
                    continue;
                }
                Some(old) => {
                    report.moved += 1;
                    let (s_old, h_old) = sign_of(old);
                    let (s_new, h_new) = sign_of(message.class);
                    (s_new - s_old, h_new - h_old)
                }
                None => {
                    report.learned += 1;
                    sign_of(message.class)
                }
            };
            in_batch.insert(message.digest, message.class);
            spam += add_spam;
            ham += add_ham;
            for &token in &message.tokens {
                let delta = deltas.entry(token).or_insert((0, 0));
                delta.0 += add_spam;
                delta.1 += add_ham;
            }
            sqlx::query(
                "INSERT INTO bayes_learned (owner, digest, class, learned_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (owner, digest) DO UPDATE SET
                     class = excluded.class, learned_at = excluded.learned_at",
            )
            .bind(owner)
            .bind(&message.digest[..])
            .bind(message.class.to_i64())
            .bind(crate::sqlite::now())
            .execute(&mut *tx)
            .await?;
        }
        if report.learned + report.moved > 0 {
            apply_deltas(&mut tx, owner, &deltas, generation).await?;
            sqlx::query(
                "INSERT INTO bayes_totals (owner, spam, ham, generation) VALUES (?, ?, ?, ?)
                 ON CONFLICT (owner) DO UPDATE SET
                     spam = excluded.spam, ham = excluded.ham, generation = excluded.generation",
            )
            .bind(owner)
            .bind(spam.max(0))
            .bind(ham.max(0))
            .bind(generation)
            .execute(&mut *tx)
            .await?;
        }
        self.commit(tx).await?;
        Ok(report)
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
        // read a page at a time in token order (a first load reads a million
        // rows: all at once, sqlx's rows would take half a gigabyte).
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
            .bind(ROWS_PER_PAGE)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                changes.push(count_from_row(row)?);
            }
            let last = changes.last().map(|c| c.token as i64);
            from = match last {
                Some(last) if rows.len() as i64 == ROWS_PER_PAGE => last.checked_add(1),
                _ => None,
            };
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
