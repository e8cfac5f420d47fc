//! What the delivery side learns of this process's arrivals, and the
//! messages still being received.
//!
//! A message queued here reaches the delivery side with its wake-up, as the
//! record just committed and the body kept with it: its first attempt reads
//! nothing back from the store. That is safe only for a message no attempt
//! has started from elsewhere, and the scan of due records (every second) may
//! see a record from its commit on. So the scan's ids and the news are taken
//! together, under the lock the enqueue holds when it ends: an id the scan
//! read is either still being received then (left to its news, which follows)
//! or already in the news taken with it (attempted once, from the news).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use havre_store::{AddressEntry, QueueEntry};

/// Arrivals kept for the delivery side; beyond, it is told to scan (a
/// process without a delivery side never grows the list further).
pub(crate) const NEWS_LIMIT: usize = 1024;

/// Bodies kept in memory with the arrivals, at most: beyond, an arrival
/// comes as its id alone and its attempt reads the store.
const FRESH_BYTES: usize = 16 << 20;

/// A message queued in this process.
#[derive(Debug)]
pub struct Arrival {
    pub id: String,
    /// Its record as committed, the body kept with it and what RCPT read,
    /// while the bodies held for the delivery side stay under
    /// [`FRESH_BYTES`].
    pub fresh: Option<Fresh>,
}

/// A message as it was queued, for its first attempt.
#[derive(Debug)]
pub struct Fresh {
    pub entry: QueueEntry,
    pub body: Option<Vec<u8>>,
    pub looked_up: LookedUp,
}

/// The recipients' directory entries as the receiving side read them at
/// RCPT, for the attempt that follows at once.
#[derive(Debug, Clone, Default)]
pub struct LookedUp {
    /// When the oldest of them was read.
    pub at: Option<Instant>,
    /// Each recipient's address (as queued) and its entry.
    pub entries: Vec<(String, AddressEntry)>,
}

impl LookedUp {
    /// The entry read for `address`, when it was read less than `within`
    /// ago.
    pub fn entry(&self, address: &str, within: Duration) -> Option<&AddressEntry> {
        if self.at?.elapsed() >= within {
            return None;
        }
        self.entries
            .iter()
            .find(|(a, _)| a == address)
            .map(|(_, entry)| entry)
    }
}

/// What the delivery side has to look at since it last asked
/// ([`crate::Queue::take_news`]).
#[derive(Debug, Default)]
pub struct News {
    /// Messages queued in this process, oldest first: due now.
    pub queued: Vec<Arrival>,
    /// Records changed otherwise (`havre queue flush`, a release, more
    /// arrivals than [`NEWS_LIMIT`]): the queue must be scanned.
    pub rescan: bool,
    /// The due ids the caller's scan read, less those that are news here or
    /// still being received: see the module's note.
    pub due: Vec<String>,
}

/// The news and the messages being received, under one lock.
#[derive(Debug, Default)]
pub(crate) struct Desk {
    news: News,
    fresh_bytes: usize,
    receiving: HashSet<String>,
}

impl Desk {
    pub(crate) fn start_receiving(&mut self, id: &str) {
        self.receiving.insert(id.to_string());
    }

    pub(crate) fn is_receiving(&self, id: &str) -> bool {
        self.receiving.contains(id)
    }

    /// The enqueue of `id` ended without news (refused, or held).
    pub(crate) fn stop_receiving(&mut self, id: &str) {
        self.receiving.remove(id);
    }

    /// The enqueue of `entry` ended: it is news, with its record, body and
    /// lookups while they fit.
    pub(crate) fn received(
        &mut self,
        entry: &QueueEntry,
        body: Option<Vec<u8>>,
        looked_up: LookedUp,
    ) {
        self.receiving.remove(&entry.id);
        if self.news.queued.len() >= NEWS_LIMIT {
            self.news.rescan = true;
            return;
        }
        let size = body.as_ref().map_or(0, Vec::len);
        let fresh = (self.fresh_bytes + size <= FRESH_BYTES).then(|| {
            self.fresh_bytes += size;
            Fresh {
                entry: entry.clone(),
                body,
                looked_up,
            }
        });
        self.news.queued.push(Arrival {
            id: entry.id.clone(),
            fresh,
        });
    }

