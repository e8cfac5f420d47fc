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
//! sent, with its connection in hand ([`Flushes::writer_commit`]); a
//! waiter wants a ticket given after its own commit returned, and returns
//! once a commit holding such a ticket succeeded, provided the pool made
//! no connection in between: a connection made since may be to a server
//! that restarted and lost the waiter's commit ([`Flushes::connected`]).
//! When no commit comes in time (no mail being received, or `patience`
//! zero for a client waiting), a waiter runs `SELECT
//! txid_current()`, a transaction with an id and so with a synchronous
//! commit, on the connection of its own commit (a server that restarted
//! meanwhile closed it: the flush fails rather than prove a commit the
//! restart may have lost); every waiter whose call it follows shares it.
//! A flush that started before a call does not cover it and is not waited
//! for (PostgreSQL gathers concurrent flushes into one write of the WAL):
//! waiting for it and then flushing again, as `havre_fsync::GroupSync`
//! does, made LMTP answers a flush later.
//!
//! What this does not change: the change is visible to readers from its
//! asynchronous commit on (a few milliseconds before it is durable, as on
//! SQLite), and nobody is answered, nor a queue record forgotten, before
//! it is on disk.

use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::PgConnection;
use tokio::sync::Notify;

use crate::Result;

/// How long ago a synchronous commit must have started for a waiter to
/// expect another soon: mail is being received.
const FLOWING: Duration = Duration::from_millis(20);

#[derive(Default)]
pub(crate) struct Flushes {
    state: Mutex<State>,
    /// Wakes the waiters when a commit holding a ticket ends, or a
    /// connection is made.
    ended: Notify,
    /// Flushes run by waiters (fewer than the waiters when they shared).
    led: AtomicU64,
}

/// Where a commit or a waiter stands: its ticket, and how many connections
/// the pool had made by then.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ticket: u64,
    connects: u64,
}

#[derive(Default)]
struct State {
    /// The last ticket given.
    given: u64,
    /// Connections the pool made ([`Flushes::connected`]).
    connects: u64,
    /// For the last few values of `connects`: the highest ticket given
    /// then of a commit that succeeded.
    durable: Vec<Stamp>,
    /// The commits (a writer's or a waiter's flush) under way.
    in_flight: Vec<Stamp>,
    /// When the last commit of a writer (not a waiter's flush) started.
    last_commit: Option<Instant>,
}

/// How many values of `connects` keep their durable ticket: a waiter
/// lasts a few milliseconds, connections are made seconds apart.
const DURABLE_KEPT: usize = 4;

impl Flushes {
    /// A connection was made (the pool's `after_connect`). A commit sent on
    /// a connection made after a waiter's call proves nothing for it: the
    /// server may have restarted in between (sqlx retries a connection for
    /// seconds), losing the waiter's commit. So a commit covers the waiters
    /// that called while the pool had made as many connections as when the
    /// commit got its ticket, which it gets with its connection in hand.
    pub(crate) fn connected(&self) {
        self.lock().connects += 1;
        self.ended.notify_waiters();
    }

