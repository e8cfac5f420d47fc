//! Recipients' directory entries kept in memory on PostgreSQL, as
//! Dovecot's auth cache keeps userdb answers: a RCPT of an address read
//! recently costs no round trip (on one SMTP connection, one of the two in
//! a message's reply path), and the relay's lookup of the same address
//! after DATA none either.
//!
//! Kept only while they are known to be current. Every change to the
//! tables an entry is made of (users, aliases, domains, class quotas,
//! Sieve scripts) makes the server send a notification (migration 23's
//! triggers, whichever process or node wrote: `havre user del` on another
//! machine, a `psql` session), and this node forgets every entry when it
//! hears one. While this node is not listening (before its first LISTEN,
//! after a lost connection until LISTEN runs again) nothing is kept or
//! served, since a notification may be missed; entries also expire after
//! [`KEPT_FOR`], in case a connection that looks alive hears nothing (a
//! failover to another host). A change made by this process is forgotten
//! at its commit, without waiting for the notification.
//!
//! What is kept: a user without a quota and an alias. A user with a quota
//! is read each time, as her use changes with every delivery and no
//! notification says so; an address nobody has is read each time too, so
//! that a dictionary attack fills nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgPool};

use crate::AddressEntry;

/// The channel migration 23's triggers notify.
pub(crate) const CHANNEL: &str = "havre_directory";

/// How long an entry is served at most.
const KEPT_FOR: Duration = Duration::from_secs(60);

/// Entries kept at most: past it, expired ones are swept, and a new one is
/// not kept until some expire.
const CAPACITY: usize = 10_000;

/// How long the listener waits before connecting again after a failure.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

pub(crate) struct Entries {
    pool: PgPool,
    kept: Mutex<Kept>,
    /// Entries served from memory, for tests and the curious.
    served: AtomicU64,
    /// Set when the listener starts, at the first lookup (a command that
    /// reads no entry, `havre queue list`, holds no connection for it);
    /// dropped with the store, which stops the listener.
    listener: OnceLock<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Default)]
struct Kept {
    /// Whether notifications are heard now: nothing is kept or served
    /// otherwise.
    listening: bool,
    /// Goes up each time everything is forgotten: a lookup that started
    /// before keeps nothing (it may have read what was just changed).
    generation: u64,
    entries: HashMap<String, (AddressEntry, Instant)>,
    /// When a full map was last swept: at most once a second, so that
    /// more addresses than it holds cost no sweep each.
    swept: Option<Instant>,
}

impl Kept {
    fn forget_all(&mut self) {
        self.generation += 1;
        self.entries.clear();
    }
}

/// A lookup's ticket: what it read may be kept if nothing was forgotten
/// since it was taken.
pub(crate) struct Ticket(u64);

impl Entries {
    pub(crate) fn new(pool: PgPool) -> Entries {
        Entries {
            pool,
            kept: Mutex::default(),
            served: AtomicU64::new(0),
            listener: OnceLock::new(),
        }
    }

    /// The entry of `address` at `domain` when one is kept and current.
    pub(crate) fn get(&self, address: &str, domain: &str) -> Option<AddressEntry> {
        let kept = self.lock();
        if !kept.listening {
            return None;
        }
        let (entry, since) = kept.entries.get(&key(address, domain))?;
        if since.elapsed() >= KEPT_FOR {
            return None;
        }
        self.served.fetch_add(1, Ordering::Relaxed);
        Some(entry.clone())
    }

    /// Taken before reading an entry from the server; `None` while no
    /// notification can be heard. The first call starts the listener.
    pub(crate) fn ticket(self: &Arc<Self>) -> Option<Ticket> {
        self.listener.get_or_init(|| {
            let (stop, stopped) = tokio::sync::oneshot::channel();
            tokio::spawn(listen(Arc::downgrade(self), self.pool.clone(), stopped));
            stop
        });
        let kept = self.lock();
        kept.listening.then_some(Ticket(kept.generation))
    }

    /// Keeps what a lookup read, if it may be kept and nothing was
    /// forgotten since its ticket.
    pub(crate) fn keep(&self, ticket: Ticket, address: &str, domain: &str, entry: &AddressEntry) {
        if entry.quota.is_some() || (!entry.user && entry.aliases.is_empty()) {
            return;
        }
        let mut kept = self.lock();
        if !kept.listening || kept.generation != ticket.0 {
            return;
        }
        let now = Instant::now();
        if kept.entries.len() >= CAPACITY {
            if kept
                .swept
                .is_some_and(|at| now.duration_since(at) < Duration::from_secs(1))
            {
                return;
            }
            kept.swept = Some(now);
            kept.entries
                .retain(|_, (_, since)| now.duration_since(*since) < KEPT_FOR);
            if kept.entries.len() >= CAPACITY {
                return;
            }
        }
        kept.entries
            .insert(key(address, domain), (entry.clone(), now));
    }

    /// Forgets every entry: the directory changed.
    pub(crate) fn forget_all(&self) {
        self.lock().forget_all();
    }

