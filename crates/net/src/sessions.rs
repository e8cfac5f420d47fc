//! The sessions of the node, for the operator: who is logged in to which
//! protocol from where (`havre who`, Dovecot's `doveadm who`), and the
//! means to close a user's sessions (`havre kick`, `doveadm kick`).
//!
//! A session registers when its connection is admitted and names its user
//! once logged in; its [`SessionEntry`] takes it out of the list when
//! dropped, however the session ends. A kick reaches the session through
//! its [`Stop`]: for that session alone the node is closing, so it says
//! goodbye and ends wherever it was, as on a node stop after the grace.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::stop::{Phase, Stop, Stopper};

/// Every open session of the node's IMAP and POP3 listeners.
#[derive(Default)]
pub struct Sessions {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Open>>,
}

struct Open {
    protocol: &'static str,
    client: IpAddr,
    /// Unix seconds of the login.
    since: i64,
    user: Option<String>,
    /// The backend a director relays the session to.
    backend: Option<String>,
    stopper: Stopper,
    kicked: Arc<AtomicBool>,
}

/// A logged-in session, as `havre who` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Unique in the life of the process (what `doveadm who` shows as a pid).
    pub id: u64,
    pub protocol: &'static str,
    pub user: String,
    pub client: IpAddr,
    /// Unix seconds of the login.
    pub since: i64,
}

/// One session's place in the list; leaves it when dropped.
pub struct SessionEntry {
    sessions: Arc<Sessions>,
    id: u64,
    kicked: Arc<AtomicBool>,
}

impl Sessions {
    pub fn new() -> Arc<Sessions> {
        Arc::new(Sessions::default())
    }