    /// A writer's synchronous commit about to be sent on a connection
    /// already acquired: it counts as a flush for the waiters whose
    /// asynchronous commits came before, once [`Running::succeeded`] says
    /// it wrote and committed.
    pub(crate) fn writer_commit(&self) -> Running<'_> {
        let mut state = self.lock();
        state.last_commit = Some(Instant::now());
        let stamp = state.give();
        Running {
            flushes: self,
            stamp,
            succeeded: false,
        }
    }

    /// Returns once what the caller committed before the call is on disk:
    /// at the end of a synchronous commit that started after the call, a
    /// writer's if one starts within `patience` while mail is being
    /// received, else `flush` run for the purpose ([`flush_on`] the
    /// connection of the caller's commit: if the server restarted
    /// meanwhile, that connection is gone and the flush fails, as the
    /// commit may have been lost).
    pub(crate) async fn behind(
        &self,
        patience: Duration,
        flush: impl AsyncFnOnce() -> Result<()>,
    ) -> Result<()> {
        let called = Instant::now();
        let (wanted, deadline) = {
            let state = self.lock();
            let flowing = state
                .last_commit
                .is_some_and(|at| called.duration_since(at) < FLOWING);
            let deadline = if flowing { called + patience } else { called };
            let wanted = Stamp {
                ticket: state.given + 1,
                connects: state.connects,
            };
            (wanted, deadline)
        };
        loop {
            // Registered before the state is read: an end after the read
            // wakes this waiter.
            let mut ended = pin!(self.ended.notified());
            ended.as_mut().enable();
            let next = {
                let mut state = self.lock();
                if state.covers(wanted) {
                    return Ok(());
                }
                // A connection made since the call: no later commit covers.
                let hopeless = state.connects != wanted.connects;
                if state.in_flight.iter().any(|&run| run.may_cover(wanted)) {
                    Next::WaitEnd
                } else if Instant::now() < deadline && !hopeless {
                    Next::WaitUntil(deadline)
                } else {
                    // Flushes that started before the call cover nothing of
                    // it: not waited for, PostgreSQL gathers concurrent
                    // flushes into one write of the WAL.
                    Next::Lead(state.give())
                }
            };
            match next {
                Next::Lead(stamp) => return self.lead(stamp, flush).await,
                Next::WaitEnd => ended.await,
                Next::WaitUntil(deadline) => {
                    let _ = tokio::time::timeout_at(deadline.into(), ended).await;
                }
            }
        }
    }

    async fn lead(&self, stamp: Stamp, flush: impl AsyncFnOnce() -> Result<()>) -> Result<()> {
        self.led.fetch_add(1, Ordering::Relaxed);
        let mut run = Running {
            flushes: self,
            stamp,
            succeeded: false,
        };
        let outcome = flush().await;
        run.succeeded = outcome.is_ok();
        outcome
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

impl Stamp {
    /// Whether this commit, once it succeeds, covers a waiter that wanted
    /// `wanted`: it started after the waiter's call, with no connection
    /// made in between.
    fn may_cover(self, wanted: Stamp) -> bool {
        self.ticket >= wanted.ticket && self.connects == wanted.connects
    }
}

impl State {
    fn give(&mut self) -> Stamp {
        self.given += 1;
        let stamp = Stamp {
            ticket: self.given,
            connects: self.connects,
        };
        self.in_flight.push(stamp);
        stamp
    }

    fn covers(&self, wanted: Stamp) -> bool {
        self.durable.iter().any(|&done| done.may_cover(wanted))
    }

    fn succeeded(&mut self, stamp: Stamp) {
        match self
            .durable
            .iter_mut()
            .find(|done| done.connects == stamp.connects)
        {
            Some(done) => done.ticket = done.ticket.max(stamp.ticket),
            None => {
                self.durable.push(stamp);
                self.durable.sort_by_key(|done| done.connects);
                if self.durable.len() > DURABLE_KEPT {
                    self.durable.remove(0);
                }
            }
        }
    }
}

/// A flush of everything committed on this server before it: a
/// transaction with an id, so with a synchronous commit, on `conn`.
pub(crate) async fn flush_on(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT txid_current()").execute(conn).await?;
    Ok(())
}

/// What a waiter does next.
enum Next {
    /// Runs the flush, as `.0`.
    Lead(Stamp),
    /// Waits for the end of a commit under way that may cover it.
    WaitEnd,
    /// Waits for a commit to end, until the patience ends.
    WaitUntil(Instant),
}

/// A commit under way: when it ends (or its task is cancelled), the
/// waiters learn whether it covered them.
pub(crate) struct Running<'a> {
    flushes: &'a Flushes,
    stamp: Stamp,
    succeeded: bool,
}

