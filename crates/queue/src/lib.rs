//! The queue: the hand-off between the side that receives mail and the side
//! that delivers it. Nothing else reaches across.
//!
//! A message is two things: its body, a spool file under `queue/msg/<id>`, and
//! its record (envelope, recipients and their state) in the store. The order of
//! writes is the durability contract:
//!
//! 1. the body is written to `queue/msg/<id>` (created exclusively) from
//!    memory, or, when it outgrew [`IN_MEMORY`], to `queue/tmp/<id>` as it
//!    arrived and then linked to `queue/msg/<id>`; fsynced, and the
//!    directory fsynced ([`SpoolFile::commit`]);
//! 2. then the record is committed to the store ([`Queue::enqueue`]);
//! 3. only then does the receiving side answer 250.
//!
//! A crash before step 2 leaves a spool file without a record, perhaps
//! half written: it was never acknowledged, and [`Queue::sweep`] removes it
//! at the next start. When every
//! recipient is final the record is removed first and the file second, so a
//! crash in between again leaves only an orphan file. The last attempt's
//! outcome and the record's removal are one transaction
//! ([`Queue::finish_attempt`]).
//!
//! Queue ids are unique by construction, like Postfix's long queue ids: 13
//! hex digits of microseconds since the epoch, strictly increasing within a
//! process (two messages in the same microsecond get consecutive values), then
//! the process id (6 hex digits, so the CLI and `serve` never clash) and the
//! node id (2 hex digits, `server.node_id`, so nodes sharing a store never
//! clash). Ids sort by time. Even so, nothing ever overwrites a message with
//! the same id: spool files are created with `O_EXCL` and moved into `msg/`
//! with link(2), which refuses an existing name.

pub mod fault;
mod news;
mod operator;
mod quarantine;
pub mod quota_warning;
mod spool;

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use havre_store::{AttemptOutcome, DeliveredRow, FinishedAttempt, QueueEntry, Store, StoreError};
use tokio::sync::Notify;

pub use havre_message::MessageSource;
pub use news::{Arrival, Fresh, LookedUp, News};
pub use spool::{IN_MEMORY, Spool, SpoolFile};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("spool {path}: {source}")]
    Spool {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl QueueError {
    /// The disk is full: the caller says 452 4.3.1 and tries again later.
    pub fn is_storage_full(&self) -> bool {
        match self {
            QueueError::Spool { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            QueueError::Store(err) => err.is_storage_full(),
        }
    }
}

static LAST_MICROS: AtomicU64 = AtomicU64::new(0);
static NODE_ID: AtomicU8 = AtomicU8::new(0);

/// Sets the node id that ends every queue id of this process (`server.node_id`).
pub fn set_node_id(id: u8) {
    NODE_ID.store(id, Ordering::Relaxed);
}

/// This process's node (`server.node_id`), written on each queue record.
pub fn node_id() -> u8 {
    NODE_ID.load(Ordering::Relaxed)
}

/// A new queue id: time-ordered, and unique within the process, across the
/// processes of a node and across nodes with distinct ids.
pub fn new_queue_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    let previous = LAST_MICROS
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or_else(|last| last);
    let micros = now.max(previous + 1);
    format!(
        "{micros:013X}{:06X}{:02X}",
        std::process::id() & 0xff_ffff,
        NODE_ID.load(Ordering::Relaxed)
    )
}

/// When the message with queue id `id` was received, in unix seconds to the
/// microsecond: its id starts with that time (see [`new_queue_id`]). The
/// record's `arrival` has whole seconds only, so a delay taken from it is up
/// to a second off (a message received at 12:00:00.999 and delivered 2 ms
/// later would show `delay=1.00`). `None` for an id of another form.
pub fn queued_at(id: &str) -> Option<f64> {
    let micros = u64::from_str_radix(id.get(..13)?, 16).ok()?;
    Some(micros as f64 / 1e6)
}

/// Where the body of queued message `id` is (see [`Queue::body`]), for
/// readers without a [`Queue`] (`havre queue show`).
pub async fn queued_body(
    store: &dyn Store,
    spool: &Spool,
    id: &str,
) -> Result<Option<MessageSource>, QueueError> {
    Ok(body_of(spool, id, store.queue_body(id).await?))
}

/// The body of queued message `id`: `kept` with its record, else its spool
/// file; `None` when neither is there.
fn body_of(spool: &Spool, id: &str, kept: Option<Vec<u8>>) -> Option<MessageSource> {
    if let Some(kept) = kept {
        return Some(MessageSource::Bytes(kept.into()));
    }
    let path = spool.message_path(id);
    path.exists().then_some(MessageSource::File(path))
}

/// The queue of one node: the spool directory plus the store's records.
pub struct Queue {
    store: Arc<dyn Store>,
    spool: Spool,
    arrivals: Notify,
    /// The news handed to the delivery side with the wake-up, so that a
    /// message just queued is attempted without a scan of the queue nor a
    /// read of its record; and the messages whose record is committed but
    /// whose enqueue has not returned (the sync, the read-back): not to be
    /// delivered yet (`news.rs`).
    desk: Mutex<news::Desk>,
    received: Notify,
}

/// An enqueue under way; its end (or cancellation) wakes who waits for it.
struct Receiving<'a> {
    queue: &'a Queue,
    id: String,
}

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.queue.desk().stop_receiving(&self.id);
        self.queue.received.notify_waiters();
    }
}

