//! The backends and their ring as a director last read them from the
//! shared state. A task reads them again every second, off the logins'
//! path: a login or a delivery costs one round trip to the state (its
//! user's claim), not a listing of the backends and a ring built anew, and
//! none waits for a listing when the second is up. A change (`havre
//! director flush`, a failed probe) reaches every director within that
//! second; the sessions it concerns are closed by the kicks meanwhile.
//! When the state does not answer, the view ages: past [`USABLE_FOR`] a
//! login reads it itself, and is refused when that fails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use havre_state::State;

use crate::assign::ring;
use crate::backends::{self, Backend};
use crate::ring::Ring;
use crate::{Kept, Result};

/// How often the view is read again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// How old a view may be and still place a user: a reading that is late
/// (the state slow to answer) is waited for by no login before this.
pub const USABLE_FOR: Duration = Duration::from_millis(1500);

pub struct View {
    pub backends: Vec<Backend>,
    /// Over the backends that take new users.
    pub ring: Ring,
}

impl View {
    pub fn new(backends: Vec<Backend>) -> View {
        let ring = ring(&backends);
        View { backends, ring }
    }

    /// Whether `address` is a backend that may serve users now.
    pub fn serves(&self, address: &str) -> bool {
        self.backends
            .iter()
            .any(|b| b.address == address && b.healthy())
    }
}

pub struct Views {
    state: Arc<dyn State>,
    current: Arc<Kept<Arc<View>>>,
}

impl Views {
    /// In a Tokio runtime: the task that reads the view every
    /// [`FRESH_FOR`] starts with it and ends when it is dropped.
    pub fn new(state: Arc<dyn State>) -> Views {
        let current = Arc::new(Mutex::new(None));
        let kept = Arc::downgrade(&current);
        let reader = state.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(FRESH_FOR);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(current) = kept.upgrade() else {
                    return;
                };
                match backends::list(&*reader).await {
                    Ok(backends) => {
                        *lock(&current) = Some((Instant::now(), Arc::new(View::new(backends))))
                    }
                    Err(err) => {
                        tracing::debug!(target: "director", "the backends not read again: {err}")
                    }
                }
            }
        });
        Views { state, current }
    }

    /// The view, read now when the last reading is older than
    /// [`USABLE_FOR`] or had no backend taking users (one just added is
    /// not refused for a second).
    pub async fn get(&self) -> Result<Arc<View>> {
        if let Some((at, view)) = &*lock(&self.current)
            && at.elapsed() < USABLE_FOR
            && !view.ring.is_empty()
        {
            return Ok(view.clone());
        }
        self.read().await
    }

    /// The view read now (a backend did not answer: the probes may have
    /// marked it since the last read).
    pub async fn read(&self) -> Result<Arc<View>> {
        let view = Arc::new(View::new(backends::list(&*self.state).await?));
        *lock(&self.current) = Some((Instant::now(), view.clone()));
        Ok(view)
    }
}

fn lock(current: &Kept<Arc<View>>) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<View>)>> {
    current.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;
    use havre_state::{EmbeddedState, Entry, Persist, Rate, RateAnswer};

    use super::*;
    use crate::backends::Admin;

    /// The embedded state, whose reads hang once `stalled` is set: a
    /// Redis that stopped answering.
    struct Stalling {
        inner: EmbeddedState,
        stalled: AtomicBool,
    }

    impl Stalling {
        async fn wait_if_stalled(&self) {
            if self.stalled.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        }
    }

    #[async_trait]
    impl State for Stalling {
        async fn get(&self, key: &str) -> havre_state::Result<Option<String>> {
            self.wait_if_stalled().await;
            self.inner.get(key).await
        }
        async fn set(
            &self,
            key: &str,
            value: &str,
            ttl: Option<Duration>,
            persist: Persist,
        ) -> havre_state::Result<()> {
            self.inner.set(key, value, ttl, persist).await
        }
        async fn claim(
            &self,
            key: &str,
            value: &str,
            replacing: Option<&str>,
            ttl: Option<Duration>,
            persist: Persist,
        ) -> havre_state::Result<String> {
            self.inner.claim(key, value, replacing, ttl, persist).await
        }
        async fn delete(&self, key: &str) -> havre_state::Result<bool> {
            self.inner.delete(key).await
        }
        async fn incr(
            &self,
            key: &str,
            by: i64,
            ttl: Duration,
            persist: Persist,
        ) -> havre_state::Result<i64> {
            self.inner.incr(key, by, ttl, persist).await
        }
        async fn rate(&self, key: &str, rate: &Rate, cost: u64) -> havre_state::Result<RateAnswer> {
            self.inner.rate(key, rate, cost).await
        }
        async fn list(&self, prefix: &str) -> havre_state::Result<Vec<Entry>> {
            self.inner.list(prefix).await
        }
        async fn publish(&self, channel: &str, message: &str) -> havre_state::Result<()> {
            self.inner.publish(channel, message).await
        }
        fn subscribe(&self, channel: &str) -> tokio::sync::mpsc::Receiver<String> {
            self.inner.subscribe(channel)
        }
    }

    #[tokio::test]
    async fn a_login_never_waits_for_the_backends_listing_until_the_view_is_too_old() {
        let state = Arc::new(Stalling {
            inner: EmbeddedState::memory(),
            stalled: AtomicBool::new(false),
        });
        backends::put(&*state, "127.0.0.2", 100, Admin::Up)
            .await
            .unwrap();
        let views = Views::new(state.clone());
        let first = views.get().await.unwrap();
        assert!(first.serves("127.0.0.2"));
        // The state stops answering: past a second, the view is no longer
        // fresh, yet a login takes it as it is while it is usable.
        state.stalled.store(true, Ordering::SeqCst);
        tokio::time::sleep(FRESH_FOR + Duration::from_millis(100)).await;
        let kept = tokio::time::timeout(Duration::from_millis(100), views.get())
            .await
            .expect("a login waited for a listing of the backends")
            .unwrap();
        assert!(kept.serves("127.0.0.2"));
        // Too old: a login reads it itself (and, the state not answering,
        // waits for it, then is refused).
        tokio::time::sleep(USABLE_FOR - FRESH_FOR).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(100), views.get())
                .await
                .is_err(),
            "a view older than USABLE_FOR placed a user"
        );
    }
}