    pub(crate) fn ask_rescan(&mut self) {
        self.news.rescan = true;
    }

    /// Whether a scan was asked for, clearing the request: the caller scans
    /// now.
    pub(crate) fn take_rescan(&mut self) -> bool {
        std::mem::take(&mut self.news.rescan)
    }

    pub(crate) fn take(&mut self, scanned: Vec<String>) -> News {
        let mut news = std::mem::take(&mut self.news);
        self.fresh_bytes = 0;
        let arrived: HashSet<&str> = news.queued.iter().map(|a| a.id.as_str()).collect();
        news.due = scanned
            .into_iter()
            .filter(|id| !arrived.contains(id.as_str()) && !self.receiving.contains(id))
            .collect();
        news
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> QueueEntry {
        QueueEntry {
            id: id.into(),
            sender: "x@remote.test".into(),
            size: 4,
            arrival: 0,
            client: "local".into(),
            protocol: "ESMTP".into(),
            attempts: 0,
            next_attempt: 0,
            hold: false,
            hold_reason: None,
            warned: false,
            node: 0,
            recipients: Vec::new(),
        }
    }

    #[test]
    fn a_record_the_scan_read_is_attempted_once_from_its_news() {
        let mut desk = Desk::default();
        // A: received and news already; B: committed (the scan read it),
        // its enqueue not ended; C: an older record, nobody's news.
        desk.start_receiving("A");
        desk.received(&entry("A"), Some(b"body".to_vec()), LookedUp::default());
        desk.start_receiving("B");
        let news = desk.take(vec!["A".into(), "B".into(), "C".into()]);
        assert_eq!(news.due, vec!["C".to_string()]);
        let fresh = news.queued[0].fresh.as_ref().unwrap();
        assert_eq!(
            (fresh.entry.id.as_str(), fresh.body.as_deref()),
            ("A", Some(&b"body"[..]))
        );
        // B's news comes next, alone.
        desk.received(&entry("B"), None, LookedUp::default());
        let news = desk.take(vec!["B".into()]);
        assert!(news.due.is_empty());
        assert_eq!(news.queued.len(), 1);
        assert_eq!(news.queued[0].id, "B");
    }

    #[test]
    fn bodies_beyond_the_memory_kept_come_as_ids_and_too_many_arrivals_as_a_scan() {
        let mut desk = Desk::default();
        let big = vec![b'x'; FRESH_BYTES / 2 + 1];
        for id in ["A", "B"] {
            desk.start_receiving(id);
            desk.received(&entry(id), Some(big.clone()), LookedUp::default());
        }
        let news = desk.take(Vec::new());
        assert!(news.queued[0].fresh.is_some());
        assert!(news.queued[1].fresh.is_none(), "over the memory kept");
        assert!(!news.rescan);
        // Taken: the memory is free again.
        desk.received(&entry("C"), Some(big), LookedUp::default());
        assert!(desk.take(Vec::new()).queued[0].fresh.is_some());
        for n in 0..=NEWS_LIMIT {
            desk.received(&entry(&n.to_string()), None, LookedUp::default());
        }
        let news = desk.take(Vec::new());
        assert_eq!(news.queued.len(), NEWS_LIMIT);
        assert!(news.rescan);
    }

    #[test]
    fn an_entry_read_at_rcpt_serves_only_while_it_is_fresh() {
        let alice = AddressEntry {
            domain_local: true,
            user: true,
            ..AddressEntry::default()
        };
        let looked_up = LookedUp {
            at: Some(Instant::now() - Duration::from_millis(1500)),
            entries: vec![("alice@example.test".into(), alice.clone())],
        };
        let within = |ms| Duration::from_millis(ms);
        assert_eq!(
            looked_up.entry("alice@example.test", within(2000)),
            Some(&alice)
        );
        assert_eq!(looked_up.entry("alice@example.test", within(1000)), None);
        assert_eq!(looked_up.entry("bob@example.test", within(2000)), None);
        assert_eq!(
            LookedUp::default().entry("alice@example.test", within(2000)),
            None
        );
    }
}
