//! What the web role reads of this node: whether it can serve (its store
//! and queue answer), and the gauges of the moment (queue by state and
//! age, deliveries in flight, sessions, bans, memory).

use std::sync::Arc;
use std::time::Instant;

use havre_events::series::{Range, Series};
use havre_relay::Relay;

use crate::live::Shared;

pub(crate) struct NodeStatus {
    /// server.hostname.
    pub name: String,
    pub shared: Shared,
    pub relay: Option<Arc<Relay>>,
}

#[async_trait::async_trait]
impl havre_web::Node for NodeStatus {
    async fn ready(&self) -> Result<(), String> {
        let started = Instant::now();
        self.shared
            .queue
            .store()
            .queue_summary()
            .await
            .map_err(|e| format!("the store does not answer: {e}"))?;
        metrics::histogram!("havre_store_latency_seconds").record(started.elapsed());
        Ok(())
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn series(&self, range: Range) -> Result<Series, String> {
        let Some(db) = self.shared.events.database() else {
            return Err("no graphs: events.enabled is false".into());
        };
        db.series(range, unix_now())
            .await
            .map_err(|e| e.to_string())
    }

    async fn refresh_gauges(&self) {
        let started = Instant::now();
        match self.shared.queue.store().queue_summary().await {
            Ok(q) => {
                metrics::histogram!("havre_store_latency_seconds").record(started.elapsed());
                for (state, n) in [("new", q.new), ("deferred", q.deferred), ("hold", q.hold)] {
                    metrics::gauge!("havre_queue_messages", "state" => state).set(n as f64);
                }
                metrics::gauge!("havre_queue_bytes").set(q.bytes as f64);
                let age = q.oldest_arrival.map_or(0, |t| (unix_now() - t).max(0));
                metrics::gauge!("havre_queue_oldest_age_seconds").set(age as f64);
            }
            Err(err) => tracing::warn!(target: "web", "queue gauges not read: {err}"),
        }
        if let Some(relay) = &self.relay {
            metrics::gauge!("havre_deliveries_in_flight").set(relay.in_flight() as f64);
        }
        let mut sessions: std::collections::BTreeMap<&str, u64> = Default::default();
        for session in self.shared.sessions.list() {
            *sessions.entry(session.protocol).or_default() += 1;
        }
        for protocol in ["imap", "pop3", "managesieve"] {
            let n = sessions.get(protocol).copied().unwrap_or(0);
            metrics::gauge!("havre_sessions", "protocol" => protocol).set(n as f64);
        }
        metrics::gauge!("havre_bans").set(self.shared.guard.bans_in_force() as f64);
        metrics::counter!("havre_events_dropped_total").absolute(self.shared.events.dropped());
        if let Some(rss) = resident_bytes() {
            metrics::gauge!("havre_memory_resident_bytes").set(rss as f64);
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The process's resident memory (`VmRSS` of /proc/self/status).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
