//! Password verifications as a shared, bounded resource.
//!
//! An argon2id verification takes tens of milliseconds of CPU and 19 MiB of
//! memory on purpose. Run one per login attempt without a bound and a few
//! dozen guessing connections take the node's memory and make a good login
//! wait behind all of them. So:
//!
//! - at most [`Verifier::new`]'s `at_once` verifications run at a time (one
//!   per CPU by default), the others wait their turn in order;
//! - one client address has at most `at_once` attempts in that line, its
//!   other attempts wait behind its own: a guesser with many connections
//!   slows down itself, and a user on another address waits for a few
//!   verifications, not for all of the guesser's;
//! - an unknown user (or one without a password) is verified against a
//!   dummy hash of the same cost, so a failure takes as long whether or not
//!   the user exists: the timing tells nothing about who has an account;
//! - a verification that succeeded less than the login cache's TTL ago
//!   (`auth.cache_ttl`, see `login_cache.rs`) is not run again: a reconnect
//!   storm after a restart costs one argon2 per user, not one per client.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::login_cache::{Credentials, LoginCache};
use crate::password::{self, PasswordError};

/// At most this many recent logins are remembered (about 100 bytes each).
const LOGIN_CACHE_CAPACITY: usize = 100_000;

/// An argon2id hash, with the cost [`password::hash_password`] uses, of a
/// password nobody is told; verified for users without a hash.
pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$t3K6o7QBV1A8fkYTSaGE0A$qFAGXWsB886i4pRZ+DJ6oBiOhG2czsxIonswwp+Vqgw";