impl Running<'_> {
    /// The commit returned: it wrote, so it committed synchronously.
    pub(crate) fn succeeded(mut self) {
        self.succeeded = true;
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut state = self.flushes.lock();
        state.in_flight.retain(|&run| run != self.stamp);
        if self.succeeded {
            state.succeeded(self.stamp);
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

    /// A flush these waiters must not run: it fails them.
    async fn no_flush() -> Result<()> {
        Err(crate::StoreError::NotCommitted("a flush ran".into()))
    }

    /// A writer's commit that ends when told, succeeding or not.
    fn commit_until(
        flushes: &Arc<Flushes>,
        succeeds: bool,
    ) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let (end, ends) = oneshot::channel();
        let flushes = flushes.clone();
        let task = tokio::spawn(async move {
            let run = flushes.writer_commit();
            ends.await.unwrap();
            if succeeds {
                run.succeeded();
            }
        });
        (end, task)
    }

    /// Ends a commit of [`commit_until`] and lets the waiters see it.
    async fn end(commit: (oneshot::Sender<()>, tokio::task::JoinHandle<()>)) {
        commit.0.send(()).unwrap();
        commit.1.await.unwrap();
        settle().await;
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
        let earlier = commit_until(&flushes, true);
        settle().await;
        let waiter = {
            let flushes = flushes.clone();
            tokio::spawn(async move { flushes.behind(Duration::from_secs(30), no_flush).await })
        };
        settle().await;
        end(earlier).await;
        assert!(!waiter.is_finished(), "a commit sent before it covered it");
        // A commit that fails covers nobody.
        let failing = commit_until(&flushes, false);
        settle().await;
        end(failing).await;
        assert!(!waiter.is_finished(), "a failed commit covered it");
        let later = commit_until(&flushes, true);
        settle().await;
        end(later).await;
        waiter.await.unwrap().unwrap();
        assert_eq!(flushes.led(), 0);
    }

    #[tokio::test]
    async fn past_its_patience_a_waiter_waits_for_a_commit_under_way_that_started_after_it() {
        let flushes = Arc::new(Flushes::default());
        // Mail is being received.
        let earlier = commit_until(&flushes, true);
        end(earlier).await;
        let waiter = {
            let flushes = flushes.clone();
            tokio::spawn(async move { flushes.behind(Duration::from_millis(20), no_flush).await })
        };
        settle().await;
        let slow = commit_until(&flushes, true);
        // Its patience ends while that commit is still under way: a flush of
        // its own would fail it.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished());
        end(slow).await;
        waiter.await.unwrap().unwrap();
        assert_eq!(flushes.led(), 0);
    }

    #[tokio::test]
    async fn a_waiter_with_no_commit_to_ride_on_runs_its_flush_and_its_failure_is_its_own() {
        let flushes = Flushes::default();
        flushes
            .behind(Duration::from_millis(10), async || Ok(()))
            .await
            .unwrap();
        assert_eq!(flushes.led(), 1);
        // The connection of its commit closed (the server restarted): the
        // commit is not known on disk.
        assert!(flushes.behind(Duration::ZERO, no_flush).await.is_err());
        assert_eq!(flushes.led(), 2);
    }

    #[tokio::test]
    async fn a_commit_on_a_connection_made_after_the_call_covers_nothing() {
        let flushes = Arc::new(Flushes::default());
        let earlier = commit_until(&flushes, true);
        end(earlier).await;
        let flushed = Arc::new(AtomicU64::new(0));
        let waiter = {
            let (flushes, flushed) = (flushes.clone(), flushed.clone());
            tokio::spawn(async move {
                flushes
                    .behind(Duration::from_secs(30), async || {
                        flushed.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    })
                    .await
            })
        };
        settle().await;
        // The server restarted: the pool made a connection, and a record's
        // insert on it succeeded. The waiter flushes on its own connection
        // at once, without waiting out its patience.
        flushes.connected();
        let later = commit_until(&flushes, true);
        end(later).await;
        waiter.await.unwrap().unwrap();
        assert_eq!(flushed.load(Ordering::Relaxed), 1);
    }
}
