//! Flushes of PostgreSQL's WAL shared between this node's writers.
//!
//! A write that locks a mailbox commits asynchronously and must then see
//! its commit on disk before it answers (`postgres_write.rs`). Any
//! synchronous commit made on the server *after* that asynchronous one
//! returned does it: PostgreSQL's WAL is one stream, its commit record comes
//! later in it, and the server flushes the WAL up to that record before the
//! commit returns. An SMTP session's record insert is such a commit. So
//! a relay delivery that ends while mail is being received waits a little
//! for the next insert to carry its commit to disk rather than run a flush
//! of its own: on one SMTP connection that is one WAL flush a message
//! instead of two (SQLite's writers share their fsyncs the same way, see
//! `durable.rs`).
//!
//! Every synchronous commit that takes part gets a ticket before it is
//! sent ([`Flushes::commit`]); a waiter wants a ticket given after its own
//! commit returned, and returns once a commit holding such a ticket
//! succeeded. When no commit comes in time (no mail being received, or
//! `patience` zero for a client waiting), a waiter runs `SELECT
//! txid_current()`, a transaction with an id and so with a synchronous
//! commit; one such flush runs at a time, and everyone whose commit it
//! follows shares it, the way `havre_fsync::GroupSync` shares an fsync.
//!
//! What this does not change: the change is visible to readers from its
//! asynchronous commit on (a few milliseconds before it is durable, as on
//! SQLite), and nobody is answered, nor a queue record forgotten, before
//! it is on disk.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::postgres::PgPool;
use tokio::sync::Notify;

use crate::Result;

/// How long ago a synchronous commit must have started for a waiter to
/// expect another soon: mail is being received.
const FLOWING: Duration = Duration::from_millis(20);

#[derive(Default)]
pub(crate) struct Flushes {
    state: Mutex<State>,
    /// Wakes the waiters when a commit holding a ticket ends.
    ended: Notify,
    /// Flushes run by waiters (fewer than the waiters when they shared).
    led: AtomicU64,
}

#[derive(Default)]
struct State {
    /// The last ticket given.
    given: u64,
    /// The highest ticket of a commit that succeeded.
    durable: u64,
    /// Whether a waiter runs a flush.
    leading: bool,
    /// The tickets of the commits (a writer's or a waiter's flush) under way.
    in_flight: Vec<u64>,
    /// When the last commit of a writer (not a waiter's flush) started.
    last_commit: Option<Instant>,
}

impl Flushes {
    /// Runs `commit`, a statement that commits synchronously, counting it
    /// as a flush for the waiters whose asynchronous commits came before.
    pub(crate) async fn commit<T>(&self, commit: impl Future<Output = Result<T>>) -> Result<T> {
        let ticket = {
            let mut state = self.lock();
            state.last_commit = Some(Instant::now());
            let ticket = state.give();
            state.in_flight.push(ticket);
            ticket
        };
        let mut run = Running {
            flushes: self,
            ticket,
            leads: false,
            succeeded: false,
        };
        let outcome = commit.await;
        run.succeeded = outcome.is_ok();
        outcome
    }

    /// Returns once what was committed on this server before the call is
    /// on disk: at the end of a synchronous commit that started after the
    /// call, a writer's if one starts within `patience` while mail is
    /// being received, else a flush run for the purpose.
    pub(crate) async fn behind(&self, pool: &PgPool, patience: Duration) -> Result<()> {
        let called = Instant::now();
        let (wanted, deadline) = {
            let state = self.lock();
            let flowing = state
                .last_commit
                .is_some_and(|at| called.duration_since(at) < FLOWING);
            let deadline = if flowing { called + patience } else { called };
            (state.given + 1, deadline)
        };
        loop {
            // Registered before the state is read: an end after the read
            // wakes this waiter.
            let mut ended = pin!(self.ended.notified());
            ended.as_mut().enable();
            let next = {
                let mut state = self.lock();
                if state.durable >= wanted {
                    return Ok(());
                }
                if Instant::now() < deadline {
                    Next::WaitUntil(deadline)
                } else if state.leading || state.in_flight.iter().any(|&t| t >= wanted) {
                    Next::WaitEnd
                } else {
                    state.leading = true;
                    let ticket = state.give();
                    state.in_flight.push(ticket);
                    Next::Lead(ticket)
                }
            };
            match next {
                Next::Lead(ticket) => return self.lead(pool, ticket).await,
                Next::WaitEnd => ended.await,
                Next::WaitUntil(deadline) => {
                    let _ = tokio::time::timeout_at(deadline.into(), ended).await;
                }
            }
        }
    }

