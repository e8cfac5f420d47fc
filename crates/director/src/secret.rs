//! The cluster's secret kept in the shared state, for a cluster that sets
//! no `director.secret_file`: the first node that needs it makes it
//! (`director:secret`, 32 random bytes, claimed so that two nodes agree),
//! every node reads it from there, again at most every 10 seconds. Whoever
//! can read the state can read it; a site that keeps its Redis less close
//! than its nodes gives every node the same file instead.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use havre_directory::cluster::SecretSource;
use havre_state::{Persist, State};

const SECRET: &str = "director:secret";
const FRESH_FOR: Duration = Duration::from_secs(10);

pub struct SharedSecret {
    state: Arc<dyn State>,
    cached: Mutex<Option<(Instant, Vec<u8>)>>,
}

impl SharedSecret {
    pub fn new(state: Arc<dyn State>) -> SharedSecret {
        SharedSecret {
            state,
            cached: Mutex::new(None),
        }
    }
}

#[async_trait]
impl SecretSource for SharedSecret {
    async fn secret(&self) -> Result<Vec<u8>, String> {
        if let Some((at, secret)) = &*self.cached.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < FRESH_FOR
        {
            return Ok(secret.clone());
        }
        let fresh: String = rand::random::<[u8; 32]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let held = self
            .state
            .claim(SECRET, &fresh, None, None, Persist::Durable)
            .await
            .map_err(|e| e.to_string())?;
        let secret = held.into_bytes();
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), secret.clone()));
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
}
