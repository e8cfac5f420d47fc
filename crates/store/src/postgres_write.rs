//! Writes that lock mailbox rows, on PostgreSQL: each delivery's UID and
//! modseq come from its mailbox's row, so deliveries into one mailbox go one
//! after the other, and whatever the lock is held through, each waits for.
//!
//! Two habits keep that short. A commit that holds such locks is
//! asynchronous: the locks go at once and the change is visible (as SQLite's
//! commit is before its group sync), and then the write waits for a
//! synchronous commit that started after it: that commit's record comes
//! after ours in the WAL, so when it returns ours is on disk too. Writers
//! share those commits (`postgres_flush.rs`). And the common writes (a delivery's
//! index, a relay attempt's end) are one call of a database function in the
//! implicit transaction of a lone statement (migration 20): the lock is
//! held while the server runs that call, never across a round trip to us.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgPool};
use sqlx::query::QueryAs;
use sqlx::{PgConnection, Postgres};

use crate::mail::{Indexed, NewMessage, flags_to_text};
use crate::model::{AttemptOutcome, DeliveredRow, FinishedAttempt, RecipientStatus};
use crate::postgres::update_columns;
use crate::postgres_flush::{Flushes, flush_on};
use crate::postgres_mail::indexed_from;
use crate::{Result, StoreError};

/// A transaction holding mailbox row locks over several statements,
/// committed as the module says with [`LockingWrite::commit`].
///
/// Dropped uncommitted (an error, a cancelled task), its connection is
/// closed rather than returned to the pool inside the transaction: the
/// server rolls it back.
pub(crate) struct LockingWrite {
    conn: PoolConnection<Postgres>,
    committed: bool,
}

impl LockingWrite {
    pub(crate) async fn begin(pool: &PgPool) -> Result<LockingWrite> {
        let mut write = LockingWrite {
            conn: pool.acquire().await?,
            committed: false,
        };
        sqlx::raw_sql("BEGIN; SET LOCAL synchronous_commit = off")
            .execute(&mut *write.conn)
            .await?;
        Ok(write)
    }