    async fn lead(&self, pool: &PgPool, ticket: u64) -> Result<()> {
        self.led.fetch_add(1, Ordering::Relaxed);
        let mut run = Running {
            flushes: self,
            ticket,
            leads: true,
            succeeded: false,
        };
        let outcome = sqlx::query("SELECT txid_current()").execute(pool).await;
        run.succeeded = outcome.is_ok();
        outcome?;
        Ok(())
    }

    /// How many flushes waiters ran.
    pub(crate) fn led(&self) -> u64 {
        self.led.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// What a waiter does next.
enum Next {
    /// Runs the flush, as ticket `.0`.
    Lead(u64),
    /// Waits for the end of the flush a waiter runs (it may cover this
    /// one; if not, the next may be this one's).
    WaitEnd,
    /// Waits for a commit to end, until the patience ends.
    WaitUntil(Instant),
}

impl State {
    fn give(&mut self) -> u64 {
        self.given += 1;
        self.given
    }
}

/// A commit under way: when it ends (or its task is cancelled), the
/// waiters learn whether it covered them, and the next may lead a flush.
struct Running<'a> {
    flushes: &'a Flushes,
    ticket: u64,
    /// A waiter's flush, not a writer's commit.
    leads: bool,
    succeeded: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut state = self.flushes.lock();
        state.in_flight.retain(|&t| t != self.ticket);
        if self.leads {
            state.leading = false;
        }
        if self.succeeded {
            state.durable = state.durable.max(self.ticket);
        }
        drop(state);
        self.flushes.ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::sync::oneshot;

    /// A pool that never connects: these waiters must not run a flush.
    fn nowhere() -> PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap()
    }

    /// A writer's commit that ends when told, as `outcome`.
    fn commit_until(
        flushes: &Arc<Flushes>,
        outcome: Result<()>,
    ) -> (oneshot::Sender<()>, tokio::task::JoinHandle<Result<()>>) {
        let (end, ends) = oneshot::channel();
        let flushes = flushes.clone();
        let task = tokio::spawn(async move {
            flushes
                .commit(async move {
                    ends.await.unwrap();
                    outcome
                })
                .await
        });
        (end, task)
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_waiter_returns_at_the_end_of_a_commit_that_started_after_it_not_before() {
        let flushes = Arc::new(Flushes::default());
        // Mail is being received: a commit is under way when the delivery ends.
        let (end_earlier, earlier) = commit_until(&flushes, Ok(()));
        settle().await;
        let waiter = {
            let flushes = flushes.clone();
            tokio::spawn(async move { flushes.behind(&nowhere(), Duration::from_secs(30)).await })
        };
        settle().await;
        end_earlier.send(()).unwrap();
        earlier.await.unwrap().unwrap();
        settle().await;
        assert!(!waiter.is_finished(), "a commit sent before it covered it");
        // A commit that fails covers nobody.
        let (end_failing, failing) = commit_until(
            &flushes,
            Err(crate::StoreError::NotCommitted(
                "the server went away".into(),
            )),
        );
        settle().await;
        end_failing.send(()).unwrap();
        assert!(failing.await.unwrap().is_err());
        settle().await;
        assert!(!waiter.is_finished(), "a failed commit covered it");
        let (end_later, later) = commit_until(&flushes, Ok(()));
        settle().await;
        end_later.send(()).unwrap();
        later.await.unwrap().unwrap();
        waiter.await.unwrap().unwrap();
        assert_eq!(flushes.led(), 0);
    }

    #[tokio::test]
    async fn past_its_patience_a_waiter_waits_for_a_commit_under_way_that_started_after_it() {
        let flushes = Arc::new(Flushes::default());
        // Mail is being received.
        let (end_earlier, earlier) = commit_until(&flushes, Ok(()));
        end_earlier.send(()).unwrap();
        earlier.await.unwrap().unwrap();
        let waiter = {
            let flushes = flushes.clone();
            tokio::spawn(async move { flushes.behind(&nowhere(), Duration::from_millis(20)).await })
        };
        settle().await;
        let (end_slow, slow) = commit_until(&flushes, Ok(()));
        // Its patience ends while that commit is still under way: a flush of
        // its own would fail against `nowhere`.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished());
        end_slow.send(()).unwrap();
        slow.await.unwrap().unwrap();
        waiter.await.unwrap().unwrap();
        assert_eq!(flushes.led(), 0);
    }
}
