//! The queue: the hand-off between the side that receives mail and the side
//! that delivers it. Nothing else reaches across.
//!
//! A message is two things: its body, a spool file under `queue/msg/<id>`, and
//! its record (envelope, recipients and their state) in the store. The order of
//! writes is the durability contract:
//!
//! 1. the body is written to `queue/tmp/<id>`, fsynced, renamed to `queue/msg/<id>`
//!    and the directory fsynced ([`SpoolFile::commit`]);
//! 2. then the record is committed to the store ([`Queue::enqueue`]);
//! 3. only then does the receiving side answer 250.
//!
//! A crash before step 2 leaves a spool file without a record: it was never
//! acknowledged, and [`Queue::sweep`] removes it at the next start. When every
//! recipient is final the record is removed first and the file second, so a
//! crash in between again leaves only an orphan file.
//!
//! Queue ids are 16 upper-case hex digits, time-ordered like Postfix's long ids:
//! seconds, microseconds, then random bits.

mod spool;

use std::sync::Arc;

use havre_store::{QueueEntry, Store, StoreError};
use tokio::sync::Notify;

pub use spool::{Spool, SpoolFile};

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

/// A new queue id: time-ordered and unique across restarts and nodes in practice.
pub fn new_queue_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let random: u16 = rand::random::<u16>() & 0xfff;
    format!(
        "{:08X}{:05X}{:03X}",
        now.as_secs() as u32,
        now.subsec_micros(),
        random
    )
}

/// The queue of one node: the spool directory plus the store's records.
pub struct Queue {
    store: Arc<dyn Store>,
    spool: Spool,
    arrivals: Notify,
}

impl Queue {
    pub fn new(store: Arc<dyn Store>, spool: Spool) -> Queue {
        Queue {
            store,
            spool,
            arrivals: Notify::new(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Makes a received message durable: body first, then record. When this
    /// returns `Ok`, the message survives any crash and may be acknowledged.
    pub async fn enqueue(&self, body: SpoolFile, entry: &QueueEntry) -> Result<(), QueueError> {
        body.commit().await?;
        if let Err(err) = self.store.queue_insert(entry).await {
            self.spool.remove(&entry.id).await;
            return Err(err.into());
        }
        self.arrivals.notify_one();
        Ok(())
    }

    /// Resolves when a message has been queued since the last call (or at once if
    /// one was queued while nobody waited).
    pub async fn arrival(&self) {
        self.arrivals.notified().await
    }

    /// Wakes the delivery side, e.g. after `havre queue flush` changed records.
    pub fn kick(&self) {
        self.arrivals.notify_one();
    }

    /// Removes a message whose recipients are all final: record, then body.
    pub async fn remove(&self, id: &str) -> Result<(), QueueError> {
        self.store.queue_remove(id).await?;
        self.spool.remove(id).await;
        Ok(())
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
    fn queue_ids_are_sixteen_hex_digits_and_sort_by_time() {
        let a = new_queue_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_queue_id();
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(a[..13] < b[..13]);
    }
}
