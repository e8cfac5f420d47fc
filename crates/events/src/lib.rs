//! Events: every decision that a report, a graph or a trace needs, recorded
//! once as a structured row beside the log line that tells it.
//!
//! A role calls [`Events::record`], which never waits: the event goes into
//! a bounded channel, and one writer task puts what has arrived into the
//! events database in one transaction at a time (a few per second under
//! load). Events are not mail: the database is never synced at a commit,
//! and when the channel is full an event is counted as dropped (and said in
//! the log) rather than slowing a session down. Rows older than
//! `events.retention` are deleted every hour.
//!
//! The embedded database is its own SQLite file (`events.sqlite` in the
//! data directory), apart from the store: its writes never wait behind, or
//! hold up, a delivery's.

mod event;
pub mod report;
mod report_html;
mod report_sql;
pub mod series;
mod sqlite;
pub mod trace;

pub use event::{Event, Kind};
pub use report_html::escape_html;
pub use sqlite::{EventsError, SqliteEvents, Wanted};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// Events waiting for the writer at most.
const QUEUED: usize = 65_536;
/// Events written in one transaction at most.
const BATCH: usize = 4_096;
/// How long the writer gathers events before a transaction.
const COLLECT: Duration = Duration::from_millis(250);

// Events are moved into the channel once each: boxing them would cost an
// allocation per event for a slot size that does not matter here.
#[allow(clippy::large_enum_variant)]
enum Message {
    Event(Event),
    /// Answered once everything sent before is written.
    Flush(oneshot::Sender<()>),
}

/// The handle the roles record with; cheap to clone. A disabled one
/// (`events.enabled = false`, tests of one role) records nothing.
#[derive(Clone, Default)]
pub struct Events {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    tx: mpsc::Sender<Message>,
    node: String,
    dropped: Arc<AtomicU64>,
    /// Read by the graphs while the writer writes.
    db: SqliteEvents,
}

/// Whether the disk has room for more events now.
pub type Room = Box<dyn Fn() -> bool + Send + Sync>;

impl Events {
    pub fn disabled() -> Events {
        Events::default()
    }

    /// Starts the writer into `db` for the node named `node`, deleting
    /// rows older than `retention` every hour. `room` says whether the
    /// disk has room for events: mail comes first, so events are dropped
    /// (and counted) rather than written into the space a message needs.
    pub fn start(db: SqliteEvents, node: &str, retention: Duration, room: Room) -> Events {
        let (tx, rx) = mpsc::channel(QUEUED);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write(db.clone(), rx, retention, room, dropped.clone()));
        Events {
            inner: Some(Arc::new(Inner {
                tx,
                node: node.to_string(),
                dropped,
                db,
            })),
        }
    }

    /// The database the events go to (`None` when events are off).
    pub fn database(&self) -> Option<&SqliteEvents> {
        self.inner.as_ref().map(|i| &i.db)
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Records `event` (its time and node filled in when unset), and counts
    /// it in the process's metrics (even with events off).
    pub fn record(&self, mut event: Event) {
        count(&event);
        let Some(inner) = &self.inner else {
            return;
        };
        if event.at == 0 {
            event.at = event::now_micros();
        }
        if event.node.is_empty() {
            event.node = inner.node.clone();
        }
        if inner.tx.try_send(Message::Event(event)).is_err() {
            dropped(&inner.dropped, 1, "the events database does not keep up");
        }
    }

    /// Events dropped so far because the writer did not keep up.
    pub fn dropped(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |i| i.dropped.load(Ordering::Relaxed))
    }

    /// Writes what was recorded and closes the database (a clean stop:
    /// the next start need not check it).
    pub async fn close(&self) {
        self.flush().await;
        if let Some(inner) = &self.inner {
            inner.db.close().await;
        }
    }

    /// Waits until every event recorded before is written.
    pub async fn flush(&self) {
        let Some(inner) = &self.inner else {
            return;
        };
        let (done, written) = oneshot::channel();
        if inner.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

/// The counters an event moves: messages by outcome, connections by
/// role, logins by outcome, and the delivery delay histogram.
fn count(e: &Event) {
    match e.kind {
        Kind::Connect => {
            metrics::counter!("havre_connections_total", "role" => e.role.clone()).increment(1)
        }
        Kind::Login | Kind::LoginFailed => {
            let outcome = if e.kind == Kind::Login {
                "ok"
            } else {
                "failed"
            };
            metrics::counter!("havre_logins_total", "role" => e.role.clone(), "outcome" => outcome)
                .increment(1)
        }
        Kind::Notice => metrics::counter!("havre_notices_total").increment(1),
        Kind::Spam | Kind::Virus => {
            metrics::counter!("havre_verdicts_total", "verdict" => e.kind.as_str()).increment(1)
        }
        kind => {
            metrics::counter!("havre_messages_total", "outcome" => kind.as_str()).increment(1);
            if kind == Kind::Delivered
                && let Some(delay) = e.delay
            {
                metrics::histogram!("havre_delivery_delay_seconds").record(delay);
            }
        }
    }
}

/// Counts `n` events dropped, saying why now and then (at each power of
/// two, so a long outage does not flood the log).
fn dropped(counter: &AtomicU64, n: u64, why: &str) {
    let before = counter.fetch_add(n, Ordering::Relaxed);
    let after = before + n;
    if (before + 1..=after).any(u64::is_power_of_two) {
        tracing::warn!(target: "events", "{after} event(s) dropped so far: {why}");
    }
}

async fn write(
    db: SqliteEvents,
    mut rx: mpsc::Receiver<Message>,
    retention: Duration,
    room: Room,
    dropped_count: Arc<AtomicU64>,
) {
    let mut prune = tokio::time::interval(Duration::from_secs(3600));
    let mut batch = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    loop {
        tokio::select! {
            message = rx.recv() => {
                let Some(message) = message else { break };
                // What arrives within COLLECT goes into one transaction: a
                // commit per event would cost each message several page
                // writes into the WAL (the table and its indexes).
                let deadline = tokio::time::Instant::now() + COLLECT;
                let mut next = Some(message);
                while let Some(message) = next.take() {
                    match message {
                        Message::Event(event) => batch.push(event),
                        Message::Flush(done) => flushes.push(done),
                    }
                    if batch.len() >= BATCH || !flushes.is_empty() {
                        break;
                    }
                    next = tokio::time::timeout_at(deadline, rx.recv()).await.ok().flatten();
                }
                if !batch.is_empty() && !room() {
                    dropped(&dropped_count, batch.len() as u64, "the disk is nearly full and mail comes first");
                } else if let Err(err) = db.insert(&batch).await {
                    tracing::warn!(target: "events", "{} event(s) not recorded: {err}", batch.len());
                }
                batch.clear();
                for done in flushes.drain(..) {
                    let _ = done.send(());
                }
            }
            _ = prune.tick() => {
                let before = event::now_micros() - retention.as_micros() as i64;
                match db.prune(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(target: "events", "{n} event(s) older than events.retention deleted"),
                    Err(err) => tracing::warn!(target: "events", "old events not deleted: {err}"),
                }
            }
        }
    }
}