    pub(crate) async fn commit(mut self) -> Result<()> {
        sqlx::raw_sql("COMMIT; SELECT txid_current()")
            .execute(&mut *self.conn)
            .await?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for LockingWrite {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

impl std::ops::Deref for LockingWrite {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for LockingWrite {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// How long a relay attempt's end waits for a record's insert to carry
/// its commit to disk (`postgres_flush.rs`) before it runs a flush: nobody
/// waits for its answer but the relay's own task.
const RELAY_PATIENCE: Duration = Duration::from_millis(10);

/// What `havre_deliver` answers for each message: its ordinal, what was
/// done, its UID and modseq, and whether the queue record went (false
/// without an attempt to finish).
type DeliveredAnswer = (i32, String, Option<i64>, Option<i64>, bool);

/// Indexes each of `rows` (a mailbox id and a message) in one call of
/// `havre_deliver`, with no attempt to finish: the answers in the same
/// order, committed asynchronously (visible, not yet known on disk: the
/// caller waits for that with `Flushes::behind`). Each
/// message goes at its mailbox's `uidnext` (or at the UID it keeps, when
/// not below), with a new mod-sequence and its search rows; a file indexed
/// already (a sync of the folder came first) keeps its row, and a mailbox
/// gone meanwhile gets none: neither is an error, the answer tells.
pub(crate) async fn index_rows_visible(
    conn: &mut PgConnection,
    rows: &[(i64, &NewMessage)],
) -> Result<Vec<Indexed>> {
    let answered: Vec<DeliveredAnswer> = bind_rows(
        sqlx::query_as(
            "SELECT * FROM havre_deliver(NULL, NULL, NULL, NULL, NULL, NULL, NULL, $1, $2, $3,
                                         $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                                         $16) ORDER BY ordinal",
        ),
        rows,
    )
    .fetch_all(conn)
    .await?;
    indexed_in_order(rows.len(), &answered)
}

/// A relay attempt's end, `attempt`, and the local deliveries it made,
/// `delivered`, in one transaction: the recipients' statuses and the record
/// (removed when every recipient is final) with the messages' index rows.
pub(crate) async fn finish_delivery(
    pool: &PgPool,
    flushes: &Flushes,
    attempt: &AttemptOutcome,
    delivered: &[DeliveredRow],
) -> Result<FinishedAttempt> {
    if delivered.is_empty() {
        // No mailbox locked: a synchronous commit, in the one round trip.
        let (removed,): (bool,) = bind_attempt(
            sqlx::query_as("SELECT havre_finish_attempt($1, $2, $3, $4, $5, $6, $7)"),
            attempt,
        )
        .fetch_one(pool)
        .await?;
        return Ok(FinishedAttempt {
            removed,
            uids: Vec::new(),
        });
    }
    let rows: Vec<(i64, &NewMessage)> = delivered
        .iter()
        .map(|row| (row.mailbox_id, &row.message))
        .collect();
    let query = bind_attempt(
        sqlx::query_as(
            "SELECT * FROM havre_deliver($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                                         $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
                                         $23) ORDER BY ordinal",
        ),
        attempt,
    );
    let mut conn = pool.acquire().await?;
    let answered: Vec<DeliveredAnswer> = bind_rows(query, &rows).fetch_all(&mut *conn).await?;
    flushes
        .behind(RELAY_PATIENCE, async || flush_on(&mut conn).await)
        .await?;
    let removed = answered.first().is_some_and(|row| row.4);
    let indexed = indexed_in_order(rows.len(), &answered)?;
    Ok(FinishedAttempt {
        removed,
        uids: indexed.iter().map(Indexed::delivered_uid).collect(),
    })
}

/// Binds the seven arguments `havre_finish_attempt` takes for `attempt`
/// (and `havre_deliver` first): its id, its recipients' updates as
/// three arrays, the next attempt, and which statuses are final.
fn bind_attempt<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    attempt: &'q AttemptOutcome,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    let (idx, status, reply) = update_columns(attempt);
    query
        .bind(&attempt.id)
        .bind(idx)
        .bind(status)
        .bind(reply)
        .bind(attempt.next_attempt)
        .bind(RecipientStatus::Sent.as_i64())
        .bind(RecipientStatus::Failed.as_i64())
}

/// Binds the sixteen columns `havre_deliver` takes for `rows`, one array
/// each, in the rows' order.
fn bind_rows<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    rows: &'q [(i64, &'q NewMessage)],
) -> QueryAs<'q, Postgres, O, PgArguments> {
    let text = |f: fn(&'q NewMessage) -> Option<&'q str>| -> Vec<Option<&'q str>> {
        rows.iter().map(|(_, m)| f(m)).collect()
    };
    query
        .bind(rows.iter().map(|(mailbox, _)| *mailbox).collect::<Vec<_>>())
        .bind(text(|m| Some(&m.file)))
        .bind(rows.iter().map(|(_, m)| m.size as i64).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|(_, m)| m.internal_date)
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|(_, m)| flags_to_text(&m.flags))
                .collect::<Vec<_>>(),
        )
        .bind(text(|m| m.cache.as_deref()))
        .bind(
            rows.iter()
                .map(|(_, m)| m.uid.map(i64::from))
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|(_, m)| m.text.is_some())
                .collect::<Vec<_>>(),
        )
        .bind(text(|m| m.text.as_ref()?.subject.as_deref()))
        .bind(text(|m| m.text.as_ref()?.from.as_deref()))
        .bind(text(|m| m.text.as_ref()?.to.as_deref()))
        .bind(text(|m| m.text.as_ref()?.cc.as_deref()))
        .bind(text(|m| m.text.as_ref()?.bcc.as_deref()))
        .bind(
            rows.iter()
                .map(|(_, m)| m.text.as_ref()?.fields.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(text(|m| Some(&m.text.as_ref()?.header)))
        .bind(text(|m| Some(&m.text.as_ref()?.body)))
}

/// The answers of a call for `count` messages, checked to be one per
/// message.
fn indexed_in_order(count: usize, answered: &[DeliveredAnswer]) -> Result<Vec<Indexed>> {
    if answered.len() != count {
        return Err(StoreError::Database(sqlx::Error::Protocol(format!(
            "havre_deliver answered {} rows for {count} messages",
            answered.len()
        ))));
    }
    answered
        .iter()
        .map(|(_, indexed, uid, modseq, _)| indexed_from(indexed, *uid, *modseq))
        .collect()
}
