//! When a pooled PostgreSQL connection is checked (a ping) before use.
//!
//! Not every time, as sqlx does by default: under load that is a round trip
//! more for every statement. A connection used within the last
//! [`TRUSTED_IDLE`] is taken as it is (HikariCP's `aliveBypassWindowMs`),
//! unless a connection was lost since it went idle: then the server may
//! have restarted under it, and the first statement after it is back must
//! not fail on a connection from before.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a connection may sit idle and still be used without a ping.
pub(crate) const TRUSTED_IDLE: Duration = Duration::from_millis(500);

/// When a connection was last lost: nanoseconds since [`epoch`], 0 never.
/// One for the process: a node has one PostgreSQL store; where a process
/// has several (tests), a loss seen by one costs the others a ping or two.
static LAST_LOST: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now() -> u64 {
    // At least 1: 0 means never.
    u64::try_from(epoch().elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Whether `err` says the connection, or the way to the server, is gone.
pub(crate) fn is_connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        // SQLSTATE class 08: connection exception; 57P01-03: the server
        // shutting down or starting.
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Notes `err` when it is a lost connection.
pub(crate) fn note(err: &sqlx::Error) {
    if is_connection_lost(err) {
        LAST_LOST.store(now(), Ordering::Relaxed);
    }
}

/// Whether a connection idle for `idle_for` needs a ping before use.
pub(crate) fn must_check(idle_for: Duration) -> bool {
    if idle_for >= TRUSTED_IDLE {
        return true;
    }
    let lost = LAST_LOST.load(Ordering::Relaxed);
    let idle = u64::try_from(idle_for.as_nanos()).unwrap_or(u64::MAX);
    lost != 0 && lost.saturating_add(idle) >= now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_idle_since_a_loss_is_checked_and_one_used_since_is_not() {
        let just_used = Duration::from_millis(1);
        let idle_long = Duration::from_secs(1);
        assert!(must_check(idle_long));
        note(&sqlx::Error::PoolTimedOut);
        // Idle since before the loss: checked.
        std::thread::sleep(Duration::from_millis(5));
        assert!(must_check(Duration::from_millis(100)));
        // Put back after the loss: trusted.
        assert!(!must_check(just_used));
        // Not every error is a loss.
        note(&sqlx::Error::RowNotFound);
        std::thread::sleep(Duration::from_millis(5));
        assert!(!must_check(just_used));
    }
}
