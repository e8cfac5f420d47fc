//! The relay role: takes messages from the queue, expands each recipient through
//! the directory (aliases, catch-alls, `user+tag@`) and delivers to local
//! mailboxes.
//!
//! It promises, for every queued message:
//! - each recipient ends `sent` or `failed`, or stays pending with its last error
//!   and a next attempt on a doubling schedule (`retry_min` .. `retry_max`);
//! - no mailbox receives the same queued message twice, even when two recipients
//!   expand to it or a crash interrupted an earlier attempt: deliveries of a
//!   message that predates this process, or was already attempted, first look for
//!   the earlier copy (see `havre_mailbox`);
//! - a message still undeliverable after `max_lifetime` is given up.
//!
//! Logs follow Postfix's `to=<...>, orig_to=<...>, relay=..., delay=..., status=...`.
//!
//! Remote recipients (and alias forwarding outside) go out through
//! `havre-outbound` by route or MX, DKIM-signed; recipients that fail for
//! good earn the sender a DSN (see [`dsn`]).

mod attempt;
pub mod dsn;
mod remote;

pub use attempt::mail_host_route;
pub use remote::{Outbound, OutboundSettings};

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use havre_directory::Directory;
use havre_mailbox::LocalDelivery;
use havre_queue::{Fresh, LookedUp, Queue};
use havre_store::QueueEntry;
use tokio::sync::{Semaphore, watch};

#[derive(Debug, Clone)]
pub struct RelaySettings {
    pub concurrency: usize,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub max_lifetime: Duration,
    /// Zero: no delay warnings.
    pub delay_warning: Duration,
    /// A full mailbox defers (4.2.2) rather than bounces (5.2.2).
    pub quota_full_tempfail: bool,
}

pub struct Relay {
    queue: Arc<Queue>,
    directory: Directory,
    local: LocalDelivery,
    /// Read when each attempt starts, so a reload applies to the next ones;
    /// `concurrency` only when the relay starts.
    settings: watch::Receiver<RelaySettings>,
    /// `None`: remote recipients wait (a node that only delivers locally).
    outbound: Option<Outbound>,
    /// Unix seconds when this process started: older messages may have been
    /// partly delivered by a process that died.
    started_at: i64,
    in_flight: Mutex<HashSet<String>>,
    /// Messages whose last attempt could not be recorded (the database did
    /// not answer): their copies may be in mailboxes already without the
    /// attempt counted, so the next attempt looks for them first.
    unrecorded: Mutex<HashSet<String>>,
    /// Each recipient's outcome, for reports and traces.
    events: havre_events::Events,
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Seconds since `entry` was received, for the log's `delay=` (Postfix's:
/// from arrival to now, transmission included). Taken from the queue id's
/// microseconds: the record's `arrival` has whole seconds, which made a
/// message received at x.998 and delivered 15 ms later log `delay=1.02`,
/// as if it had waited for the relay's fallback timer.
pub(crate) fn delay(entry: &QueueEntry) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    // The id is made at MAIL FROM, before the arrival (end of DATA): an id
    // that says otherwise was not made by new_queue_id.
    let since = havre_queue::queued_at(&entry.id)
        .filter(|at| *at <= entry.arrival as f64 + 1.0 && *at >= entry.arrival as f64 - 86_400.0)
        .unwrap_or(entry.arrival as f64);
    (now - since).max(0.0)
}

impl Relay {
    pub fn new(
        queue: Arc<Queue>,
        directory: Directory,
        local: LocalDelivery,
        settings: watch::Receiver<RelaySettings>,
        outbound: Option<Outbound>,
        events: havre_events::Events,
    ) -> Arc<Relay> {
        Arc::new(Relay {
            queue,
            directory,
            local,
            settings,
            outbound,
            events,
            started_at: unix_now(),
            in_flight: Mutex::new(HashSet::new()),
            unrecorded: Mutex::new(HashSet::new()),
        })
    }

    /// Messages being delivered now (metrics).
    pub fn in_flight(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// The settings of the moment.
    pub(crate) fn settings(&self) -> RelaySettings {
        self.settings.borrow().clone()
    }

    /// Delivers until `shutdown` turns true; attempts under way are finished.
    ///
    /// A message queued in this process is attempted as soon as the queue
    /// says so ([`Queue::take_news`]), without reading the whole list of due
    /// messages; that list is read at start, every second (retries that came
    /// due, messages queued by other processes), when asked to
    /// ([`Queue::kick`]), and after an attempt when the last list was cut at
    /// its limit.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let concurrency = self.settings().concurrency.max(1);
        let permits = Arc::new(Semaphore::new(concurrency));
        let limit = 4 * concurrency as i64;
        let mut rescan = true;
        let mut last_scan = tokio::time::Instant::now();
        // Set when a scan was cut at its limit: the next attempt to finish
        // asks for another, as a permit is then free for what was left out.
        let cut = Arc::new(AtomicBool::new(false));
        loop {
            if *shutdown.borrow() {
                break;
            }
            let mut scanned = Vec::new();
            if std::mem::take(&mut rescan) | self.queue.take_rescan() {
                last_scan = tokio::time::Instant::now();
                match self.queue.store().queue_due(unix_now(), limit).await {
                    Ok(due) => {
                        cut.store(due.len() as i64 >= limit, Ordering::Relaxed);
                        scanned.extend(due.into_iter().map(|entry| entry.id));
                    }
                    Err(err) => tracing::error!(target: "relay", "cannot read the queue: {err}"),
                }
            }
            // Taken after the scan: an id it read that is news, or still
            // being received, is attempted from its news alone.
            let news = self.queue.take_news(scanned);
            // Asked for since: the wake-up that came with the request
            // brings the loop back at once.
            rescan = news.rescan;
            let arrivals = news.queued.into_iter().map(|a| (a.id, a.fresh));
            let due = news.due.into_iter().map(|id| (id, None));
            for (id, fresh) in due.chain(arrivals) {
                if !self.in_flight.lock().unwrap().insert(id.clone()) {
                    continue;
                }
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let relay = self.clone();
                let cut = cut.clone();
                tokio::spawn(async move {
                    // A message just queued here starts from the record it
                    // was queued with; else the list may predate an attempt
                    // that has just finished: work from the record as it is
                    // now, so nothing is delivered or announced twice.
                    let current = match fresh {
                        Some(fresh) => Ok(Some(fresh)),
                        None => relay.queue.entry_with_body(&id).await.map(|read| {
                            read.map(|(entry, body)| Fresh {
                                entry,
                                body,
                                looked_up: LookedUp::default(),
                            })
                        }),
                    };
                    match current {
                        Ok(Some(start))
                            if !start.entry.hold && start.entry.next_attempt <= unix_now() =>
                        {
                            relay.attempt(start).await
                        }
                        Ok(_) => {}
                        Err(err) => {
                            tracing::error!(target: "relay", "{id}: cannot read the queue: {err}")
                        }
                    }
                    relay.in_flight.lock().unwrap().remove(&id);
                    drop(permit);
                    if cut.swap(false, Ordering::Relaxed) {
                        relay.queue.kick();
                    }
                });
            }
            // The scan's period counts from the last scan, not from the last
            // wake-up: a steady stream of arrivals must not put off retries.
            tokio::select! {
                _ = self.queue.arrival() => {}
                _ = tokio::time::sleep_until(last_scan + Duration::from_secs(1)) => rescan = true,
                _ = shutdown.changed() => {}
            }
        }
        // Wait for the attempts under way: their results must reach the store.
        let _ = permits.acquire_many(concurrency as u32).await;
    }
}
