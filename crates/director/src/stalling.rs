//! A state for tests whose reads (`get`, `claim`) can be made slow, or
//! hang: a Redis that stopped answering.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use havre_state::{EmbeddedState, Entry, Persist, Rate, RateAnswer, State};

/// The embedded state, whose reads hang once `stalled` is set: a
/// Redis that stopped answering.
pub(crate) struct Stalling {
    inner: EmbeddedState,
    pub(crate) stalled: AtomicBool,
    /// Reads take this long (ms): a slow state.
    pub(crate) slow_ms: AtomicU64,
    pub(crate) reads: AtomicU64,
}

impl Stalling {
    pub(crate) fn new() -> Arc<Stalling> {
        Arc::new(Stalling {
            inner: EmbeddedState::memory(),
            stalled: AtomicBool::new(false),
            slow_ms: AtomicU64::new(0),
            reads: AtomicU64::new(0),
        })
    }

    async fn wait_if_stalled(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let slow = self.slow_ms.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(slow)).await;
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
        self.wait_if_stalled().await;
        self.inner.claim(key, value, replacing, ttl, persist).await
    }
    async fn extend(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> havre_state::Result<Option<String>> {
        self.wait_if_stalled().await;
        self.inner.extend(key, value, ttl).await
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
