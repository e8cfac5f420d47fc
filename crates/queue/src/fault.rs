//! Fault points for the crash tests: places where a kill -9 proves a
//! durability rule and cannot be aimed at from outside.
//!
//! `havre serve` reads `HAVRE_FAULT=<point>[:<n>]` once at start
//! ([`arm`]); the `n`-th time (default 1) the process reaches `point`, it
//! writes `havre: fault point <point> reached: SIGKILL` to stderr and kills
//! itself with SIGKILL, the crash the guarantees are about. Unset (always,
//! outside the tests), a point costs one relaxed atomic load. The points:
//!
//! - `enqueue-committed`: the queue record of a received message is
//!   committed and synced, the client not yet answered (`Queue::enqueue`);
//! - `attempt-delivered`: a delivery attempt wrote its mailbox copies, its
//!   outcome is not committed yet (havre-relay).
//!
//! One point is a pause, not a kill: `ready-delay:<ms>` holds `havre serve`
//! that long between its HTTP listener coming up and the node being
//! declared ready, so that a test sees `/health/ready` say 503 first.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub const ENQUEUE_COMMITTED: &str = "enqueue-committed";
pub const ATTEMPT_DELIVERED: &str = "attempt-delivered";
pub const READY_DELAY: &str = "ready-delay";

static ARMED: OnceLock<(String, u64)> = OnceLock::new();
static REACHED: AtomicU64 = AtomicU64::new(0);

/// Arms the point `spec` names (`<point>[:<n>]`); refuses an unknown point
/// or a count that is not a positive number.
pub fn arm(spec: &str) -> Result<(), String> {
    let (point, nth) = match spec.split_once(':') {
        Some((point, n)) => (point, n.parse::<u64>().ok().filter(|n| *n > 0)),
        None => (spec, Some(1)),
    };
    let Some(nth) = nth else {
        return Err(format!(
            "HAVRE_FAULT={spec}: the count must be a positive number"
        ));
    };
    if ![ENQUEUE_COMMITTED, ATTEMPT_DELIVERED, READY_DELAY].contains(&point) {
        return Err(format!("HAVRE_FAULT={spec}: no such fault point"));
    }
    ARMED
        .set((point.to_string(), nth))
        .map_err(|_| "a fault point is armed already".to_string())
}

/// How long to pause at `point` when it is the armed pause point (its
/// count read as milliseconds).
pub fn pause(point: &str) -> Option<std::time::Duration> {
    let (armed, ms) = ARMED.get()?;
    (armed == point).then(|| std::time::Duration::from_millis(*ms))
}

/// Kills the process here if this is the armed point's `n`-th passage.
pub fn reached(point: &str) {
    let Some((armed, nth)) = ARMED.get() else {
        return;
    };
    if armed != point || REACHED.fetch_add(1, Ordering::SeqCst) + 1 != *nth {
        return;
    }
    eprintln!("havre: fault point {point} reached: SIGKILL");
    // SAFETY: kill(2) on our own pid; it does not return for SIGKILL.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
}