impl Queue {
    pub fn new(store: Arc<dyn Store>, spool: Spool) -> Queue {
        Queue {
            store,
            spool,
            arrivals: Notify::new(),
            desk: Mutex::default(),
            received: Notify::new(),
        }
    }

    fn desk(&self) -> std::sync::MutexGuard<'_, news::Desk> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once no enqueue of `id` is under way. The relay waits here
    /// before an attempt: a record is visible to it from its commit, before
    /// its sync and its read-back; delivered and removed in between, the
    /// read-back would not find it and the client would be told 451 for a
    /// message it then sends again.
    pub async fn received(&self, id: &str) {
        loop {
            let done = self.received.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if !self.desk().is_receiving(id) {
                return;
            }
            done.await;
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Where the body of queued message `id` is: kept with its record, or
    /// its spool file; `None` when it has neither (lost, or no such message).
    pub async fn body(&self, id: &str) -> Result<Option<MessageSource>, QueueError> {
        queued_body(self.store.as_ref(), &self.spool, id).await
    }

    /// The record of `id` and the body kept with it (if any), read at
    /// once: what a delivery attempt starts from ([`Queue::body_from`]).
    pub async fn entry_with_body(
        &self,
        id: &str,
    ) -> Result<Option<(QueueEntry, Option<Vec<u8>>)>, QueueError> {
        Ok(self.store.queue_get_with_body(id).await?)
    }

    /// The body of `id`: `kept` with its record ([`Queue::entry_with_body`]),
    /// else its spool file; `None` when neither is there.
    pub fn body_from(&self, id: &str, kept: Option<Vec<u8>>) -> Option<MessageSource> {
        body_of(&self.spool, id, kept)
    }

    /// Queues a message made here rather than received: a DSN (from
    /// `<>`), a Sieve redirect or vacation reply. One recipient, arriving
    /// now, from `client` "local" with `protocol` naming its kind (Postfix
    /// logs bounces the same way). Its queue id, once durable.
    pub async fn enqueue_generated(
        &self,
        sender: &str,
        to: &str,
        message: &[u8],
        protocol: &str,
    ) -> Result<String, QueueError> {
        self.enqueue_made(new_queue_id(), sender, to, message, protocol)
            .await
    }

    /// [`Queue::enqueue_generated`] under the id `id`.
    async fn enqueue_made(
        &self,
        id: String,
        sender: &str,
        to: &str,
        message: &[u8],
        protocol: &str,
    ) -> Result<String, QueueError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut file = self.spool.create(&id).await?;
        file.write(message).await?;
        let entry = QueueEntry {
            id: id.clone(),
            sender: sender.to_string(),
            size: message.len() as u64,
            arrival: now,
            client: "local".into(),
            protocol: protocol.into(),
            attempts: 0,
            next_attempt: now,
            hold: false,
            hold_reason: None,
            warned: false,
            node: node_id(),
            recipients: vec![havre_store::QueueRecipient {
                idx: 0,
                address: to.to_string(),
                orig: None,
                status: havre_store::RecipientStatus::Pending,
                last_reply: None,
            }],
        };
        self.enqueue(file, &entry).await?;
        Ok(id)
    }

    /// Queues `message` once per address of a Sieve `redirect` of `user`'s,
    /// from the original envelope `sender` (Pigeonhole's default), each
    /// logged under the delivery's queue `id`. False when one could not be
    /// queued: the caller keeps the message rather than lose it.
    pub async fn enqueue_redirects(
        &self,
        sender: &str,
        addresses: &[String],
        message: &[u8],
        user: &str,
        id: &str,
    ) -> bool {
        let mut all = true;
        for address in addresses {
            match self
                .enqueue_generated(sender, address, message, "sieve")
                .await
            {
                Ok(new) => {
                    tracing::info!(target: "sieve", "{id}: to=<{user}>: sieve: redirected to <{address}> as {new}")
                }
                Err(err) => {
                    tracing::error!(target: "sieve", "{id}: to=<{user}>: sieve: cannot queue the redirect to <{address}>: {err}");
                    all = false;
                }
            }
        }
        all
    }

    /// Queues a Sieve vacation reply of `user`'s to `to`, from `<>` (RFC
    /// 3834 3.3: no answer to an answer); logged under the delivery's `id`.
    pub async fn enqueue_vacation(&self, to: &str, message: &[u8], user: &str, id: &str) {
        match self.enqueue_generated("", to, message, "vacation").await {
            Ok(new) => {
                tracing::info!(target: "sieve", "{id}: to=<{user}>: sieve: vacation reply to <{to}> as {new}")
            }
            Err(err) => {
                tracing::error!(target: "sieve", "{id}: to=<{user}>: sieve: cannot queue the vacation reply to <{to}>: {err}")
            }
        }
    }

    /// Makes a received message durable. A body still in memory (up to
    /// [`IN_MEMORY`]) is committed with its record, one transaction: one
    /// WAL sync, no file. A bigger one is a spool file, made durable first,
    /// then the record. When this returns `Ok`, the message survives any
    /// crash and may be acknowledged.
    pub async fn enqueue(&self, body: SpoolFile, entry: &QueueEntry) -> Result<(), QueueError> {
        self.enqueue_looked_up(body, entry, LookedUp::default())
            .await
    }

    /// [`Queue::enqueue`] of a message whose recipients' entries were read
    /// at RCPT: handed to its first attempt with it.
    pub async fn enqueue_looked_up(
        &self,
        mut body: SpoolFile,
        entry: &QueueEntry,
        looked_up: LookedUp,
    ) -> Result<(), QueueError> {
        let kept = body.take_memory();
        if kept.is_none() {
            body.commit().await?;
        }
        self.desk().start_receiving(&entry.id);
        let _receiving = Receiving {
            queue: self,
            id: entry.id.clone(),
        };
        match self.store.queue_insert(entry, kept.as_deref()).await {
            Ok(()) => fault::reached(fault::ENQUEUE_COMMITTED),
            // The id belongs to another message: its body is not ours to remove.
            Err(err @ StoreError::AlreadyExists(_)) => return Err(err.into()),
            Err(err) => {
                if kept.is_none() {
                    self.spool.remove(&entry.id).await;
                }
                return Err(err.into());
            }
        }
        if entry.hold {
            // Held before the queue (quarantine): the receiving side logs
            // the hold; the delivery side hears of it at its release.
            return Ok(());
        }
        // Postfix's qmgr line: pflogsumm takes the message's size from it.
        tracing::info!(
            target: "queue",
            role = "qmgr",
            "{}: from=<{}>, size={}, nrcpt={} (queue active)",
            entry.id,
            entry.sender,
            entry.size,
            entry.recipients.len()
        );
        self.desk().received(entry, kept, looked_up);
        self.arrivals.notify_one();
        Ok(())
    }

    /// [`Queue::enqueue_generated`] from the null sender, with Postfix's
    /// cleanup line naming its Message-ID: DSNs, quota warnings.
    pub async fn enqueue_notice(
        &self,
        to: &str,
        message: &[u8],
        message_id: &str,
        protocol: &str,
    ) -> Result<String, QueueError> {
        // Postfix's cleanup line comes before qmgr's, as for a received message.
        let id = new_queue_id();
        tracing::info!(target: "queue", role = "cleanup", "{id}: message-id={message_id}");
        self.enqueue_made(id, "", to, message, protocol).await
    }

    /// Resolves when there is news since the last call (or at once if there
    /// was some while nobody waited): see [`Queue::take_news`].
    pub async fn arrival(&self) {
        self.arrivals.notified().await
    }

    /// Whether a scan of the queue was asked for since the last call
    /// (the request is cleared: the caller scans now, then takes the news
    /// with what it read).
    pub fn take_rescan(&self) -> bool {
        self.desk().take_rescan()
    }

    /// What was queued or changed since the last call, with `scanned` (the
    /// due ids the caller just read, if it scanned) less those it must not
    /// attempt from the store: see `news.rs`.
    pub fn take_news(&self, scanned: Vec<String>) -> News {
        self.desk().take(scanned)
    }

    /// Wakes the delivery side to scan the queue, e.g. after `havre queue
    /// flush` changed records.
    pub fn kick(&self) {
        self.desk().ask_rescan();
        self.arrivals.notify_one();
    }

    /// Removes a message whose recipients are all final: record, then body.
    pub async fn remove(&self, id: &str) -> Result<(), QueueError> {
        self.store.queue_remove(id).await?;
        self.spool.remove(id).await;
        tracing::info!(target: "queue", role = "qmgr", "{id}: removed");
        Ok(())
    }

    /// Records a delivery attempt's outcome with the index rows of what it
    /// delivered and, in the same transaction, removes the record when every
    /// recipient is final; then its body.
    pub async fn finish_attempt(
        &self,
        outcome: &AttemptOutcome,
        delivered: &[DeliveredRow],
    ) -> Result<FinishedAttempt, QueueError> {
        let finished = self.store.queue_finish_attempt(outcome, delivered).await?;
        if finished.removed {
            self.spool.remove(&outcome.id).await;
            tracing::info!(target: "queue", role = "qmgr", "{}: removed", outcome.id);
        }
        Ok(finished)
    }

    /// Startup cleanup: unfinished receptions in `tmp/` and bodies without a
    /// record (never acknowledged, or already delivered) are deleted.
    /// Returns how many files went.
    pub async fn sweep(&self) -> Result<usize, QueueError> {
        let mut removed = self.spool.clear_tmp().await?;
        for id in self.spool.ids().await? {
            if self.store.queue_get(&id).await?.is_none() {
                self.spool.remove(&id).await;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_ids_are_hex_and_sort_by_time() {
        let a = new_queue_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_queue_id();
        assert_eq!(a.len(), 21);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(a[..13] < b[..13]);
    }

    #[test]
    fn ids_made_in_the_same_microsecond_by_many_threads_never_collide() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..50_000).map(|_| new_queue_id()).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<String> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let made = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), made, "two queue ids were equal");
    }

