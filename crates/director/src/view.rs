//! The backends and their ring as a director last read them from the
//! shared state, read again at most every second: a login or a delivery
//! costs one round trip to the state (its user's claim), not a listing of
//! the backends and a ring built anew. A change (`havre director flush`, a
//! failed probe) reaches every director within that second; the sessions
//! it concerns are closed by the kicks meanwhile.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use havre_state::State;

use crate::Result;
use crate::assign::ring;
use crate::backends::{self, Backend};
use crate::ring::Ring;

/// How long a view is used before it is read again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

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
    current: Mutex<Option<(Instant, Arc<View>)>>,
}

impl Views {
    pub fn new(state: Arc<dyn State>) -> Views {
        Views {
            state,
            current: Mutex::new(None),
        }
    }

    /// The view, read again when older than [`FRESH_FOR`].
    pub async fn get(&self) -> Result<Arc<View>> {
        if let Some((at, view)) = &*self.lock()
            && at.elapsed() < FRESH_FOR
        {
            return Ok(view.clone());
        }
        self.read().await
    }

    /// The view read now (a backend did not answer: the probes may have
    /// marked it since the last read).
    pub async fn read(&self) -> Result<Arc<View>> {
        let view = Arc::new(View::new(backends::list(&*self.state).await?));
        *self.lock() = Some((Instant::now(), view.clone()));
        Ok(view)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<View>)>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}
