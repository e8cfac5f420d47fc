//! The backends and their ring as a director last read them from the
//! shared state. A task reads them again every second, off the logins'
//! path: a login or a delivery costs one round trip to the state (its
//! user's claim), not a listing of the backends and a ring built anew, and
//! none waits for a listing when the second is up. A change (`havre
//! director flush`, a failed probe) reaches every director within that
//! second, and at once where it comes with a kick of the backend's
//! sessions (a failure, a flush, a removal: the view is read again as
//! the kick arrives, so the users it sends back to log in are not placed
//! on the backend they leave by a view a second old).
//! When the state does not answer, the view ages: past [`USABLE_FOR`] a
//! login reads it itself, and is refused when that fails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use havre_state::State;

use crate::assign::ring;
use crate::backends::{self, Backend};
use crate::kicks::{self, Kick, KickReceiver};
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
    /// The last reading, stamped with when it started.
    current: Arc<Kept<Arc<View>>>,
    /// The logins' own readings, one at a time: those who ask while one is
    /// under way share the next (users reconnecting at once after their
    /// backend failed, each placed anew, cost two listings, not one each).
    reading: tokio::sync::Mutex<()>,
}

impl Views {
    /// In a Tokio runtime: the task that reads the view every
    /// [`FRESH_FOR`] starts with it and ends when it is dropped.
    pub fn new(state: Arc<dyn State>) -> Views {
        let current = Arc::new(Mutex::new(None));
        let kept = Arc::downgrade(&current);
        let reader = state.clone();
        let mut backend_kicks = Some(kicks::receive(&*state));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(FRESH_FOR);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    () = next_backend_kick(&mut backend_kicks) => {}
                }
                let Some(current) = kept.upgrade() else {
                    return;
                };
                if let Err(err) = read_into(&*reader, &current).await {
                    tracing::debug!(target: "director", "the backends not read again: {err}")
                }
            }
        });
        Views {
            state,
            current,
            reading: tokio::sync::Mutex::new(()),
        }
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
    /// marked it since the last read): by a reading that started after
    /// this call, this caller's or one it shares.
    pub async fn read(&self) -> Result<Arc<View>> {
        let asked = Instant::now();
        let _one = self.reading.lock().await;
        if let Some((at, view)) = &*lock(&self.current)
            && *at >= asked
        {
            return Ok(view.clone());
        }
        read_into(&*self.state, &self.current).await
    }
}

/// Until a backend's sessions are kicked (never, once the kicks' channel
/// is gone).
async fn next_backend_kick(kicks: &mut Option<KickReceiver>) {
    loop {
        let Some(receiver) = kicks.as_mut() else {
            return std::future::pending().await;
        };
        match receiver.next().await {
            Some(Kick::Backend(_)) => return,
            Some(Kick::User(_)) => {}
            None => *kicks = None,
        }
    }
}

/// Reads the view into `current`, unless a reading that started later
/// got there first (the last to finish is not always the freshest).
async fn read_into(state: &dyn State, current: &Kept<Arc<View>>) -> Result<Arc<View>> {
    let started = Instant::now();
    let view = Arc::new(View::new(backends::list(state).await?));
    let mut kept = lock(current);
    match &*kept {
        Some((at, newer)) if *at > started => Ok(newer.clone()),
        _ => {
            *kept = Some((started, view.clone()));
            Ok(view)
        }
    }
}

fn lock(current: &Kept<Arc<View>>) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<View>)>> {
    current.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::backends::Admin;
    use crate::stalling::Stalling;

    #[tokio::test]
    async fn a_login_never_waits_for_the_backends_listing_until_the_view_is_too_old() {
        let state = Stalling::new();
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

    #[tokio::test]
    async fn a_failed_backend_s_kick_has_the_view_read_again_at_once() {
        let state: Arc<dyn State> = Arc::new(havre_state::EmbeddedState::memory());
        for address in ["127.0.0.2", "127.0.0.3"] {
            backends::put(&*state, address, 100, Admin::Up)
                .await
                .unwrap();
        }
        let views = Views::new(state.clone());
        assert!(views.get().await.unwrap().serves("127.0.0.3"));
        // What a probe does: the mark, then the kick of its sessions.
        backends::mark_failed(&*state, "127.0.0.3", "probe", Duration::from_secs(60))
            .await
            .unwrap();
        kicks::send(&*state, &Kick::Backend("127.0.0.3".into()))
            .await
            .unwrap();
        // Well within the second of the periodic reading.
        let deadline = Instant::now() + Duration::from_millis(300);
        while views.get().await.unwrap().serves("127.0.0.3") {
            assert!(
                Instant::now() < deadline,
                "the kick did not have the view read again"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logins_reading_the_view_at_once_share_the_readings() {
        // Twenty users of a backend that failed reconnect at once, each
        // placed anew on a view read again: two listings, not twenty.
        let state = Stalling::new();
        backends::put(&*state, "127.0.0.2", 100, Admin::Up)
            .await
            .unwrap();
        let views = Arc::new(Views::new(state.clone()));
        views.get().await.unwrap();
        state.slow_ms.store(50, Ordering::SeqCst);
        let before = state.reads.load(Ordering::SeqCst);
        let readers: Vec<_> = (0..20)
            .map(|_| {
                let views = views.clone();
                tokio::spawn(async move { views.read().await.unwrap() })
            })
            .collect();
        for reader in readers {
            assert!(reader.await.unwrap().serves("127.0.0.2"));
        }
        // A listing is two reads (the list, the one backend's health); the
        // reader task may have listed once meanwhile, and a slow start one
        // login more.
        let reads = state.reads.load(Ordering::SeqCst) - before;
        assert!(reads <= 8, "{reads} reads of the state for 20 logins");
    }
}