    #[tokio::test]
    async fn the_relay_waits_for_an_enqueue_to_answer_before_it_delivers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(havre_store::SqliteStore::memory().await.unwrap());
        let queue = Arc::new(Queue::new(store, Spool::open(dir.path()).unwrap()));
        let receiving = Receiving {
            queue: &queue,
            id: "0A".into(),
        };
        queue.desk().start_receiving("0A");
        let waiter = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.received("0A").await })
        };
        // Another message's enqueue ending does not release it.
        drop(Receiving {
            queue: &queue,
            id: "0B".into(),
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "delivered before its 250");
        drop(receiving);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("still waiting after the enqueue ended")
            .unwrap();
        // Nothing under way: no wait at all.
        queue.received("0C").await;
    }

    #[test]
    fn a_queue_id_tells_when_it_was_made_to_the_microsecond() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let at = queued_at(&new_queue_id()).unwrap();
        assert!((at - before).abs() < 1.0, "{at} vs {before}");
        assert_eq!(queued_at("00000000F4240ABCDEF00"), Some(1.0));
        assert_eq!(queued_at("not-an-id"), None);
    }

    #[test]
    fn the_node_id_ends_the_queue_id() {
        set_node_id(0xA7);
        assert!(new_queue_id().ends_with("A7"));
        set_node_id(0);
    }
}
