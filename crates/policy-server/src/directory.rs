//! User classes from havre's directory, and a short memory of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use havre_directory::{Address, Directory};

use crate::Classes;

/// The class of a `sasl_username` in the directory: her LDAP account's,
/// or the internal user of that address (normalised as logins are).
pub struct DirectoryClasses(pub Directory);

#[async_trait]
impl Classes for DirectoryClasses {
    async fn class_of(&self, login: &str) -> Result<Option<String>, String> {
        // An LDAP account's class (its affiliation), found by login as
        // the servers find it (a uid or an address).
        if let Some(ldap) = self.0.ldap()
            && let Some(account) = ldap.by_login(login).await.map_err(|e| e.to_string())?
        {
            return Ok(Some(account.class));
        }
        let Ok(address) = Address::parse(login) else {
            return Ok(None);
        };
        let user = self
            .0
            .store()
            .get_user(&address.key())
            .await
            .map_err(|e| e.to_string())?;
        Ok(user.map(|u| u.class))
    }
}

/// Logins remembered at most; beyond, the memory starts afresh.
const MAX_REMEMBERED: usize = 50_000;

/// Classes remembered for `keep`: an authenticated user sends many
/// messages, and a lookup in the store for each of them would cost more
/// than everything else the service does for a request. A class changed
/// with `havre user modify` reaches the service within `keep`; a failed
/// lookup is not remembered.
pub struct CachedClasses {
    inner: Arc<dyn Classes>,
    keep: Duration,
    known: Mutex<HashMap<String, (Option<String>, Instant)>>,
}

impl CachedClasses {
    pub fn new(inner: Arc<dyn Classes>, keep: Duration) -> CachedClasses {
        CachedClasses {
            inner,
            keep,
            known: Mutex::new(HashMap::new()),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Option<String>, Instant)>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Classes for CachedClasses {
    async fn class_of(&self, login: &str) -> Result<Option<String>, String> {
        let now = Instant::now();
        if let Some((class, at)) = self.known().get(login)
            && now.duration_since(*at) < self.keep
        {
            return Ok(class.clone());
        }
        let class = self.inner.class_of(login).await?;
        let mut known = self.known();
        if known.len() >= MAX_REMEMBERED {
            known.clear();
        }
        known.insert(login.to_owned(), (class.clone(), now));
        Ok(class)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Counts lookups; "student" for everyone, or an error.
    struct Counting(AtomicU32, bool);

    #[async_trait]
    impl Classes for Counting {
        async fn class_of(&self, _: &str) -> Result<Option<String>, String> {
            self.0.fetch_add(1, Ordering::Relaxed);
            if self.1 {
                Err("store away".into())
            } else {
                Ok(Some("student".into()))
            }
        }
    }

    #[tokio::test]
    async fn a_class_is_looked_up_once_per_period_and_a_failure_not_remembered() {
        let inner = Arc::new(Counting(AtomicU32::new(0), false));
        let cached = CachedClasses::new(inner.clone(), Duration::from_secs(60));
        for _ in 0..5 {
            assert_eq!(
                cached.class_of("a@example.edu").await.unwrap().as_deref(),
                Some("student")
            );
        }
        assert_eq!(inner.0.load(Ordering::Relaxed), 1);
        let expired = CachedClasses::new(inner.clone(), Duration::ZERO);
        expired.class_of("a@example.edu").await.unwrap();
        expired.class_of("a@example.edu").await.unwrap();
        assert_eq!(inner.0.load(Ordering::Relaxed), 3);
        let failing = Arc::new(Counting(AtomicU32::new(0), true));
        let cached = CachedClasses::new(failing.clone(), Duration::from_secs(60));
        assert!(cached.class_of("a@example.edu").await.is_err());
        assert!(cached.class_of("a@example.edu").await.is_err());
        assert_eq!(failing.0.load(Ordering::Relaxed), 2);
    }
}