/// Runs password verifications, a bounded number at once; see the module
/// docs. Clones share the bound.
#[derive(Clone)]
pub struct Verifier {
    running: Arc<Semaphore>,
    per_client: Arc<Mutex<HashMap<Option<IpAddr>, Arc<Semaphore>>>>,
    at_once: usize,
    verified: Arc<AtomicU64>,
    recent: Arc<Mutex<LoginCache>>,
    /// Credentials being verified now: the same again (a user's devices all
    /// reconnecting at once) waits for that verification and finds its
    /// entry instead of hashing too.
    pending: Arc<Mutex<HashMap<Credentials, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Verifier {
    /// At most `at_once` verifications at a time (at least one).
    pub fn new(at_once: usize) -> Verifier {
        let at_once = at_once.max(1);
        Verifier {
            running: Arc::new(Semaphore::new(at_once)),
            per_client: Arc::default(),
            at_once,
            verified: Arc::default(),
            recent: Arc::new(Mutex::new(LoginCache::new(Duration::ZERO, 1))),
            pending: Arc::default(),
        }
    }

    /// This verifier remembering successful verifications for `ttl` (zero:
    /// none is remembered); its clones made before do not share them.
    pub fn with_login_cache(mut self, ttl: Duration) -> Verifier {
        self.recent = Arc::new(Mutex::new(LoginCache::new(ttl, LOGIN_CACHE_CAPACITY)));
        self
    }

    /// One verification per CPU.
    pub fn per_cpu() -> Verifier {
        Verifier::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Verifies `plain` against `stored` (the dummy hash when `None`, which
    /// never matches) for `user`, a client at `client`, when its turn comes;
    /// at once when the same succeeded within the login cache's TTL.
    pub async fn verify(
        &self,
        client: Option<IpAddr>,
        user: &str,
        stored: Option<&str>,
        plain: &str,
    ) -> Result<bool, PasswordError> {
        let credentials = {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            match stored {
                Some(stored) if recent.enabled() => {
                    let credentials = recent.credentials(user, stored, plain);
                    if recent.hit(&credentials, Instant::now()) {
                        return Ok(true);
                    }
                    Some(credentials)
                }
                _ => None,
            }
        };
        let _same_turn = match credentials {
            Some(credentials) => {
                let turn = self.same_turn(credentials).await;
                if self.remembered(&credentials) {
                    return Ok(true);
                }
                Some(turn)
            }
            None => None,
        };
        let known = stored.is_some();
        let stored = stored.unwrap_or(DUMMY_HASH).to_string();
        let plain = plain.to_string();
        let _client_turn = self.client_turn(client).await;
        let _running = self.running.acquire().await;
        // Hash verification (argon2, bcrypt, sha-crypt) takes milliseconds
        // of CPU on purpose: keep it off the async workers.
        let verified = self.verified.clone();
        let verdict = tokio::task::spawn_blocking(move || {
            let verdict = password::verify_password(&stored, &plain);
            verified.fetch_add(1, Ordering::Relaxed);
            verdict
        })
        .await
        .unwrap_or(Ok(false));
        let right = known && verdict?;
        if right && let Some(credentials) = credentials {
            self.recent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(credentials, Instant::now());
        }
        Ok(right)
    }

    fn remembered(&self, credentials: &Credentials) -> bool {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .hit(credentials, Instant::now())
    }

    /// Waits until no verification of the same credentials runs.
    async fn same_turn(&self, credentials: Credentials) -> SameTurn {
        let line = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.entry(credentials).or_default().clone()
        };
        // As for ClientTurn: made before the wait, so that a caller giving
        // up while waiting takes its place out of the map.
        let mut turn = SameTurn {
            verifier: self.clone(),
            credentials,
            line,
            guard: None,
        };
        turn.guard = Some(turn.line.clone().lock_owned().await);
        turn
    }

    /// Hashes verified since the start, the dummy one included: a failed
    /// login costs one whether or not the account exists.
    pub fn verified(&self) -> u64 {
        self.verified.load(Ordering::Relaxed)
    }

    async fn client_turn(&self, client: Option<IpAddr>) -> ClientTurn {
        let line = {
            let mut lines = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
            lines
                .entry(client)
                .or_insert_with(|| Arc::new(Semaphore::new(self.at_once)))
                .clone()
        };
        // The turn exists before the wait: a caller that gives up while in
        // line (its client went away) still takes its place out of the map.
        let mut turn = ClientTurn {
            verifier: self.clone(),
            client,
            line,
            permit: None,
        };
        turn.permit = Some(
            turn.line
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphores of clients are never closed"),
        );
        turn
    }

    /// Clients with an attempt waiting or running.
    #[cfg(test)]
    fn clients(&self) -> usize {
        self.per_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// A verification of credentials others may be waiting to verify too;
/// forgets them when nobody else waits.
struct SameTurn {
    verifier: Verifier,
    credentials: Credentials,
    line: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for SameTurn {
    fn drop(&mut self) {
        self.guard = None;
        let mut pending = self
            .verifier
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if Arc::strong_count(&self.line) == 2 {
            pending.remove(&self.credentials);
        }
    }
}

/// A client's place in the line; forgets the client when it was the last.
struct ClientTurn {
    verifier: Verifier,
    client: Option<IpAddr>,
    line: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for ClientTurn {
    fn drop(&mut self) {
        self.permit = None;
        let mut lines = self
            .verifier
            .per_client
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Ours and the map's: nobody else holds or waits for this line (a
        // new waiter clones it under this same lock).
        if Arc::strong_count(&self.line) == 2 {
            lines.remove(&self.client);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// One login from no particular address: whether the password matched.
    async fn logs_in(
        verifier: &Verifier,
        user: &str,
        stored: Option<&str>,
        password: &str,
    ) -> bool {
        verifier.verify(None, user, stored, password).await.unwrap()
    }

    #[test]
    fn the_dummy_hash_costs_what_a_new_password_hash_costs() {
        let params = |phc: &str| phc.rsplitn(3, '$').nth(2).unwrap().to_string();
        assert_eq!(
            params(DUMMY_HASH),
            params(&password::hash_password("anything"))
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_matches_even_the_dummy_password() {
        let verifier = Verifier::new(2);
        assert!(!logs_in(&verifier, "nobody", None, "").await);
        assert!(!logs_in(&verifier, "nobody", None, "secret").await);
        let stored = password::hash_password("secret");
        assert!(logs_in(&verifier, "alice", Some(&stored), "secret").await);
        assert_eq!(verifier.clients(), 0, "finished clients are forgotten");
    }

    #[tokio::test]
    async fn a_login_repeated_within_the_ttl_runs_no_hash_but_a_changed_password_does() {
        let verifier = Verifier::new(2).with_login_cache(Duration::from_secs(60));
        let stored = password::hash_password("secret");
        assert!(logs_in(&verifier, "alice", Some(&stored), "secret").await);
        assert_eq!(verifier.verified(), 1);
        // The reconnect storm: the same credentials again, no argon2.
        for _ in 0..3 {
            assert!(logs_in(&verifier, "alice", Some(&stored), "secret").await);
        }
        assert_eq!(verifier.verified(), 1);
        // The password changed: the stored hash is another, verified anew,
        // and the old password no longer logs in.
        let changed = password::hash_password("new secret");
        assert!(!logs_in(&verifier, "alice", Some(&changed), "secret").await);
        assert_eq!(verifier.verified(), 2);
        assert!(logs_in(&verifier, "alice", Some(&changed), "new secret").await);
        assert_eq!(verifier.verified(), 3);
        // The same hash and password under another name is not alice's entry.
        assert!(logs_in(&verifier, "bob", Some(&changed), "new secret").await);
        assert_eq!(verifier.verified(), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_same_login_arriving_many_times_at_once_hashes_once() {
        let stored: &'static str = Box::leak(password::hash_password("secret").into_boxed_str());
        let verifier = Verifier::new(4).with_login_cache(Duration::from_secs(60));
        let logins: Vec<_> = (0..8)
            .map(|_| {
                let v = verifier.clone();
                tokio::spawn(async move { v.verify(None, "alice", Some(stored), "secret").await })
            })
            .collect();
        for login in logins {
            assert!(login.await.unwrap().unwrap());
        }
        assert_eq!(verifier.verified(), 1);
        assert!(verifier.pending.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_wrong_password_is_never_remembered() {
        let verifier = Verifier::new(2).with_login_cache(Duration::from_secs(60));
        let stored = password::hash_password("secret");
        for attempt in 1..=3 {
            assert!(!logs_in(&verifier, "alice", Some(&stored), "guess").await);
            assert_eq!(verifier.verified(), attempt);
        }
        // Nor an unknown user's attempt.
        assert!(!logs_in(&verifier, "nobody", None, "guess").await);
        assert!(!logs_in(&verifier, "nobody", None, "guess").await);
        assert_eq!(verifier.verified(), 5);
    }

    #[tokio::test]
    async fn without_a_ttl_every_login_runs_its_hash() {
        let verifier = Verifier::new(2);
        let stored = password::hash_password("secret");
        for _ in 0..2 {
            assert!(logs_in(&verifier, "alice", Some(&stored), "secret").await);
        }
        assert_eq!(verifier.verified(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_with_many_attempts_waits_behind_itself_not_others() {
        let stored: &'static str = Box::leak(password::hash_password("secret").into_boxed_str());
        let verifier = Verifier::new(1);
        let guesser: IpAddr = "192.0.2.1".parse().unwrap();
        let user: IpAddr = "198.51.100.7".parse().unwrap();
        let guesses: Vec<_> = (0..8)
            .map(|_| {
                let v = verifier.clone();
                tokio::spawn(async move {
                    let _ = v
                        .verify(Some(guesser), "alice", Some(stored), "guess")
                        .await;
                    Instant::now()
                })
            })
            .collect();
        // The guesser's attempts are all in line before the user's.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let start = Instant::now();
        let good = verifier
            .verify(Some(user), "alice", Some(stored), "secret")
            .await;
        eprintln!("the user's login took {:?}", start.elapsed());
        let user_done = Instant::now();
        assert!(good.unwrap());
        let mut after = 0;
        for g in guesses {
            if g.await.unwrap() > user_done {
                after += 1;
            }
        }
        // One guess runs, one is in the shared line: the user comes third.
        assert!(
            after >= 5,
            "only {after} of 8 guesses came after the user's login"
        );
        assert_eq!(verifier.clients(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_gives_up_while_in_line_is_forgotten() {
        let stored: &'static str = Box::leak(password::hash_password("secret").into_boxed_str());
        let verifier = Verifier::new(1);
        let client: IpAddr = "192.0.2.9".parse().unwrap();
        let running = {
            let v = verifier.clone();
            tokio::spawn(
                async move { v.verify(Some(client), "alice", Some(stored), "guess").await },
            )
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        // A second attempt from the same address waits behind the first;
        // its connection closes before its turn comes.
        let waiting = {
            let v = verifier.clone();
            tokio::spawn(
                async move { v.verify(Some(client), "alice", Some(stored), "guess").await },
            )
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        waiting.abort();
        let _ = waiting.await;
        let _ = running.await;
        assert_eq!(verifier.clients(), 0, "the address stayed in the map");
    }
}
