//! Deliveries into one mailbox indexed together: group commit, at havre's
//! level, for what PostgreSQL cannot gather by itself.
//!
//! A delivery's index write locks the mailbox's row (its UIDNEXT and
//! HIGHESTMODSEQ), so deliveries into one mailbox run one after the other
//! whatever the pool's size, and each costs PostgreSQL a transaction of its
//! own: a connection checked out (and pinged when given back), BEGIN, the
//! call, COMMIT, a WAL flush, a wake-up of a backend process for each, and
//! the lock's queue of waiters. On 2 cores those are most of a delivery's
//! price. Here a delivery that comes while another into the same mailbox is
//! being indexed waits for the next turn, and that turn indexes everything
//! that waited in one call of `havre_deliver` (migration 21): one
//! transaction, one commit, one flush. Each message is indexed exactly as
//! it would be alone (its own UID and modseq, in arrival
//! order; a file indexed before is "known"), and each caller gets its own
//! answer once the commit is on disk (`postgres_write.rs`). The next turn
//! does not wait for that: the lock goes with the asynchronous commit, so
//! its call runs while the disk works, and the waits for the disk are
//! shared (`postgres_flush.rs`).
//!
//! A turn runs in a task of its own, never in a caller's: a caller that
//! goes away (its client hung up) cancels neither the others' write nor its
//! own, which then lands as it would have after its reply was lost. When a
//! call for several fails (a lost connection, one message the server
//! refuses), each message is tried again alone, so that every caller gets
//! the error that is its own and one bad message fails nobody else.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPool;
use sqlx::{PgConnection, Postgres};
use tokio::sync::oneshot;

use crate::mail::{Indexed, NewMessage};
use crate::postgres_flush::{Flushes, flush_on};
use crate::postgres_write::index_rows_visible;
use crate::{Result, StoreError};

/// The most deliveries indexed in one call: a turn stays short, so that
/// the first of them is not kept waiting for the last.
const MOST_PER_CALL: usize = 64;

/// Deliveries waiting for their mailbox's turn.
pub(crate) struct Deliveries {
    pool: PgPool,
    flushes: Arc<Flushes>,
    /// By mailbox id: the deliveries waiting. A mailbox is in the map while
    /// a task is taking turns for it, and only then.
    waiting: Arc<Mutex<HashMap<i64, Vec<Waiting>>>>,
}

struct Waiting {
    message: NewMessage,
    answer: oneshot::Sender<Result<Indexed>>,
}

impl Deliveries {
    pub(crate) fn new(pool: PgPool, flushes: Arc<Flushes>) -> Deliveries {
        Deliveries {
            pool,
            flushes,
            waiting: Arc::default(),
        }
    }

    /// Indexes `message` into mailbox `mailbox`; returns once that is
    /// committed and on disk.
    pub(crate) async fn index(&self, mailbox: i64, message: NewMessage) -> Result<Indexed> {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting { message, answer };
        let start = match self.waiting.lock().unwrap().entry(mailbox) {
            Entry::Occupied(mut queue) => {
                queue.get_mut().push(waiting);
                false
            }
            Entry::Vacant(slot) => {
                slot.insert(vec![waiting]);
                true
            }
        };
        if start {
            let turns = Turns {
                pool: self.pool.clone(),
                flushes: self.flushes.clone(),
                waiting: self.waiting.clone(),
                mailbox,
                done: false,
            };
            tokio::spawn(turns.run());
        }
        answered.await.unwrap_or_else(|_| {
            // The task was dropped with the runtime: whether the write
            // landed is unknown, so it is not acknowledged.
            Err(StoreError::NotCommitted(format!(
                "a delivery into mailbox {mailbox}"
            )))
        })
    }
}

/// The task indexing one mailbox's deliveries, turn after turn, until none
/// waits. Dropped before its end (the runtime shutting down), it takes the
/// mailbox out of the map, so that a later delivery starts a task again.
struct Turns {
    pool: PgPool,
    flushes: Arc<Flushes>,
    waiting: Arc<Mutex<HashMap<i64, Vec<Waiting>>>>,
    mailbox: i64,
    done: bool,
}

