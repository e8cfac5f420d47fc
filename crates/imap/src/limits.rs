//! Concurrent sessions per user (per client address: `havre_net::Gate`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct ConnectionLimits {
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

/// Holds one slot; gives it back when dropped, however the session ends.
pub struct Slot {
    limits: ConnectionLimits,
    key: String,
}

impl ConnectionLimits {
    /// Takes a slot for `key` unless `max` are already taken.
    pub fn acquire(&self, key: String, max: u32) -> Option<Slot> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(key.clone()).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            limits: self.clone(),
            key,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.limits.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_connection_of_a_user_is_refused_until_one_ends() {
        let limits = ConnectionLimits::default();
        let slots: Vec<Slot> = (0..10)
            .map(|_| limits.acquire("user:alice".into(), 10).unwrap())
            .collect();
        assert!(limits.acquire("user:alice".into(), 10).is_none());
        assert!(limits.acquire("user:bob".into(), 10).is_some());
        drop(slots);
        assert!(limits.acquire("user:alice".into(), 10).is_some());
    }
}
