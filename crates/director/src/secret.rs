//! The cluster's secret kept in the shared state, for a cluster that sets
//! no `director.secret_file`: the first node that needs it makes it
//! (`director:secret`, 32 random bytes, claimed so that two nodes agree),
//! every node reads it from there, again every 10 seconds, in the
//! background: a login waits for the state only for the node's first
//! reading, or when the last is a minute old (the state not answering,
//! and a login then refused rather than signed or checked with a secret
//! that may have changed). Whoever
//! can read the state can read it; a site that keeps its Redis less close
//! than its nodes gives every node the same file instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use havre_directory::cluster::SecretSource;
use havre_state::{Persist, State};

use crate::Kept;

const SECRET: &str = "director:secret";
const FRESH_FOR: Duration = Duration::from_secs(10);
const USABLE_FOR: Duration = Duration::from_secs(60);

pub struct SharedSecret {
    state: Arc<dyn State>,
    cached: Arc<Kept<Vec<u8>>>,
    /// A reading in the background is under way.
    reading: Arc<AtomicBool>,
    /// [`FRESH_FOR`] and [`USABLE_FOR`] (shorter in tests).
    fresh_for: Duration,
    usable_for: Duration,
}

impl SharedSecret {
    pub fn new(state: Arc<dyn State>) -> SharedSecret {
        SharedSecret::with_ages(state, FRESH_FOR, USABLE_FOR)
    }

    fn with_ages(state: Arc<dyn State>, fresh_for: Duration, usable_for: Duration) -> SharedSecret {
        SharedSecret {
            state,
            cached: Arc::default(),
            reading: Arc::default(),
            fresh_for,
            usable_for,
        }
    }
}

/// The secret in the state, made there first if there is none.
async fn read(state: &dyn State) -> Result<Vec<u8>, String> {
    let fresh: String = rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let held = state
        .claim(SECRET, &fresh, None, None, Persist::Durable)
        .await
        .map_err(|e| e.to_string())?;
    Ok(held.into_bytes())
}

fn keep(cached: &Kept<Vec<u8>>, secret: &[u8]) {
    *cached.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), secret.to_vec()));
}

#[async_trait]
impl SecretSource for SharedSecret {
    async fn secret(&self) -> Result<Vec<u8>, String> {
        let kept = self
            .cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((at, secret)) = kept
            && at.elapsed() < self.usable_for
        {
            if at.elapsed() >= self.fresh_for && !self.reading.swap(true, Ordering::AcqRel) {
                let (state, cached, reading) = (
                    self.state.clone(),
                    self.cached.clone(),
                    self.reading.clone(),
                );
                tokio::spawn(async move {
                    match read(&*state).await {
                        Ok(secret) => keep(&cached, &secret),
                        Err(err) => {
                            tracing::debug!(target: "director", "the cluster's secret not read again: {err}")
                        }
                    }
                    reading.store(false, Ordering::Release);
                });
            }
            return Ok(secret);
        }
        let secret = read(&*self.state).await?;
        keep(&self.cached, &secret);
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_node_gets_the_secret_the_first_one_made() {
        let state: Arc<dyn State> = Arc::new(havre_state::EmbeddedState::memory());
        let a = SharedSecret::new(state.clone()).secret().await.unwrap();
        let b = SharedSecret::new(state.clone()).secret().await.unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[tokio::test]
    async fn a_login_signs_with_the_kept_secret_while_it_is_read_again() {
        let state = crate::stalling::Stalling::new();
        let shared = SharedSecret::with_ages(
            state.clone(),
            Duration::from_millis(50),
            Duration::from_millis(400),
        );
        let first = shared.secret().await.unwrap();
        // The state stops answering: past its freshness the secret is
        // still given at once (read again in the background) ...
        state
            .stalled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let kept = tokio::time::timeout(Duration::from_millis(100), shared.secret())
            .await
            .expect("a login waited for the state")
            .unwrap();
        assert_eq!(kept, first);
        // ... until it is too old: then a login waits for the state (and
        // is refused when it does not answer).
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(100), shared.secret())
                .await
                .is_err()
        );
    }
}