impl Turns {
    async fn run(mut self) {
        loop {
            let turn: Vec<Waiting> = {
                let mut waiting = self.waiting.lock().unwrap();
                let queue = waiting.entry(self.mailbox).or_default();
                if queue.is_empty() {
                    waiting.remove(&self.mailbox);
                    self.done = true;
                    return;
                }
                let n = queue.len().min(MOST_PER_CALL);
                queue.drain(..n).collect()
            };
            self.index(turn).await;
        }
    }

    /// A connection from the pool, or else `turn`'s callers told why
    /// there is none (and `turn` emptied).
    async fn acquire_for(&self, turn: &mut Vec<Waiting>) -> Option<PoolConnection<Postgres>> {
        match self.pool.acquire().await {
            Ok(conn) => Some(conn),
            Err(err) => {
                let err = StoreError::from(err);
                for waiting in turn.drain(..) {
                    let _ = waiting.answer.send(Err(copy_of(&err)));
                }
                None
            }
        }
    }

    /// Indexes `turn`, and leaves its answers to a task that sends them
    /// once the commit is on disk (flushed on the connection of the call,
    /// if nothing else flushed it first).
    async fn index(&self, mut turn: Vec<Waiting>) {
        let Some(mut conn) = self.acquire_for(&mut turn).await else {
            return;
        };
        let mut answered: Vec<(Waiting, Result<Indexed>)> = Vec::with_capacity(turn.len());
        let together = if turn.len() > 1 {
            let messages: Vec<&NewMessage> = turn.iter().map(|w| &w.message).collect();
            index_together(&mut conn, self.mailbox, &messages)
                .await
                .ok()
        } else {
            None
        };
        match together {
            Some(answers) => answered.extend(turn.into_iter().zip(answers.into_iter().map(Ok))),
            None => {
                if turn.len() > 1 {
                    // The connection may be what failed.
                    conn.close_on_drop();
                    drop(conn);
                    let Some(fresh) = self.acquire_for(&mut turn).await else {
                        return;
                    };
                    conn = fresh;
                }
                for waiting in turn {
                    let answer = index_alone(&mut conn, self.mailbox, &waiting.message).await;
                    answered.push((waiting, answer));
                }
            }
        }
        let flushes = self.flushes.clone();
        tokio::spawn(async move {
            let on_disk = flushes
                .behind(Duration::ZERO, async || flush_on(&mut conn).await)
                .await;
            for (waiting, answer) in answered {
                let answer = match (&on_disk, answer) {
                    (Ok(()), answer) => answer,
                    // Committed, not known on disk.
                    (Err(err), Ok(_)) => Err(copy_of(err)),
                    (Err(_), Err(err)) => Err(err),
                };
                let _ = waiting.answer.send(answer);
            }
        });
    }
}

/// `err` for each of several callers (errors are not `Clone`), still
/// telling a database out of reach (451 4.3.0, `NO [UNAVAILABLE]`) from
/// the rest.
fn copy_of(err: &StoreError) -> StoreError {
    if err.is_unavailable() {
        let lost = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, err.to_string());
        StoreError::Database(sqlx::Error::Io(lost))
    } else {
        StoreError::NotCommitted(format!("a delivery into a mailbox: {err}"))
    }
}

impl Drop for Turns {
    fn drop(&mut self) {
        if !self.done {
            // The waiting deliveries' senders go with their entry: each
            // caller hears that its write is not known to have landed.
            if let Ok(mut waiting) = self.waiting.lock() {
                waiting.remove(&self.mailbox);
            }
        }
    }
}

async fn index_alone(
    conn: &mut PgConnection,
    mailbox: i64,
    message: &NewMessage,
) -> Result<Indexed> {
    let mut indexed = index_rows_visible(conn, &[(mailbox, message)]).await?;
    indexed.pop().ok_or_else(|| {
        StoreError::Database(sqlx::Error::Protocol(
            "havre_deliver answered no row".into(),
        ))
    })
}

/// One call of `havre_deliver` for all of `messages`, in order, committed
/// asynchronously.
async fn index_together(
    conn: &mut PgConnection,
    mailbox: i64,
    messages: &[&NewMessage],
) -> Result<Vec<Indexed>> {
    let rows: Vec<(i64, &NewMessage)> = messages.iter().map(|m| (mailbox, *m)).collect();
    index_rows_visible(conn, &rows).await
}