    /// Registers a connection of `protocol` from `client`, not logged in
    /// yet. Returns its entry and the stop its connection must follow: the
    /// node's `stop`, or a kick of this session.
    pub fn open(
        self: &Arc<Self>,
        protocol: &'static str,
        client: IpAddr,
        stop: Stop,
    ) -> (SessionEntry, Stop) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (stopper, own) = Stopper::new();
        let kicked = Arc::new(AtomicBool::new(false));
        self.lock().insert(
            id,
            Open {
                protocol,
                client,
                since: 0,
                user: None,
                backend: None,
                stopper,
                kicked: kicked.clone(),
            },
        );
        let entry = SessionEntry {
            sessions: self.clone(),
            id,
            kicked,
        };
        (entry, stop.or(own))
    }

    /// The logged-in sessions, by user then login time.
    pub fn list(&self) -> Vec<SessionInfo> {
        let mut out: Vec<SessionInfo> = self
            .lock()
            .iter()
            .filter_map(|(id, open)| {
                Some(SessionInfo {
                    id: *id,
                    protocol: open.protocol,
                    user: open.user.clone()?,
                    client: open.client,
                    since: open.since,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.user, a.since, a.id).cmp(&(&b.user, b.since, b.id)));
        out
    }

    /// Closes every session of `user` (compared without case); returns
    /// how many were told to.
    pub fn kick(&self, user: &str) -> usize {
        self.kick_where(|open| {
            open.user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(user))
        })
    }

    /// Closes the sessions of `user` a director relays to `backend` (she
    /// was moved away from it), not those already on her new backend;
    /// returns how many were told to.
    pub fn kick_on(&self, user: &str, backend: &str) -> usize {
        self.kick_where(|open| {
            open.backend.as_deref() == Some(backend)
                && open
                    .user
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(user))
        })
    }

    /// Closes every session a director relays to `backend`; returns how
    /// many were told to.
    pub fn kick_backend(&self, backend: &str) -> usize {
        self.kick_where(|open| open.backend.as_deref() == Some(backend))
    }

    fn kick_where(&self, which: impl Fn(&Open) -> bool) -> usize {
        let open = self.lock();
        let mut kicked = 0;
        for session in open.values().filter(|open| which(open)) {
            session.kicked.store(true, Ordering::Relaxed);
            session.stopper.enter(Phase::Closing);
            kicked += 1;
        }
        kicked
    }

    /// The relayed sessions of a director, counted by backend.
    pub fn per_backend(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for backend in self.lock().values().filter_map(|open| open.backend.clone()) {
            *counts.entry(backend).or_insert(0) += 1;
        }
        counts
    }

    /// The users a director relays, with the backend of each session.
    pub fn relayed(&self) -> Vec<(String, String)> {
        self.lock()
            .values()
            .filter_map(|open| Some((open.user.clone()?, open.backend.clone()?)))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Open>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SessionEntry {
    /// The session logged in as `user`: from now on it is listed.
    pub fn logged_in(&self, user: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if let Some(open) = self.sessions.lock().get_mut(&self.id) {
            open.user = Some(user.to_string());
            open.since = now;
        }
    }

    /// The session is a director's on behalf of a client at `client`
    /// (IMAP's `ID ("x-originating-ip" ...)`): listed with her address.
    pub fn on_behalf_of(&self, client: IpAddr) {
        if let Some(open) = self.sessions.lock().get_mut(&self.id) {
            open.client = client;
        }
    }

    /// The session is relayed to `backend` (the director role).
    pub fn relayed_to(&self, backend: &str) {
        if let Some(open) = self.sessions.lock().get_mut(&self.id) {
            open.backend = Some(backend.to_string());
        }
    }

    /// Whether the session ends because of a kick (its goodbye says so).
    pub fn kicked(&self) -> bool {
        self.kicked.load(Ordering::Relaxed)
    }

    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for SessionEntry {
    fn drop(&mut self) {
        self.sessions.lock().remove(&self.id);
    }
}

/// The client a director names with `XCLIENT ADDR=...` (POP3 and
/// ManageSieve, as Dovecot's proxies say it; attribute names upper-case).
pub fn xclient_address(attributes: &[(String, String)]) -> Option<IpAddr> {
    attributes
        .iter()
        .find(|(name, _)| name == "ADDR")
        .and_then(|(_, value)| value.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip() -> IpAddr {
        IpAddr::from([192, 0, 2, 1])
    }

    #[test]
    fn only_logged_in_sessions_are_listed_and_a_session_leaves_when_it_ends() {
        let sessions = Sessions::new();
        let (a, _) = sessions.open("imap", ip(), Stop::never());
        let (b, _) = sessions.open("pop3", ip(), Stop::never());
        assert!(sessions.list().is_empty());
        a.logged_in("alice@example.test");
        b.logged_in("bob@example.test");
        let listed: Vec<_> = sessions
            .list()
            .into_iter()
            .map(|s| (s.user, s.protocol))
            .collect();
        assert_eq!(
            listed,
            [
                ("alice@example.test".to_string(), "imap"),
                ("bob@example.test".to_string(), "pop3")
            ]
        );
        drop(a);
        assert_eq!(sessions.list().len(), 1);
    }

    #[tokio::test]
    async fn a_kick_closes_the_sessions_of_that_user_only() {
        let sessions = Sessions::new();
        let (alice, mut alice_stop) = sessions.open("imap", ip(), Stop::never());
        let (bob, bob_stop) = sessions.open("imap", ip(), Stop::never());
        alice.logged_in("alice@example.test");
        bob.logged_in("bob@example.test");
        assert_eq!(sessions.kick("ALICE@example.test"), 1);
        tokio::time::timeout(Duration::from_secs(1), alice_stop.reached(Phase::Closing))
            .await
            .expect("alice's connection is told to close");
        assert!(alice.kicked());
        assert_eq!(bob_stop.phase(), Phase::Running);
        assert!(!bob.kicked());
        assert_eq!(sessions.kick("carol@example.test"), 0);
    }

    #[test]
    fn a_user_moved_away_from_a_backend_keeps_her_sessions_on_the_new_one() {
        let sessions = Sessions::new();
        let (old, old_stop) = sessions.open("imap", ip(), Stop::never());
        let (new, new_stop) = sessions.open("imap", ip(), Stop::never());
        for (session, backend) in [(&old, "127.0.0.2"), (&new, "127.0.0.3")] {
            session.logged_in("alice@example.test");
            session.relayed_to(backend);
        }
        assert_eq!(sessions.kick_on("alice@example.test", "127.0.0.2"), 1);
        assert_eq!(old_stop.phase(), Phase::Closing);
        assert_eq!(new_stop.phase(), Phase::Running);
        assert!(!new.kicked());
        assert_eq!(sessions.kick_on("bob@example.test", "127.0.0.3"), 0);
    }

    #[tokio::test]
    async fn a_session_still_follows_the_node_stop() {
        let sessions = Sessions::new();
        let (stopper, node) = Stopper::new();
        let (_entry, mut stop) = sessions.open("pop3", ip(), node);
        stopper.enter(Phase::Draining);
        tokio::time::timeout(Duration::from_secs(1), stop.reached(Phase::Draining))
            .await
            .expect("the node's stop reaches the session");
        assert_eq!(stop.phase(), Phase::Draining);
    }
}