    /// How many lookups were answered from memory.
    pub(crate) fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn set_listening(&self, listening: bool) {
        let mut kept = self.lock();
        kept.listening = listening;
        kept.forget_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(address: &str, domain: &str) -> String {
    format!("{address}\n{domain}")
}

/// Hears the directory's notifications until the store is dropped.
async fn listen(
    entries: Weak<Entries>,
    pool: PgPool,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    // Said once per outage.
    let mut lost = false;
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            _ = &mut stopped => return,
            connected = connected => match connected {
                Ok(listener) => listener,
                Err(err) => {
                    if !lost {
                        lost = true;
                        tracing::warn!(target: "store", "cannot listen for directory changes: {err}; recipients are looked up every time until it can");
                    }
                    if pool.is_closed() {
                        return;
                    }
                    tokio::select! {
                        _ = &mut stopped => return,
                        _ = tokio::time::sleep(RECONNECT_AFTER) => continue,
                    }
                }
            },
        };
        let Some(live) = entries.upgrade() else {
            return;
        };
        live.set_listening(true);
        drop(live);
        if std::mem::take(&mut lost) {
            tracing::info!(target: "store", "hearing directory changes again");
        }
        loop {
            let heard = tokio::select! {
                _ = &mut stopped => return,
                heard = listener.try_recv() => heard,
            };
            let Some(live) = entries.upgrade() else {
                return;
            };
            match heard {
                // A change; or the connection was lost and made again
                // (LISTEN runs again before `try_recv` says so), so a
                // change may have gone unheard meanwhile.
                Ok(_) => live.forget_all(),
                Err(err) => {
                    live.set_listening(false);
                    tracing::warn!(target: "store", "lost the connection that hears directory changes: {err}; recipients are looked up every time until it is back");
                    lost = true;
                    break;
                }
            }
        }
        drop(listener);
        tokio::select! {
            _ = &mut stopped => return,
            _ = tokio::time::sleep(RECONNECT_AFTER) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> AddressEntry {
        AddressEntry {
            domain_local: true,
            user: true,
            ..AddressEntry::default()
        }
    }

    /// Entries of a store that listens, without a server: the pool makes
    /// no connection until asked.
    fn listening() -> Arc<Entries> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        let entries = Arc::new(Entries::new(pool));
        // As if its listener had started and heard its LISTEN answered.
        let _ = entries.listener.set(tokio::sync::oneshot::channel().0);
        entries.set_listening(true);
        entries
    }

    #[tokio::test]
    async fn a_user_read_once_is_served_from_memory_until_the_directory_changes() {
        let entries = listening();
        let ticket = entries.ticket().unwrap();
        entries.keep(ticket, "alice@example.test", "example.test", &user());
        assert_eq!(
            entries.get("alice@example.test", "example.test"),
            Some(user())
        );
        assert_eq!(entries.get("alice@example.test", "other.test"), None);
        entries.forget_all();
        assert_eq!(entries.get("alice@example.test", "example.test"), None);
        assert_eq!(entries.served(), 1);
    }

    #[tokio::test]
    async fn a_lookup_that_started_before_a_change_keeps_nothing() {
        let entries = listening();
        let ticket = entries.ticket().unwrap();
        entries.forget_all();
        entries.keep(ticket, "alice@example.test", "example.test", &user());
        assert_eq!(entries.get("alice@example.test", "example.test"), None);
    }

    #[tokio::test]
    async fn nothing_is_kept_or_served_while_changes_cannot_be_heard() {
        let entries = listening();
        let ticket = entries.ticket().unwrap();
        entries.keep(ticket, "alice@example.test", "example.test", &user());
        entries.set_listening(false);
        assert_eq!(entries.get("alice@example.test", "example.test"), None);
        assert!(entries.ticket().is_none());
        // Heard again: what was kept before is gone, as a change may have
        // gone unheard.
        entries.set_listening(true);
        assert_eq!(entries.get("alice@example.test", "example.test"), None);
    }

    #[tokio::test]
    async fn a_user_with_a_quota_and_an_address_nobody_has_are_read_each_time() {
        let entries = listening();
        let with_quota = AddressEntry {
            quota: Some(crate::QuotaUse {
                limit: 1000,
                used: 10,
            }),
            ..user()
        };
        let nobody = AddressEntry {
            domain_local: true,
            ..AddressEntry::default()
        };
        let alias = AddressEntry {
            domain_local: true,
            aliases: vec!["bob@example.test".into()],
            ..AddressEntry::default()
        };
        for (address, entry) in [
            ("q@e.test", &with_quota),
            ("x@e.test", &nobody),
            ("a@e.test", &alias),
        ] {
            let ticket = entries.ticket().unwrap();
            entries.keep(ticket, address, "e.test", entry);
        }
        assert_eq!(entries.get("q@e.test", "e.test"), None);
        assert_eq!(entries.get("x@e.test", "e.test"), None);
        assert_eq!(entries.get("a@e.test", "e.test"), Some(alias));
    }
}
