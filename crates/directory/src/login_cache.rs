//! Recent successful password verifications, so that a reconnect storm
//! (10,000 clients logging in again after a restart) does not run argon2
//! 10,000 times; Dovecot's `auth_cache_ttl`.
//!
//! An entry is a keyed hash of the user, the stored hash and the password,
//! never the password itself: the key is random and lives only in this
//! process's memory, so the entries tell nothing even to someone who reads
//! it. Only a verification that succeeded is remembered, so a wrong
//! password never finds an entry; a changed password changes the stored
//! hash, so the old one finds nothing either. Entries last `ttl` and there
//! are at most `capacity` of them (the oldest go first).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The keyed hash of one set of credentials.
pub(crate) type Credentials = [u8; 32];

pub(crate) struct LoginCache {
    ttl: Duration,
    capacity: usize,
    key: [u8; 32],
    /// Until when each entry holds.
    until: HashMap<Credentials, Instant>,
    /// Entries in the order they were made, which is the order they expire
    /// in (one TTL for all); a made-again entry appears twice, and its first
    /// place is skipped when its time comes.
    order: VecDeque<(Instant, Credentials)>,
}

impl LoginCache {
    /// A cache keeping entries `ttl` (zero: nothing is kept), at most
    /// `capacity` of them.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> LoginCache {
        LoginCache {
            ttl,
            capacity: capacity.max(1),
            key: rand::random(),
            until: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The keyed hash of these credentials: each part is preceded by its
    /// length, so that no two different triples hash alike.
    pub(crate) fn credentials(&self, user: &str, stored: &str, password: &str) -> Credentials {
        let mut hash = Sha256::new();
        hash.update(self.key);
        for part in [user, stored, password] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        hash.finalize().into()
    }

    /// Whether these credentials were verified less than `ttl` ago.
    pub(crate) fn hit(&mut self, credentials: &Credentials, now: Instant) -> bool {
        self.expire(now);
        self.until
            .get(credentials)
            .is_some_and(|until| *until > now)
    }

    /// Remembers credentials that were just verified.
    pub(crate) fn insert(&mut self, credentials: Credentials, now: Instant) {
        if !self.enabled() {
            return;
        }
        self.expire(now);
        while self.until.len() >= self.capacity {
            let Some((until, oldest)) = self.order.pop_front() else {
                break;
            };
            self.forget(until, &oldest);
        }
        let until = now + self.ttl;
        self.until.insert(credentials, until);
        self.order.push_back((until, credentials));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.until.len()
    }

    fn expire(&mut self, now: Instant) {
        while let Some((until, _)) = self.order.front()
            && *until <= now
        {
            let (until, credentials) = self.order.pop_front().expect("looked at");
            self.forget(until, &credentials);
        }
    }

    /// Drops the entry made at `until`, unless it was made again since.
    fn forget(&mut self, until: Instant, credentials: &Credentials) {
        if self.until.get(credentials) == Some(&until) {
            self.until.remove(credentials);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_holds_for_its_ttl_only() {
        let mut cache = LoginCache::new(Duration::from_secs(60), 10);
        let start = Instant::now();
        let alice = cache.credentials("alice", "$argon2id$...", "secret");
        assert!(!cache.hit(&alice, start));
        cache.insert(alice, start);
        assert!(cache.hit(&alice, start + Duration::from_secs(59)));
        assert!(!cache.hit(&alice, start + Duration::from_secs(60)));
        assert_eq!(cache.len(), 0, "expired entries are dropped");
    }

    #[test]
    fn any_part_of_the_credentials_changed_is_another_entry() {
        let mut cache = LoginCache::new(Duration::from_secs(60), 10);
        let now = Instant::now();
        cache.insert(cache.credentials("alice", "hash", "secret"), now);
        for (user, stored, password) in [
            ("bob", "hash", "secret"),
            ("alice", "new hash", "secret"),
            ("alice", "hash", "Secret"),
            // The length prefixes keep the parts apart.
            ("alicehash", "", "secret"),
        ] {
            let other = cache.credentials(user, stored, password);
            assert!(!cache.hit(&other, now), "{user} {stored} {password}");
        }
        assert!(cache.hit(&cache.credentials("alice", "hash", "secret"), now));
    }

    #[test]
    fn a_full_cache_drops_its_oldest_entry() {
        let mut cache = LoginCache::new(Duration::from_secs(60), 2);
        let now = Instant::now();
        let [a, b, c] = ["a", "b", "c"].map(|u| cache.credentials(u, "hash", "pw"));
        cache.insert(a, now);
        cache.insert(b, now + Duration::from_secs(1));
        cache.insert(c, now + Duration::from_secs(2));
        assert_eq!(cache.len(), 2);
        let later = now + Duration::from_secs(3);
        assert!(!cache.hit(&a, later));
        assert!(cache.hit(&b, later) && cache.hit(&c, later));
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let mut cache = LoginCache::new(Duration::ZERO, 10);
        let now = Instant::now();
        let alice = cache.credentials("alice", "hash", "secret");
        cache.insert(alice, now);
        assert!(!cache.hit(&alice, now));
        assert_eq!(cache.len(), 0);
    }
}
