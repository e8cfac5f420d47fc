//! The maildrop lock of RFC 1939 4: while a POP3 session of a user is in the
//! TRANSACTION state, no other POP3 session of that user may open the
//! maildrop.
//!
//! The lock lives in the process (one set of user names behind a mutex), which
//! is where every POP3 session of a node runs. It is released when its guard
//! drops: QUIT, a lost connection, a timeout or a task that ends any other way.
//! IMAP sessions are not excluded (Dovecot's `pop3_lock_session` does not
//! exclude them either); they see POP3's deletions as expunges.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct MaildropLocks {
    held: Arc<Mutex<HashSet<String>>>,
}

impl MaildropLocks {
    pub fn new() -> MaildropLocks {
        MaildropLocks::default()
    }

    /// Locks `user`'s maildrop, or `None` if another session holds it.
    pub fn try_lock(&self, user: &str) -> Option<MaildropGuard> {
        let user = user.to_lowercase();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if !held.insert(user.clone()) {
            return None;
        }
        Some(MaildropGuard {
            locks: self.clone(),
            user,
        })
    }

    pub fn is_locked(&self, user: &str) -> bool {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.contains(&user.to_lowercase())
    }
}

/// A held maildrop lock; dropping it releases the maildrop.
pub struct MaildropGuard {
    locks: MaildropLocks,
    user: String,
}

impl MaildropGuard {
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl Drop for MaildropGuard {
    fn drop(&mut self) {
        let mut held = self.locks.held.lock().unwrap_or_else(|e| e.into_inner());
        held.remove(&self.user);
    }
}

impl std::fmt::Debug for MaildropGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaildropGuard")
            .field("user", &self.user)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maildrop_is_locked_once_until_its_guard_drops() {
        let locks = MaildropLocks::new();
        let guard = locks.try_lock("Alice@example.test").expect("first lock");
        assert_eq!(guard.user(), "alice@example.test");
        assert!(locks.try_lock("alice@example.test").is_none());
        assert!(locks.is_locked("ALICE@example.test"));
        let other = locks.try_lock("bob@example.test");
        assert!(other.is_some());
        drop(guard);
        assert!(!locks.is_locked("alice@example.test"));
        assert!(locks.try_lock("alice@example.test").is_some());
    }

    #[test]
    fn a_panicking_holder_does_not_keep_the_maildrop() {
        let locks = MaildropLocks::new();
        let inner = locks.clone();
        let result = std::thread::spawn(move || {
            let _guard = inner.try_lock("alice@example.test");
            panic!("session task died");
        })
        .join();
        assert!(result.is_err());
        assert!(locks.try_lock("alice@example.test").is_some());
    }
}
